//! The named policies and tables of the running configuration, each started once and handed to every
//! service (and the metrics endpoint) that names it: one loader, one Redis connection, one reload task
//! and one set of limiter buckets per name, as upstream's registries keep one object per name.
//!
//! A reload keeps an entry whose configuration did not change, with its loader and its last good data,
//! and starts a changed one afresh; entries no running service names any more are dropped, which stops
//! their loaders once the services still draining let go of them.

use std::collections::HashMap;
use std::sync::Arc;

use gost_config::{
    AutherConfig, Config, HostsConfig, LimiterConfig, ListConfig, ResolverConfig, ServiceConfig,
};
use gost_resolve::{Dns, Hosts};
use gost_service::gost_access::limit::{LineError, RequestLimiter, TrafficLimiter};
use gost_service::gost_access::{
    self, Auther, AutherSpec, Bypass, HttpAuthPlugin, ListSpec, LoadedList,
};
use gost_service::{ConnLimitsSource, Limits};

use crate::Error;
use crate::access::{list_spec, reload_period, sources};
use crate::limits::conn_limits;
use crate::names::{dns, hosts_spec};

/// What an `authers:` entry is once started.
#[derive(Debug, Clone)]
pub(crate) enum AutherPolicy {
    /// Only inline `auths` (checked with the handler's own users).
    Inline(Vec<(String, String)>),
    /// Inline `auths` and loaders.
    Loaded(Arc<Auther>),
    /// An HTTP plugin (upstream ignores the other options then).
    Plugin(Arc<HttpAuthPlugin>),
}

/// Started objects by name, each with the configuration entry it was started from.
#[derive(Debug, Clone)]
struct Shared<C, T>(HashMap<String, (C, T)>);

impl<C, T> Default for Shared<C, T> {
    fn default() -> Self {
        Shared(HashMap::new())
    }
}

impl<C: PartialEq + Clone, T: Clone> Shared<C, T> {
    /// The object started from exactly `cfg`, or a new one `start` makes from it.
    async fn get_or_start<E>(
        &mut self,
        name: &str,
        cfg: &C,
        start: impl AsyncFnOnce(&C) -> Result<T, E>,
    ) -> Result<T, E> {
        if let Some((_, started)) = self.0.get(name).filter(|(c, _)| c == cfg) {
            return Ok(started.clone());
        }
        let started = start(cfg).await?;
        self.0
            .insert(name.to_owned(), (cfg.clone(), started.clone()));
        Ok(started)
    }

    /// Keeps the entries that some configuration in `used` lists (in `list`) with the same settings.
    fn retain(&mut self, used: &[&Config], list: fn(&Config) -> &Vec<C>)
    where
        C: Named,
    {
        self.0.retain(|name, (cfg, _)| {
            used.iter()
                .any(|c| list(c).iter().any(|u| u.name() == name && u == cfg))
        });
    }
}

/// A configuration entry's `name`.
trait Named {
    fn name(&self) -> &str;
}

macro_rules! named {
    ($($t:ty),*) => {$(
        impl Named for $t {
            fn name(&self) -> &str {
                &self.name
            }
        }
    )*};
}

named!(
    AutherConfig,
    ListConfig,
    LimiterConfig,
    HostsConfig,
    ResolverConfig
);

/// The started policies and tables, by name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Policies {
    authers: Shared<AutherConfig, AutherPolicy>,
    admissions: Shared<ListConfig, Arc<gost_access::Admission>>,
    bypasses: Shared<ListConfig, Arc<Bypass>>,
    climiters: Shared<LimiterConfig, ConnLimitsSource>,
    limiters: Shared<LimiterConfig, Arc<TrafficLimiter>>,
    rlimiters: Shared<LimiterConfig, Arc<RequestLimiter>>,
    hosts: Shared<HostsConfig, Hosts>,
    resolvers: Shared<ResolverConfig, Dns>,
}

pub(crate) fn undefined(what: &str, name: &str) -> Error {
    Error::Unsupported(format!("{what} {name:?} is not defined"))
}

fn limiter_spec(l: &LimiterConfig) -> ListSpec {
    ListSpec {
        name: l.name.clone(),
        whitelist: false,
        matchers: l.limits.clone(),
        sources: sources(&l.loaders),
        reload: reload_period(&l.loaders),
    }
}

/// Starts auther `a` (named `a.name`).
async fn start_auther(a: &AutherConfig) -> Result<AutherPolicy, Error> {
    let name = &a.name;
    let srcs = sources(&a.loaders);
    let inline: Vec<_> = a
        .auths
        .iter()
        .map(|c| (c.username.clone(), c.password.clone()))
        .collect();
    Ok(if let Some(p) = &a.plugin {
        let plugin = HttpAuthPlugin::new(name.clone(), p.addr.clone(), p.timeout).map_err(|e| {
            Error::Access {
                what: format!("auther {name:?}"),
                source: Box::new(e),
            }
        })?;
        AutherPolicy::Plugin(Arc::new(plugin))
    } else if srcs.is_empty() {
        AutherPolicy::Inline(inline)
    } else {
        let spec = AutherSpec {
            name: name.clone(),
            auths: inline,
            sources: srcs,
            reload: reload_period(&a.loaders),
        };
        AutherPolicy::Loaded(Auther::start(spec).await)
    })
}

/// Climiter `l`: fixed limits from its inline lines, or a loader re-reading them with its sources
/// (inline lines first, then file, Redis and HTTP, a later line for a scope replacing an earlier one).
async fn start_climiter(l: &LimiterConfig) -> Result<ConnLimitsSource, Error> {
    let inline = conn_limits(&l.limits).map_err(|source| Error::Climiter {
        name: l.name.clone(),
        source,
    })?;
    if l.loaders.file.is_none() && l.loaders.redis.is_none() && l.loaders.http.is_none() {
        return Ok(inline.into());
    }
    Ok(
        LoadedList::start_checked("climiter", limiter_spec(l), conn_limits::<String>)
            .await
            .into(),
    )
}

/// Limiter `name` (a `what`: `limiter`, `rlimiter`) from `shared`, or started from `cfg`; a bad
/// inline line is an error naming it.
async fn limiter<T>(
    shared: &mut Shared<LimiterConfig, Arc<T>>,
    cfg: Option<&LimiterConfig>,
    what: &str,
    name: &str,
    start: impl AsyncFnOnce(ListSpec) -> Result<Arc<T>, LineError>,
) -> Result<Arc<T>, Error> {
    let cfg = cfg.ok_or_else(|| undefined(what, name))?;
    let started = shared
        .get_or_start(name, cfg, async |l| start(limiter_spec(l)).await)
        .await;
    started.map_err(|e| Error::Access {
        what: format!("{what} {name:?}"),
        source: Box::new(e),
    })
}

impl Policies {
    /// Auther `name` of `config`.
    pub(crate) async fn auther(
        &mut self,
        config: &Config,
        name: &str,
    ) -> Result<AutherPolicy, Error> {
        let a = config
            .auther(name)
            .ok_or_else(|| undefined("auther", name))?;
        self.authers.get_or_start(name, a, start_auther).await
    }

    /// Admission `name` of `config`.
    pub(crate) async fn admission(
        &mut self,
        config: &Config,
        name: &str,
    ) -> Result<Arc<gost_access::Admission>, Error> {
        let l = config
            .admission(name)
            .ok_or_else(|| undefined("admission", name))?;
        let start = async |l: &ListConfig| Ok(gost_access::Admission::start(list_spec(l)).await);
        self.admissions.get_or_start(name, l, start).await
    }

    /// Bypass `name` of `config` (a service's, a hop's or a node's).
    pub(crate) async fn bypass(
        &mut self,
        config: &Config,
        name: &str,
    ) -> Result<Arc<Bypass>, Error> {
        let l = config
            .bypass(name)
            .ok_or_else(|| undefined("bypass", name))?;
        let start = async |l: &ListConfig| Ok(Bypass::start(list_spec(l)).await);
        self.bypasses.get_or_start(name, l, start).await
    }

    /// The concurrent-connection limits of `service` (its `climiter`; none without one). Services
    /// naming one climiter share its loader, each counting its own connections.
    pub(crate) async fn climiter(
        &mut self,
        config: &Config,
        service: &ServiceConfig,
    ) -> Result<ConnLimitsSource, Error> {
        let Some(name) = &service.climiter else {
            return Ok(ConnLimitsSource::default());
        };
        let l = config
            .climiter(name)
            .ok_or_else(|| undefined("climiter", name))?;
        self.climiters.get_or_start(name, l, start_climiter).await
    }

    /// The bandwidth (`limiter`, `handler.limiter`) and request-rate (`rlimiter`) limiters of
    /// `service`: every service naming one draws from its buckets, as upstream.
    pub(crate) async fn limits(
        &mut self,
        config: &Config,
        service: &ServiceConfig,
    ) -> Result<Limits, Error> {
        let mut limits = Limits::default();
        for name in service.limiter.iter().chain(&service.handler.limiter) {
            let l = config.limiter(name);
            let start = TrafficLimiter::start;
            let started = limiter(&mut self.limiters, l, "limiter", name, start).await?;
            limits.traffic.push(started);
        }
        if let Some(name) = &service.rlimiter {
            let r = config.rlimiter(name);
            let start = RequestLimiter::start;
            limits
                .requests
                .push(limiter(&mut self.rlimiters, r, "rlimiter", name, start).await?);
        }
        Ok(limits)
    }

    /// Hosts table `name` of `config`.
    pub(crate) async fn hosts(&mut self, config: &Config, name: &str) -> Result<Hosts, Error> {
        let h = config
            .hosts_table(name)
            .ok_or_else(|| undefined("hosts", name))?;
        let start = async |h: &HostsConfig| Ok(Hosts::start(hosts_spec(h)?).await);
        self.hosts.get_or_start(name, h, start).await
    }

    /// Resolver `name` of `config` (its cache is shared too).
    pub(crate) async fn resolver(&mut self, config: &Config, name: &str) -> Result<Dns, Error> {
        let r = config
            .resolver(name)
            .ok_or_else(|| undefined("resolver", name))?;
        let start = async |r: &ResolverConfig| dns(r);
        self.resolvers.get_or_start(name, r, start).await
    }

    /// Keeps only what some configuration in `used` names with the same settings (each one is the
    /// part of the configuration a running service depends on).
    pub(crate) fn retain<'a>(&mut self, used: impl Iterator<Item = &'a Config>) {
        let used: Vec<&Config> = used.collect();
        self.authers.retain(&used, |c| &c.authers);
        self.admissions.retain(&used, |c| &c.admissions);
        self.bypasses.retain(&used, |c| &c.bypasses);
        self.climiters.retain(&used, |c| &c.climiters);
        self.limiters.retain(&used, |c| &c.limiters);
        self.rlimiters.retain(&used, |c| &c.rlimiters);
        self.hosts.retain(&used, |c| &c.hosts);
        self.resolvers.retain(&used, |c| &c.resolvers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Services `a` and `b` naming limiter `l` (at `rate`) and bypass `b`.
    fn config(rate: &str) -> Config {
        let service = |name: &str| {
            format!(
                "- name: {name}\n  addr: 127.0.0.1:0\n  limiter: l\n  bypass: b\n  handler: {{type: socks5}}\n"
            )
        };
        let yaml = format!(
            "services:\n{}{}limiters:\n- name: l\n  limits: ['$ {rate}']\n\
             bypasses:\n- name: b\n  matchers: [10.0.0.0/8]\n",
            service("a"),
            service("b")
        );
        gost_config::from_yaml_str(&yaml).unwrap().0
    }

    #[tokio::test]
    async fn one_object_per_name_kept_while_its_entry_is_unchanged() {
        let mut p = Policies::default();
        let c = config("1MB");
        let a = p.limits(&c, &c.services[0]).await.unwrap().traffic;
        let b = p.limits(&c, &c.services[1]).await.unwrap().traffic;
        assert!(Arc::ptr_eq(&a[0], &b[0]), "two services, one limiter");
        let bypass = p.bypass(&c, "b").await.unwrap();
        assert!(Arc::ptr_eq(&bypass, &p.bypass(&c, "b").await.unwrap()));

        let changed = config("2MB");
        let c2 = p.limits(&changed, &changed.services[0]).await.unwrap();
        assert!(
            !Arc::ptr_eq(&a[0], &c2.traffic[0]),
            "a changed entry starts afresh"
        );
        let kept = p.bypass(&changed, "b").await.unwrap();
        assert!(Arc::ptr_eq(&bypass, &kept), "an unchanged entry is kept");

        p.retain([&changed].into_iter());
        assert!(Arc::ptr_eq(&kept, &p.bypass(&changed, "b").await.unwrap()));
        p.retain(std::iter::empty());
        let again = p.bypass(&changed, "b").await.unwrap();
        assert!(
            !Arc::ptr_eq(&kept, &again),
            "an entry no service names is dropped"
        );
        assert!(p.bypass(&changed, "missing").await.is_err());
    }

    #[tokio::test]
    async fn services_naming_one_climiter_with_a_loader_share_it() {
        let yaml = "services:\n\
            - {name: a, addr: 127.0.0.1:0, climiter: c, handler: {type: socks5}}\n\
            - {name: b, addr: 127.0.0.1:0, climiter: c, handler: {type: socks5}}\n\
            - {name: f, addr: 127.0.0.1:0, climiter: fixed, handler: {type: socks5}}\n\
            climiters:\n\
            - {name: c, limits: ['$$ 2'], file: {path: /nonexistent/gost-climits}}\n\
            - {name: fixed, limits: ['$ 3']}\n";
        let c = gost_config::from_yaml_str(yaml).unwrap().0;
        let mut p = Policies::default();
        let a = p.climiter(&c, &c.services[0]).await.unwrap();
        let b = p.climiter(&c, &c.services[1]).await.unwrap();
        let (ConnLimitsSource::Loaded(a), ConnLimitsSource::Loaded(b)) = (a, b) else {
            panic!("a climiter with a file is loaded");
        };
        assert!(Arc::ptr_eq(&a, &b), "one loader per name");
        assert!(a.current().is_none(), "never read: no limits yet");
        let fixed = p.climiter(&c, &c.services[2]).await.unwrap();
        assert_eq!(fixed.current().unwrap().service, Some(3));
    }
}
