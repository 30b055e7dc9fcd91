//! [`ChainOutbound`]: the SOCKS handlers' [`Outbound`] seam implemented with a gost-chain [`Router`], so
//! `-L socks5://:1080 -F socks5://hop:1080` dials every CONNECT through the chain and relays every UDP
//! ASSOCIATE through a UDP association on the chain's last hop (UDP-TUN, or UDP ASSOCIATE with `relay=udp`).

use std::net::SocketAddr;

use gost_chain::Router;
use gost_transport::{BoxFuture, Stream};
use socks_wire::Address;

use crate::outbound::{DialError, Direct, Outbound, PacketConn};

/// Dials through a chain. Name resolution for UDP stays local, as upstream's client resolves UDP targets.
#[derive(Debug, Clone)]
pub struct ChainOutbound {
    router: Router,
    direct: Direct,
}

impl ChainOutbound {
    /// An outbound using `router`.
    pub fn new(router: Router) -> ChainOutbound {
        ChainOutbound {
            router,
            direct: Direct::default(),
        }
    }
}

impl Outbound for ChainOutbound {
    fn connect<'a>(&'a self, target: &'a Address) -> BoxFuture<'a, Result<Stream, DialError>> {
        Box::pin(async move {
            self.router
                .dial(&target.to_string())
                .await
                .map_err(|e| DialError::from_io(e.into()))
        })
    }

    fn resolve<'a>(&'a self, target: &'a Address) -> BoxFuture<'a, Result<SocketAddr, DialError>> {
        self.direct.resolve(target)
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
