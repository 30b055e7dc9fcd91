//! [`Router`]: where every outgoing connection of a service is made — straight from this host, or through
//! a chain. UDP associations and remote listeners (BIND, MBIND, UDP-TUN bind) are opened on the chain's last
//! node.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use gost_transport::Stream;
use gost_transport::tcp::{Resolver, TcpDialer, TcpOptions};
use tokio::net::UdpSocket;

use crate::addr::{split_host_port, target_address};
use crate::error::bounded;
use crate::{BindListener, Chain, Error, MuxBindListener, PacketConn};

/// Upstream's router gives each dial 15 s.
pub const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(15);

/// Dials targets directly or through a chain. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Router {
    chain: Option<Arc<Chain>>,
    direct: TcpDialer,
    timeout: Duration,
    resolver: Option<Arc<dyn Resolver>>,
}

impl Default for Router {
    fn default() -> Self {
        Router::new(None)
    }
}

impl Router {
    /// A router through `chain`, or direct without one.
    pub fn new(chain: Option<Chain>) -> Router {
        Router {
            chain: chain.map(Arc::new),
            direct: TcpDialer::new(TcpOptions {
                connect_timeout: DEFAULT_DIAL_TIMEOUT,
                ..TcpOptions::default()
            }),
            timeout: DEFAULT_DIAL_TIMEOUT,
            resolver: None,
        }
    }

    /// Resolves target names with `resolver` (a service's `hosts`), as upstream's router does: a direct
    /// dial asks it for every address; through a chain, a name it answers is sent to the chain as its
    /// first address, and a name it has no answer of its own for ([`Resolver::lookup`]) stays a name
    /// for the far end.
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolver>) -> Router {
        self.direct = self.direct.with_resolver(resolver.clone());
        self.resolver = Some(resolver);
        self
    }

    /// Replaces the bound of each dial step (default 15 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Router {
        self.timeout = timeout;
        self
    }

    /// The chain, if any.
    pub fn chain(&self) -> Option<&Chain> {
        self.chain.as_deref()
    }

    /// A connection to `target` (`host:port`; an empty host is `127.0.0.1` of the far end).
    pub async fn dial(&self, target: &str) -> Result<Stream, Error> {
        match &self.chain {
            Some(chain) => {
                let target = self.resolve_for_chain(target).await?;
                chain.route().dial(&target, self.timeout).await
            }
            None => {
                let addr = target_address(target)?.to_string();
                let tcp = bounded(self.timeout, "dial", target, async {
                    Ok(self.direct.connect(&addr).await?)
                })
                .await?;
                Ok(Stream::from_tcp(tcp))
            }
        }
    }

    /// A UDP association: a local socket without a chain, else one on the chain's last node.
    pub async fn udp(&self) -> Result<PacketConn, Error> {
        match &self.chain {
            Some(chain) => chain.route().udp(self.timeout).await,
            None => Ok(PacketConn::direct(dual_stack_udp()?)),
        }
    }

    /// MBIND on the chain's last node: a remote listener on `laddr` with any number of peers.
    pub async fn mux_bind(&self, laddr: &str) -> Result<MuxBindListener, Error> {
        self.need_chain("remote TCP forwarding (rtcp)")?
            .route()
            .mux_bind(laddr, self.timeout)
            .await
    }

    /// Plain BIND on the chain's last node: a remote listener on `laddr` for one peer.
    pub async fn bind(&self, laddr: &str) -> Result<BindListener, Error> {
        self.need_chain("BIND")?
            .route()
            .bind(laddr, self.timeout)
            .await
    }

    /// UDP-TUN bind mode on the chain's last node: a remote UDP port `laddr` whose datagrams are tunnelled.
    pub async fn udp_bind(&self, laddr: &str) -> Result<PacketConn, Error> {
        self.need_chain("remote UDP forwarding (rudp)")?
            .route()
            .udp_bind(laddr, self.timeout)
            .await
    }

    /// `target` with its name replaced by the resolver's first answer, if it has one.
    async fn resolve_for_chain(&self, target: &str) -> Result<String, Error> {
        let Some(resolver) = &self.resolver else {
            return Ok(target.to_owned());
        };
        let (host, port) = split_host_port(target)?;
        if host.is_empty() || host.parse::<IpAddr>().is_ok() {
            return Ok(target.to_owned());
        }
        let answer = bounded(self.timeout, "resolve", target, async {
            resolver.lookup(host, port).await.map_err(|source| {
                Error::Transport(gost_transport::Error::Resolve {
                    host: host.to_owned(),
                    source,
                })
            })
        })
        .await?;
        Ok(match answer.and_then(|a| a.first().copied()) {
            Some(addr) => addr.to_string(),
            None => target.to_owned(),
        })
    }

    fn need_chain(&self, what: &str) -> Result<&Chain, Error> {
        self.chain.as_deref().ok_or_else(|| {
            Error::Unsupported(format!(
                "{what} listens on a proxy server: add one with -F socks5://server:port"
            ))
        })
    }
}

/// A UDP socket on `[::]:0` that also reaches IPv4 targets, or `0.0.0.0:0` where IPv6 is missing.
fn dual_stack_udp() -> Result<UdpSocket, Error> {
    let v6 = std::net::UdpSocket::bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0));
    let socket = match v6 {
        Ok(s) => s,
        Err(_) => std::net::UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], 0)))?,
    };
    socket.set_nonblocking(true)?;
    Ok(UdpSocket::from_std(socket)?)
}
