//! Local UDP port forwarding (`udp://:L/target`): datagrams arriving on port L are demultiplexed by client
//! address; each client gets its own association (a local socket, or one UDP ASSOCIATE / UDP-TUN session on
//! the chain's last node) and receives the target's replies from port L. A `limiter` delays the
//! datagrams of a limited client's session, each waiting whole for its tokens (the session's queue
//! holds `readQueueSize` of them meanwhile; beyond it they are dropped as any overflow is).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gost_access::limit::ConnThrottle;
use gost_chain::Router;
use gost_chain::addr::resolve_address;
use socks_wire::Address;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use super::PeerAdmission;
use super::{Target, Targets};
use crate::observe::log_session;
use crate::relay::Transferred;

/// The `udp` and `rudp` listener options (upstream `keepalive`, `ttl`, `readBufferSize`,
/// `readQueueSize`); `default()` has upstream's `udp` defaults, [`UdpForwardOptions::rudp`] its `rudp` ones.
#[derive(Debug, Clone)]
pub struct UdpForwardOptions {
    /// Keep a client's session until it is idle for `ttl`; when false (upstream's default) the session ends
    /// right after the first reply (one request, one response, DNS style).
    pub keepalive: bool,
    /// Idle time after which a session ends. Default 5 s.
    pub ttl: Duration,
    /// Largest datagram read; longer ones are truncated. Default 4096.
    pub read_buffer_size: usize,
    /// Datagrams queued per session before new ones are dropped. Default 128.
    pub read_queue_size: usize,
}

impl Default for UdpForwardOptions {
    fn default() -> Self {
        UdpForwardOptions {
            keepalive: false,
            ttl: Duration::from_secs(5),
            read_buffer_size: 4096,
            read_queue_size: 128,
        }
    }
}

impl UdpForwardOptions {
    /// Upstream's `rudp` listener defaults: sessions kept until idle, 8192-byte datagrams, 1024 queued.
    pub fn rudp() -> Self {
        UdpForwardOptions {
            keepalive: true,
            read_buffer_size: 8192,
            read_queue_size: 1024,
            ..UdpForwardOptions::default()
        }
    }
}

/// Live sessions by client address, each with its number (so an ending session removes only itself).
type Sessions = Arc<Mutex<HashMap<SocketAddr, (u64, mpsc::Sender<Bytes>)>>>;

/// Removes `client`'s session `id` from `sessions` unless a newer one has taken its place.
fn forget(sessions: &Sessions, client: SocketAddr, id: u64) {
    let mut map = sessions.lock().unwrap_or_else(|e| e.into_inner());
    if map.get(&client).is_some_and(|(live, _)| *live == id) {
        map.remove(&client);
    }
}

/// A bound UDP forwarding service.
#[derive(Debug)]
pub struct UdpForwarder {
    socket: Arc<UdpSocket>,
    router: Router,
    targets: Arc<Targets>,
    opts: UdpForwardOptions,
    admission: PeerAdmission,
}

impl UdpForwarder {
    /// Binds `addr` (`:port` = all interfaces) and forwards to `targets` through `router`.
    pub async fn bind(
        addr: &str,
        router: Router,
        targets: Targets,
        opts: UdpForwardOptions,
    ) -> std::io::Result<UdpForwarder> {
        let socket = bind_udp(addr).await?;
        Ok(UdpForwarder {
            socket: Arc::new(socket),
            router,
            targets: Arc::new(targets),
            opts,
            admission: PeerAdmission::default(),
        })
    }

    /// Which clients have their datagrams dropped ([`PeerAdmission`]).
    pub fn admission(&mut self) -> &mut PeerAdmission {
        &mut self.admission
    }

    /// The local address.
    pub fn local_addr(&self) -> SocketAddr {
        self.socket
            .local_addr()
            .expect("a bound socket has an address")
    }

    /// Forwards until `shutdown`, then ends every session.
    pub async fn run(self, shutdown: CancellationToken) {
        info!(addr = %self.local_addr(), "udp forwarding");
        let sessions: Sessions = Arc::default();
        let mut next_id = 0u64;
        let mut buf = vec![0u8; self.opts.read_buffer_size.max(1)];
        loop {
            let (n, client) = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok(r) => r,
                    Err(e) => {
                        // ICMP errors of earlier sends surface here; the socket keeps working.
                        debug!(error = %e, "udp forward receive");
                        continue;
                    }
                },
            };
            // Checked per datagram rather than per session, so a client added to a reloaded list
            // loses a session it already has.
            if !self.admission.admit(Some(client), &client) {
                continue;
            }
            let mut datagram = Bytes::copy_from_slice(&buf[..n]);
            // A session that ended (after its one reply, idle or failed) may still be listed for a
            // moment: its closed queue hands the datagram back, and a fresh session takes it.
            for _ in 0..2 {
                let (id, tx) = {
                    let mut map = sessions.lock().unwrap_or_else(|e| e.into_inner());
                    match map.get(&client) {
                        Some(live) => live.clone(),
                        None => {
                            // A new session is one request (rlimiter) and one connection (limiter).
                            let Ok(throttle) = self.admission.session(Some(client), &client) else {
                                break;
                            };
                            next_id += 1;
                            let tx =
                                self.start_session(client, next_id, throttle, &sessions, &shutdown);
                            map.insert(client, (next_id, tx.clone()));
                            (next_id, tx)
                        }
                    }
                };
                match tx.try_send(datagram) {
                    Ok(()) => break,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        debug!(%client, "udp forward queue full, datagram dropped");
                        break;
                    }
                    Err(mpsc::error::TrySendError::Closed(d)) => {
                        forget(&sessions, client, id);
                        datagram = d;
                    }
                }
            }
        }
    }

    fn start_session(
        &self,
        client: SocketAddr,
        id: u64,
        throttle: Option<ConnThrottle>,
        sessions: &Sessions,
        shutdown: &CancellationToken,
    ) -> mpsc::Sender<Bytes> {
        let (tx, rx) = mpsc::channel(self.opts.read_queue_size.max(1));
        let session = Session {
            client,
            id,
            throttle,
            sessions: sessions.clone(),
            socket: self.socket.clone(),
            router: self.router.clone(),
            targets: self.targets.clone(),
            opts: self.opts.clone(),
        };
        let shutdown = shutdown.clone();
        tokio::spawn(session.run(rx, shutdown));
        tx
    }
}

/// One client's association.
struct Session {
    client: SocketAddr,
    /// This session's number in `sessions`, which it leaves when it ends.
    id: u64,
    /// The client's bandwidth buckets, when a `limiter` limits it.
    throttle: Option<ConnThrottle>,
    sessions: Sessions,
    socket: Arc<UdpSocket>,
    router: Router,
    targets: Arc<Targets>,
    opts: UdpForwardOptions,
}

impl Session {
    /// Serves the session until it ends (or `shutdown`), then writes its one `session` line.
    async fn run(self, rx: mpsc::Receiver<Bytes>, shutdown: CancellationToken) {
        let started = std::time::Instant::now();
        let target: &Target = self.targets.pick();
        let mut transferred = Transferred::default();
        let result = tokio::select! {
            r = self.relay(target, rx, &mut transferred) => r,
            _ = shutdown.cancelled() => Ok("shutdown"),
        };
        forget(&self.sessions, self.client, self.id);
        let ended = result.as_ref().map(|reason| *reason);
        log_session(
            "udp",
            &self.client,
            &target.addr(),
            transferred,
            started,
            ended,
        );
    }

    /// Relays until the session ends; `Ok` says why it ended normally.
    async fn relay(
        &self,
        target: &Target,
        mut rx: mpsc::Receiver<Bytes>,
        transferred: &mut Transferred,
    ) -> Result<&'static str, gost_chain::Error> {
        let conn = match self.open(target.addr()).await {
            Ok(c) => {
                target.succeeded();
                c
            }
            Err(e) => {
                target.failed();
                return Err(e);
            }
        };
        let (conn, to) = conn;
        let mut buf = vec![0u8; self.opts.read_buffer_size.max(1)];
        let idle = tokio::time::sleep(self.opts.ttl);
        tokio::pin!(idle);
        loop {
            tokio::select! {
                d = rx.recv() => {
                    let Some(d) = d else { return Ok("forwarder stopped") };
                    if let Some(t) = &self.throttle {
                        t.input.datagram(d.len()).await;
                    }
                    conn.send_to(&d, &to).await?;
                    transferred.a_to_b += d.len() as u64;
                }
                r = conn.recv_from(&mut buf) => {
                    let (n, _from) = r?;
                    if !self.opts.keepalive {
                        // Leave the session list before the reply goes out: the client's next
                        // datagram, sent as soon as it has the reply, must start a new session
                        // rather than be queued on this ending one and lost.
                        forget(&self.sessions, self.client, self.id);
                    }
                    if let Some(t) = &self.throttle {
                        t.output.datagram(n).await;
                    }
                    match self.socket.send_to(&buf[..n], self.client).await {
                        Ok(_) => transferred.b_to_a += n as u64,
                        Err(e) => debug!(client = %self.client, error = %e, "udp forward reply not delivered"),
                    }
                    if !self.opts.keepalive {
                        return Ok("answered (keepalive=false)");
                    }
                }
                _ = &mut idle => {
                    return Ok("idle");
                }
            }
            idle.as_mut().reset(Instant::now() + self.opts.ttl);
        }
    }

    /// The association and the target address datagrams are sent to (resolved here, as upstream does).
    async fn open(
        &self,
        target: &Address,
    ) -> Result<(gost_chain::PacketConn, Address), gost_chain::Error> {
        let to = Address::Ip(resolve_address(target).await?);
        let conn = self.router.udp().await?;
        Ok((conn, to))
    }
}

/// Binds a UDP socket on `addr` (`:port` = all interfaces, dual-stack where possible).
async fn bind_udp(addr: &str) -> std::io::Result<UdpSocket> {
    match addr.strip_prefix(':') {
        Some(port) => match UdpSocket::bind(format!("[::]:{port}")).await {
            Ok(s) => Ok(s),
            Err(_) => UdpSocket::bind(format!("0.0.0.0:{port}")).await,
        },
        None => UdpSocket::bind(addr).await,
    }
}
