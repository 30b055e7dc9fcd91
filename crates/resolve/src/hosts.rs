//! [`Hosts`]: upstream's host mapper — `IP hostname [aliases…]` lines (the system hosts file format)
//! from inline `mappings` and the file/Redis/HTTP loaders, looked up exactly, then as a `.domain`
//! wildcard for the name and each parent domain.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use gost_access::{ListSpec, LoadedList, SourceSpec};
use tracing::debug;

/// One inline mapping (`mappings:` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMapping {
    /// The address.
    pub ip: IpAddr,
    /// The name; a leading `.` maps the domain and every name under it.
    pub hostname: String,
    /// More names for the same address.
    pub aliases: Vec<String>,
}

impl HostMapping {
    /// `hostname` → `ip`, without aliases.
    pub fn new(ip: IpAddr, hostname: impl Into<String>) -> HostMapping {
        HostMapping {
            ip,
            hostname: hostname.into(),
            aliases: Vec::new(),
        }
    }

    /// The mapping as a hosts-file line.
    fn line(&self) -> String {
        let mut line = format!("{} {}", self.ip, self.hostname);
        for a in &self.aliases {
            line.push(' ');
            line.push_str(a);
        }
        line
    }
}

/// What a [`Hosts`] is built from.
#[derive(Debug, Clone, Default)]
pub struct HostsSpec {
    /// The table's name (for logs).
    pub name: String,
    /// Inline `mappings`.
    pub mappings: Vec<HostMapping>,
    /// `file`, `redis` (a set of lines), `http` sources, in the hosts-file format.
    pub sources: Vec<SourceSpec>,
    /// `reload` period; `None` reads the sources once.
    pub reload: Option<std::time::Duration>,
}

/// Name → addresses, in the order the lines gave them (a repeated address once).
#[derive(Debug, Default)]
struct Table(HashMap<String, Vec<IpAddr>>);

impl Table {
    /// Upstream's parsing: blanks separate fields; a line without a valid IP or without a name is
    /// skipped (comments were removed by the loader).
    fn parse(lines: &[String]) -> Table {
        let mut table: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for line in lines {
            let mut fields = line.split_whitespace();
            let Some(ip) = fields.next().and_then(|f| f.parse::<IpAddr>().ok()) else {
                continue;
            };
            for name in fields {
                let ips = table.entry(name.to_owned()).or_default();
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
        }
        Table(table)
    }

    /// Exact name, then `.name`, then `.parent` for each parent domain (upstream's order).
    fn lookup(&self, host: &str) -> Option<&[IpAddr]> {
        if let Some(ips) = self.0.get(host) {
            return Some(ips);
        }
        if let Some(ips) = self.0.get(&format!(".{host}")) {
            return Some(ips);
        }
        let mut rest = host;
        while let Some(dot) = rest.find('.').filter(|&i| i > 0) {
            if let Some(ips) = self.0.get(&rest[dot..]) {
                return Some(ips);
            }
            rest = &rest[dot + 1..];
        }
        None
    }
}

/// A hosts table kept fresh from its sources. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hosts(Arc<LoadedList<Table>>);

impl Hosts {
    /// Builds the table, loads it once and re-reads it every `spec.reload` until the last clone is
    /// dropped. Until every source has been read once nothing is mapped (names then resolve
    /// as if there were no table).
    pub async fn start(spec: HostsSpec) -> Hosts {
        let list = ListSpec {
            name: spec.name,
            matchers: spec.mappings.iter().map(HostMapping::line).collect(),
            sources: spec.sources,
            reload: spec.reload,
            ..ListSpec::default()
        };
        Hosts(LoadedList::start("hosts", list, Table::parse).await)
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// How many reads of its sources failed so far.
    pub fn failed_loads(&self) -> u64 {
        self.0.failed_loads()
    }

    /// The addresses `host` is mapped to (empty when it is not).
    pub fn lookup(&self, host: &str) -> Vec<IpAddr> {
        let Some(table) = self.0.current() else {
            return Vec::new();
        };
        let ips = table
            .lookup(host)
            .map(<[IpAddr]>::to_vec)
            .unwrap_or_default();
        if !ips.is_empty() {
            debug!(hosts = %self.name(), host, ?ips, "hit host mapper");
        }
        ips
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(lines: &[&str]) -> Table {
        Table::parse(&lines.iter().map(|l| l.to_string()).collect::<Vec<_>>())
    }

    fn ips(t: &Table, host: &str) -> Vec<String> {
        t.lookup(host)
            .unwrap_or_default()
            .iter()
            .map(IpAddr::to_string)
            .collect()
    }

    #[test]
    fn exact_then_wildcards_from_the_name_up() {
        let t = table(&[
            "127.0.0.1 example.org alias.test",
            "::1\texample.org",
            "127.0.0.2 .example.org",
            "127.0.0.3 .org",
            "127.0.0.1 example.org",
            "not-an-ip nothing.test",
            "127.0.0.9",
        ]);
        assert_eq!(ips(&t, "example.org"), ["127.0.0.1", "::1"]);
        assert_eq!(ips(&t, "alias.test"), ["127.0.0.1"]);
        assert_eq!(ips(&t, "a.b.example.org"), ["127.0.0.2"]);
        assert_eq!(ips(&t, "other.org"), ["127.0.0.3"]);
        assert!(t.lookup("nothing.test").is_none());
        assert!(t.lookup("example.com").is_none());
        assert!(t.lookup("").is_none());
    }

    #[test]
    fn inline_mappings_are_hosts_lines() {
        let m = HostMapping {
            ip: "2001:db8::1".parse().unwrap(),
            hostname: "example.com".into(),
            aliases: vec!["www.example.com".into()],
        };
        assert_eq!(m.line(), "2001:db8::1 example.com www.example.com");
    }
}
