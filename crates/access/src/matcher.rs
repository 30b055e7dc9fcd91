//! Address patterns in upstream GOST's notation and the sets that test addresses against them.
//!
//! [`IpSet`] (admission, skipauth) holds IPs and CIDRs; [`PatternSet`] (bypass) also holds IP ranges
//! `a-b`, host names (`example.com` exactly, `.example.org` for the name and every subdomain), wildcards
//! (`*.example.com`, any glob), each optionally with `:port` or `:min-max`. Lookups cost O(log n) for
//! IPs (sorted, merged intervals), a few hash lookups for names (one per label) and for `*.name`
//! wildcards; only general globs (`a*b.com`) are matched by one compiled [`globset::GlobSet`].
//!
//! Names are compared in lower case and without a trailing dot, so `EXAMPLE.com.` cannot slip past an
//! `example.com` entry (upstream compares bytes as sent).

use std::collections::HashMap;
use std::net::IpAddr;

use globset::{Glob, GlobSet, GlobSetBuilder};

/// A pattern that cannot mean anything: reported instead of silently never matching.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pattern:?}: {reason}")]
pub struct PatternError {
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

fn bad(pattern: &str, reason: &'static str) -> PatternError {
    PatternError {
        pattern: pattern.to_owned(),
        reason,
    }
}

/// Inclusive port range (`80`, `8000-8080`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// Lowest port.
    pub min: u16,
    /// Highest port.
    pub max: u16,
}

impl PortRange {
    fn parse(s: &str) -> Option<PortRange> {
        match s.split_once('-') {
            None => s.parse().ok().map(|p| PortRange { min: p, max: p }),
            Some((a, b)) => Some(PortRange {
                min: a.parse().ok()?,
                max: b.parse().ok()?,
            }),
        }
    }

    fn contains(self, port: u16) -> bool {
        (self.min..=self.max).contains(&port)
    }
}

/// Which ports an entry covers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ports {
    Any,
    Some(Vec<PortRange>),
}

impl Ports {
    fn merge(&mut self, other: Ports) {
        match (&mut *self, other) {
            (Ports::Any, _) => {}
            (_, Ports::Any) => *self = Ports::Any,
            (Ports::Some(a), Ports::Some(b)) => a.extend(b),
        }
    }

    fn contains(&self, port: u16) -> bool {
        match self {
            Ports::Any => true,
            Ports::Some(r) => r.iter().any(|r| r.contains(port)),
        }
    }
}

/// Sorted, merged, inclusive intervals of one address family, searched in O(log n).
#[derive(Debug, Default, Clone)]
struct Intervals(Vec<(u128, u128)>);

impl Intervals {
    fn build(mut v: Vec<(u128, u128)>) -> Intervals {
        v.sort_unstable();
        let mut out: Vec<(u128, u128)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        Intervals(out)
    }

    fn contains(&self, x: u128) -> bool {
        let i = self.0.partition_point(|&(lo, _)| lo <= x);
        i > 0 && self.0[i - 1].1 >= x
    }
}

/// IPs, CIDRs and ranges, IPv4 and IPv6 apart (as upstream, `::/0` does not contain IPv4 clients).
#[derive(Debug, Default, Clone)]
pub struct IpSet {
    v4: Intervals,
    v6: Intervals,
}

/// An IP as a number in its family, with IPv4-mapped IPv6 addresses taken as IPv4.
pub(crate) fn key(ip: IpAddr) -> (bool, u128) {
    match ip.to_canonical() {
        IpAddr::V4(v4) => (true, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (false, u128::from(v6)),
    }
}

#[derive(Default)]
struct IpSetBuilder {
    v4: Vec<(u128, u128)>,
    v6: Vec<(u128, u128)>,
}

impl IpSetBuilder {
    fn range(&mut self, lo: IpAddr, hi: IpAddr) -> bool {
        let ((f1, a), (f2, b)) = (key(lo), key(hi));
        if f1 != f2 || a > b {
            return false;
        }
        if f1 { &mut self.v4 } else { &mut self.v6 }.push((a, b));
        true
    }

    fn cidr(&mut self, net: IpAddr, len: u8) -> bool {
        let (v4, bits) = match net {
            IpAddr::V4(_) => (true, 32),
            IpAddr::V6(_) => (false, 128),
        };
        if len > bits {
            return false;
        }
        let (_, n) = key(net);
        let host_bits = u32::from(bits - len);
        let mask = if host_bits == 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let lo = n & !mask;
        if v4 { &mut self.v4 } else { &mut self.v6 }.push((lo, lo | mask));
        true
    }

    fn finish(self) -> IpSet {
        IpSet {
            v4: Intervals::build(self.v4),
            v6: Intervals::build(self.v6),
        }
    }
}

/// `a.b.c.d/n` or `x::/n`.
fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, len) = s.split_once('/')?;
    Some((ip.parse().ok()?, len.parse().ok()?))
}

impl IpSet {
    /// Builds the set from IPs and CIDRs (upstream's admission and skipauth entries). Anything else is
    /// returned in the second list (a name the caller may resolve, or garbage).
    pub fn from_ips_and_cidrs<'a>(
        patterns: impl IntoIterator<Item = &'a str>,
    ) -> (IpSet, Vec<&'a str>) {
        let mut b = IpSetBuilder::default();
        let mut rest = Vec::new();
        for p in patterns {
            let kept = match p.parse::<IpAddr>() {
                Ok(ip) => b.range(ip, ip),
                Err(_) => parse_cidr(p).is_some_and(|(ip, len)| b.cidr(ip, len)),
            };
            if !kept {
                rest.push(p);
            }
        }
        (b.finish(), rest)
    }

    /// The set of exactly these addresses.
    pub fn from_addrs(ips: impl IntoIterator<Item = IpAddr>) -> IpSet {
        let mut b = IpSetBuilder::default();
        for ip in ips {
            b.range(ip, ip);
        }
        b.finish()
    }

    /// Every address of `self` and `other`.
    pub fn union(&self, other: &IpSet) -> IpSet {
        IpSet {
            v4: Intervals::build(self.v4.0.iter().chain(&other.v4.0).copied().collect()),
            v6: Intervals::build(self.v6.0.iter().chain(&other.v6.0).copied().collect()),
        }
    }

    /// Whether `ip` is in the set.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match key(ip) {
            (true, n) => self.v4.contains(n),
            (false, n) => self.v6.contains(n),
        }
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.v4.0.is_empty() && self.v6.0.is_empty()
    }
}

/// A target address as a [`PatternSet`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// An IP address and port.
    Ip(IpAddr, u16),
    /// A host name (as sent by the client) and port.
    Name(&'a str, u16),
}

/// Bypass patterns (see the module docs).
#[derive(Debug, Default)]
pub struct PatternSet {
    ips: IpSet,
    /// Exact hosts (names lower-cased, IPs in canonical text); `.name` keys match the name and below.
    hosts: HashMap<String, Ports>,
    /// `*.name` wildcards, keyed by `name`.
    wild_suffix: HashMap<String, Ports>,
    globs: Option<(GlobSet, Vec<Ports>)>,
    len: usize,
}

/// Lower case, without one trailing dot.
fn canonical_name(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// Splits `host:port`, `[v6]:port` (port may be a range); `None` when there is no port part.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return Some((host, after.strip_prefix(':')?));
    }
    let (host, port) = s.rsplit_once(':')?;
    // A bare IPv6 address has more colons and no port.
    (!host.contains(':')).then_some((host, port))
}

impl PatternSet {
    /// Builds the set from upstream's bypass patterns. Patterns that cannot mean anything (a `/` that is
    /// no CIDR, a reversed or mixed-family range, an empty host) are returned as errors; the rest is kept.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> (PatternSet, Vec<PatternError>) {
        let mut ips = IpSetBuilder::default();
        let mut set = PatternSet::default();
        let mut globs = Vec::new();
        let mut errors = Vec::new();
        for p in patterns {
            let p = p.as_ref().trim();
            if p.is_empty() {
                continue;
            }
            match set.add(p, &mut ips, &mut globs) {
                Ok(()) => set.len += 1,
                Err(e) => errors.push(e),
            }
        }
        set.ips = ips.finish();
        if !globs.is_empty() {
            let mut b = GlobSetBuilder::new();
            let mut ports = Vec::with_capacity(globs.len());
            for (g, p) in globs {
                b.add(g);
                ports.push(p);
            }
            match b.build() {
                Ok(gs) => set.globs = Some((gs, ports)),
                Err(_) => errors.push(bad("(wildcards)", "the wildcard patterns do not compile")),
            }
        }
        (set, errors)
    }

    fn add(
        &mut self,
        p: &str,
        ips: &mut IpSetBuilder,
        globs: &mut Vec<(Glob, Ports)>,
    ) -> Result<(), PatternError> {
        if p.contains('/') {
            let (ip, len) = parse_cidr(p).ok_or_else(|| bad(p, "not a CIDR (a.b.c.d/n)"))?;
            return if ips.cidr(ip, len) {
                Ok(())
            } else {
                Err(bad(p, "prefix length too long"))
            };
        }
        let (host, ports) = match split_host_port(p) {
            Some((h, port)) if !h.is_empty() => match PortRange::parse(port) {
                Some(r) => (h, Ports::Some(vec![r])),
                // Upstream ignores a port it cannot parse.
                None => (h, Ports::Any),
            },
            _ => (p, Ports::Any),
        };
        if host.contains(['*', '?']) {
            let name = canonical_name(host);
            if let Some(suffix) = name
                .strip_prefix("*.")
                .filter(|s| !s.contains(['*', '?', '[', '{']))
            {
                self.wild_suffix
                    .entry(suffix.to_owned())
                    .or_insert(Ports::Some(vec![]))
                    .merge(ports);
                return Ok(());
            }
            let glob = Glob::new(&name).map_err(|_| bad(p, "not a valid wildcard"))?;
            globs.push((glob, ports));
            return Ok(());
        }
        if ports == Ports::Any
            && let Some((a, b)) = host.split_once('-')
            && let (Ok(lo), Ok(hi)) = (a.trim().parse::<IpAddr>(), b.trim().parse::<IpAddr>())
        {
            return if ips.range(lo, hi) {
                Ok(())
            } else {
                Err(bad(p, "range ends differ in family or are reversed"))
            };
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            if ports == Ports::Any {
                ips.range(ip, ip);
            } else {
                self.hosts
                    .entry(ip.to_canonical().to_string())
                    .or_insert(Ports::Some(vec![]))
                    .merge(ports);
            }
            return Ok(());
        }
        let name = canonical_name(host);
        if name.is_empty() || name == "." {
            return Err(bad(p, "empty host"));
        }
        self.hosts
            .entry(name)
            .or_insert(Ports::Some(vec![]))
            .merge(ports);
        Ok(())
    }

    /// Number of patterns kept.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no pattern was kept.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `target` matches a pattern. A name that is an IP literal is matched as that IP.
    pub fn matches(&self, target: Target<'_>) -> bool {
        match target {
            Target::Ip(ip, port) => self.matches_ip(ip, port),
            Target::Name(name, port) => match name.parse::<IpAddr>() {
                Ok(ip) => self.matches_ip(ip, port),
                Err(_) => self.matches_name(&canonical_name(name), port),
            },
        }
    }

    fn matches_ip(&self, ip: IpAddr, port: u16) -> bool {
        if self.ips.contains(ip) {
            return true;
        }
        let text = ip.to_canonical().to_string();
        self.hosts.get(&text).is_some_and(|p| p.contains(port)) || self.glob(&text, port)
    }

    fn matches_name(&self, name: &str, port: u16) -> bool {
        let hit =
            |map: &HashMap<String, Ports>, k: &str| map.get(k).is_some_and(|p| p.contains(port));
        if hit(&self.hosts, name) {
            return true;
        }
        // `.example.org` covers example.org itself and every name below it.
        let mut dotted = String::with_capacity(name.len() + 1);
        dotted.push('.');
        dotted.push_str(name);
        if hit(&self.hosts, &dotted) {
            return true;
        }
        for (i, _) in name.match_indices('.') {
            if hit(&self.hosts, &name[i..]) || hit(&self.wild_suffix, &name[i + 1..]) {
                return true;
            }
        }
        self.glob(name, port)
    }

    fn glob(&self, host: &str, port: u16) -> bool {
        let Some((set, ports)) = &self.globs else {
            return false;
        };
        set.matches(host)
            .into_iter()
            .any(|i| ports[i].contains(port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ip_set_merges_and_searches() {
        let (set, rest) =
            IpSet::from_ips_and_cidrs(["10.0.0.0/8", "192.168.1.1", "::1", "2001:db8::/32", "x.y"]);
        assert_eq!(rest, ["x.y"]);
        for yes in [
            "10.1.2.3",
            "192.168.1.1",
            "::1",
            "2001:db8::5",
            "::ffff:10.0.0.1",
        ] {
            assert!(set.contains(ip(yes)), "{yes}");
        }
        for no in ["11.0.0.0", "192.168.1.2", "::2", "9.255.255.255"] {
            assert!(!set.contains(ip(no)), "{no}");
        }
        let (all6, _) = IpSet::from_ips_and_cidrs(["::/0"]);
        assert!(
            !all6.contains(ip("1.2.3.4")),
            "::/0 does not hold IPv4 clients"
        );
    }

    #[test]
    fn bypass_patterns_as_upstream_documents() {
        let (set, errors) = PatternSet::parse(&[
            "172.10.0.0/16",
            "127.0.0.1",
            "localhost",
            "*.example.com",
            ".example.org",
            "10.0.0.5-10.0.0.9",
            "api.test:443",
            "web.test:8000-8080",
            "a*b.glob",
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        let m = |h: &str, p| set.matches(Target::Name(h, p));
        assert!(m("172.10.3.4", 1) && m("127.0.0.1", 80) && m("localhost", 22));
        assert!(m("www.example.com", 80) && m("a.b.example.com", 80) && !m("example.com", 80));
        assert!(m("example.org", 1) && m("x.example.org", 1) && !m("badexample.org", 1));
        assert!(m("10.0.0.5", 1) && m("10.0.0.9", 1) && !m("10.0.0.10", 1));
        assert!(m("api.test", 443) && !m("api.test", 80));
        assert!(m("web.test", 8000) && m("web.test", 8080) && !m("web.test", 8081));
        assert!(m("axxb.glob", 1) && !m("axxc.glob", 1));
        assert!(
            m("LocalHost.", 1) && m("WWW.Example.COM", 1),
            "case and trailing dot"
        );
        assert!(!m("localhost.evil", 1) && !m("127.0.0.2", 1));
        assert!(set.matches(Target::Ip(ip("172.10.0.1"), 5)));
    }

    #[test]
    fn meaningless_patterns_are_reported() {
        let (set, errors) = PatternSet::parse(&[
            "10.0.0.0/33",
            "nonsense/8",
            "10.0.0.9-10.0.0.1",
            "::1-10.0.0.1",
            "ok.test",
        ]);
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn host_port_splitting() {
        assert_eq!(split_host_port("a:1"), Some(("a", "1")));
        assert_eq!(split_host_port("[::1]:2"), Some(("::1", "2")));
        assert_eq!(split_host_port("::1"), None);
        assert_eq!(split_host_port("a"), None);
    }
}
