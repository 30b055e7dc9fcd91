//! Name resolution from the configuration: the `hosts:` tables (loaded once, then reloaded) and
//! `resolvers:` a service and its chain name, made when the service is built, and the [`Names`] of a
//! service, hop or node; with them, the `bypasses:` lists its chain's hops and nodes name, started
//! like the tables. Each named table, resolver and list comes from [`Policies`], so services naming the
//! same one share it.

use std::collections::HashMap;
use std::sync::Arc;

use gost_config::{Config, HostsConfig, ResolverConfig, ServiceConfig};
use gost_resolve::{Dns, DnsError, Family, HostMapping, Hosts, HostsSpec, Names, NameserverSpec};
use gost_service::gost_access::{Bypass, BypassGroup};
use gost_service::socks_wire::Address;
use gost_transport::tcp::Resolver;

use crate::Error;
use crate::access::{reload_period, sources};
use crate::policies::{Policies, undefined};

/// The started `hosts:` tables, the resolvers and the chain's `bypasses:` lists of one service, by
/// name.
#[derive(Debug, Default)]
pub struct Tables {
    hosts: HashMap<String, Hosts>,
    dns: HashMap<String, Dns>,
    bypasses: HashMap<String, Arc<Bypass>>,
}

impl Tables {
    /// Takes from `policies` every table `service` and the hops and nodes of its chain name, and every
    /// bypass those hops and nodes name.
    pub(crate) async fn start(
        config: &Config,
        service: &ServiceConfig,
        policies: &mut Policies,
    ) -> Result<Tables, Error> {
        let mut wanted = vec![(service.hosts.as_deref(), service.resolver.as_deref())];
        let mut lists: Vec<&str> = Vec::new();
        if let Some(chain) = service.chain().and_then(|c| config.chain(c)) {
            for hop in &chain.hops {
                wanted.push((hop.hosts.as_deref(), hop.resolver.as_deref()));
                lists.extend(hop.bypass_names());
                for n in &hop.nodes {
                    wanted.push((n.hosts.as_deref(), n.resolver.as_deref()));
                    lists.extend(n.bypass_names());
                }
            }
        }
        let mut tables = Tables::default();
        for (hosts, resolver) in wanted {
            if let Some(name) = hosts.filter(|n| !tables.hosts.contains_key(*n)) {
                let table = policies.hosts(config, name).await?;
                tables.hosts.insert(name.to_owned(), table);
            }
            if let Some(name) = resolver.filter(|n| !tables.dns.contains_key(*n)) {
                let dns = policies.resolver(config, name).await?;
                tables.dns.insert(name.to_owned(), dns);
            }
        }
        for name in lists {
            if !tables.bypasses.contains_key(name) {
                let bypass = policies.bypass(config, name).await?;
                tables.bypasses.insert(name.to_owned(), bypass);
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

    /// The bypass of a hop or node naming the lists `names` (`None` for none).
    pub fn bypass<'a>(
        &self,
        names: impl Iterator<Item = &'a str>,
    ) -> Result<Option<Arc<dyn gost_chain::Bypass>>, Error> {
        let members = names
            .map(|n| started(&self.bypasses, "bypass", n))
            .collect::<Result<Vec<_>, _>>()?;
        if members.is_empty() {
            return Ok(None);
        }
        Ok(Some(Arc::new(ChainBypass(BypassGroup::new(members)))))
    }
}

/// gost-access's bypass group asked by gost-chain's route selection.
#[derive(Debug)]
struct ChainBypass(BypassGroup);

impl gost_chain::Bypass for ChainBypass {
    fn bypasses(&self, target: &Address) -> Result<bool, gost_chain::NotLoaded> {
        if let Some(name) = self.0.unloaded() {
            return Err(gost_chain::NotLoaded(name.to_owned()));
        }
        // A name that is not UTF-8 matches no list entry; the chain then carries it as configured.
        Ok(gost_service::access::target_of(target).is_some_and(|t| self.0.contains(t)))
    }
}

/// The started table, resolver or bypass `name` (a `what`).
fn started<T: Clone>(map: &HashMap<String, T>, what: &str, name: &str) -> Result<T, Error> {
    map.get(name).cloned().ok_or_else(|| undefined(what, name))
}

/// gost-resolve's resolver of a `resolvers:` entry (validation checked the values).
pub(crate) fn dns(cfg: &ResolverConfig) -> Result<Dns, Error> {
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
pub(crate) fn hosts_spec(cfg: &HostsConfig) -> Result<HostsSpec, Error> {
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
