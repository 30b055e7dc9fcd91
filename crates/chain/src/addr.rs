//! Configured `host:port` strings become SOCKS addresses here, once, with upstream's rules; from then on
//! every layer passes the [`Address`]. Also the wire form of an address and local name resolution.

use std::net::SocketAddr;

use socks_wire::Address;

use crate::Error;

/// The host a forward target with an empty host (`:5201`) stands for: the far end's own loopback, as
/// upstream's client substitutes it.
pub const EMPTY_HOST: &str = "127.0.0.1";

/// Splits `host:port` (IPv6 in brackets); the host may be empty.
fn split_host_port(addr: &str) -> Result<(&str, u16), Error> {
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

/// Parses a configured `host:port` with `empty` standing for an empty host.
fn parse(addr: &str, empty: &str) -> Result<Address, Error> {
    let (host, port) = split_host_port(addr)?;
    let host = if host.is_empty() { empty } else { host };
    Address::from_host_port(host, port).map_err(|e| Error::InvalidAddress {
        addr: addr.to_owned(),
        reason: e.to_string(),
    })
}

/// Parses a configured target or node address (`host:port`), once, when the service is built: an empty
/// host becomes [`EMPTY_HOST`], an IP literal an IP address, anything else a domain name.
pub fn target_address(target: &str) -> Result<Address, Error> {
    parse(target, EMPTY_HOST)
}

/// Parses the address a remote listener (BIND, MBIND, UDP-TUN bind) asks the node to listen on:
/// `:2222` is `0.0.0.0:2222`, every interface of the node.
pub fn bind_address(laddr: &str) -> Result<Address, Error> {
    parse(laddr, "")
}

/// The form in which upstream's client puts `addr` on the wire: it prints addresses and parses them
/// again, so a domain name that is an IP literal goes out as that IP, and an IPv4-mapped IPv6 address
/// as IPv4. Requests decoded from a client keep their bytes until here.
pub fn wire_form(addr: &Address) -> Address {
    match addr {
        Address::Ip(sa) => Address::from(*sa),
        Address::Domain(name, port) => name
            .as_str()
            .and_then(|host| Address::from_host_port(host, *port).ok())
            .unwrap_or_else(|| addr.clone()),
    }
}

/// A SOCKS address as a socket address, resolving a domain name on this host (UDP targets are sent as
/// IP addresses, as upstream's client does); IPv4 answers are preferred.
pub async fn resolve_address(addr: &Address) -> Result<SocketAddr, Error> {
    let (name, port) = match addr {
        Address::Ip(sa) => return Ok(*sa),
        domain => match wire_form(domain) {
            Address::Ip(sa) => return Ok(sa),
            Address::Domain(name, port) => (name, port),
        },
    };
    let bad = |reason: String| Error::InvalidAddress {
        addr: addr.to_string(),
        reason,
    };
    let host = name
        .as_str()
        .ok_or_else(|| bad("the name is not UTF-8".into()))?;
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| bad(format!("cannot resolve: {e}")))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| bad("the name has no address".into()))
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
        assert_eq!(bind_address(":2222").unwrap().to_string(), "0.0.0.0:2222");
    }

    #[test]
    fn bad_addresses_are_named() {
        for bad in ["nohost", "::1:80", "[::1:80", "h:99999"] {
            let e = target_address(bad).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn wire_form_is_what_upstream_reparses() {
        let domain = |s: &str| Address::Domain(s.try_into().unwrap(), 80);
        let mapped: SocketAddr = "[::ffff:1.2.3.4]:80".parse().unwrap();
        assert_eq!(wire_form(&domain("1.2.3.4")).to_string(), "1.2.3.4:80");
        assert_eq!(wire_form(&domain("[::1]")).to_string(), "[::1]:80");
        assert_eq!(wire_form(&Address::Ip(mapped)).to_string(), "1.2.3.4:80");
        assert_eq!(wire_form(&domain("example.com")), domain("example.com"));
    }

    #[tokio::test]
    async fn resolves_literals_without_lookup() {
        let a = target_address(":9").unwrap();
        assert_eq!(
            resolve_address(&a).await.unwrap(),
            "127.0.0.1:9".parse::<SocketAddr>().unwrap()
        );
        let a = target_address("localhost:9").unwrap();
        assert_eq!(resolve_address(&a).await.unwrap().port(), 9);
    }
}
