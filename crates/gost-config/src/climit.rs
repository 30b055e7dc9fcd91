//! Concurrent-connection limits: the `limits:` lines of upstream's `climiters:` entries, parsed into
//! [`LimitLine`]s. What they mean at run time (how many connections a client IP and the service may
//! hold at once) is gost-service's job.
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
//! use gost_config::climit::{LimitLine, parse_lines};
//!
//! let lines = parse_lines(&["$ 1000", "$$ 100", "10.1.2.3/8 5"]).unwrap();
//! assert_eq!(lines[0], LimitLine::Service(Some(1000)));
//! assert_eq!(lines[2].to_string(), "10.0.0.0/8 5");
//! assert!(parse_lines(&["$$ many"]).unwrap_err().to_string().contains("`$$ many`"));
//! ```
//!
//! gost-service's `ConnLimits` counts connections against these limits; gost-app fills it from the lines.

use std::fmt;
use std::net::IpAddr;

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
    /// An IP or a network (`addr` with the bits past `prefix` cleared; 32 / 128 for one IP): each IP
    /// in it may hold `limit` connections.
    Host {
        /// Network address (host bits cleared).
        addr: IpAddr,
        /// Prefix length.
        prefix: u8,
        /// The limit (`None` = no limit).
        limit: Option<usize>,
    },
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
                LimitLine::Host {
                    addr,
                    prefix,
                    limit,
                }
            }
        }))
    }

    /// The limit of this line (`None` = no limit).
    pub fn limit(&self) -> Option<usize> {
        match self {
            LimitLine::Service(l) | LimitLine::PerIp(l) => *l,
            LimitLine::Host { limit, .. } => *limit,
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

/// Reads upstream's `limits:` lines, skipping blank ones; the error names the first bad line.
pub fn parse_lines<S: AsRef<str>>(lines: &[S]) -> Result<Vec<LimitLine>, LimitLineError> {
    let mut parsed = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        let line = line.as_ref();
        let read = LimitLine::parse(line).map_err(|problem| LimitLineError {
            index,
            line: line.to_owned(),
            problem,
        })?;
        parsed.extend(read);
    }
    Ok(parsed)
}

impl fmt::Display for LimitLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.limit().unwrap_or(0);
        match self {
            LimitLine::Service(_) => write!(f, "$ {n}"),
            LimitLine::PerIp(_) => write!(f, "$$ {n}"),
            LimitLine::Host { addr, prefix, .. } => write!(f, "{addr}/{prefix} {n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_are_skipped_and_limits_below_one_are_none() {
        let l = parse_lines(&["$  10", "", "\t$$\t-1 ", "::ffff:10.0.0.1 4"]).unwrap();
        assert_eq!(
            l,
            [
                LimitLine::Service(Some(10)),
                LimitLine::PerIp(None),
                LimitLine::Host {
                    addr: "10.0.0.1".parse().unwrap(),
                    prefix: 32,
                    limit: Some(4)
                },
            ]
        );
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
            let err = parse_lines(&["$ 1", line]).unwrap_err();
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
