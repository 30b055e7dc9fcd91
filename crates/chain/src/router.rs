//! [`Router`]: where every outgoing connection of a service is made — straight from this host, or through
//! a chain. UDP associations and remote listeners (BIND, MBIND, UDP-TUN bind) are opened on the chain's last
//! node. Hop and node bypasses ([`crate::Bypass`]) choose the route of a dialled target; associations and
//! remote listeners have no single target and always use every hop.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use gost_transport::tcp::{Resolver, TcpDialer, TcpOptions};
use gost_transport::{Egress, Stream};
use socks_wire::Address;

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

    /// Opens the sockets of direct dials and UDP associations through `egress` (a service's
    /// `interface` and `so_mark`; a chain's nodes have their own).
    pub fn with_egress(mut self, egress: Egress) -> Router {
        self.direct = self.direct.with_egress(egress);
        self
    }

    /// Where the router's direct sockets leave the host (for other sockets a handler opens toward
    /// targets, such as remote UDP forwarding's).
    pub fn egress(&self) -> &Egress {
        self.direct.egress()
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

    /// A connection to `target`: from this host (the one direct dialer of gost-rs) or through the chain,
    /// as far as its hops carry the target ([`Chain::route_to`]).
    pub async fn dial(&self, target: &Address) -> Result<Stream, Error> {
        let route = match &self.chain {
            Some(chain) => chain.route_to(target)?,
            None => None,
        };
        match route {
            Some(route) => {
                let target = self.resolve_for_chain(target).await?;
                route.dial(&target, self.timeout).await
            }
            None => {
                let tcp = bounded(self.timeout, "dial", target, async {
                    Ok(self.direct.connect(target).await?)
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
            None => Ok(PacketConn::direct(self.egress().udp_socket(None)?)),
        }
    }

    /// MBIND on the chain's last node: a remote listener on `laddr` with any number of peers.
    pub async fn mux_bind(&self, laddr: &Address) -> Result<MuxBindListener, Error> {
        self.need_chain("remote TCP forwarding (rtcp)")?
            .route()
            .mux_bind(laddr, self.timeout)
            .await
    }

    /// Plain BIND on the chain's last node: a remote listener on `laddr` for one peer.
    pub async fn bind(&self, laddr: &Address) -> Result<BindListener, Error> {
        self.need_chain("BIND")?
            .route()
            .bind(laddr, self.timeout)
            .await
    }

    /// UDP-TUN bind mode on the chain's last node: a remote UDP port `laddr` whose datagrams are tunnelled.
    pub async fn udp_bind(&self, laddr: &Address) -> Result<PacketConn, Error> {
        self.need_chain("remote UDP forwarding (rudp)")?
            .route()
            .udp_bind(laddr, self.timeout)
            .await
    }

    /// `target` with its name replaced by the resolver's first answer, if it has one.
    async fn resolve_for_chain<'a>(&self, target: &'a Address) -> Result<Cow<'a, Address>, Error> {
        let (Some(resolver), Address::Domain(name, port)) = (&self.resolver, target) else {
            return Ok(Cow::Borrowed(target));
        };
        // A name that is not UTF-8 or is an IP literal is no name to look up; it goes on as it is.
        let host = match name.as_str() {
            Some(h) if !h.is_empty() && h.parse::<IpAddr>().is_err() => h,
            _ => return Ok(Cow::Borrowed(target)),
        };
        let answer = bounded(self.timeout, "resolve", target, async {
            resolver.lookup(host, *port).await.map_err(|source| {
                Error::Transport(gost_transport::Error::Resolve {
                    host: host.to_owned(),
                    source,
                })
            })
        })
        .await?;
        Ok(match answer.and_then(|a| a.first().copied()) {
            Some(addr) => Cow::Owned(Address::Ip(addr)),
            None => Cow::Borrowed(target),
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

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::net::UdpSocket;

    #[tokio::test]
    async fn direct_udp_socket_reaches_ipv4_and_ipv6() {
        let socket = Egress::default().udp_socket(None).unwrap();
        let sock = socket2::SockRef::from(&socket);
        if sock.domain().unwrap() == socket2::Domain::IPV6 {
            assert!(!sock.only_v6().unwrap(), "IPV6_V6ONLY must be off");
        }
        let v4 = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket
            .send_to(b"v4", v4.local_addr().unwrap())
            .await
            .unwrap();
        let mut buf = [0u8; 4];
        let (n, _) = v4.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"v4");
        if let Ok(v6) = UdpSocket::bind("[::1]:0").await {
            socket
                .send_to(b"v6", v6.local_addr().unwrap())
                .await
                .unwrap();
            let (n, _) = v6.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"v6");
        }
    }
}
