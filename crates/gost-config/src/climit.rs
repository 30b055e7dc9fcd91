//! Concurrent-connection limits: the `limits:` lines of upstream's `climiters:` entries, parsed into
//! [`ConnLimits`], which answers "how many connections may this client IP and this service hold at
//! once". Counting live connections is the service runner's job (gost-service).
//!
//! A line is `SCOPE LIMIT`, separated by blanks:
//!
//! | scope | meaning |
//! |---|---|
//! | `$` | the whole service: at most LIMIT connections at once |
//! | `$$` | every client IP: at most LIMIT connections at once from one address |
//! | `192.168.1.1` | that client IP (replaces `$$` for it) |
//! | `192.168.0.0/16` | every client IP in the network, each on its own (replaces `$$` for them) |
//!
//! As upstream, a LIMIT of zero or below means "no limit" for that scope, a later line for the same
//! scope replaces an earlier one, and an IP line wins over a network line. Where networks overlap, the
//! longest prefix applies. Unlike upstream, which skips lines it cannot read, a line that is not
//! `SCOPE LIMIT` with a valid scope and an integer LIMIT is an error naming the line.
//!
//! ```
//! use gost_config::climit::ConnLimits;
//! use std::net::IpAddr;
//!
//! let limits = ConnLimits::parse(&["$ 1000", "$$ 100", "10.0.0.0/8 5", "10.1.2.3 50"]).unwrap();
//! assert_eq!(limits.service, Some(1000));
//! let ip = |s: &str| s.parse::<IpAddr>().unwrap();
//! assert_eq!(limits.per_client(ip("192.0.2.1")), Some(100));
//! assert_eq!(limits.per_client(ip("10.9.9.9")), Some(5));
//! assert_eq!(limits.per_client(ip("10.1.2.3")), Some(50));
//! assert!(ConnLimits::parse(&["$$ many"]).unwrap_err().to_string().contains("`$$ many`"));
//! ```

use std::fmt;
use std::net::IpAddr;

/// Parsed limits of one `climiters:` entry. The default has no limit at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnLimits {
    /// `$`: most connections the service holds at once.
    pub service: Option<usize>,
    /// `$$`: most connections one client IP holds at once, unless a [`HostLimit`] covers it.
    pub per_ip: Option<usize>,
    /// IP and network lines, in the order given (later lines for the same network replace earlier).
    pub hosts: Vec<HostLimit>,
}

/// A per-client limit for one IP or every IP of a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLimit {
    /// Network address (host bits cleared).
    pub addr: IpAddr,
    /// Prefix length: 32 / 128 for a single IP.
    pub prefix: u8,
    /// Most connections each IP in the network holds at once; `None` lifts the `$$` limit for them.
    pub limit: Option<usize>,
}

/// A `limits:` line that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("limits[{index}] `{line}`: {problem}")]
pub struct LimitLineError {
    /// Position of the line in `limits:`.
    pub index: usize,
    /// The line as written.
    pub line: String,
    /// What is wrong and what would be valid.
    pub problem: String,
}

/// One line: a scope and its limit (`None` = no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitLine {
    /// `$`.
    Service(Option<usize>),
    /// `$$`.
    PerIp(Option<usize>),
    /// An IP or a network.
    Host(HostLimit),
}

impl LimitLine {
    /// Reads one line; `Ok(None)` for a blank one. The error is the problem, without the line.
    pub fn parse(line: &str) -> Result<Option<LimitLine>, String> {
        let mut fields = line.split_whitespace();
        let Some(scope) = fields.next() else {
            return Ok(None);
        };
        let Some(value) = fields.next() else {
            return Err("expected `SCOPE LIMIT` (e.g. `$$ 100`), but the limit is missing".into());
        };
        if let Some(extra) = fields.next() {
            return Err(format!(
                "unexpected `{extra}` after the limit; expected `SCOPE LIMIT`"
            ));
        }
        let limit = parse_limit(value)?;
        Ok(Some(match scope {
            "$" => LimitLine::Service(limit),
            "$$" => LimitLine::PerIp(limit),
            _ => {
                let (addr, prefix) = parse_scope(scope)?;
                LimitLine::Host(HostLimit {
                    addr,
                    prefix,
                    limit,
                })
            }
        }))
    }

    /// The limit of this line (`None` = no limit).
    pub fn limit(&self) -> Option<usize> {
        match self {
            LimitLine::Service(l) | LimitLine::PerIp(l) => *l,
            LimitLine::Host(h) => h.limit,
        }
    }
}

fn parse_limit(value: &str) -> Result<Option<usize>, String> {
    let n: i64 = value.parse().map_err(|_| {
        format!("limit `{value}` is not an integer (a number of connections; 0 = no limit)")
    })?;
    Ok(usize::try_from(n).ok().filter(|n| *n > 0))
}

fn parse_scope(scope: &str) -> Result<(IpAddr, u8), String> {
    let bad = || {
        format!("scope `{scope}` is not `$`, `$$`, an IP address or a network such as 10.0.0.0/8")
    };
    let (ip, prefix) = match scope.split_once('/') {
        Some((ip, prefix)) => (ip, Some(prefix)),
        None => (scope, None),
    };
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    let ip = ip.to_canonical();
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("network `{scope}`: prefix length must be 0..={max}"))?,
    };
    Ok((mask(ip, prefix), prefix))
}

/// `ip` with every bit past `prefix` cleared.
fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((bits & m).into())
        }
    }
}

impl HostLimit {
    /// Whether `ip` (already canonical: IPv4-mapped addresses as IPv4) is in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

impl ConnLimits {
    /// Parses upstream's `limits:` lines; blank lines are skipped.
    pub fn parse<S: AsRef<str>>(lines: &[S]) -> Result<ConnLimits, LimitLineError> {
        let mut limits = ConnLimits::default();
        for (index, line) in lines.iter().enumerate() {
            let line = line.as_ref();
            let parsed = LimitLine::parse(line).map_err(|problem| LimitLineError {
                index,
                line: line.to_owned(),
                problem,
            })?;
            match parsed {
                None => {}
                Some(LimitLine::Service(l)) => limits.service = l,
                Some(LimitLine::PerIp(l)) => limits.per_ip = l,
                Some(LimitLine::Host(h)) => {
                    limits
                        .hosts
                        .retain(|o| (o.addr, o.prefix) != (h.addr, h.prefix));
                    limits.hosts.push(h);
                }
            }
        }
        Ok(limits)
    }

    /// Whether nothing is limited.
    pub fn is_unlimited(&self) -> bool {
        self.service.is_none()
            && self.per_ip.is_none()
            && self.hosts.iter().all(|h| h.limit.is_none())
    }

    /// The per-client limit of `ip`: the longest matching IP/network line, else `$$`.
    pub fn per_client(&self, ip: IpAddr) -> Option<usize> {
        let ip = ip.to_canonical();
        self.hosts
            .iter()
            .filter(|h| h.contains(ip))
            .max_by_key(|h| h.prefix)
            .map_or(self.per_ip, |h| h.limit)
    }
}

impl fmt::Display for LimitLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.limit().unwrap_or(0);
        match self {
            LimitLine::Service(_) => write!(f, "$ {n}"),
            LimitLine::PerIp(_) => write!(f, "$$ {n}"),
            LimitLine::Host(h) => write!(f, "{}/{} {n}", h.addr, h.prefix),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn scopes_and_precedence() {
        let l = ConnLimits::parse(&[
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
        let l = ConnLimits::parse(&["$$ 3", "$$ 5", "10.0.0.1 1", "10.0.0.1/32 2"]).unwrap();
        assert_eq!(l.per_ip, Some(5));
        assert_eq!(l.hosts.len(), 1);
        assert_eq!(l.per_client(ip("10.0.0.1")), Some(2));
    }

    #[test]
    fn zero_or_negative_means_unlimited() {
        let l = ConnLimits::parse(&["$ 0", "$$ -1"]).unwrap();
        assert!(l.is_unlimited());
        assert!(ConnLimits::default().is_unlimited());
    }

    #[test]
    fn bad_lines_name_the_line_and_the_problem() {
        let cases = [
            ("$$", "limit is missing"),
            ("$$ ten", "limit `ten` is not an integer"),
            ("$ 1 2", "unexpected `2`"),
            ("example.com 5", "scope `example.com` is not"),
            ("10.0.0.0/33 5", "prefix length must be 0..=32"),
            ("::/129 5", "prefix length must be 0..=128"),
            ("10.0.0.0/x 5", "prefix length"),
            ("$$ 99999999999999999999", "not an integer"),
        ];
        for (line, want) in cases {
            let err = ConnLimits::parse(&["$ 1", line]).unwrap_err();
            assert_eq!(err.index, 1);
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("limits[1] `{line}`: ")) && text.contains(want),
                "{line}: {text}"
            );
        }
    }

    #[test]
    fn lines_print_back_in_upstream_form() {
        for (line, printed) in [
            ("$ 5", "$ 5"),
            ("$$ 0", "$$ 0"),
            ("10.1.2.3/8 4", "10.0.0.0/8 4"),
        ] {
            let parsed = LimitLine::parse(line).unwrap().unwrap();
            assert_eq!(parsed.to_string(), printed);
            assert_eq!(LimitLine::parse(printed).unwrap(), Some(parsed));
        }
    }
}
