//! Upstream's `limits:` line grammar for `limiters:` (`SCOPE IN [OUT]`, bytes per second) and
//! `rlimiters:` (`SCOPE N`, requests per second), and [`Rules`], the parsed lines of one limiter with
//! the longest-prefix lookup of a client IP.
//!
//! A scope is `$` (the service), `$$` (each connection for traffic, each client IP for requests), an
//! IP or a CIDR. Rates take upstream's base-2 units `B`, `KB`, `MB`, `GB`, `TB` (`KB` = 1024 bytes;
//! `KiB` spellings and lower case are read too); a bare number is bytes. Zero or a negative value
//! means no limit, as upstream. A later line for the same scope replaces an earlier one. Unlike
//! upstream, which skips a line it cannot read, a bad line is an error naming it (a skipped line would
//! leave a client less limited than configured).

use std::net::IpAddr;

use crate::matcher::key;

/// Where a line applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `$`: the whole service, shared by every client.
    Service,
    /// `$$`: each connection (traffic) or each client IP (requests).
    Each,
    /// An IP (prefix 32 / 128) or a network; each client IP in it is limited on its own.
    Net(Net),
}

/// An IP network, IPv4 and IPv6 apart (IPv4-mapped IPv6 addresses count as IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    v4: bool,
    bits: u128,
    prefix: u8,
}

impl Net {
    fn parse(s: &str) -> Option<Net> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.parse::<IpAddr>().ok()?, None),
        };
        let (v4, bits) = key(ip);
        let width = if v4 { 32 } else { 128 };
        let prefix = prefix.unwrap_or(width);
        (prefix <= width)
            .then_some(Net { v4, bits, prefix })
            .map(|n| Net {
                bits: n.bits & n.mask(),
                ..n
            })
    }

    /// The network bits of an address of this family.
    fn mask(&self) -> u128 {
        let width: u32 = if self.v4 { 32 } else { 128 };
        let host = width - u32::from(self.prefix);
        u128::MAX.checked_shl(host).unwrap_or(0)
    }

    /// Whether `ip` is in the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (v4, bits) = key(ip);
        v4 == self.v4 && bits & self.mask() == self.bits
    }

    /// Prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

/// A `limits:` line that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("limits line `{line}`: {problem}")]
pub struct LineError {
    /// The line as written.
    pub line: String,
    /// What is wrong and what would be valid.
    pub problem: String,
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    match s {
        "$" => Ok(Scope::Service),
        "$$" => Ok(Scope::Each),
        _ => Net::parse(s).map(Scope::Net).ok_or_else(|| {
            format!("scope `{s}` is not `$`, `$$`, an IP address or a network such as 10.0.0.0/8")
        }),
    }
}

/// A rate in bytes per second with upstream's units; `None` for no limit (zero or negative).
pub fn parse_bytes_rate(s: &str) -> Result<Option<u64>, String> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "rate `{s}`: unit `{unit}` is not B, KB, MB, GB or TB"
            ));
        }
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("rate `{s}` is not a number with a unit such as 512KB or 10MB"))?;
    if !n.is_finite() {
        return Err(format!("rate `{s}` is not a finite number"));
    }
    let bytes = n * (1u64 << shift) as f64;
    Ok((bytes >= 1.0).then_some(bytes as u64))
}

/// Splits a line into its fields; `None` for a blank one.
fn fields(line: &str) -> Option<Vec<&str>> {
    let f: Vec<&str> = line.split_whitespace().collect();
    (!f.is_empty()).then_some(f)
}

/// Input and output rates of a traffic line, bytes per second (`None`: no limit).
pub type InOut = [Option<u64>; 2];

/// A traffic line `SCOPE IN [OUT]`: scope, input and output rates (bytes per second).
pub fn parse_traffic_line(line: &str) -> Result<Option<(Scope, InOut)>, LineError> {
    let err = |problem: String| LineError {
        line: line.to_owned(),
        problem,
    };
    let Some(f) = fields(line) else {
        return Ok(None);
    };
    if !(2..=3).contains(&f.len()) {
        return Err(err("expected `SCOPE IN [OUT]`, e.g. `$$ 1MB 512KB`".into()));
    }
    let scope = parse_scope(f[0]).map_err(err)?;
    let input = parse_bytes_rate(f[1]).map_err(err)?;
    let output = match f.get(2) {
        Some(o) => parse_bytes_rate(o).map_err(err)?,
        None => None,
    };
    Ok(Some((scope, [input, output])))
}

/// A request-rate line `SCOPE N` (requests per second, may be fractional).
pub fn parse_request_line(line: &str) -> Result<Option<(Scope, Option<f64>)>, LineError> {
    let err = |problem: String| LineError {
        line: line.to_owned(),
        problem,
    };
    let Some(f) = fields(line) else {
        return Ok(None);
    };
    if f.len() != 2 {
        return Err(err("expected `SCOPE RATE`, e.g. `$$ 10`".into()));
    }
    let scope = parse_scope(f[0]).map_err(err)?;
    let n: f64 = f[1]
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| {
            err(format!(
                "rate `{}` is not a number of requests per second",
                f[1]
            ))
        })?;
    Ok(Some((scope, (n > 0.0).then_some(n))))
}

/// The parsed lines of one limiter: the value of `$`, of `$$`, and of each IP or network.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules<T> {
    /// `$`.
    pub service: Option<T>,
    /// `$$`.
    pub each: Option<T>,
    /// IP and network lines, longest prefix first.
    nets: Vec<(Net, T)>,
}

impl<T> Default for Rules<T> {
    fn default() -> Self {
        Rules {
            service: None,
            each: None,
            nets: Vec::new(),
        }
    }
}

impl<T> Rules<T> {
    /// Reads `lines` with `parse`; later lines for the same scope replace earlier ones.
    pub fn parse<S: AsRef<str>>(
        lines: &[S],
        parse: impl Fn(&str) -> Result<Option<(Scope, T)>, LineError>,
    ) -> Result<Rules<T>, LineError> {
        let mut rules = Rules::default();
        for line in lines {
            match parse(line.as_ref())? {
                None => {}
                Some((Scope::Service, v)) => rules.service = Some(v),
                Some((Scope::Each, v)) => rules.each = Some(v),
                Some((Scope::Net(net), v)) => {
                    rules.nets.retain(|(n, _)| *n != net);
                    rules.nets.push((net, v));
                }
            }
        }
        rules.nets.sort_by_key(|(n, _)| std::cmp::Reverse(n.prefix));
        Ok(rules)
    }

    /// The value of the longest IP or network line covering `ip`.
    pub fn host(&self, ip: IpAddr) -> Option<&T> {
        self.nets
            .iter()
            .find(|(n, _)| n.contains(ip))
            .map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_base_two_and_zero_is_unlimited() {
        let r = |s| parse_bytes_rate(s).unwrap();
        assert_eq!(r("256KB"), Some(256 * 1024));
        assert_eq!(r("1MB"), Some(1 << 20));
        assert_eq!(r("1.5kb"), Some(1536));
        assert_eq!(r("2GiB"), Some(2 << 30));
        assert_eq!(r("1TB"), Some(1 << 40));
        assert_eq!(r("100"), Some(100));
        assert_eq!(r("0"), None);
        assert_eq!(r("-1MB"), None);
        assert!(parse_bytes_rate("10XB").unwrap_err().contains("unit `XB`"));
        assert!(parse_bytes_rate("MB").unwrap_err().contains("not a number"));
    }

    #[test]
    fn traffic_lines_and_longest_prefix() {
        let rules = Rules::parse(
            &[
                "$ 100MB 200MB",
                "$$ 10MB",
                "",
                "192.168.0.0/16\t1MB  5MB",
                "192.168.1.1 512KB 1MB",
                "$$ 20MB",
            ],
            parse_traffic_line,
        )
        .unwrap();
        assert_eq!(rules.service, Some([Some(100 << 20), Some(200 << 20)]));
        assert_eq!(rules.each, Some([Some(20 << 20), None]));
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            rules.host(ip("192.168.1.1")),
            Some(&[Some(512 << 10), Some(1 << 20)])
        );
        assert_eq!(
            rules.host(ip("::ffff:192.168.9.9")),
            Some(&[Some(1 << 20), Some(5 << 20)])
        );
        assert_eq!(rules.host(ip("10.0.0.1")), None);
    }

    #[test]
    fn bad_lines_are_named() {
        for (line, want) in [
            ("$$", "expected `SCOPE IN [OUT]`"),
            ("$ 1MB 2MB 3MB", "expected `SCOPE IN [OUT]`"),
            ("example.com 1MB", "scope `example.com`"),
            ("10.0.0.0/33 1MB", "scope `10.0.0.0/33`"),
            ("$ fast", "rate `fast`"),
        ] {
            let e = parse_traffic_line(line).unwrap_err();
            assert!(
                e.to_string().contains(want) && e.to_string().contains(line),
                "{e}"
            );
        }
        assert!(
            parse_request_line("$ many")
                .unwrap_err()
                .to_string()
                .contains("`many`")
        );
        assert_eq!(
            parse_request_line("$$ 0").unwrap(),
            Some((Scope::Each, None))
        );
        assert_eq!(
            parse_request_line("$ 2.5").unwrap(),
            Some((Scope::Service, Some(2.5)))
        );
    }
}
