//! Plain TCP: the listener every other listener sits on, and the dialer every other dialer starts with.
//!
//! Listening on an empty host (`:1080`, as upstream GOST writes it) binds the dual-stack wildcard `[::]`
//! with `IPV6_V6ONLY` off, falling back to `0.0.0.0` where IPv6 is unavailable. Dialing a name tries the
//! resolved addresses Happy-Eyeballs style (RFC 8305): families interleaved, the next attempt starts when the
//! previous one fails or after [`TcpOptions::fallback_delay`], the first to connect wins. Names are
//! resolved by the system resolver unless the dialer is given another [`Resolver`].

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use socket2::{Domain, SockRef, Socket, TcpKeepalive, Type};
use socks_wire::Address;
use tokio::net::TcpStream;

use crate::addr::split_host_port;
use crate::egress::Egress;
use crate::stream::canonical;
use crate::{BoxFuture, Dialer, Error, Gate, GateSlot, Listener, Pass, Stream};

/// Socket options of TCP listeners and dialers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpOptions {
    /// `TCP_NODELAY` on every connection. Default `true` (Go's default, which upstream keeps).
    pub nodelay: bool,
    /// TCP keepalive idle time and probe interval, or `None` to leave keepalive off.
    /// Default `Some(15 s)`, Go's default for every listened and dialed socket; upstream's
    /// `keepAlive=true` + `keepAlivePeriod` (default 180 s) set another period.
    pub keepalive: Option<Duration>,
    /// Upper bound for resolving and connecting, all attempts together. Default 10 s.
    pub connect_timeout: Duration,
    /// Delay before the next resolved address is tried while an attempt is still pending. Default 250 ms.
    pub fallback_delay: Duration,
    /// Listen backlog. Default 1024.
    pub backlog: u32,
    /// Listeners that run a handshake (`tls`, `ws`, `wss`): a connection that has sent nothing this long
    /// after it was accepted is closed before its handshake starts, so idle sockets give their handshake
    /// slot back soon. Default [`DEFAULT_FIRST_BYTE_TIMEOUT`].
    pub first_byte_timeout: Duration,
    /// Listeners that run a handshake: most connections of one client IP waiting for their first byte
    /// or in their handshake at once; further ones from that IP are closed at accept, so one address
    /// cannot take every handshake slot. Default [`DEFAULT_HANDSHAKES_PER_IP`].
    pub handshakes_per_ip: usize,
}

/// Default of [`TcpOptions::first_byte_timeout`]: TLS and WebSocket clients speak first, at once.
pub const DEFAULT_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(5);

/// Default of [`TcpOptions::handshakes_per_ip`]: a quarter of the handshakes a listener runs at once, so
/// one address cannot take them all while a chained front (every client's connection from one address)
/// still gets a burst of a few hundred handshakes.
pub const DEFAULT_HANDSHAKES_PER_IP: usize = 256;

impl Default for TcpOptions {
    fn default() -> Self {
        TcpOptions {
            nodelay: true,
            keepalive: Some(Duration::from_secs(15)),
            connect_timeout: Duration::from_secs(10),
            fallback_delay: Duration::from_millis(250),
            backlog: 1024,
            first_byte_timeout: DEFAULT_FIRST_BYTE_TIMEOUT,
            handshakes_per_ip: DEFAULT_HANDSHAKES_PER_IP,
        }
    }
}

impl TcpOptions {
    /// Applies `nodelay` and `keepalive` to a socket. On a listening socket they reach every accepted
    /// socket too: Linux copies them at accept (`socket_options_are_applied_on_both_sides` checks it),
    /// which saves four `setsockopt` calls per accepted connection.
    fn apply(&self, s: SockRef<'_>) -> io::Result<()> {
        if self.nodelay {
            s.set_tcp_nodelay(true)?;
        }
        if let Some(period) = self.keepalive {
            let ka = TcpKeepalive::new().with_time(period).with_interval(period);
            s.set_tcp_keepalive(&ka)?;
        }
        Ok(())
    }
}

/// A TCP listener yielding [`Stream`]s with the configured socket options.
#[derive(Debug)]
pub struct TcpListener {
    inner: tokio::net::TcpListener,
    local: SocketAddr,
    gate: GateSlot,
}

impl TcpListener {
    /// Binds `addr` (`host:port`, `:port` for all interfaces, `[v6]:port`) with `SO_REUSEADDR`.
    ///
    /// Must be called inside a tokio runtime.
    pub async fn bind(addr: &str, opts: TcpOptions) -> Result<TcpListener, Error> {
        let hp = split_host_port(addr)?;
        let socket = if hp.host.is_empty() {
            bind_wildcard(hp.port, opts.backlog)?
        } else {
            let target = resolve(&SystemResolver, hp.host, hp.port).await?[0];
            bind_socket(target, opts.backlog, false)?
        };
        Self::from_socket(socket, opts)
    }

    fn from_socket(socket: Socket, opts: TcpOptions) -> Result<TcpListener, Error> {
        opts.apply(SockRef::from(&socket))?;
        socket.set_nonblocking(true)?;
        let inner = tokio::net::TcpListener::from_std(socket.into())?;
        let local = canonical(inner.local_addr()?);
        Ok(TcpListener {
            inner,
            local,
            gate: GateSlot::default(),
        })
    }

    /// Accepts the next connection as a raw `TcpStream` with the options applied (for layered listeners).
    ///
    /// The options come from the listening socket (see [`TcpOptions`]); none is set again here.
    /// Connections the listener's [`crate::Gate`] refuses are closed here, unread; the gate's pass of an
    /// admitted one is dropped (see [`TcpListener::accept_tcp_with_pass`]).
    pub async fn accept_tcp(&self) -> Result<(TcpStream, SocketAddr), Error> {
        let (s, peer, _pass) = self.accept_tcp_with_pass().await?;
        Ok((s, peer))
    }

    /// Like [`TcpListener::accept_tcp`], also returning the [`Pass`] the gate gave the connection.
    pub async fn accept_tcp_with_pass(&self) -> Result<(TcpStream, SocketAddr, Pass), Error> {
        loop {
            let (s, peer) = self.inner.accept().await?;
            let peer = canonical(peer);
            if let Some(pass) = self.gate.admit(peer) {
                return Ok((s, peer, pass));
            }
        }
    }

    /// The gate slot, shared with layered listeners that move this listener into their accept task.
    pub(crate) fn gate_slot(&self) -> GateSlot {
        self.gate.clone()
    }
}

impl Listener for TcpListener {
    fn set_gate(&self, gate: Arc<dyn Gate>) -> bool {
        self.gate.install(gate)
    }

    fn accept(&self) -> BoxFuture<'_, Result<(Stream, SocketAddr), Error>> {
        crate::accept_without_pass(self)
    }

    fn accept_with_pass(&self) -> BoxFuture<'_, Result<(Stream, SocketAddr, Pass), Error>> {
        Box::pin(async move {
            let (s, peer, pass) = self.accept_tcp_with_pass().await?;
            // accept(2) returned the peer, and a listener bound to one address is that address; only a
            // wildcard listener has to ask which local address the client reached.
            let local = if self.local.ip().is_unspecified() {
                s.local_addr().ok().map(canonical)
            } else {
                Some(self.local)
            };
            Ok((
                Stream::from_tcp_with_addrs(s, Some(peer), local),
                peer,
                pass,
            ))
        })
    }

    fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

fn bind_socket(addr: SocketAddr, backlog: u32, dual_stack: bool) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if dual_stack {
        socket.set_only_v6(false)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket)
}

/// `[::]:port` accepting IPv4 too; `0.0.0.0:port` when the host has no IPv6.
fn bind_wildcard(port: u16, backlog: u32) -> io::Result<Socket> {
    let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
    match bind_socket(v6, backlog, true) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(e),
        Err(_) => bind_socket(
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
            backlog,
            false,
        ),
    }
}

/// Turns a host name into socket addresses for a [`TcpDialer`].
///
/// The default, [`SystemResolver`], asks the operating system (`getaddrinfo`). Another implementation can
/// apply GOST's `hosts`/`resolver` settings, or give tests a name with several addresses.
pub trait Resolver: Send + Sync + fmt::Debug {
    /// The addresses of `host` with `port` set, in the order to try them. `host` is never empty and
    /// never an IP literal (those are handled before a resolver is asked).
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>>;

    /// Like [`Resolver::resolve`], but `None` when this resolver has no answer of its own for `host`
    /// (a hosts table without the name and no DNS server configured), so that a request through a
    /// proxy chain can carry the name to the far end instead, as upstream does. The default always
    /// answers.
    fn lookup<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Option<Vec<SocketAddr>>>> {
        Box::pin(async move { self.resolve(host, port).await.map(Some) })
    }
}

/// The operating system's resolver, run on tokio's blocking pool.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

/// Resolves `host` (an IP literal is returned as is; an empty host means this machine).
pub(crate) async fn resolve(
    resolver: &dyn Resolver,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, Error> {
    if host.is_empty() {
        return Ok(vec![SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)]);
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let resolve_err = |source| Error::Resolve {
        host: host.to_owned(),
        source,
    };
    let addrs = resolver.resolve(host, port).await.map_err(resolve_err)?;
    if addrs.is_empty() {
        return Err(resolve_err(io::Error::new(
            io::ErrorKind::NotFound,
            "no addresses",
        )));
    }
    Ok(interleave(addrs))
}

/// The socket addresses to try for `addr`: an IP address as it is, a name (which may be an IP literal
/// sent as a SOCKS domain name) through [`resolve`].
pub(crate) async fn resolve_address(
    resolver: &dyn Resolver,
    addr: &Address,
) -> Result<Vec<SocketAddr>, Error> {
    match addr {
        Address::Ip(sa) => Ok(vec![*sa]),
        Address::Domain(name, port) => match name.as_str() {
            Some(host) => resolve(resolver, host, *port).await,
            None => Err(Error::Resolve {
                host: name.to_string(),
                source: io::Error::new(io::ErrorKind::InvalidInput, "the name is not UTF-8"),
            }),
        },
    }
}

/// RFC 8305 §4: alternate address families, starting with the family the resolver put first.
fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let first_v6 = addrs[0].is_ipv6();
    let (mut a, mut b): (Vec<_>, Vec<_>) = addrs.into_iter().partition(|x| x.is_ipv6() == first_v6);
    let mut out = Vec::with_capacity(a.len() + b.len());
    a.reverse();
    b.reverse();
    loop {
        match (a.pop(), b.pop()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

/// Connects to the first of `addrs` that answers, starting a new attempt on each failure or every `delay`.
async fn connect_any(
    addrs: Vec<SocketAddr>,
    delay: Duration,
    egress: &Egress,
) -> io::Result<TcpStream> {
    race(egress.reachable(addrs)?, delay, |a| egress.connect(a)).await
}

/// The Happy Eyeballs race over any connect function (tests substitute one that hangs).
async fn race<T, F>(
    addrs: Vec<SocketAddr>,
    delay: Duration,
    connect: impl Fn(SocketAddr) -> F,
) -> io::Result<T>
where
    F: Future<Output = io::Result<T>>,
{
    let mut rest = addrs.into_iter();
    let mut attempts = FuturesUnordered::new();
    let mut last_err = None;
    loop {
        if attempts.is_empty() {
            match rest.next() {
                Some(a) => attempts.push(connect(a)),
                None => {
                    return Err(
                        last_err.unwrap_or_else(|| io::Error::other("no address to connect to"))
                    );
                }
            }
        }
        let more = rest.len() > 0;
        tokio::select! {
            r = attempts.next() => match r {
                Some(Ok(s)) => return Ok(s),
                Some(Err(e)) => last_err = Some(e),
                None => {}
            },
            () = tokio::time::sleep(delay), if more => {
                if let Some(a) = rest.next() {
                    attempts.push(connect(a));
                }
            }
        }
    }
}

/// Dials TCP connections with the configured socket options, timeout and address fallback.
#[derive(Debug, Clone)]
pub struct TcpDialer {
    opts: TcpOptions,
    resolver: Arc<dyn Resolver>,
    /// Shared: routers and forwarders hold several dialers, and most have the default.
    egress: Arc<Egress>,
}

impl Default for TcpDialer {
    fn default() -> Self {
        TcpDialer::new(TcpOptions::default())
    }
}

impl TcpDialer {
    /// A dialer with these options, resolving names with the [`SystemResolver`].
    pub fn new(opts: TcpOptions) -> TcpDialer {
        TcpDialer {
            opts,
            resolver: Arc::new(SystemResolver),
            egress: Arc::default(),
        }
    }

    /// Opens its sockets through `egress` (upstream's `interface` and `so_mark`).
    pub fn with_egress(mut self, egress: Egress) -> TcpDialer {
        self.egress = Arc::new(egress);
        self
    }

    /// Where this dialer's sockets leave the host.
    pub fn egress(&self) -> &Egress {
        &self.egress
    }

    /// Resolves names with `resolver` instead of the system resolver.
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolver>) -> TcpDialer {
        self.resolver = resolver;
        self
    }

    /// The options this dialer uses.
    pub fn options(&self) -> &TcpOptions {
        &self.opts
    }

    /// Connects to `addr` and returns the raw socket with the options applied.
    pub async fn connect(&self, addr: &Address) -> Result<TcpStream, Error> {
        let timeout = self.opts.connect_timeout;
        let attempt = async {
            let addrs = resolve_address(&*self.resolver, addr).await?;
            connect_any(addrs, self.opts.fallback_delay, &self.egress)
                .await
                .map_err(|source| Error::Connect {
                    addr: addr.to_string(),
                    source,
                })
        };
        let s =
            tokio::time::timeout(timeout, attempt)
                .await
                .map_err(|_| Error::ConnectTimeout {
                    addr: addr.to_string(),
                    timeout,
                })??;
        self.opts.apply(SockRef::from(&s))?;
        Ok(s)
    }
}

impl Dialer for TcpDialer {
    fn dial<'a>(&'a self, addr: &'a Address) -> BoxFuture<'a, Result<Stream, Error>> {
        Box::pin(async move { Ok(Stream::from_tcp(self.connect(addr).await?)) })
    }

    fn handshake<'a>(
        &'a self,
        stream: Stream,
        _addr: &'a Address,
    ) -> BoxFuture<'a, Result<Stream, Error>> {
        Box::pin(async move { Ok(stream) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn interleaves_families_keeping_order() {
        let v = interleave(vec![
            sa("[::1]:1"),
            sa("[::2]:1"),
            sa("[::3]:1"),
            sa("10.0.0.1:1"),
        ]);
        assert_eq!(
            v,
            vec![
                sa("[::1]:1"),
                sa("10.0.0.1:1"),
                sa("[::2]:1"),
                sa("[::3]:1")
            ]
        );
    }

    #[tokio::test]
    async fn empty_host_binds_all_interfaces() {
        let l = TcpListener::bind(":0", TcpOptions::default())
            .await
            .unwrap();
        assert!(l.local_addr().ip().is_unspecified());
        let port = l.local_addr().port();
        let d = TcpDialer::default();
        let target = Address::from(SocketAddr::from(([127, 0, 0, 1], port)));
        let (c, a) = tokio::join!(d.dial(&target), l.accept());
        let (s, peer) = a.unwrap();
        assert_eq!(
            peer.ip(),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            "mapped v4 reported as v4"
        );
        assert_eq!(s.peer_addr(), Some(peer));
        let c = c.unwrap();
        assert!(c.is_tcp());
        assert_eq!(c.local_addr(), Some(peer));
        assert_eq!(
            s.local_addr(),
            c.peer_addr(),
            "the address the client reached"
        );
    }

    #[tokio::test]
    async fn accepted_streams_carry_both_addresses() {
        let l = TcpListener::bind("127.0.0.1:0", TcpOptions::default())
            .await
            .unwrap();
        let (d, addr) = (TcpDialer::default(), Address::from(l.local_addr()));
        let (c, a) = tokio::join!(d.dial(&addr), l.accept());
        let (c, (s, peer)) = (c.unwrap(), a.unwrap());
        assert_eq!(s.peer_addr(), Some(peer));
        assert_eq!(c.local_addr(), Some(peer));
        assert_eq!(s.local_addr(), Some(l.local_addr()));
        assert_eq!(c.peer_addr(), Some(l.local_addr()));
    }

    #[tokio::test]
    async fn socket_options_are_applied_on_both_sides() {
        let l = TcpListener::bind("127.0.0.1:0", TcpOptions::default())
            .await
            .unwrap();
        assert!(
            SockRef::from(&l.inner).reuse_address().unwrap(),
            "SO_REUSEADDR"
        );
        let d = TcpDialer::default();
        let addr = Address::from(l.local_addr());
        let (c, a) = tokio::join!(d.connect(&addr), l.accept_tcp());
        for s in [c.unwrap(), a.unwrap().0] {
            let sock = SockRef::from(&s);
            assert!(s.nodelay().unwrap(), "TCP_NODELAY");
            assert!(sock.keepalive().unwrap(), "SO_KEEPALIVE");
            assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(15));
            assert_eq!(
                sock.tcp_keepalive_interval().unwrap(),
                Duration::from_secs(15)
            );
        }

        let off = TcpOptions {
            nodelay: false,
            keepalive: None,
            ..TcpOptions::default()
        };
        let l = TcpListener::bind("127.0.0.1:0", off.clone()).await.unwrap();
        let d = TcpDialer::new(off);
        let addr = Address::from(l.local_addr());
        let (c, a) = tokio::join!(d.connect(&addr), l.accept_tcp());
        for s in [c.unwrap(), a.unwrap().0] {
            assert!(!s.nodelay().unwrap());
            assert!(!SockRef::from(&s).keepalive().unwrap());
        }
    }

    #[tokio::test]
    async fn empty_host_is_dual_stack() {
        let l = TcpListener::bind(":0", TcpOptions::default())
            .await
            .unwrap();
        let sock = SockRef::from(&l.inner);
        assert!(sock.domain().unwrap() == Domain::IPV6, "bound [::]");
        assert!(!sock.only_v6().unwrap(), "IPV6_V6ONLY off");
        let port = l.local_addr().port();
        let d = TcpDialer::default();
        for ip in [
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        ] {
            let target = Address::from((ip, port));
            let (c, a) = tokio::join!(d.dial(&target), l.accept());
            c.unwrap();
            assert_eq!(a.unwrap().1.ip(), ip, "{target}");
        }
    }

    #[tokio::test]
    async fn falls_back_to_the_next_address() {
        let l = TcpListener::bind("127.0.0.1:0", TcpOptions::default())
            .await
            .unwrap();
        // A refused address first: the attempt fails fast and the next one is tried at once.
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead_addr = dead.local_addr().unwrap();
        drop(dead);
        let direct = Egress::default();
        let (c, a) = tokio::join!(
            connect_any(
                vec![dead_addr, l.local_addr()],
                Duration::from_secs(30),
                &direct
            ),
            l.accept()
        );
        assert_eq!(c.unwrap().peer_addr().unwrap(), l.local_addr());
        a.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn starts_next_attempt_after_delay_when_first_hangs() {
        let hang = sa("127.0.0.1:1");
        let started = tokio::time::Instant::now();
        let got = race(
            vec![hang, sa("127.0.0.1:2")],
            Duration::from_millis(250),
            |a| async move {
                if a == hang {
                    std::future::pending::<()>().await;
                }
                Ok(a)
            },
        )
        .await
        .unwrap();
        assert_eq!(got, sa("127.0.0.1:2"));
        assert_eq!(started.elapsed(), Duration::from_millis(250));
    }

    #[tokio::test]
    async fn reports_the_last_failure() {
        let e = race(
            vec![sa("127.0.0.1:1"), sa("127.0.0.1:2")],
            Duration::from_secs(30),
            |a| async move {
                Err::<(), _>(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    a.to_string(),
                ))
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), "127.0.0.1:2");
    }
}
