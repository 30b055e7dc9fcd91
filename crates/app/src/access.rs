//! The access policies of one service, built from its configuration with gost-access: authers with
//! loaders or an HTTP plugin, `skipauth`, admissions, bypasses, and the bandwidth (`limiter`) and
//! request-rate (`rlimiter`) limiters, taken from [`Policies`], which starts each named one once for
//! every service naming it.

use std::sync::Arc;
use std::time::Duration;

use gost_config::{Config, ListConfig, Loaders, ServiceConfig};
use gost_service::gost_access::{self, BypassGroup, ListSpec, SkipAuth, SourceSpec};
use gost_service::{AccessAuth, Admission, Authenticator, Limits, TargetFilter, Users};

use crate::Error;
use crate::policies::{AutherPolicy, Policies};

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

/// The authentication of credentials `users` and authers `names` (an auther with no user lets nobody
/// in).
pub(crate) async fn authenticator<'a>(
    config: &Config,
    mut users: Vec<(String, String)>,
    names: impl Iterator<Item = &'a String>,
    skip: SkipAuth,
    policies: &mut Policies,
) -> Result<AccessAuth, Error> {
    let mut auth = AccessAuth {
        skip,
        ..AccessAuth::default()
    };
    for name in names {
        match policies.auther(config, name).await? {
            AutherPolicy::Inline(inline) => users.extend(inline),
            AutherPolicy::Loaded(a) => auth.authers.push(a),
            AutherPolicy::Plugin(p) => auth.plugins.push(p),
        }
    }
    auth.users = Users::new(users);
    Ok(auth)
}

/// The policies of `service`, each taken from `policies` (started there once per name).
pub(crate) async fn build(
    config: &Config,
    service: &ServiceConfig,
    policies: &mut Policies,
) -> Result<ServiceAccess, Error> {
    let h = &service.handler;
    let users: Vec<(String, String)> = h
        .auth
        .iter()
        .map(|a| (a.username.clone(), a.password.clone()))
        .collect();
    let skip = h
        .metadata
        .get_strings(&["skipauth"])
        .map_err(Error::metadata("handler"))?
        .unwrap_or_default();
    let skip = SkipAuth::parse(&skip).map_err(|e| Error::Access {
        what: "handler metadata skipauth".into(),
        source: Box::new(e),
    })?;
    let names = h.auther.iter().chain(&h.authers);
    let auth = authenticator(config, users, names, skip, policies).await?;
    let mut access = ServiceAccess::default();
    // Plain users alone are checked by the handler itself.
    if !auth.authers.is_empty() || !auth.plugins.is_empty() || !auth.skip.is_empty() {
        access.auth = Some(Arc::new(auth) as Arc<dyn Authenticator>);
    }
    let mut admissions = Vec::new();
    for name in service.admission_names() {
        admissions.push(policies.admission(config, name).await?);
    }
    if !admissions.is_empty() {
        access.admission = Some(Arc::new(admissions));
    }
    let mut bypasses = Vec::new();
    for name in service.bypass_names() {
        bypasses.push(policies.bypass(config, name).await?);
    }
    if !bypasses.is_empty() {
        access.bypass = Some(Arc::new(BypassGroup::new(bypasses)));
    }
    access.limits = policies.limits(config, service).await?;
    Ok(access)
}
