//! The set of running services: starts them all (every one bound before any runs), applies a new
//! configuration on reload (only services whose effective settings changed are restarted), and stops
//! them all at shutdown, letting each drain its live connections. The named policies and tables live
//! here too ([`Policies`]), shared by the services naming them and kept across reloads while unchanged.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gost_chain::ChainObserver;
use gost_config::{Config, ServiceConfig};
use gost_service::Observer;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::Error;
use crate::certs::Certificates;
use crate::policies::Policies;
use crate::service::Bound;

/// How long a restarted service retries binding its address while the old instance lets it go.
const REBIND_WINDOW: Duration = Duration::from_secs(3);
const REBIND_PAUSE: Duration = Duration::from_millis(20);

struct Running {
    /// Everything the service's behaviour depends on; a reload restarts the service when it differs.
    settings: Config,
    stop: CancellationToken,
    /// Where it listens (`None` for services listening on a chain's last node).
    addr: Option<SocketAddr>,
}

/// Runs services and tracks them by name.
pub struct Supervisor {
    root: CancellationToken,
    running: BTreeMap<String, Running>,
    tasks: JoinSet<()>,
    config: Config,
    observer: Option<Arc<dyn Observer>>,
    chains: Option<Arc<dyn ChainObserver>>,
    policies: Policies,
}

impl Supervisor {
    /// Binds every service of `config`, then starts them all, each reporting to `observer`. Nothing
    /// runs if any bind fails.
    pub async fn start(
        config: Config,
        observer: Option<Arc<dyn Observer>>,
        chains: Option<Arc<dyn ChainObserver>>,
    ) -> Result<Supervisor, Error> {
        Supervisor::start_with(config, observer, chains, Policies::default()).await
    }

    /// [`Supervisor::start`] with the policies already started (the metrics endpoint's).
    pub(crate) async fn start_with(
        config: Config,
        observer: Option<Arc<dyn Observer>>,
        chains: Option<Arc<dyn ChainObserver>>,
        mut policies: Policies,
    ) -> Result<Supervisor, Error> {
        let mut certs = Certificates::default();
        let mut bound = Vec::with_capacity(config.services.len());
        for service in &config.services {
            let b = Bound::bind(&config, service, &mut certs, chains.as_ref(), &mut policies);
            bound.push(b.await?);
        }
        let mut sup = Supervisor {
            root: CancellationToken::new(),
            running: BTreeMap::new(),
            tasks: JoinSet::new(),
            config: Config::default(),
            observer,
            chains,
            policies,
        };
        for (service, b) in config.services.iter().zip(bound) {
            sup.spawn(&config, service, b);
        }
        sup.config = config;
        Ok(sup)
    }

    fn spawn(&mut self, config: &Config, service: &ServiceConfig, bound: Bound) {
        bound.announce(service);
        let addr = bound.local_addr();
        let bound = bound.observed(self.observer.clone());
        let stop = self.root.child_token();
        self.tasks.spawn(bound.run(stop.clone()));
        let settings = settings_of(config, service);
        self.running.insert(
            service.name.clone(),
            Running {
                settings,
                stop,
                addr,
            },
        );
    }

    /// Switches to `new`: stops removed services, restarts changed ones, starts added ones; unchanged
    /// services keep their listeners and connections. If a service of `new` cannot be started, the
    /// services it replaced are restarted with their old settings and the error is returned.
    pub async fn reload(&mut self, new: Config) -> Result<(), Error> {
        let old = std::mem::take(&mut self.config);
        let wanted: BTreeMap<&str, (&ServiceConfig, Config)> = new
            .services
            .iter()
            .map(|s| (s.name.as_str(), (s, settings_of(&new, s))))
            .collect();
        let stopped: Vec<String> = self
            .running
            .iter()
            .filter(|(name, r)| {
                wanted
                    .get(name.as_str())
                    .is_none_or(|(_, s)| *s != r.settings)
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in &stopped {
            if let Some(r) = self.running.remove(name) {
                r.stop.cancel();
            }
        }
        let starting: Vec<&ServiceConfig> = wanted
            .iter()
            .filter(|(name, _)| !self.running.contains_key(**name))
            .map(|(_, (s, _))| *s)
            .collect();
        let unchanged = self.running.len();
        let chains = self.chains.clone();
        // Unchanged policies are reused; on failure the ones started for `new` are dropped with it.
        let mut policies = self.policies.clone();
        let retry = !stopped.is_empty();
        match bind_all(&new, &starting, retry, chains.as_ref(), &mut policies).await {
            Ok(bound) => {
                for (service, b) in starting.iter().zip(bound) {
                    self.spawn(&new, service, b);
                }
                policies.retain(self.running.values().map(|r| &r.settings));
                self.policies = policies;
                info!(
                    stopped = stopped.len(),
                    started = starting.len(),
                    unchanged,
                    "configuration reloaded"
                );
                self.config = new;
                Ok(())
            }
            Err(e) => {
                let restore: Vec<&ServiceConfig> = old
                    .services
                    .iter()
                    .filter(|s| stopped.contains(&s.name))
                    .collect();
                let policies = &mut self.policies;
                match bind_all(&old, &restore, true, chains.as_ref(), policies).await {
                    Ok(bound) => {
                        for (service, b) in restore.iter().zip(bound) {
                            self.spawn(&old, service, b);
                        }
                    }
                    Err(e) => {
                        warn!(error = %crate::chain_of(&e), "cannot restore the previous services")
                    }
                }
                self.config = old;
                Err(e)
            }
        }
    }

    /// The address service `name` listens on (with port 0 in the configuration, the port the system
    /// chose); `None` for an unknown name and for `rtcp`/`rudp` services, which listen on the chain's
    /// last node.
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.running.get(name)?.addr
    }

    /// Every running service's name and listening address, by name (services without a local
    /// listener are left out).
    pub fn local_addrs(&self) -> impl Iterator<Item = (&str, SocketAddr)> {
        self.running
            .iter()
            .filter_map(|(name, r)| Some((name.as_str(), r.addr?)))
    }

    /// The named policies the services use, for others to share (the metrics endpoint's auther).
    pub(crate) fn policies(&self) -> &Policies {
        &self.policies
    }

    /// A token cancelled at shutdown, for tasks that live as long as the services (the metrics endpoint).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.root.child_token()
    }

    /// Stops every service and waits until each has drained (or `force` fires).
    pub async fn shutdown(mut self, force: impl Future<Output = ()>) {
        self.root.cancel();
        let all = async { while self.tasks.join_next().await.is_some() {} };
        tokio::select! {
            _ = all => info!("all services stopped"),
            _ = force => warn!("second signal: exiting without waiting for connections to drain"),
        }
    }
}

/// Binds `services` of `config`; with `retry`, an address still held by a service that was just stopped
/// is retried for a short while.
async fn bind_all(
    config: &Config,
    services: &[&ServiceConfig],
    retry: bool,
    chains: Option<&Arc<dyn ChainObserver>>,
    policies: &mut Policies,
) -> Result<Vec<Bound>, Error> {
    let mut certs = Certificates::default();
    let mut bound = Vec::with_capacity(services.len());
    for service in services {
        let deadline = Instant::now() + REBIND_WINDOW;
        let b = loop {
            match Bound::bind(config, service, &mut certs, chains, policies).await {
                Ok(b) => break b,
                Err(_) if retry && Instant::now() < deadline => {
                    tokio::time::sleep(REBIND_PAUSE).await
                }
                Err(e) => return Err(e),
            }
        };
        bound.push(b);
    }
    Ok(bound)
}

/// The part of `config` that `service` depends on: itself, its chain, the global certificate, and
/// every named entry it or its chain's hops and nodes use (authers, climiter, admissions, bypasses,
/// limiters, rlimiter, hosts tables, resolvers). A reload rebuilds the service when this changes.
fn settings_of(config: &Config, service: &ServiceConfig) -> Config {
    let h = &service.handler;
    let chain = service.chain().and_then(|c| config.chain(c));
    let hops = chain.into_iter().flat_map(|c| &c.hops);
    let nodes = hops.clone().flat_map(|hop| &hop.nodes);
    let chain_bypasses = hops
        .clone()
        .flat_map(|hop| hop.bypass_names())
        .chain(nodes.clone().flat_map(|n| n.bypass_names()));
    let hosts = [&service.hosts]
        .into_iter()
        .chain(hops.clone().map(|hop| &hop.hosts))
        .chain(nodes.clone().map(|n| &n.hosts))
        .flatten();
    let resolvers = [&service.resolver]
        .into_iter()
        .chain(hops.map(|hop| &hop.resolver))
        .chain(nodes.map(|n| &n.resolver))
        .flatten();
    Config {
        services: vec![service.clone()],
        chains: chain.cloned().into_iter().collect(),
        authers: named(h.auther.iter().chain(&h.authers), |a| config.auther(a)),
        climiters: named(&service.climiter, |c| config.climiter(c)),
        admissions: named(service.admission_names(), |a| config.admission(a)),
        bypasses: named(service.bypass_names().chain(chain_bypasses), |b| {
            config.bypass(b)
        }),
        limiters: named(service.limiter.iter().chain(&h.limiter), |l| {
            config.limiter(l)
        }),
        rlimiters: named(&service.rlimiter, |r| config.rlimiter(r)),
        hosts: named(hosts, |t| config.hosts_table(t)),
        resolvers: named(resolvers, |r| config.resolver(r)),
        tls: config.tls.clone(),
        ..Config::default()
    }
}

/// The entries `names` name, looked up with `find` (validation made sure they exist).
pub(crate) fn named<'a, S, T>(
    names: impl IntoIterator<Item = &'a S>,
    find: impl Fn(&str) -> Option<&'a T>,
) -> Vec<T>
where
    S: AsRef<str> + ?Sized + 'a,
    T: Clone + 'a,
{
    names
        .into_iter()
        .filter_map(|n| find(n.as_ref()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every named entry a service uses is part of its settings, so changing only that entry
    /// rebuilds the service on reload (limiters, rlimiters, hosts and resolvers were missed).
    #[test]
    fn a_change_to_any_entry_a_service_names_changes_its_settings() {
        let yaml = |limit: &str, rate: &str, ip: &str, timeout: &str| {
            format!(
                "services:
- name: s
  addr: 127.0.0.1:0
  limiter: l
  rlimiter: r
  hosts: h
  resolver: d
  handler: {{type: socks5}}
  listener: {{type: tcp}}
limiters:
- name: l
  limits: ['$ {limit} {limit}']
rlimiters:
- name: r
  limits: ['$ {rate}']
hosts:
- name: h
  mappings: [{{ip: {ip}, hostname: example.test}}]
resolvers:
- name: d
  nameservers: [{{addr: 'udp://127.0.0.1:53', timeout: {timeout}}}]
"
            )
        };
        let settings = |text: String| {
            let (config, _) = gost_config::from_yaml_str(&text).unwrap();
            gost_config::validate(&config).unwrap();
            settings_of(&config, &config.services[0])
        };
        let base = settings(yaml("1MB", "10", "127.0.0.1", "2s"));
        assert_eq!(base, settings(yaml("1MB", "10", "127.0.0.1", "2s")));
        for changed in [
            yaml("2MB", "10", "127.0.0.1", "2s"),
            yaml("1MB", "20", "127.0.0.1", "2s"),
            yaml("1MB", "10", "127.0.0.2", "2s"),
            yaml("1MB", "10", "127.0.0.1", "3s"),
        ] {
            assert_ne!(base, settings(changed));
        }
    }
}
