//! The listening side of BIND, shared by SOCKS4 and SOCKS5: what a request's address means, which
//! ports may be opened (`bindPorts`), and the wait for the one expected peer.
//!
//! A request naming the unspecified address (`0.0.0.0:PORT`, `[::]:PORT`: what GOST clients send for
//! `:PORT`) keeps GOST's meaning, "listen on PORT here" (0 = any free port). Any other address follows
//! RFC 1928 and SOCKS4: it names the peer the client expects. Then we listen on a free port of the
//! control connection's local address and accept only a connection from that peer's IP (a name is
//! resolved first); its source port is not compared, as it is ephemeral on most systems. Other
//! connections are closed and the wait goes on. MBIND (GOST's rtcp) always listens where it is told.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

use gost_transport::Stream;
use socks_wire::Address;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tracing::debug;

use crate::Error;

/// How long a BIND waits for its peer unless configured (upstream waits forever).
pub(crate) const DEFAULT_ACCEPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Most bytes held back from a client that writes before its peer arrives; beyond it we stop reading.
const MAX_EARLY: usize = 64 * 1024;

/// Most ports of a [`BindPorts`] set tried for one "any free port" request (as upstream's UDP port
/// range scan): a range that is nearly full fails after this many instead of probing every port.
const MAX_PORT_TRIES: usize = 64;

/// The ports BIND, MBIND and UDP-TUN bind mode may open (`bindPorts`). The default allows any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindPorts {
    /// Allowed inclusive ranges; `None` means any port.
    ranges: Option<Vec<RangeInclusive<u16>>>,
}

impl BindPorts {
    /// Any port (the default).
    pub fn any() -> BindPorts {
        BindPorts::default()
    }

    /// Only ports inside one of `ranges` (inclusive; empty ranges are dropped). A request for "any free
    /// port" gets a free port from them. With no non-empty range, no port at all may be opened.
    pub fn only(ranges: impl IntoIterator<Item = RangeInclusive<u16>>) -> BindPorts {
        let ranges = ranges
            .into_iter()
            .filter(|r| !r.is_empty() && *r.end() != 0)
            .map(|r| (*r.start()).max(1)..=*r.end())
            .collect();
        BindPorts {
            ranges: Some(ranges),
        }
    }

    /// Whether every port is allowed.
    pub fn is_any(&self) -> bool {
        self.ranges.is_none()
    }

    /// Whether `port` may be opened (port 0, "any free port", is allowed when some port is).
    pub fn allows(&self, port: u16) -> bool {
        match &self.ranges {
            None => true,
            Some(_) if port == 0 => self.count() > 0,
            Some(ranges) => ranges.iter().any(|r| r.contains(&port)),
        }
    }

    fn ranges(&self) -> &[RangeInclusive<u16>] {
        self.ranges.as_deref().unwrap_or_default()
    }

    fn count(&self) -> usize {
        self.ranges().iter().map(|r| r.clone().count()).sum()
    }

    /// The `i`-th allowed port, counting through the ranges in order (`i` < [`BindPorts::count`]).
    fn nth(&self, mut i: usize) -> Option<u16> {
        for r in self.ranges() {
            let n = r.clone().count();
            if i < n {
                return Some(*r.start() + i as u16);
            }
            i -= n;
        }
        None
    }
}

/// What a BIND request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// GOST's meaning: listen on exactly this address; any peer may connect.
    Listen(SocketAddr),
    /// RFC 1928 / SOCKS4: listen on a free port, accept only a peer from one of these IPs.
    Expect(Vec<IpAddr>),
}

impl Plan {
    /// The meaning of a BIND request's address; a name is resolved here (the error means "host
    /// unreachable").
    pub(crate) async fn of(req: &Address) -> io::Result<Plan> {
        if let Some(sa) = req.to_socket_addr() {
            return Ok(if sa.ip().is_unspecified() {
                Plan::Listen(sa)
            } else {
                Plan::Expect(vec![sa.ip().to_canonical()])
            });
        }
        let Address::Domain(name, _) = req else {
            return Err(io::ErrorKind::InvalidInput.into());
        };
        let host = name
            .as_str()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "peer name is not UTF-8"))?;
        let ips: Vec<IpAddr> = tokio::net::lookup_host((host, 0))
            .await?
            .map(|sa| sa.ip().to_canonical())
            .collect();
        if ips.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{host} has no address"),
            ));
        }
        Ok(Plan::Expect(ips))
    }

    /// The peers to accept (`None`: any).
    pub(crate) fn expected(&self) -> Option<&[IpAddr]> {
        match self {
            Plan::Listen(_) => None,
            Plan::Expect(ips) => Some(ips),
        }
    }

    /// Opens the listener: for [`Plan::Listen`] the asked address, for [`Plan::Expect`] a free port on
    /// `control` (the control connection's local address; the wildcard when unknown). A port outside
    /// `ports` is [`Error::PortNotAllowed`]; a taken one an I/O error.
    pub(crate) fn listen(
        &self,
        control: Option<SocketAddr>,
        ports: &BindPorts,
    ) -> Result<TcpListener, Error> {
        let addr = match self {
            Plan::Listen(sa) => *sa,
            Plan::Expect(_) => {
                let ip = control.map_or(Ipv4Addr::UNSPECIFIED.into(), |l| l.ip().to_canonical());
                SocketAddr::new(ip, 0)
            }
        };
        listen_on(addr, ports)
    }
}

/// Listens on `addr` if `ports` allows its port; port 0 takes a free port from `ports`.
pub(crate) fn listen_on(addr: SocketAddr, ports: &BindPorts) -> Result<TcpListener, Error> {
    if !ports.allows(addr.port()) {
        return Err(Error::PortNotAllowed(addr.port()));
    }
    if addr.port() != 0 || ports.is_any() {
        return Ok(bind_strict(addr)?);
    }
    let count = ports.count();
    let start = RandomState::new().hash_one(addr) as usize % count;
    let mut last = io::Error::from(io::ErrorKind::AddrInUse);
    for i in 0..count.min(MAX_PORT_TRIES) {
        let port = ports.nth((start + i) % count).unwrap_or(0);
        match bind_strict(SocketAddr::new(addr.ip(), port)) {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = e,
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.into())
}

/// Binds exactly `addr`: a port another socket listens on fails, as upstream's "strict" bind does.
///
/// SO_REUSEADDR is set as Go sets it on every listener: on Linux it still refuses a port with a live
/// listener, but lets a remote-forwarding port be bound again while connections of its previous listener
/// sit in TIME_WAIT (otherwise `rtcp` cannot come back after its control connection drops). The backlog
/// is large enough for a burst of peers; a full accept queue makes some stacks reset new connections.
pub(crate) fn bind_strict(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Waits up to `timeout` for the expected peer on `listener`, holding back what the client sends
/// meanwhile in `early` (up to [`MAX_EARLY`]), then closes the listener. The outer `Err` when the
/// control connection ends or fails first; the inner one, for the client to be told, when no expected
/// peer came in time ([`Error::AcceptTimeout`]) or accepting failed (e.g. out of descriptors). A peer's
/// address is canonical (IPv4-mapped shown as IPv4).
pub(crate) async fn wait_peer(
    listener: TcpListener,
    plan: &Plan,
    conn: &mut Stream,
    early: &mut Vec<u8>,
    timeout: Duration,
) -> Result<Result<(TcpStream, SocketAddr), Error>, Error> {
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut chunk = [0u8; 2048];
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((peer, from)) => {
                    let from = SocketAddr::new(from.ip().to_canonical(), from.port());
                    match plan.expected() {
                        Some(ips) if !ips.contains(&from.ip()) => {
                            debug!(peer = %from, expected = ?ips, "bind: refused an unexpected peer");
                            drop(peer);
                        }
                        _ => return Ok(Ok((peer, from))),
                    }
                }
                Err(e) => return Ok(Err(e.into())),
            },
            _ = &mut deadline => return Ok(Err(Error::AcceptTimeout(timeout))),
            n = conn.read(&mut chunk), if early.len() < MAX_EARLY => match n? {
                0 => return Err(Error::Io(io::ErrorKind::UnexpectedEof.into())),
                n => early.extend_from_slice(&chunk[..n]),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_sets() {
        let any = BindPorts::any();
        assert!(any.is_any() && any.allows(0) && any.allows(80));
        let some = BindPorts::only([20000..=20002, 30000..=30000]);
        assert!(!some.is_any());
        assert!(some.allows(0) && some.allows(20001) && some.allows(30000));
        assert!(!some.allows(20003) && !some.allows(80));
        assert_eq!(some.count(), 4);
        assert_eq!(
            (0..5).map(|i| some.nth(i)).collect::<Vec<_>>(),
            [Some(20000), Some(20001), Some(20002), Some(30000), None]
        );
        let none = BindPorts::only(std::iter::empty());
        assert!(!none.is_any() && !none.allows(0) && !none.allows(5));
    }

    #[tokio::test]
    async fn the_unspecified_address_means_listen_here_any_other_names_the_peer() {
        let listen = Plan::of(&Address::Ip("0.0.0.0:2222".parse().unwrap()))
            .await
            .unwrap();
        assert_eq!(listen, Plan::Listen("0.0.0.0:2222".parse().unwrap()));
        assert_eq!(listen.expected(), None);
        let peer = Plan::of(&Address::Ip("[::ffff:10.0.0.1]:21".parse().unwrap()))
            .await
            .unwrap();
        assert_eq!(peer, Plan::Expect(vec![IpAddr::from([10, 0, 0, 1])]));
        let named = Plan::of(&Address::from_host_port("localhost", 7).unwrap())
            .await
            .unwrap();
        assert!(
            named
                .expected()
                .unwrap()
                .contains(&IpAddr::from([127, 0, 0, 1]))
        );
    }

    #[tokio::test]
    async fn a_free_port_is_taken_from_the_allowed_set() {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = a.local_addr().unwrap().port();
        // The only other candidate is whatever port follows; either way the taken one is skipped.
        let ports = BindPorts::only([taken..=taken]);
        let e = listen_on("127.0.0.1:0".parse().unwrap(), &ports).unwrap_err();
        assert!(
            matches!(e, Error::Io(ref io) if io.kind() == io::ErrorKind::AddrInUse),
            "{e}"
        );
        let e = listen_on("127.0.0.1:1".parse().unwrap(), &ports).unwrap_err();
        assert!(matches!(e, Error::PortNotAllowed(1)), "{e}");
        drop(a);
        let l = listen_on("127.0.0.1:0".parse().unwrap(), &ports).unwrap();
        assert_eq!(l.local_addr().unwrap().port(), taken);
    }
}
