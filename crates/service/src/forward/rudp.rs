//! Remote UDP port forwarding (`rudp://:R/target`): UDP port R is opened on the chain's last node with
//! UDP-TUN bind mode; datagrams from each remote peer are sent to `target` from a local socket of their own,
//! and the target's replies go back to that peer. A peer idle for `ttl` is forgotten. When the tunnel
//! drops, the port is re-opened with the same back-off as rtcp. A `limiter` delays a limited peer's
//! datagrams, each waiting whole for its tokens.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use gost_access::limit::ConnThrottle;
use gost_chain::addr::{bind_address, resolve_address};
use gost_chain::{PacketConn, Router};
use socks_wire::Address;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::PeerAdmission;
use super::reopen::{Next, keep_open};
use super::{Targets, UdpForwardOptions};

type Peers = Arc<Mutex<HashMap<Address, mpsc::Sender<Bytes>>>>;

/// A remote UDP forwarding service.
#[derive(Debug, Clone)]
pub struct RudpForwarder {
    /// The remote address as configured (`:5353`), for logs.
    laddr: Arc<str>,
    bind: Address,
    router: Router,
    targets: Arc<Targets>,
    opts: UdpForwardOptions,
    admission: PeerAdmission,
}

impl RudpForwarder {
    /// Opens UDP `laddr` (`:5353`, parsed here once) on `router`'s last node and forwards to `targets`
    /// from this host.
    pub fn new(
        laddr: &str,
        router: Router,
        targets: Targets,
        opts: UdpForwardOptions,
    ) -> Result<RudpForwarder, gost_chain::Error> {
        Ok(RudpForwarder {
            bind: bind_address(laddr)?,
            laddr: laddr.into(),
            router,
            targets: Arc::new(targets),
            opts,
            admission: PeerAdmission::default(),
        })
    }

    /// Which remote peers have their datagrams dropped ([`PeerAdmission`]).
    pub fn admission(&mut self) -> &mut PeerAdmission {
        &mut self.admission
    }

    /// Serves until `shutdown`, re-opening the remote port whenever the tunnel is lost.
    pub async fn run(self, shutdown: CancellationToken) {
        keep_open(&shutdown, "rudp", &self.laddr, || {
            self.serve_once(&shutdown)
        })
        .await;
    }

    async fn serve_once(&self, shutdown: &CancellationToken) -> Result<Next, gost_chain::Error> {
        let tun = Arc::new(self.router.udp_bind(&self.bind).await?);
        info!(laddr = %self.laddr, bound = ?tun.bound(), "rudp: listening on the remote side");
        let peers: Peers = Arc::default();
        let stop = shutdown.child_token();
        let _stop_peers = stop.clone().drop_guard();
        let mut buf = vec![0u8; self.opts.read_buffer_size.max(1)];
        loop {
            let (n, peer) = match tun.recv_from(&mut buf).await {
                Ok(r) => r,
                Err(e) => {
                    info!(laddr = %self.laddr, error = %e, "rudp: tunnel closed");
                    return Ok(Next::Reopen);
                }
            };
            if !self.admission.admit(peer.to_socket_addr(), &peer) {
                continue;
            }
            let datagram = Bytes::copy_from_slice(&buf[..n]);
            let tx = {
                let mut map = peers.lock().unwrap_or_else(|e| e.into_inner());
                match map.get(&peer) {
                    Some(tx) => tx.clone(),
                    None => {
                        // A new peer is one request (rlimiter) and one connection (limiter).
                        let Ok(throttle) = self.admission.session(peer.to_socket_addr(), &peer)
                        else {
                            continue;
                        };
                        let tx = self.start_peer(peer.clone(), throttle, &tun, &peers, &stop);
                        map.insert(peer, tx.clone());
                        tx
                    }
                }
            };
            if tx.try_send(datagram).is_err() {
                debug!("rudp: peer queue full, datagram dropped");
            }
        }
    }

    fn start_peer(
        &self,
        peer: Address,
        throttle: Option<ConnThrottle>,
        tun: &Arc<PacketConn>,
        peers: &Peers,
        stop: &CancellationToken,
    ) -> mpsc::Sender<Bytes> {
        let (tx, rx) = mpsc::channel(self.opts.read_queue_size.max(1));
        let (this, tun, peers, stop) = (self.clone(), tun.clone(), peers.clone(), stop.clone());
        tokio::spawn(async move {
            tokio::select! {
                r = this.relay_peer(&peer, throttle.as_ref(), &tun, rx) => if let Err(e) = r {
                    warn!(%peer, error = %e, "rudp: peer session failed");
                },
                _ = stop.cancelled() => {}
            }
            peers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&peer);
        });
        tx
    }

    /// Sends the peer's datagrams to the target from a socket of its own and tunnels the replies back,
    /// each waiting whole for its tokens when `throttle` limits the peer.
    async fn relay_peer(
        &self,
        peer: &Address,
        throttle: Option<&ConnThrottle>,
        tun: &PacketConn,
        mut rx: mpsc::Receiver<Bytes>,
    ) -> Result<(), gost_chain::Error> {
        let target = self.targets.pick();
        let to = match resolve_address(target.addr()).await {
            Ok(a) => a,
            Err(e) => {
                target.failed();
                return Err(e);
            }
        };
        // The target is dialled from this host, so the service's `interface`/`so_mark` apply.
        let socket = self.router.egress().udp_socket(Some(to.ip()))?;
        socket.connect(to).await?;
        let mut buf = vec![0u8; self.opts.read_buffer_size.max(1)];
        let idle = tokio::time::sleep(self.opts.ttl);
        tokio::pin!(idle);
        loop {
            tokio::select! {
                d = rx.recv() => {
                    let Some(d) = d else { return Ok(()) };
                    if let Some(t) = throttle {
                        t.input.datagram(d.len()).await;
                    }
                    if let Err(e) = socket.send(&d).await {
                        debug!(%to, error = %e, "rudp: target send failed");
                    }
                }
                r = socket.recv(&mut buf) => match r {
                    Ok(n) => {
                        if let Some(t) = throttle {
                            t.output.datagram(n).await;
                        }
                        tun.send_to(&buf[..n], peer).await?;
                    }
                    Err(e) => debug!(%to, error = %e, "rudp: target receive failed"),
                },
                _ = &mut idle => return Ok(()),
            }
            idle.as_mut().reset(Instant::now() + self.opts.ttl);
        }
    }
}
