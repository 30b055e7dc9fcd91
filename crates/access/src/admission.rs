//! [`Admission`]: which clients may connect (upstream `admissions:` entry): IPs, CIDRs and host names
//! (resolved to their addresses at every load), as a blacklist (default) or a whitelist.

use std::net::IpAddr;
use std::sync::Arc;

use tracing::{debug, warn};

use crate::feed::Reload;
use crate::list::{ListSpec, Lists, start};
use crate::matcher::IpSet;

/// What an [`Admission`] is built from.
pub type AdmissionSpec = ListSpec;

/// A client admission list kept fresh from its sources.
#[derive(Debug)]
pub struct Admission(Lists<IpSet>);

impl Admission {
    /// Builds the admission, loads it once (waiting for its sources and name lookups), and re-reads it
    /// every `spec.reload` until dropped. Inline names are resolved again each period too.
    pub async fn start(spec: AdmissionSpec) -> Arc<Admission> {
        let period = spec.reload;
        start(
            Arc::new(Admission(Lists::new("admission", spec))),
            |a| a.0.reloader(),
            period,
        )
        .await
    }

    /// The admission's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// How many reads of its sources failed so far (each failure kept the last good data).
    pub fn failed_loads(&self) -> u64 {
        self.0.failed_loads()
    }

    /// Whether every source has been read once (before that, no client is admitted).
    pub fn is_loaded(&self) -> bool {
        self.0.current.get().is_some()
    }

    /// Whether `client` may connect: a whitelist admits matching clients, a blacklist the others.
    pub fn admit(&self, client: IpAddr) -> bool {
        self.0
            .current
            .get()
            .is_some_and(|set| set.contains(client) == self.0.whitelist)
    }

    /// Re-reads the sources and resolves names now.
    pub async fn reload(&self) {
        let Some(patterns) = self.0.patterns().await else {
            return;
        };
        let (set, names) = IpSet::from_ips_and_cidrs(patterns.iter().map(String::as_str));
        let mut resolved = Vec::new();
        for name in names {
            match tokio::net::lookup_host((name, 0)).await {
                Ok(addrs) => resolved.extend(addrs.map(|a| a.ip())),
                // A whitelist entry that does not resolve admits nobody more, so it can be skipped; a
                // blacklist entry skipped would admit the client it was meant to stop.
                Err(e) if self.0.whitelist => {
                    warn!(admission = %self.0.name, entry = name, error = %e, "cannot resolve; skipped");
                }
                Err(e) => {
                    warn!(admission = %self.0.name, entry = name, error = %e,
                        "cannot resolve a blacklist entry; keeping the previous list");
                    return;
                }
            }
        }
        debug!(admission = %self.0.name, entries = patterns.len(), "admission loaded");
        self.0.current.set(set.union(&IpSet::from_addrs(resolved)));
    }
}

impl Reload for Admission {
    fn reload(&self) -> impl Future<Output = ()> + Send + '_ {
        Admission::reload(self)
    }
}
