//! A `climiters:` entry's `limits:` lines (read by gost-config's [`LimitLine`] grammar) onto
//! gost-service's [`ConnLimits`].

use gost_config::climit::{LimitLine, LimitLineError, parse_lines};
use gost_service::{ConnLimits, HostLimit};

/// The limits `lines` set; later lines for the same scope replace earlier ones.
pub fn conn_limits<S: AsRef<str>>(lines: &[S]) -> Result<ConnLimits, LimitLineError> {
    let mut limits = ConnLimits::default();
    for line in parse_lines(lines)? {
        match line {
            LimitLine::Service(l) => limits.service = l,
            LimitLine::PerIp(l) => limits.per_ip = l,
            LimitLine::Host {
                addr,
                prefix,
                limit,
            } => limits.set_host(HostLimit {
                addr,
                prefix,
                limit,
            }),
        }
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn scopes_and_precedence() {
        let l = conn_limits(&[
            "$  10",
            "\t$$\t3 ",
            "",
            "192.168.0.0/16 7",
            "192.168.1.0/24 2",
            "192.168.1.9 0",
            "::ffff:10.0.0.1 4",
            "fd00::/8 6",
        ])
        .unwrap();
        assert_eq!((l.service, l.per_ip), (Some(10), Some(3)));
        assert_eq!(l.per_client(ip("8.8.8.8")), Some(3));
        assert_eq!(l.per_client(ip("192.168.200.1")), Some(7));
        assert_eq!(l.per_client(ip("192.168.1.1")), Some(2));
        assert_eq!(l.per_client(ip("192.168.1.9")), None, "0 lifts the limit");
        assert_eq!(l.per_client(ip("10.0.0.1")), Some(4), "mapped IPv4 is IPv4");
        assert_eq!(l.per_client(ip("::ffff:192.168.1.1")), Some(2));
        assert_eq!(l.per_client(ip("fd12::1")), Some(6));
        assert_eq!(l.per_client(ip("fe80::1")), Some(3));
    }

    #[test]
    fn later_lines_replace_earlier_ones() {
        let l = conn_limits(&["$$ 3", "$$ 5", "10.0.0.1 1", "10.0.0.1/32 2"]).unwrap();
        assert_eq!(l.per_ip, Some(5));
        assert_eq!(l.hosts.len(), 1);
        assert_eq!(l.per_client(ip("10.0.0.1")), Some(2));
    }

    #[test]
    fn zero_or_negative_means_unlimited() {
        let l = conn_limits(&["$ 0", "$$ -1"]).unwrap();
        assert!(l.is_unlimited());
        assert!(ConnLimits::default().is_unlimited());
    }

    #[test]
    fn a_bad_line_is_named() {
        let err = conn_limits(&["$ 1", "$$ many"]).unwrap_err();
        assert_eq!(err.index, 1);
        assert!(err.to_string().contains("`$$ many`"), "{err}");
    }
}
