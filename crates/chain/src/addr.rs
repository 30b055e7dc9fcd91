//! Turning `host:port` strings into SOCKS addresses with upstream's rules, and local name resolution.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use socks_wire::Address;

use crate::Error;

/// The host a forward target with an empty host (`:5201`) stands for: the far end's own loopback, as
/// upstream's client substitutes it.
pub const EMPTY_HOST: &str = "127.0.0.1";

/// Splits `host:port` (IPv6 in brackets); the host may be empty.
pub fn split_host_port(addr: &str) -> Result<(&str, u16), Error> {
    let bad = |reason: &str| Error::InvalidAddress {
        addr: addr.to_owned(),
        reason: reason.to_owned(),
    };
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| bad("expected host:port"))?;
    let host = match host.strip_prefix('[') {
        Some(h) => h.strip_suffix(']').ok_or_else(|| bad("unclosed '['"))?,
        None if host.contains(':') => return Err(bad("IPv6 addresses need brackets")),
        None => host,
    };
    let port = port
        .parse()
        .map_err(|_| bad("the port is not a number 0-65535"))?;
    Ok((host, port))
}

/// The host part of a node address, for TLS server names (`[::1]:443` gives `::1`).
pub fn host_of(addr: &str) -> &str {
    split_host_port(addr).map_or(addr, |(h, _)| h)
}

/// The SOCKS address a request for `target` names: an empty host becomes [`EMPTY_HOST`], an IP
/// literal an IP address, anything else a domain name the server resolves.
pub fn target_address(target: &str) -> Result<Address, Error> {
    let (host, port) = split_host_port(target)?;
    let host = if host.is_empty() { EMPTY_HOST } else { host };
    Address::from_host_port(host, port).map_err(|e| Error::InvalidAddress {
        addr: target.to_owned(),
        reason: e.to_string(),
    })
}

/// Resolves `target` on this host (UDP targets are sent as IP addresses, as upstream's client does).
/// An empty host is [`EMPTY_HOST`]; IPv4 answers are preferred.
pub async fn resolve(target: &str) -> Result<SocketAddr, Error> {
    match target_address(target)? {
        Address::Ip(sa) => Ok(sa),
        Address::Domain(d, port) => {
            let name = d.as_str().unwrap_or_default().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), port))
                .await
                .map_err(|e| Error::InvalidAddress {
                    addr: target.to_owned(),
                    reason: format!("cannot resolve: {e}"),
                })?
                .collect();
            addrs
                .iter()
                .find(|a| a.is_ipv4())
                .or(addrs.first())
                .copied()
                .ok_or_else(|| Error::InvalidAddress {
                    addr: target.to_owned(),
                    reason: "the name has no address".into(),
                })
        }
    }
}

/// A SOCKS address as a socket address, resolving a domain name locally.
pub async fn resolve_address(addr: &Address) -> Result<SocketAddr, Error> {
    match addr {
        Address::Ip(sa) => Ok(*sa),
        other => resolve(&other.to_string()).await,
    }
}

/// The unspecified address of `ip`'s family, to bind a local UDP socket that can reach `ip`.
pub fn unspecified_for(ip: IpAddr) -> SocketAddr {
    match ip {
        IpAddr::V4(_) => SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
        IpAddr::V6(_) => SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_host_is_the_far_loopback() {
        assert_eq!(
            target_address(":5201").unwrap().to_string(),
            "127.0.0.1:5201"
        );
        assert_eq!(target_address("[::1]:53").unwrap().to_string(), "[::1]:53");
        assert!(matches!(
            target_address("example.com:80").unwrap(),
            Address::Domain(..)
        ));
    }

    #[test]
    fn bad_addresses_are_named() {
        for bad in ["nohost", "::1:80", "[::1:80", "h:99999"] {
            let e = split_host_port(bad).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
        assert_eq!(host_of("[::1]:443"), "::1");
        assert_eq!(host_of("example.com:443"), "example.com");
    }

    #[tokio::test]
    async fn resolves_literals_without_lookup() {
        assert_eq!(
            resolve(":9").await.unwrap(),
            "127.0.0.1:9".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(resolve("localhost:9").await.unwrap().port(), 9);
    }
}
