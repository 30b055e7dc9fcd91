//! Where handlers get their outbound connections: the [`Outbound`] seam and its implementations over a
//! gost-chain router, [`ChainOutbound`] and [`Direct`].
//!
//! Handlers never dial by themselves; they ask an `Outbound` for a TCP stream to a target or for a
//! [`PacketConn`] that carries datagrams to any target. [`Direct`] dials from this host (its `PacketConn`
//! is a plain UDP socket); [`ChainOutbound`] through a proxy chain (its `PacketConn` is a UDP association
//! on the chain's last hop); both are the one dialer of gost-chain's [`Router`], and the target travels
//! as the [`Address`] the client sent. Dial failures keep enough detail to pick the precise SOCKS reply
//! code.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use gost_chain::Router;
use gost_chain::addr::wire_form;
use gost_transport::{BoxFuture, Stream};
use socks_wire::{Address, ReplyCode, Socks4ReplyCode};

pub use gost_chain::PacketConn;

/// Why an outbound connection could not be made, classified for the reply code.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// The target host refused the connection (TCP RST).
    #[error("connection refused: {0}")]
    Refused(#[source] io::Error),
    /// The target host is unreachable or its name does not resolve.
    #[error("host unreachable: {0}")]
    HostUnreachable(#[source] io::Error),
    /// No route to the target's network.
    #[error("network unreachable: {0}")]
    NetworkUnreachable(#[source] io::Error),
    /// The connection attempt timed out.
    #[error("connect timed out: {0}")]
    TimedOut(#[source] io::Error),
    /// Policy forbids the connection (bypass rule, or the OS refused it, e.g. a broadcast address).
    #[error("not allowed: {0}")]
    NotAllowed(#[source] io::Error),
    /// A [`crate::Routing`] refused the request before any dial; the client gets this reply code.
    #[error("refused by routing policy (reply {0:?})")]
    Policy(ReplyCode),
    /// Any other failure.
    #[error("{0}")]
    Other(#[source] io::Error),
}

impl DialError {
    /// Classifies an I/O error from a connect attempt.
    pub fn from_io(e: io::Error) -> DialError {
        use io::ErrorKind::*;
        match e.kind() {
            ConnectionRefused => DialError::Refused(e),
            HostUnreachable => DialError::HostUnreachable(e),
            NetworkUnreachable | AddrNotAvailable => DialError::NetworkUnreachable(e),
            TimedOut => DialError::TimedOut(e),
            PermissionDenied => DialError::NotAllowed(e),
            _ => DialError::Other(e),
        }
    }

    /// Classifies an error from a gost-transport dialer (a failed name lookup counts as host unreachable).
    pub fn from_transport(e: gost_transport::Error) -> DialError {
        match e {
            gost_transport::Error::Resolve { .. } => DialError::HostUnreachable(e.into()),
            e => DialError::from_io(e.into()),
        }
    }

    /// The SOCKS5 reply code for this failure (RFC 1928 §6). A timeout maps to 0x06 "TTL expired", the
    /// RFC's closest code; upstream GOST answers 0x03 to every dial failure.
    pub fn socks5_code(&self) -> ReplyCode {
        match self {
            DialError::Refused(_) => ReplyCode::ConnectionRefused,
            DialError::HostUnreachable(_) => ReplyCode::HostUnreachable,
            DialError::NetworkUnreachable(_) => ReplyCode::NetworkUnreachable,
            DialError::TimedOut(_) => ReplyCode::TtlExpired,
            DialError::NotAllowed(_) => ReplyCode::NotAllowed,
            DialError::Policy(code) => *code,
            DialError::Other(_) => ReplyCode::GeneralFailure,
        }
    }

    /// The SOCKS4 reply code: 0x5B (rejected or failed) for every dial failure, as upstream.
    pub fn socks4_code(&self) -> Socks4ReplyCode {
        Socks4ReplyCode::Rejected
    }
}

/// Opens outbound connections for handlers.
pub trait Outbound: Send + Sync + 'static {
    /// A TCP stream to `target`; its `local_addr` is what a SOCKS5 CONNECT reply reports.
    fn connect<'a>(&'a self, target: &'a Address) -> BoxFuture<'a, Result<Stream, DialError>>;

    /// Resolves `target` to one socket address (for UDP datagrams addressed by name).
    fn resolve<'a>(&'a self, target: &'a Address) -> BoxFuture<'a, Result<SocketAddr, DialError>>;

    /// A datagram connection that sends to, and receives from, any target: a local UDP socket
    /// ([`PacketConn::direct`], which the UDP relays drive directly) or a UDP association through a proxy.
    fn udp(&self) -> BoxFuture<'_, Result<PacketConn, DialError>>;
}

impl<T: Outbound + ?Sized> Outbound for std::sync::Arc<T> {
    fn connect<'a>(&'a self, target: &'a Address) -> BoxFuture<'a, Result<Stream, DialError>> {
        (**self).connect(target)
    }

    fn resolve<'a>(&'a self, target: &'a Address) -> BoxFuture<'a, Result<SocketAddr, DialError>> {
        (**self).resolve(target)
    }

    fn udp(&self) -> BoxFuture<'_, Result<PacketConn, DialError>> {
        (**self).udp()
    }
}

/// Dials with a gost-chain [`Router`]: through its proxy chain (`-L socks5://:1080 -F socks5://hop:1080`
/// dials every CONNECT through the chain and relays every UDP ASSOCIATE through a UDP association on the
/// chain's last hop), or from this host when the router has no chain. Names of UDP targets are resolved
/// on this host, as upstream's client does.
#[derive(Debug, Clone, Default)]
pub struct ChainOutbound {
    router: Router,
}

impl ChainOutbound {
    /// An outbound using `router`.
    pub fn new(router: Router) -> ChainOutbound {
        ChainOutbound { router }
    }

    fn dial_error(&self, e: gost_chain::Error) -> DialError {
        match e {
            // From this host, a name that does not resolve is the target's: host unreachable.
            gost_chain::Error::Transport(t) if self.router.chain().is_none() => {
                DialError::from_transport(t)
            }
            e => DialError::from_io(e.into()),
        }
    }
}

impl Outbound for ChainOutbound {
    fn connect<'a>(&'a self, target: &'a Address) -> BoxFuture<'a, Result<Stream, DialError>> {
        Box::pin(async move {
            self.router
                .dial(target)
                .await
                .map_err(|e| self.dial_error(e))
        })
    }

    fn resolve<'a>(&'a self, target: &'a Address) -> BoxFuture<'a, Result<SocketAddr, DialError>> {
        Box::pin(async move {
            if let Some(sa) = target.to_socket_addr() {
                return Ok(sa);
            }
            let (name, port) = match wire_form(target) {
                Address::Ip(sa) => return Ok(sa),
                Address::Domain(name, port) => (name, port),
            };
            let unreachable = |why: String| {
                DialError::HostUnreachable(io::Error::new(io::ErrorKind::NotFound, why))
            };
            let host = name
                .as_str()
                .ok_or_else(|| unreachable(format!("{name} is not UTF-8")))?;
            let mut addrs = tokio::net::lookup_host((host, port))
                .await
                .map_err(DialError::HostUnreachable)?;
            addrs
                .next()
                .ok_or_else(|| unreachable(format!("{target} has no address")))
        })
    }

    fn udp(&self) -> BoxFuture<'_, Result<PacketConn, DialError>> {
        Box::pin(async move {
            self.router
                .udp()
                .await
                .map_err(|e| DialError::from_io(e.into()))
        })
    }
}

/// Dials from this host: a [`ChainOutbound`] whose router has no chain (TCP with Happy Eyeballs and a
/// connect timeout, UDP from a dual-stack socket).
#[derive(Debug, Clone, Default)]
pub struct Direct(ChainOutbound);

impl Direct {
    /// A direct outbound whose TCP connects give up after `connect_timeout` (default
    /// [`gost_chain::DEFAULT_DIAL_TIMEOUT`]).
    pub fn new(connect_timeout: Duration) -> Direct {
        Direct(ChainOutbound::new(
            Router::default().with_timeout(connect_timeout),
        ))
    }
}

impl Outbound for Direct {
    fn connect<'a>(&'a self, target: &'a Address) -> BoxFuture<'a, Result<Stream, DialError>> {
        self.0.connect(target)
    }

    fn resolve<'a>(&'a self, target: &'a Address) -> BoxFuture<'a, Result<SocketAddr, DialError>> {
        self.0.resolve(target)
    }

    fn udp(&self) -> BoxFuture<'_, Result<PacketConn, DialError>> {
        self.0.udp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_errors_map_to_precise_reply_codes() {
        use io::ErrorKind::*;
        let cases = [
            (ConnectionRefused, ReplyCode::ConnectionRefused),
            (HostUnreachable, ReplyCode::HostUnreachable),
            (NetworkUnreachable, ReplyCode::NetworkUnreachable),
            (TimedOut, ReplyCode::TtlExpired),
            (PermissionDenied, ReplyCode::NotAllowed),
            (ConnectionReset, ReplyCode::GeneralFailure),
        ];
        for (kind, code) in cases {
            assert_eq!(
                DialError::from_io(kind.into()).socks5_code(),
                code,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn failed_lookup_is_host_unreachable() {
        let e = gost_transport::Error::Resolve {
            host: "x.invalid".into(),
            source: io::Error::other("no such host"),
        };
        assert_eq!(
            DialError::from_transport(e).socks5_code(),
            ReplyCode::HostUnreachable
        );
    }

    #[tokio::test]
    async fn direct_connect_reports_the_real_local_address() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = Address::Ip(l.local_addr().unwrap());
        let s = Direct::default().connect(&target).await.unwrap();
        let local = s.local_addr().unwrap();
        assert_eq!(local.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
        assert_ne!(local.port(), 0);
    }
}
