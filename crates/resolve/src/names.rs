//! [`Names`]: the resolver a service or chain node uses — its hosts table first, then the system
//! resolver, with upstream's rule that a name no configured source answers is left to the far end of
//! a proxy chain ([`Resolver::lookup`] returns `None`).

use std::io;
use std::net::SocketAddr;

use gost_transport::BoxFuture;
use gost_transport::tcp::{Resolver, SystemResolver};

use crate::Hosts;

/// A service's or node's name resolution. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Names {
    hosts: Option<Hosts>,
}

impl Names {
    /// Resolution with `hosts` asked first (none: the system resolver alone).
    pub fn new(hosts: Option<Hosts>) -> Names {
        Names { hosts }
    }

    /// Whether anything besides the system resolver is configured.
    pub fn is_configured(&self) -> bool {
        self.hosts.is_some()
    }

    /// What the configured sources say about `host`, if anything.
    fn configured(&self, host: &str, port: u16) -> Option<Vec<SocketAddr>> {
        let ips = self.hosts.as_ref()?.lookup(host);
        (!ips.is_empty()).then(|| {
            ips.into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect()
        })
    }
}

impl Resolver for Names {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>> {
        Box::pin(async move {
            match self.configured(host, port) {
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
        Box::pin(async move { Ok(self.configured(host, port)) })
    }
}
