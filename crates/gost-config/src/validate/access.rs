//! Checks of the access-control sections: `authers` loaders and plugins, `admissions` and `bypasses`
//! entries, and the services that name them. What gost-rs does not enforce for a service is an
//! [`ConfigError::AccessNotBuilt`] error, never an open door.

use crate::error::ConfigError;
use crate::model::{
    AutherConfig, ChainConfig, Config, LimiterConfig, ListConfig, Loaders, MetricsConfig,
    ServiceConfig,
};

/// Handlers whose CONNECT requests the service-level bypass filters.
const BYPASS_HANDLERS: &[&str] = &["socks5", "socks", "socks4", "socks4a", "auto"];
/// Handlers that enforce `limiter` and `rlimiter`: those of the runner (at accept; UDP ASSOCIATE
/// datagrams draw from their control connection's buckets), and the `udp`, `rtcp` and `rudp`
/// forwarders (per client session or remote peer).
const LIMITER_HANDLERS: &[&str] = &[
    "socks5", "socks", "socks4", "socks4a", "auto", "tcp", "forward", "udp", "rtcp", "rudp",
];
/// Handlers that enforce admission: those of the runner (at accept), and the `udp`, `rtcp` and `rudp`
/// forwarders (per datagram or remote peer).
const ADMISSION_HANDLERS: &[&str] = &[
    "socks5", "socks", "socks4", "socks4a", "auto", "tcp", "forward", "udp", "rtcp", "rudp",
];

pub(super) fn check_auther(a: &AutherConfig) -> Result<(), ConfigError> {
    let s = format!("auther `{}`", a.name);
    check_loaders(&s, &a.loaders)?;
    if let Some(p) = &a.plugin {
        if !p.kind.eq_ignore_ascii_case("http") {
            // Upstream's default plugin transport is gRPC.
            return Err(ConfigError::AccessNotBuilt {
                path: s,
                option: format!(
                    "plugin.type {}",
                    if p.kind.is_empty() {
                        "grpc (the default)"
                    } else {
                        &p.kind
                    }
                ),
            });
        }
        if !(p.addr.starts_with("http://") || p.addr.starts_with("https://")) {
            return Err(ConfigError::invalid(
                &s,
                "plugin.addr",
                &p.addr,
                "must be an http:// or https:// URL",
            ));
        }
    }
    Ok(())
}

pub(super) fn check_list(what: &str, l: &ListConfig) -> Result<(), ConfigError> {
    let s = format!("{what} `{}`", l.name);
    check_loaders(&s, &l.loaders)
}

/// A `limiters:` / `rlimiters:` entry's loaders (its lines are read when the limiter is built).
pub(super) fn check_limiter(what: &str, l: &LimiterConfig) -> Result<(), ConfigError> {
    check_loaders(&format!("{what} `{}`", l.name), &l.loaders)
}

/// `name` (the value of `key` in service `s`) is one of the `defined` names.
pub(super) fn check_defined<'a>(
    s: &str,
    key: &str,
    name: &str,
    defined: impl Iterator<Item = &'a str> + Clone,
) -> Result<(), ConfigError> {
    if defined.clone().any(|d| d == name) {
        return Ok(());
    }
    let known: Vec<&str> = defined.collect();
    let known = if known.is_empty() {
        "none".to_owned()
    } else {
        known.join(", ")
    };
    Err(ConfigError::invalid(
        s,
        key,
        name,
        format!("is not defined (defined: {known})"),
    ))
}

/// The service's `limiter`, `handler.limiter` and `rlimiter` exist and apply to its handler.
pub(super) fn check_service_limiters(
    config: &Config,
    s: &str,
    svc: &ServiceConfig,
) -> Result<(), ConfigError> {
    for (key, name, defined) in [
        ("limiter", &svc.limiter, &config.limiters),
        ("handler.limiter", &svc.handler.limiter, &config.limiters),
        ("rlimiter", &svc.rlimiter, &config.rlimiters),
    ] {
        let defined = defined.iter().map(|l| l.name.as_str());
        check_refs(s, svc, key, name.as_deref(), defined, LIMITER_HANDLERS)?;
    }
    Ok(())
}

/// The names the service gives option `key` are among `defined`, and its handler is one of `handlers`,
/// the ones that build the option.
fn check_refs<'a, 'd>(
    s: &str,
    svc: &ServiceConfig,
    key: &str,
    names: impl IntoIterator<Item = &'a str>,
    defined: impl Iterator<Item = &'d str> + Clone,
    handlers: &[&str],
) -> Result<(), ConfigError> {
    let handler = svc.handler.kind.as_str();
    let mut names = names.into_iter().peekable();
    if names.peek().is_some() && !handlers.contains(&handler) {
        return Err(ConfigError::AccessNotBuilt {
            path: s.to_owned(),
            option: format!("{key} on a {handler:?} service"),
        });
    }
    for name in names {
        check_defined(s, key, name, defined.clone())?;
    }
    Ok(())
}

/// The loaders of component `s` name a file, a Redis `host:port` and an http(s) URL.
pub(super) fn check_loaders(s: &str, loaders: &Loaders) -> Result<(), ConfigError> {
    if loaders.file.as_ref().is_some_and(|f| f.path.is_empty()) {
        return Err(ConfigError::invalid(
            s,
            "file.path",
            "",
            "a file path is required",
        ));
    }
    if let Some(r) = &loaders.redis {
        let ok = r
            .addr
            .rsplit_once(':')
            .is_some_and(|(_, port)| port.parse::<u16>().is_ok());
        if !ok {
            return Err(ConfigError::invalid(
                s,
                "redis.addr",
                &r.addr,
                "must be host:port",
            ));
        }
    }
    if let Some(h) = &loaders.http
        && !(h.url.starts_with("http://") || h.url.starts_with("https://"))
    {
        return Err(ConfigError::invalid(
            s,
            "http.url",
            &h.url,
            "must be an http:// or https:// URL",
        ));
    }
    Ok(())
}

/// The auther and admission the metrics endpoint names exist.
pub(super) fn check_metrics_access(config: &Config, m: &MetricsConfig) -> Result<(), ConfigError> {
    if let Some(name) = &m.auther {
        let defined = config.authers.iter().map(|a| a.name.as_str());
        check_defined("metrics", "auther", name, defined)?;
    }
    if let Some(name) = &m.admission {
        let defined = config.admissions.iter().map(|l| l.name.as_str());
        check_defined("metrics", "admission", name, defined)?;
    }
    Ok(())
}

/// The bypasses named by the hops and nodes of `chain` exist.
pub(super) fn check_chain_lists(config: &Config, chain: &ChainConfig) -> Result<(), ConfigError> {
    let defined = || config.bypasses.iter().map(|l| l.name.as_str());
    for hop in &chain.hops {
        let hs = format!("chain `{}` hop `{}`", chain.name, hop.name);
        for name in hop.bypass_names() {
            check_defined(&hs, "bypass", name, defined())?;
        }
        for node in &hop.nodes {
            let ns = format!("{hs} node `{}`", node.name);
            for name in node.bypass_names() {
                check_defined(&ns, "bypass", name, defined())?;
            }
        }
    }
    Ok(())
}

/// The service's `admission(s)` and `bypass(es)` exist and apply to its handler.
pub(super) fn check_service_lists(
    config: &Config,
    s: &str,
    svc: &ServiceConfig,
) -> Result<(), ConfigError> {
    let admissions = config.admissions.iter().map(|l| l.name.as_str());
    check_refs(
        s,
        svc,
        "admission",
        svc.admission_names(),
        admissions,
        ADMISSION_HANDLERS,
    )?;
    let bypasses = config.bypasses.iter().map(|l| l.name.as_str());
    check_refs(
        s,
        svc,
        "bypass",
        svc.bypass_names(),
        bypasses,
        BYPASS_HANDLERS,
    )?;
    // The bypass filters CONNECT targets only; UDP datagrams and BIND peers would pass unchecked.
    if svc.bypass_names().next().is_some() {
        for key in ["udp", "bind"] {
            if svc.handler.metadata.get_bool(&[key]).ok().flatten() == Some(true) {
                return Err(ConfigError::AccessNotBuilt {
                    path: s.to_owned(),
                    option: format!("bypass together with {key}=true"),
                });
            }
        }
    }
    Ok(())
}
