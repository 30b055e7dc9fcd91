//! Checks of `hosts:` tables (names unique, mappings readable, loaders complete) and of the
//! services, hops and nodes that name one.

use super::access::check_loaders;
use super::{check_unique, list_or_none};
use crate::error::ConfigError;
use crate::model::{Config, HostsConfig};

pub(super) fn check_hosts(config: &Config) -> Result<(), ConfigError> {
    check_unique(config.hosts.iter().map(|h| h.name.as_str()), "hosts")?;
    for table in &config.hosts {
        check_table(table)?;
    }
    for svc in &config.services {
        check_ref(config, &format!("service `{}`", svc.name), &svc.hosts)?;
    }
    for chain in &config.chains {
        for hop in &chain.hops {
            let hs = format!("chain `{}` hop `{}`", chain.name, hop.name);
            check_ref(config, &hs, &hop.hosts)?;
            for node in &hop.nodes {
                check_ref(config, &format!("{hs} node `{}`", node.name), &node.hosts)?;
            }
        }
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

fn check_ref(config: &Config, subject: &str, name: &Option<String>) -> Result<(), ConfigError> {
    match name {
        Some(name) if config.hosts_table(name).is_none() => {
            let known: Vec<&str> = config.hosts.iter().map(|h| h.name.as_str()).collect();
            Err(ConfigError::invalid(
                subject,
                "hosts",
                name,
                format!(
                    "is not defined in `hosts:` (defined: {})",
                    list_or_none(&known)
                ),
            ))
        }
        _ => Ok(()),
    }
}
