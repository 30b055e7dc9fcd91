//! The `kcp` transport, wire-compatible with upstream GOST: kcp-go packets over UDP (see the
//! `gost-kcp` crate), snappy framing unless `nocomp`, and smux v1 on top.
//!
//! The dialer keeps one KCP + smux session per server address and opens one smux stream per
//! [`Dialer::dial`]; the listener accepts smux streams from every session and yields each as a
//! [`Stream`]. KCP rides on UDP, so it can only be the first hop of a chain: [`Dialer::handshake`]
//! fails.
//!
//! ```no_run
//! use gost_transport::kcp::{KcpConfig, KcpDialer, KcpListener};
//! use gost_transport::{Dialer, Listener};
//!
//! # async fn demo() -> Result<(), gost_transport::Error> {
//! let listener = KcpListener::bind("127.0.0.1:0", KcpConfig::default()).await?;
//! let dialer = KcpDialer::new(KcpConfig::default())?;
//! let client = dialer.dial(&listener.local_addr().into()).await?;
//! let (server, _peer) = listener.accept().await?;
//! # drop((client, server)); Ok(()) }
//! ```

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

pub use gost_kcp::{KcpConfig, ListenerLimits, SessionLimits};
use gost_kcp::{KcpStream, SnappyStream, ValidConfig};
use gost_smux::Session;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use socks_wire::Address;

use crate::addr::split_host_port;
use crate::tcp::{SystemResolver, resolve, resolve_address};
use crate::{BoxFuture, Dialer, Error, Listener, Stream};

/// Streams accepted but not yet taken by [`Listener::accept`].
const ACCEPT_BACKLOG: usize = 256;

fn config_error(e: impl std::fmt::Display) -> Error {
    Error::Io(io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
}

/// The smux settings GOST derives from the KCP options (`smuxver`, `smuxbuf`, `streambuf`,
/// `keepalive`).
fn smux_config(cfg: &KcpConfig) -> gost_smux::Config {
    gost_smux::Config {
        version: cfg.smux_version(),
        keep_alive_interval: cfg.smux_keepalive(),
        max_receive_buffer: cfg.smux_receive_buffer(),
        max_stream_buffer: cfg.smux_stream_buffer(),
        ..gost_smux::Config::default()
    }
}

/// Checks every option (KCP and smux) once, before any socket exists.
fn prepare(cfg: &KcpConfig) -> Result<(ValidConfig, gost_smux::Config), Error> {
    let valid = cfg.validate().map_err(config_error)?;
    let smux = smux_config(cfg);
    smux.validate().map_err(config_error)?;
    Ok((valid, smux))
}

/// The KCP session as the byte stream smux runs on: with or without snappy framing.
fn session_io(kcp: KcpStream, nocomp: bool) -> Stream {
    let (peer, local) = (kcp.peer_addr(), kcp.local_addr());
    if nocomp {
        Stream::new(kcp, Some(peer), Some(local))
    } else {
        Stream::new(SnappyStream::new(kcp), Some(peer), Some(local))
    }
}

fn smux_error(e: gost_smux::Error) -> Error {
    Error::Io(io::Error::new(
        io::ErrorKind::ConnectionAborted,
        e.to_string(),
    ))
}

/// A KCP server: one UDP socket, any number of client sessions, one [`Stream`] per smux stream.
#[derive(Debug)]
pub struct KcpListener {
    accepted: tokio::sync::Mutex<mpsc::Receiver<(Stream, SocketAddr)>>,
    local: SocketAddr,
    task: JoinHandle<()>,
}

impl KcpListener {
    /// Binds `addr` (`host:port`; `:port` listens on all interfaces) with the given options.
    pub async fn bind(addr: &str, cfg: KcpConfig) -> Result<KcpListener, Error> {
        Self::bind_with_limits(addr, cfg, ListenerLimits::default()).await
    }

    /// [`KcpListener::bind`] with explicit session limits (idle timeout, session count, queues).
    pub async fn bind_with_limits(
        addr: &str,
        cfg: KcpConfig,
        limits: ListenerLimits,
    ) -> Result<KcpListener, Error> {
        let (valid, smux) = prepare(&cfg)?;
        let hp = split_host_port(addr)?;
        let nocomp = valid.nocomp;
        let inner = if hp.host.is_empty() {
            // Dual-stack where IPv6 exists, IPv4 otherwise.
            let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), hp.port);
            match gost_kcp::KcpListener::bind(v6, valid.clone(), limits).await {
                Ok(l) => l,
                Err(_) => {
                    let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), hp.port);
                    gost_kcp::KcpListener::bind(v4, valid, limits).await?
                }
            }
        } else {
            let target = resolve(&SystemResolver, hp.host, hp.port).await?[0];
            gost_kcp::KcpListener::bind(target, valid, limits).await?
        };
        let local = inner.local_addr();
        let (tx, rx) = mpsc::channel(ACCEPT_BACKLOG);
        let task = tokio::spawn(accept_sessions(inner, smux, nocomp, tx));
        Ok(KcpListener {
            accepted: tokio::sync::Mutex::new(rx),
            local,
            task,
        })
    }
}

/// Turns every new KCP session into an smux server session whose streams feed `tx`. The
/// per-session tasks live in a `JoinSet`, so aborting this task (dropping the listener) ends them.
async fn accept_sessions(
    inner: gost_kcp::KcpListener,
    smux: gost_smux::Config,
    nocomp: bool,
    tx: mpsc::Sender<(Stream, SocketAddr)>,
) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            kcp = inner.accept() => {
                let Ok(kcp) = kcp else { return };
                let (peer, local) = (kcp.peer_addr(), kcp.local_addr());
                let Ok(session) = Session::server(session_io(kcp, nocomp), smux.clone()) else {
                    continue;
                };
                sessions.spawn(serve_session(session, peer, local, tx.clone()));
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            () = tx.closed() => return,
        }
    }
}

/// Hands every stream the client opens on `session` to the accept queue until the session ends.
async fn serve_session(
    session: Session,
    peer: SocketAddr,
    local: SocketAddr,
    tx: mpsc::Sender<(Stream, SocketAddr)>,
) {
    while let Some(s) = session.accept_stream().await {
        let stream = Stream::new(s, Some(peer), Some(local));
        if tx.send((stream, peer)).await.is_err() {
            break;
        }
    }
    session.close();
}

impl Drop for KcpListener {
    fn drop(&mut self) {
        // Stops accepting sessions; the UDP socket closes with the kcp listener inside the task,
        // which ends every session.
        self.task.abort();
    }
}

impl Listener for KcpListener {
    fn accept(&self) -> BoxFuture<'_, Result<(Stream, SocketAddr), Error>> {
        Box::pin(async move {
            self.accepted.lock().await.recv().await.ok_or_else(|| {
                Error::Io(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "kcp listener stopped",
                ))
            })
        })
    }

    fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

/// A KCP client keeping one session per server address.
#[derive(Debug)]
pub struct KcpDialer {
    cfg: ValidConfig,
    smux: gost_smux::Config,
    limits: SessionLimits,
    sessions: Mutex<HashMap<SocketAddr, Arc<Session>>>,
    /// Serialises session creation so concurrent dials share one session.
    connecting: tokio::sync::Mutex<()>,
}

impl KcpDialer {
    /// A dialer with the given options (checked here, including the key derivation).
    pub fn new(cfg: KcpConfig) -> Result<KcpDialer, Error> {
        Self::with_limits(cfg, SessionLimits::default())
    }

    /// [`KcpDialer::new`] with explicit session limits.
    pub fn with_limits(cfg: KcpConfig, limits: SessionLimits) -> Result<KcpDialer, Error> {
        let (valid, smux) = prepare(&cfg)?;
        Ok(KcpDialer {
            cfg: valid,
            smux,
            limits,
            sessions: Mutex::default(),
            connecting: tokio::sync::Mutex::new(()),
        })
    }

    /// Live KCP sessions (one per server address in use); dead ones are forgotten here.
    pub fn session_count(&self) -> usize {
        let mut map = self.cached_sessions();
        map.retain(|_, s| !s.is_closed());
        map.len()
    }

    fn cached_sessions(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn live_session(&self, target: SocketAddr) -> Option<Arc<Session>> {
        let mut map = self.cached_sessions();
        map.retain(|_, s| !s.is_closed());
        map.get(&target).cloned()
    }

    async fn session(&self, target: SocketAddr) -> Result<Arc<Session>, Error> {
        if let Some(s) = self.live_session(target) {
            return Ok(s);
        }
        let _one_at_a_time = self.connecting.lock().await;
        if let Some(s) = self.live_session(target) {
            return Ok(s);
        }
        let kcp = KcpStream::connect(target, &self.cfg, self.limits)
            .await
            .map_err(|source| Error::Connect {
                addr: target.to_string(),
                source,
            })?;
        let session = Arc::new(
            Session::client(session_io(kcp, self.cfg.nocomp), self.smux.clone())
                .map_err(smux_error)?,
        );
        self.cached_sessions().insert(target, session.clone());
        Ok(session)
    }

    async fn open(&self, addr: &Address) -> Result<Stream, Error> {
        // One session per server address: the first the resolver gives.
        let target = resolve_address(&SystemResolver, addr).await?[0];
        let session = self.session(target).await?;
        let stream = match session.open_stream().await {
            Ok(s) => s,
            Err(_) => {
                // The cached session died between the check and the open: start a fresh one.
                self.cached_sessions().remove(&target);
                self.session(target)
                    .await?
                    .open_stream()
                    .await
                    .map_err(smux_error)?
            }
        };
        Ok(Stream::new(stream, Some(target), None))
    }
}

impl Dialer for KcpDialer {
    fn dial<'a>(&'a self, addr: &'a Address) -> BoxFuture<'a, Result<Stream, Error>> {
        Box::pin(self.open(addr))
    }

    fn handshake<'a>(
        &'a self,
        _stream: Stream,
        _addr: &'a Address,
    ) -> BoxFuture<'a, Result<Stream, Error>> {
        Box::pin(async {
            Err(Error::Io(io::Error::new(
                io::ErrorKind::Unsupported,
                "kcp runs over UDP and can only be the first hop of a chain",
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn streams_share_one_session_per_server() {
        let listener = KcpListener::bind("127.0.0.1:0", KcpConfig::default())
            .await
            .unwrap();
        let dialer = KcpDialer::new(KcpConfig::default()).unwrap();
        let addr = Address::from(listener.local_addr());
        for i in 0..3u8 {
            let mut c = dialer.dial(&addr).await.unwrap();
            c.write_all(&[i; 10]).await.unwrap();
            c.flush().await.unwrap();
            let (mut s, peer) = listener.accept().await.unwrap();
            let mut buf = [0u8; 10];
            s.read_exact(&mut buf).await.unwrap();
            assert_eq!(buf, [i; 10]);
            assert_eq!(peer.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
            s.write_all(b"ok").await.unwrap();
            s.flush().await.unwrap();
            let mut two = [0u8; 2];
            c.read_exact(&mut two).await.unwrap();
            assert_eq!(&two, b"ok");
        }
        assert_eq!(dialer.session_count(), 1);
    }

    /// The client→server datagrams an upstream GOST 3.2.6 dialer sent (default KCP settings,
    /// `notls`), replayed from a UDP socket, come out of our listener as the SOCKS5 exchange.
    #[tokio::test]
    async fn upstream_client_datagrams_become_a_socks5_stream() {
        let vector = gost_test_support::Vector::load("socks5_over_kcp_notls");
        let listener = KcpListener::bind("127.0.0.1:0", KcpConfig::default())
            .await
            .unwrap();
        let upstream_client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for r in vector.records.iter().filter(|r| r.dir == "c2s") {
            upstream_client
                .send_to(&r.bytes, listener.local_addr())
                .await
                .unwrap();
        }
        let (mut s, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, upstream_client.local_addr().unwrap());
        let mut want = vec![
            0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0x7d, 0x01,
        ];
        want.extend_from_slice(b"vector-kcp");
        let mut got = vec![0u8; want.len()];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn bad_options_and_layering_are_refused() {
        let cfg = KcpConfig {
            crypt: "salsa20".into(),
            ..KcpConfig::default()
        };
        let e = KcpDialer::new(cfg).unwrap_err();
        assert!(e.to_string().contains("salsa20"), "{e}");
        let cfg = KcpConfig {
            keepalive: 60,
            ..KcpConfig::default()
        };
        assert!(KcpListener::bind("127.0.0.1:0", cfg).await.is_err());
        let dialer = KcpDialer::new(KcpConfig::default()).unwrap();
        let (a, _b) = tokio::io::duplex(64);
        let e = dialer
            .handshake(Stream::new(a, None, None), &"x:1".parse().unwrap())
            .await
            .unwrap_err();
        assert_eq!(e.io_kind(), Some(io::ErrorKind::Unsupported));
    }
}
