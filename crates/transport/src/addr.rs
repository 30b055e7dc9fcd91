//! Splitting `host:port` strings the way upstream GOST writes them (`:1080`, `[::1]:1080`, `name:80`).

use crate::Error;

/// A `host:port` address split into its parts; `host` has no brackets and may be empty (`:1080`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HostPort<'a> {
    pub host: &'a str,
    pub port: u16,
}

pub(crate) fn split_host_port(addr: &str) -> Result<HostPort<'_>, Error> {
    let bad = |reason| Error::InvalidAddress {
        addr: addr.to_owned(),
        reason,
    };
    let (host, port) = addr.rsplit_once(':').ok_or_else(|| bad("missing port"))?;
    let host = match host.strip_prefix('[') {
        Some(rest) => rest
            .strip_suffix(']')
            .ok_or_else(|| bad("unclosed '[' in host"))?,
        None if host.contains(':') => return Err(bad("IPv6 literal must be in brackets")),
        None => host,
    };
    let port = port
        .parse()
        .map_err(|_| bad("port is not a number 0-65535"))?;
    Ok(HostPort { host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let hp = |host, port| HostPort { host, port };
        assert_eq!(split_host_port(":1080").unwrap(), hp("", 1080));
        assert_eq!(split_host_port("[::1]:80").unwrap(), hp("::1", 80));
        assert_eq!(
            split_host_port("example.com:443").unwrap(),
            hp("example.com", 443)
        );
        assert_eq!(split_host_port("127.0.0.1:0").unwrap(), hp("127.0.0.1", 0));
    }

    #[test]
    fn rejects() {
        for a in ["noport", "::1:80", "[::1:80", "h:99999", "h:x", "h:"] {
            let e = split_host_port(a).unwrap_err();
            assert!(matches!(e, Error::InvalidAddress { .. }), "{a}: {e}");
        }
    }
}
