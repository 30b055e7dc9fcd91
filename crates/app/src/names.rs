//! Name resolution from the configuration: the `hosts:` tables (loaded once, then reloaded) and
//! `resolvers:` a service and its chain name, made when the service is built, and the [`Names`] of a
//! service, hop or node. Like the access policies, a table named by two services is loaded twice.

use std::collections::HashMap;
use std::sync::Arc;

use gost_config::{Config, HostsConfig, ResolverConfig, ServiceConfig};
use gost_resolve::{Dns, DnsError, Family, HostMapping, Hosts, HostsSpec, Names, NameserverSpec};
use gost_transport::tcp::Resolver;

use crate::Error;
use crate::access::{reload_period, sources};

/// The started `hosts:` tables and the resolvers of one service, by name.
#[derive(Debug, Default)]
pub struct Tables {
    hosts: HashMap<String, Hosts>,
    dns: HashMap<String, Dns>,
}

impl Tables {
    /// Starts every table `service` and the hops and nodes of its chain name.
    pub async fn start(config: &Config, service: &ServiceConfig) -> Result<Tables, Error> {
        let mut wanted = vec![(service.hosts.as_deref(), service.resolver.as_deref())];
        if let Some(chain) = service.chain().and_then(|c| config.chain(c)) {
            for hop in &chain.hops {
                wanted.push((hop.hosts.as_deref(), hop.resolver.as_deref()));
                for n in &hop.nodes {
                    wanted.push((n.hosts.as_deref(), n.resolver.as_deref()));
                }
            }
        }
        let mut tables = Tables::default();
        for (hosts, resolver) in wanted {
            if let Some(name) = hosts.filter(|n| !tables.hosts.contains_key(*n)) {
                let cfg = config
                    .hosts_table(name)
                    .ok_or_else(|| undefined("hosts", name))?;
                tables
                    .hosts
                    .insert(name.to_owned(), Hosts::start(hosts_spec(cfg)?).await);
            }
            if let Some(name) = resolver.filter(|n| !tables.dns.contains_key(*n)) {
                let cfg = config
                    .resolver(name)
                    .ok_or_else(|| undefined("resolver", name))?;
                tables.dns.insert(name.to_owned(), dns(cfg)?);
            }
        }
        Ok(tables)
    }

    /// The resolver of a service, hop or node naming table `hosts` and resolver `dns` (`None` when it
    /// names neither: the system's).
    pub fn resolver(
        &self,
        hosts: Option<&str>,
        dns: Option<&str>,
    ) -> Result<Option<Arc<dyn Resolver>>, Error> {
        let hosts = hosts
            .map(|n| started(&self.hosts, "hosts", n))
            .transpose()?;
        let dns = dns.map(|n| started(&self.dns, "resolver", n)).transpose()?;
        let names = Names::new(hosts).with_dns(dns);
        Ok(names
            .is_configured()
            .then(|| Arc::new(names) as Arc<dyn Resolver>))
    }
}

/// The started table or resolver `name` (a `what`).
fn started<T: Clone>(map: &HashMap<String, T>, what: &str, name: &str) -> Result<T, Error> {
    map.get(name).cloned().ok_or_else(|| undefined(what, name))
}

fn undefined(what: &str, name: &str) -> Error {
    Error::Unsupported(format!("{what} {name:?} is not defined"))
}

/// gost-resolve's resolver of a `resolvers:` entry (validation checked the values).
fn dns(cfg: &ResolverConfig) -> Result<Dns, Error> {
    let bad = |e: DnsError| Error::Unsupported(format!("resolver {:?}: {e}", cfg.name));
    let specs = cfg
        .nameservers
        .iter()
        .map(|ns| {
            let mut spec = NameserverSpec::new(&ns.addr).map_err(bad)?;
            let is = |v: &Option<String>| v.as_deref().map(str::to_ascii_lowercase);
            spec.family = match (is(&ns.only).as_deref(), is(&ns.prefer).as_deref()) {
                (Some("ipv4" | "ip4"), _) => Family::Ipv4Only,
                (Some("ipv6" | "ip6"), _) => Family::Ipv6Only,
                (_, Some("ipv6" | "ip6")) => Family::PreferIpv6,
                _ => Family::PreferIpv4,
            };
            spec.server_name = ns.hostname.clone();
            spec.ttl = ns.ttl.filter(|t| !t.is_zero());
            spec.timeout = ns.timeout.filter(|t| !t.is_zero());
            Ok(spec)
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Dns::new(cfg.name.clone(), &specs, None).map_err(bad)
}

/// gost-resolve's spec of a `hosts:` entry (validation checked the addresses).
fn hosts_spec(cfg: &HostsConfig) -> Result<HostsSpec, Error> {
    let mappings = cfg
        .mappings
        .iter()
        .map(|m| {
            let ip = m.ip.parse().map_err(|_| {
                Error::Unsupported(format!(
                    "hosts {:?}: `{}` is not an IP address",
                    cfg.name, m.ip
                ))
            })?;
            Ok(HostMapping {
                ip,
                hostname: m.hostname.clone(),
                aliases: m.aliases.clone(),
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(HostsSpec {
        name: cfg.name.clone(),
        mappings,
        sources: sources(&cfg.loaders),
        reload: reload_period(&cfg.loaders),
    })
}
