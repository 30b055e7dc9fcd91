//! Connectors: the proxy protocol a node speaks. Each one takes a stream already connected to its node and
//! asks the node for something (a connection to a target, a UDP association, a remote listener).

mod options;
mod socks4;
mod socks5;

use gost_transport::Stream;
use socks_wire::{Address, Decode, Decoded, Reply};

pub use options::{Socks4ConnectorOptions, Socks5ConnectorOptions};
pub use socks4::Socks4Connector;
pub use socks5::Socks5Connector;
pub(crate) use socks5::second_reply;

use crate::Error;

/// A node's proxy protocol.
#[derive(Debug, Clone)]
pub enum Connector {
    /// SOCKS5 with GOST's extensions.
    Socks5(Socks5Connector),
    /// SOCKS4 / SOCKS4A (CONNECT only).
    Socks4(Socks4Connector),
}

impl Connector {
    /// The connector's type name as in the configuration.
    pub fn kind(&self) -> &'static str {
        match self {
            Connector::Socks5(_) => "socks5",
            Connector::Socks4(_) => "socks4",
        }
    }

    /// Asks the node `node` reached through `stream` for a connection to `target`.
    pub async fn connect(
        &self,
        stream: Stream,
        node: &Address,
        target: &Address,
    ) -> Result<Stream, Error> {
        match self {
            Connector::Socks5(c) => c.connect(stream, node, target).await,
            Connector::Socks4(c) => c.connect(stream, node, target).await,
        }
    }

    /// The SOCKS5 connector, for the requests only SOCKS5 has (UDP, BIND, MBIND, UDP-TUN bind);
    /// `what` names the request in the error of any other connector.
    pub(crate) fn socks5(&self, what: &str) -> Result<&Socks5Connector, Error> {
        match self {
            Connector::Socks5(c) => Ok(c),
            other => Err(Error::Unsupported(format!(
                "{what} needs a socks5 node as the last hop, not {}",
                other.kind()
            ))),
        }
    }
}

/// Reads one SOCKS5 reply; bytes after it stay in `rest`.
pub(crate) async fn read_reply(
    stream: &mut Stream,
    rest: &mut Vec<u8>,
    node: &(dyn std::fmt::Display + Sync),
) -> Result<Reply, Error> {
    loop {
        match Reply::decode(rest) {
            Ok(Decoded::Complete(reply, used)) => {
                rest.drain(..used);
                return Ok(reply);
            }
            Ok(Decoded::NeedMore(_)) => stream.read_more(rest, node).await?,
            Err(source) => {
                return Err(Error::Malformed {
                    node: node.to_string(),
                    source,
                });
            }
        }
    }
}
