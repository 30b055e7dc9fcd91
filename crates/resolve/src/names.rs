//! [`Names`]: the resolver a service or chain node uses — its hosts table first, then its DNS resolver
//! (`resolvers:`), else the system resolver, with upstream's rule that a name no configured source answers is left to the far end of
//! a proxy chain ([`Resolver::lookup`] returns `None`).

use std::io;
use std::net::{IpAddr, SocketAddr};

use gost_transport::BoxFuture;
use gost_transport::tcp::{Resolver, SystemResolver};

use crate::{Dns, Hosts};

/// A service's or node's name resolution. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Names {
    hosts: Option<Hosts>,
    dns: Option<Dns>,
}

impl Names {
    /// Resolution with `hosts` asked first (none: the system resolver alone).
    pub fn new(hosts: Option<Hosts>) -> Names {
        Names { hosts, dns: None }
    }

    /// Asks `dns` for names the hosts table does not map, instead of the system resolver.
    pub fn with_dns(mut self, dns: Option<Dns>) -> Names {
        self.dns = dns;
        self
    }

    /// Whether anything besides the system resolver is configured.
    pub fn is_configured(&self) -> bool {
        self.hosts.is_some() || self.dns.is_some()
    }

    /// What the configured sources say about `host`: `None` when none of them is asked (no table
    /// maps it and there is no resolver), an error when the resolver fails.
    async fn configured(&self, host: &str, port: u16) -> io::Result<Option<Vec<SocketAddr>>> {
        let with_port = |ips: Vec<IpAddr>| {
            ips.into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect()
        };
        let mapped = self.hosts.as_ref().map(|h| h.lookup(host));
        if let Some(ips) = mapped.filter(|i| !i.is_empty()) {
            return Ok(Some(with_port(ips)));
        }
        match &self.dns {
            Some(dns) => Ok(Some(with_port(dns.resolve(host).await?))),
            None => Ok(None),
        }
    }
}

impl Resolver for Names {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>> {
        Box::pin(async move {
            match self.configured(host, port).await? {
                Some(addrs) => Ok(addrs),
                None => SystemResolver.resolve(host, port).await,
            }
        })
    }

    fn lookup<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Option<Vec<SocketAddr>>>> {
        Box::pin(self.configured(host, port))
    }
}
