//! The access policies of one service, built from its configuration with gost-access: authers with
//! loaders or an HTTP plugin, `skipauth`, admissions, bypasses, and the bandwidth (`limiter`) and
//! request-rate (`rlimiter`) limiters. Each service builds its own (a policy named by two services is
//! loaded twice, and the two do not share buckets).

use std::sync::Arc;
use std::time::Duration;

use gost_config::{Config, LimiterConfig, ListConfig, Loaders, ServiceConfig};
use gost_service::gost_access::limit::{LineError, RequestLimiter, TrafficLimiter};
use gost_service::gost_access::{
    self, Auther, AutherSpec, BypassGroup, HttpAuthPlugin, ListSpec, SkipAuth, SourceSpec,
};
use gost_service::{AccessAuth, Admission, Authenticator, Limits, TargetFilter, Users};

use crate::Error;

fn undefined(what: &str, name: &str) -> Error {
    Error::Unsupported(format!("{what} {name:?} is not defined"))
}

/// What the service's handler and runner enforce besides its plain users.
#[derive(Default)]
pub(crate) struct ServiceAccess {
    /// Replaces the handler's plain users when authers load data, a plugin or `skipauth` is set.
    pub auth: Option<Arc<dyn Authenticator>>,
    /// `admission` / `admissions`.
    pub admission: Option<Arc<dyn Admission>>,
    /// `bypass` / `bypasses`.
    pub bypass: Option<Arc<dyn TargetFilter>>,
    /// `limiter`, `handler.limiter` and `rlimiter`.
    pub limits: Limits,
}

pub(crate) fn sources(loaders: &Loaders) -> Vec<SourceSpec> {
    let mut out = Vec::new();
    if let Some(f) = &loaders.file {
        out.push(SourceSpec::File(f.path.clone().into()));
    }
    if let Some(r) = &loaders.redis {
        out.push(SourceSpec::Redis(gost_access::RedisSpec {
            addr: r.addr.clone(),
            db: r.db,
            username: r.username.clone(),
            password: r.password.clone(),
            key: r
                .key
                .clone()
                .unwrap_or_else(|| gost_access::DEFAULT_REDIS_KEY.to_owned()),
        }));
    }
    if let Some(h) = &loaders.http {
        out.push(SourceSpec::Http(gost_access::HttpSpec {
            url: h.url.clone(),
            timeout: h.timeout.filter(|t| !t.is_zero()),
        }));
    }
    out
}

/// The reload period; upstream treats 0 as "never".
pub(crate) fn reload_period(loaders: &Loaders) -> Option<Duration> {
    loaders.reload.filter(|r| !r.is_zero())
}

pub(crate) fn list_spec(l: &ListConfig) -> ListSpec {
    ListSpec {
        name: l.name.clone(),
        whitelist: l.whitelist,
        matchers: l.matchers.clone(),
        sources: sources(&l.loaders),
        reload: reload_period(&l.loaders),
    }
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

/// The service's limiters, each loaded once; a bad inline line is an error naming it.
async fn limits(config: &Config, service: &ServiceConfig) -> Result<Limits, Error> {
    let bad = |what: &str, name: &str| {
        let what = format!("{what} {name:?}");
        move |e: LineError| Error::Access {
            what,
            source: Box::new(e),
        }
    };
    let mut limits = Limits::default();
    for name in service.limiter.iter().chain(&service.handler.limiter) {
        let l = config
            .limiter(name)
            .ok_or_else(|| undefined("limiter", name))?;
        let t = TrafficLimiter::start(limiter_spec(l))
            .await
            .map_err(bad("limiter", name))?;
        limits.traffic.push(t);
    }
    if let Some(name) = &service.rlimiter {
        let l = config
            .rlimiter(name)
            .ok_or_else(|| undefined("rlimiter", name))?;
        let r = RequestLimiter::start(limiter_spec(l))
            .await
            .map_err(bad("rlimiter", name))?;
        limits.requests.push(r);
    }
    Ok(limits)
}

/// Builds the policies of `service`, loading each once (validation made sure the names exist).
pub(crate) async fn build(
    config: &Config,
    service: &ServiceConfig,
) -> Result<ServiceAccess, Error> {
    let h = &service.handler;
    let mut users: Vec<(String, String)> = h
        .auth
        .iter()
        .map(|a| (a.username.clone(), a.password.clone()))
        .collect();
    let mut auth = AccessAuth::default();
    for name in h.auther.iter().chain(&h.authers) {
        let a = config
            .auther(name)
            .ok_or_else(|| undefined("auther", name))?;
        let srcs = sources(&a.loaders);
        let inline = a
            .auths
            .iter()
            .map(|c| (c.username.clone(), c.password.clone()));
        if let Some(p) = &a.plugin {
            // Upstream: other auther options are unused when a plugin is set.
            let plugin =
                HttpAuthPlugin::new(name.clone(), p.addr.clone(), p.timeout).map_err(|e| {
                    Error::Access {
                        what: format!("auther {name:?}"),
                        source: Box::new(e),
                    }
                })?;
            auth.plugins.push(Arc::new(plugin));
        } else if srcs.is_empty() {
            users.extend(inline);
        } else {
            auth.authers.push(
                Auther::start(AutherSpec {
                    name: name.clone(),
                    auths: inline.collect(),
                    sources: srcs,
                    reload: reload_period(&a.loaders),
                })
                .await,
            );
        }
    }
    let skip = h
        .metadata
        .get_strings(&["skipauth"])
        .map_err(Error::metadata("handler"))?
        .unwrap_or_default();
    auth.skip = SkipAuth::parse(&skip).map_err(|e| Error::Access {
        what: "handler metadata skipauth".into(),
        source: Box::new(e),
    })?;
    let mut access = ServiceAccess::default();
    if !auth.authers.is_empty() || !auth.plugins.is_empty() || !auth.skip.is_empty() {
        auth.users = Users::new(users);
        access.auth = Some(Arc::new(auth));
    }
    let mut admissions = Vec::new();
    for name in service.admission_names() {
        let l = config
            .admission(name)
            .ok_or_else(|| undefined("admission", name))?;
        admissions.push(gost_access::Admission::start(list_spec(l)).await);
    }
    if !admissions.is_empty() {
        access.admission = Some(Arc::new(admissions));
    }
    let mut bypasses = Vec::new();
    for name in service.bypass_names() {
        let l = config
            .bypass(name)
            .ok_or_else(|| undefined("bypass", name))?;
        bypasses.push(gost_access::Bypass::start(list_spec(l)).await);
    }
    if !bypasses.is_empty() {
        access.bypass = Some(Arc::new(BypassGroup::new(bypasses)));
    }
    access.limits = limits(config, service).await?;
    Ok(access)
}
