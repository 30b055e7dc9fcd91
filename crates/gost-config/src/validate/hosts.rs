//! Checks of `hosts:` tables (names unique, mappings readable, loaders complete), of `resolvers:`
//! (nameserver addresses gost-rs can ask) and of the services, hops and nodes that name them.

use super::access::{check_defined, check_loaders};
use super::{check_unique, require_entries};
use crate::error::ConfigError;
use crate::model::{Config, HostsConfig, ResolverConfig};

/// `prefer` and `only` values (upstream also reads `ip4` and `ip6`).
const FAMILIES: &[&str] = &["ipv4", "ipv6", "ip4", "ip6"];

pub(super) fn check_hosts(config: &Config) -> Result<(), ConfigError> {
    check_unique(config.hosts.iter().map(|h| h.name.as_str()), "hosts")?;
    for table in &config.hosts {
        check_table(table)?;
    }
    check_unique(config.resolvers.iter().map(|r| r.name.as_str()), "resolver")?;
    for r in &config.resolvers {
        check_resolver(r)?;
    }
    for svc in &config.services {
        let s = format!("service `{}`", svc.name);
        check_refs(config, &s, &svc.hosts, &svc.resolver)?;
    }
    for chain in &config.chains {
        for hop in &chain.hops {
            let hs = format!("chain `{}` hop `{}`", chain.name, hop.name);
            check_refs(config, &hs, &hop.hosts, &hop.resolver)?;
            for node in &hop.nodes {
                let ns = format!("{hs} node `{}`", node.name);
                check_refs(config, &ns, &node.hosts, &node.resolver)?;
            }
        }
    }
    Ok(())
}

fn check_resolver(r: &ResolverConfig) -> Result<(), ConfigError> {
    let s = format!("resolver `{}`", r.name);
    require_entries(&s, "nameservers", &r.nameservers, "add at least one addr")?;
    for (i, ns) in r.nameservers.iter().enumerate() {
        let key = |k: &str| format!("nameservers[{i}].{k}");
        let scheme = ns.addr.split_once("://").map_or("udp", |(p, _)| p);
        let problem = match scheme {
            _ if ns.addr.is_empty() => Some("is missing; expected e.g. udp://1.1.1.1:53"),
            "udp" | "tcp" | "tls" | "dot" | "https" => None,
            _ => Some("has an unknown protocol; expected udp://, tcp://, tls:// or https://"),
        };
        if let Some(problem) = problem {
            return Err(ConfigError::invalid(&s, key("addr"), &ns.addr, problem));
        }
        if let Some(chain) = &ns.chain {
            return Err(ConfigError::invalid(
                &s,
                key("chain"),
                chain,
                "is not built in gost-rs yet: the nameserver would be asked directly, not through \
                 the chain; remove it or use a resolver reachable without a chain",
            ));
        }
        for (k, v) in [("prefer", &ns.prefer), ("only", &ns.only)] {
            if let Some(v) = v
                .as_deref()
                .filter(|v| !FAMILIES.contains(&v.to_ascii_lowercase().as_str()))
            {
                return Err(ConfigError::invalid(&s, key(k), v, "must be ipv4 or ipv6"));
            }
        }
    }
    Ok(())
}

fn check_refs(
    config: &Config,
    subject: &str,
    hosts: &Option<String>,
    resolver: &Option<String>,
) -> Result<(), ConfigError> {
    if let Some(name) = hosts {
        check_defined(
            subject,
            "hosts",
            name,
            config.hosts.iter().map(|h| h.name.as_str()),
        )?;
    }
    if let Some(name) = resolver {
        let defined = config.resolvers.iter().map(|r| r.name.as_str());
        check_defined(subject, "resolver", name, defined)?;
    }
    Ok(())
}

fn check_table(table: &HostsConfig) -> Result<(), ConfigError> {
    let s = format!("hosts `{}`", table.name);
    for (i, m) in table.mappings.iter().enumerate() {
        if m.ip.parse::<std::net::IpAddr>().is_err() {
            return Err(ConfigError::invalid(
                &s,
                format!("mappings[{i}].ip"),
                &m.ip,
                "is not an IPv4 or IPv6 address",
            ));
        }
        if m.hostname.is_empty() {
            return Err(ConfigError::invalid(
                &s,
                format!("mappings[{i}].hostname"),
                "",
                "is missing",
            ));
        }
    }
    check_loaders(&s, &table.loaders)
}
