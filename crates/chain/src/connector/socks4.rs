//! The SOCKS4/4A connector: CONNECT only, 4A form by default (even for IP literals, as upstream sends it),
//! plain SOCKS4 with a locally resolved IPv4 address when `disable4a` is set; the user id is the node's
//! username.

use std::net::{IpAddr, SocketAddr};

use super::Socks4ConnectorOptions;
use gost_transport::Stream;
use socks_wire::{
    Address, Decode, DecodeError, Domain, Encode, Socks4Reply, Socks4ReplyCode, Socks4Request,
    Socks4Target,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::bounded;
use crate::{DEFAULT_HANDSHAKE_TIMEOUT, Error};

/// A SOCKS4/4A client for one node. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Socks4Connector {
    opts: Socks4ConnectorOptions,
    user_id: Vec<u8>,
}

impl Socks4Connector {
    /// A connector with `opts`, sending `user_id` (the node's username; empty when none).
    pub fn new(opts: Socks4ConnectorOptions, user_id: &str) -> Socks4Connector {
        Socks4Connector {
            opts,
            user_id: user_id.as_bytes().to_vec(),
        }
    }

    /// Asks the node reached through `stream` to connect to `target` and waits for the 8-byte reply.
    pub async fn connect(
        &self,
        mut stream: Stream,
        node: &Address,
        target: &Address,
    ) -> Result<Stream, Error> {
        let timeout = self.opts.timeout.unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT);
        bounded(timeout, "SOCKS4 handshake", node, async {
            let request = self.request(target).await?;
            let wire = request.to_vec().map_err(|e| Error::InvalidAddress {
                addr: target.to_string(),
                reason: e.to_string(),
            })?;
            stream.write_all(&wire).await?;
            stream.flush().await?;
            let mut reply = [0u8; 8];
            stream.read_exact(&mut reply).await.map_err(|e| {
                Error::Io(std::io::Error::new(
                    e.kind(),
                    format!("reading the SOCKS4 reply from {node}: {e}"),
                ))
            })?;
            let reply = Socks4Reply::decode(&reply)
                .and_then(|d| d.complete().ok_or(DecodeError::Truncated))
                .map_err(|source| Error::Malformed {
                    node: node.to_string(),
                    source,
                })?
                .0;
            if reply.code != Socks4ReplyCode::Granted {
                return Err(Error::Socks4Refused {
                    node: node.to_string(),
                    target: target.to_string(),
                    code: reply.code,
                });
            }
            Ok(())
        })
        .await?;
        Ok(stream)
    }

    async fn request(&self, target: &Address) -> Result<Socks4Request, Error> {
        let port = target.port();
        let bad = |reason| Error::InvalidAddress {
            addr: target.to_string(),
            reason,
        };
        let target_kind = if self.opts.disable4a {
            Socks4Target::Ip(resolve_v4(&target.host(), port).await.map_err(bad)?)
        } else {
            // 4A form even for an IP address, as upstream sends it: the IP's text is the name.
            let name = match target {
                Address::Domain(name, _) => name.clone(),
                Address::Ip(sa) => {
                    Domain::try_from(sa.ip().to_string()).map_err(|e| bad(e.to_string()))?
                }
            };
            Socks4Target::Domain(name)
        };
        let mut request = Socks4Request::connect(target_kind, port);
        request.user_id = self.user_id.clone();
        Ok(request)
    }
}

/// Plain SOCKS4 carries only IPv4: resolve `host` here and take its first IPv4 address.
async fn resolve_v4(host: &str, port: u16) -> Result<std::net::Ipv4Addr, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return match ip {
            IpAddr::V4(v4) => Ok(v4),
            IpAddr::V6(_) => Err("SOCKS4 cannot carry an IPv6 address (drop disable4a)".into()),
        };
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve: {e}"))?
        .collect();
    addrs
        .iter()
        .find_map(|a| match a.ip() {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
        .ok_or_else(|| "the name has no IPv4 address (SOCKS4 carries only IPv4)".into())
}
