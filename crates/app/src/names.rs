//! Name resolution from the configuration: the `hosts:` tables a service and its chain name, started
//! (loaded once, then reloaded) when the service is built, and the [`Names`] of a service, hop or node.
//! Like the access policies, a table named by two services is loaded twice.

use std::collections::HashMap;
use std::sync::Arc;

use gost_config::{Config, HostsConfig, ServiceConfig};
use gost_resolve::{HostMapping, Hosts, HostsSpec, Names};
use gost_transport::tcp::Resolver;

use crate::Error;
use crate::access::{reload_period, sources};

/// The started `hosts:` tables of one service, by name.
#[derive(Debug, Default)]
pub struct Tables(HashMap<String, Hosts>);

impl Tables {
    /// Starts every table `service` and the hops and nodes of its chain name.
    pub async fn start(config: &Config, service: &ServiceConfig) -> Result<Tables, Error> {
        let mut wanted: Vec<&str> = service.hosts.iter().map(String::as_str).collect();
        if let Some(chain) = service.chain().and_then(|c| config.chain(c)) {
            for hop in &chain.hops {
                wanted.extend(hop.hosts.as_deref());
                wanted.extend(hop.nodes.iter().filter_map(|n| n.hosts.as_deref()));
            }
        }
        let mut tables = HashMap::new();
        for name in wanted {
            if tables.contains_key(name) {
                continue;
            }
            let cfg = config.hosts_table(name).ok_or_else(|| undefined(name))?;
            tables.insert(name.to_owned(), Hosts::start(hosts_spec(cfg)?).await);
        }
        Ok(Tables(tables))
    }

    /// The resolver of a service, hop or node naming table `name` (`None`: the system's).
    pub fn resolver(&self, name: Option<&str>) -> Result<Option<Arc<dyn Resolver>>, Error> {
        let Some(name) = name else { return Ok(None) };
        let hosts = self.0.get(name).ok_or_else(|| undefined(name))?;
        Ok(Some(Arc::new(Names::new(Some(hosts.clone())))))
    }
}

fn undefined(name: &str) -> Error {
    Error::Unsupported(format!("hosts {name:?} is not defined in `hosts:`"))
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
