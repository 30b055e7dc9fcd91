//! Where handlers get their outbound connections: the [`Outbound`] seam and its [`Direct`] implementation.
//!
//! Handlers never dial by themselves; they ask an `Outbound` for a TCP stream to a target or for a
//! [`PacketConn`] that carries datagrams to any target. [`Direct`] dials from this host (its `PacketConn`
//! is a plain UDP socket). A proxy chain plugs in as another implementation without any handler change
//! (its `PacketConn` is a UDP association on the chain's last hop). Dial failures keep enough detail to
//! pick the precise SOCKS reply code.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use gost_transport::tcp::{TcpDialer, TcpOptions};
use gost_transport::{BoxFuture, Stream};
use socks_wire::{Address, ReplyCode, Socks4ReplyCode};
use tokio::net::UdpSocket;

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

/// Dials from this host: TCP with Happy Eyeballs and a connect timeout, UDP from a dual-stack socket.
#[derive(Debug, Clone)]
pub struct Direct {
    dialer: TcpDialer,
}

/// Upstream's router gives each dial 15 s.
pub const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(15);

impl Direct {
    /// A direct outbound whose TCP connects give up after `connect_timeout`.
    pub fn new(connect_timeout: Duration) -> Direct {
        let opts = TcpOptions {
            connect_timeout,
            ..TcpOptions::default()
        };
        Direct {
            dialer: TcpDialer::new(opts),
        }
    }
}

impl Default for Direct {
    fn default() -> Self {
        Direct::new(DEFAULT_DIAL_TIMEOUT)
    }
}

impl Outbound for Direct {
    fn connect<'a>(&'a self, target: &'a Address) -> BoxFuture<'a, Result<Stream, DialError>> {
        Box::pin(async move {
            let addr = target.to_string();
            let tcp = self
                .dialer
                .connect(&addr)
                .await
                .map_err(DialError::from_transport)?;
            Ok(Stream::from_tcp(tcp))
        })
    }

    fn resolve<'a>(&'a self, target: &'a Address) -> BoxFuture<'a, Result<SocketAddr, DialError>> {
        Box::pin(async move {
            if let Some(sa) = target.to_socket_addr() {
                return Ok(sa);
            }
            let name = target.to_string();
            let mut addrs = tokio::net::lookup_host(&name)
                .await
                .map_err(DialError::HostUnreachable)?;
            addrs.next().ok_or_else(|| {
                DialError::HostUnreachable(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{name} has no address"),
                ))
            })
        })
    }

    fn udp(&self) -> BoxFuture<'_, Result<PacketConn, DialError>> {
        Box::pin(async move {
            dual_stack_udp()
                .map(PacketConn::direct)
                .map_err(DialError::Other)
        })
    }
}

/// A UDP socket on `[::]:0` that also reaches IPv4 targets, or `0.0.0.0:0` where IPv6 is missing.
fn dual_stack_udp() -> io::Result<UdpSocket> {
    use socket2::{Domain, Socket, Type};
    let v6 = Socket::new(Domain::IPV6, Type::DGRAM, None).and_then(|s| {
        s.set_only_v6(false)?;
        s.bind(&SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0).into())?;
        Ok(s)
    });
    let socket = match v6 {
        Ok(s) => s,
        Err(_) => {
            let s = Socket::new(Domain::IPV4, Type::DGRAM, None)?;
            s.bind(&SocketAddr::from(([0, 0, 0, 0], 0)).into())?;
            s
        }
    };
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
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
        assert_eq!(local.ip(), IpAddr::from([127, 0, 0, 1]));
        assert_ne!(local.port(), 0);
    }
}
