//! [`NameserverSpec`]: one upstream `nameservers:` entry — how it is reached (`udp://`, `tcp://`,
//! `tls://` DNS over TLS, `https://` DNS over HTTPS), which addresses it returns, how long answers are
//! cached and how long one query may take — and upstream's address grammar `[protocol://]ip[:port]`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How a nameserver is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    /// `udp://` (the default; hickory retries over TCP when an answer is truncated).
    Udp,
    /// `tcp://`.
    Tcp,
    /// `tls://` (or `dot://`): DNS over TLS, RFC 7858.
    Tls,
    /// `https://`: DNS over HTTPS (RFC 8484, HTTP/2 POST) at `path`.
    Https {
        /// The query path, `/dns-query` when the address has none.
        path: String,
    },
}

impl Protocol {
    /// The port a nameserver listens on when its address names none.
    fn default_port(&self) -> u16 {
        match self {
            Protocol::Udp | Protocol::Tcp => 53,
            Protocol::Tls => 853,
            Protocol::Https { .. } => 443,
        }
    }
}

/// Which addresses a nameserver's answers give, and in which order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// IPv4 first, IPv6 when there is none (upstream's default).
    #[default]
    PreferIpv4,
    /// IPv6 first, IPv4 when there is none (`prefer: ipv6`).
    PreferIpv6,
    /// IPv4 only (`only: ipv4`).
    Ipv4Only,
    /// IPv6 only (`only: ipv6`).
    Ipv6Only,
}

/// One `nameservers:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameserverSpec {
    /// Where it listens.
    pub addr: SocketAddr,
    /// How it is reached.
    pub protocol: Protocol,
    /// The name its TLS certificate must carry (`hostname`; `None`: its IP address).
    pub server_name: Option<String>,
    /// Which addresses to return.
    pub family: Family,
    /// Cache answers this long instead of their TTL (`None`: the TTL of the answer).
    pub ttl: Option<Duration>,
    /// Bound on one query (`None`: hickory's 5 s).
    pub timeout: Option<Duration>,
}

/// Why a nameserver cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// Not `[protocol://]IP[:port]`.
    #[error(
        "nameserver `{addr}`: {reason} (expected [udp://|tcp://|tls://|https://]IP[:port][/path], \
         e.g. udp://1.1.1.1:53, tls://1.1.1.1:853, https://1.0.0.1/dns-query)"
    )]
    Addr {
        /// The address as written.
        addr: String,
        /// What is wrong.
        reason: String,
    },
    /// hickory refused the nameserver's settings.
    #[error("nameserver {addr}: {reason}")]
    Build {
        /// The nameserver's socket address.
        addr: SocketAddr,
        /// hickory's reason.
        reason: String,
    },
}

impl NameserverSpec {
    /// A nameserver at `addr` (upstream's grammar) with the defaults of every other setting.
    pub fn new(addr: &str) -> Result<NameserverSpec, DnsError> {
        let (protocol, addr) = NameserverSpec::parse_addr(addr)?;
        Ok(NameserverSpec {
            addr,
            protocol,
            server_name: None,
            family: Family::default(),
            ttl: None,
            timeout: None,
        })
    }

    /// Upstream's nameserver address: `[protocol://]ip[:port]`, protocol `udp` by default, port 53
    /// (853 for `tls://`, 443 for `https://`, whose path defaults to `/dns-query`).
    pub fn parse_addr(addr: &str) -> Result<(Protocol, SocketAddr), DnsError> {
        let bad = |reason: &str| DnsError::Addr {
            addr: addr.to_owned(),
            reason: reason.to_owned(),
        };
        let (protocol, host) = match addr.split_once("://") {
            None => (Protocol::Udp, addr),
            Some(("udp", rest)) => (Protocol::Udp, rest.trim_end_matches('/')),
            Some(("tcp", rest)) => (Protocol::Tcp, rest.trim_end_matches('/')),
            Some(("tls" | "dot", rest)) => (Protocol::Tls, rest.trim_end_matches('/')),
            Some(("https", rest)) => {
                let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                let path = match path {
                    "" | "/" => "/dns-query",
                    p => p,
                };
                let path = path.to_owned();
                (Protocol::Https { path }, host)
            }
            Some((other, _)) => {
                return Err(bad(&format!(
                    "protocol `{other}` is not one of udp, tcp, tls, https"
                )));
            }
        };
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            let port = protocol.default_port();
            return Ok((protocol, SocketAddr::new(ip, port)));
        }
        let sa = host.parse::<SocketAddr>().map_err(|_| {
            bad(
                "not an IP address with an optional port (for tls:// and https:// the \
                 certificate's name goes in `hostname`)",
            )
        })?;
        Ok((protocol, sa))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameserver_addresses_as_upstream_writes_them() {
        let p = |a| NameserverSpec::parse_addr(a).map(|(p, sa)| (p, sa.to_string()));
        let doh = |path: &str| Protocol::Https { path: path.into() };
        for (written, protocol, addr) in [
            ("1.1.1.1", Protocol::Udp, "1.1.1.1:53"),
            ("udp://1.1.1.1:5353", Protocol::Udp, "1.1.1.1:5353"),
            ("tcp://[::1]:53", Protocol::Tcp, "[::1]:53"),
            ("tcp://::1", Protocol::Tcp, "[::1]:53"),
            ("tls://8.8.8.8", Protocol::Tls, "8.8.8.8:853"),
            ("dot://8.8.8.8:8853", Protocol::Tls, "8.8.8.8:8853"),
            (
                "https://1.0.0.1/dns-query",
                doh("/dns-query"),
                "1.0.0.1:443",
            ),
            ("https://[::1]:8443", doh("/dns-query"), "[::1]:8443"),
            ("https://127.0.0.1:8443/q", doh("/q"), "127.0.0.1:8443"),
        ] {
            assert_eq!(p(written).unwrap(), (protocol, addr.into()), "{written}");
        }
        for bad in [
            "https://dns.google/dns-query",
            "dns.example",
            "quic://1.1.1.1",
            "tls://",
        ] {
            assert!(p(bad).unwrap_err().to_string().contains(bad), "{bad}");
        }
    }
}
