//! Validation of a whole [`Config`] before anything is started: types that exist, addresses with
//! ports, no two services on one address, chains and authers that exist, option values of the right
//! type and range, TLS files that exist. The first problem found is returned as a
//! [`ConfigError::Invalid`] naming the service or node, the key, the value and what would be valid.

mod access;
mod components;
mod egress;
mod hosts;
mod log;

use std::path::Path;

use crate::climit::LimitLine;
use crate::error::{ConfigError, Warning};
use crate::model::*;
use crate::registry;
use crate::suggest::closest;
use crate::url::split_host_ports;

/// Smallest accepted UDP buffer (`udpBufferSize`, `readBufferSize`, `bufferSize`): a buffer must hold
/// the largest datagram plus the SOCKS5 UDP header, and a buffer below 1 KiB would silently truncate
/// ordinary DNS answers. 0 means "the default".
pub const MIN_UDP_BUFFER_SIZE: usize = 1024;
/// Largest accepted UDP buffer: a datagram is at most 64 KiB, this leaves room for any header.
pub(crate) const MAX_UDP_BUFFER_SIZE: usize = 1 << 20;

const STRATEGIES: &[&str] = &["round", "rr", "random", "rand", "fifo", "ha", "hash"];
const LOG_LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "fatal"];
const LOG_FORMATS: &[&str] = &["text", "json"];
const FORWARDING_HANDLERS: &[&str] = &["tcp", "udp", "rtcp", "rudp", "forward"];

/// Checks a config; returns the tolerated oddities as warnings.
///
/// ```
/// let (config, _) = gost_config::from_cli(&["socks5://:1080?udpBufferSize=100"], &[] as &[&str]).unwrap();
/// let err = gost_config::validate(&config).unwrap_err().to_string();
/// assert!(err.starts_with("service `service-0`: handler.metadata.udpBufferSize `100`"), "{err}");
/// ```
pub fn validate(config: &Config) -> Result<Vec<Warning>, ConfigError> {
    let mut warnings = Vec::new();
    check_unique(config.services.iter().map(|s| s.name.as_str()), "service")?;
    check_unique(config.chains.iter().map(|c| c.name.as_str()), "chain")?;
    check_unique(config.authers.iter().map(|a| a.name.as_str()), "auther")?;
    check_unique(config.climiters.iter().map(|l| l.name.as_str()), "climiter")?;
    check_unique(config.limiters.iter().map(|l| l.name.as_str()), "limiter")?;
    check_unique(config.rlimiters.iter().map(|l| l.name.as_str()), "rlimiter")?;
    check_unique(
        config.admissions.iter().map(|l| l.name.as_str()),
        "admission",
    )?;
    check_unique(config.bypasses.iter().map(|l| l.name.as_str()), "bypass")?;
    hosts::check_hosts(config)?;
    for a in &config.authers {
        access::check_auther(a)?;
    }
    for l in &config.admissions {
        access::check_list("admission", l)?;
    }
    for l in &config.bypasses {
        access::check_list("bypass", l)?;
    }
    for limiter in &config.climiters {
        check_climiter(limiter, &mut warnings)?;
    }
    for l in &config.limiters {
        access::check_limiter("limiter", l)?;
    }
    for l in &config.rlimiters {
        access::check_limiter("rlimiter", l)?;
    }
    for svc in &config.services {
        check_service(config, svc, &mut warnings)?;
    }
    check_conflicts(&config.services)?;
    for chain in &config.chains {
        check_chain(chain, &mut warnings)?;
        access::check_chain_lists(config, chain)?;
    }
    for auther in &config.authers {
        let subject = format!("auther `{}`", auther.name);
        for (i, auth) in auther.auths.iter().enumerate() {
            let key = format!("auths[{i}]");
            check_auth(&subject, &key, auth)?;
            warn_any_password(&subject, &key, auth, &mut warnings);
        }
    }
    if let Some(tls) = &config.tls {
        check_tls_files("top-level tls", "tls", tls, true)?;
    }
    if let Some(log) = &config.log {
        log::check_log(log, &mut warnings)?;
    }
    if let Some(metrics) = &config.metrics {
        check_metrics(metrics)?;
        access::check_metrics_access(config, metrics)?;
    }
    Ok(warnings)
}

fn check_metrics(m: &MetricsConfig) -> Result<(), ConfigError> {
    if m.addr.is_empty() {
        return Err(ConfigError::invalid(
            "metrics",
            "metrics.addr",
            "",
            "is missing; expected host:port, e.g. `:9000`",
        ));
    }
    let hp = split_host_ports(&m.addr, true).map_err(|e| {
        ConfigError::invalid(
            "metrics",
            "metrics.addr",
            &m.addr,
            format!("is not valid: {e}"),
        )
    })?;
    if hp.first != hp.last {
        return Err(ConfigError::invalid(
            "metrics",
            "metrics.addr",
            &m.addr,
            "is a port range; the metrics endpoint listens on one port",
        ));
    }
    if let Some(path) = m.path.as_deref().filter(|p| !p.starts_with('/')) {
        return Err(ConfigError::invalid(
            "metrics",
            "metrics.path",
            path,
            "must start with `/`, e.g. `/metrics`",
        ));
    }
    if let Some(auth) = &m.auth {
        check_auth("metrics", "metrics.auth", auth)?;
    }
    Ok(())
}

/// Every `limits:` line must read (lines from loaders are checked at each load); lines that limit
/// nothing are worth a warning.
fn check_climiter(limiter: &LimiterConfig, warnings: &mut Vec<Warning>) -> Result<(), ConfigError> {
    let subject = format!("climiter `{}`", limiter.name);
    access::check_loaders(&subject, &limiter.loaders)?;
    for (i, line) in limiter.limits.iter().enumerate() {
        let key = format!("limits[{i}]");
        match LimitLine::parse(line) {
            Err(problem) => return Err(ConfigError::invalid(&subject, key, line, problem)),
            Ok(Some(l)) if l.limit().is_none() => warnings.push(Warning::new(
                format!("{subject}: {key}"),
                format!("`{line}`: a limit of 0 or below means no limit (as upstream)"),
            )),
            Ok(_) => {}
        }
    }
    Ok(())
}

/// Services run by the connection runner (SOCKS, `auto`, `tcp` forwarding) honour `climiter`.
fn check_climiter_ref(
    config: &Config,
    s: &str,
    svc: &ServiceConfig,
    name: &str,
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    if config.climiter(name).is_none() {
        let defined = config.climiters.iter().map(|l| l.name.as_str());
        return Err(undefined(s, "climiter", name, "climiters", defined));
    }
    let handler = svc.handler.kind.as_str();
    if !matches!(
        handler,
        "socks5" | "socks" | "socks4" | "socks4a" | "auto" | "tcp"
    ) {
        warnings.push(Warning::new(
            format!("{s}: climiter"),
            format!(
                "connection limits apply to SOCKS, auto and tcp-forwarding services; \
                 ignored for handler `{handler}`"
            ),
        ));
    }
    Ok(())
}

fn check_unique<'a>(names: impl Iterator<Item = &'a str>, what: &str) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashSet::new();
    for (i, name) in names.enumerate() {
        if name.is_empty() {
            return Err(ConfigError::invalid(
                format!("{what} #{i}"),
                "name",
                "",
                "is missing; every entry needs a unique name",
            ));
        }
        if !seen.insert(name) {
            return Err(ConfigError::invalid(
                format!("{what} `{name}`"),
                "name",
                name,
                "is used twice; names must be unique",
            ));
        }
    }
    Ok(())
}

pub(crate) fn one_of(value: &str, valid: &[&str], what: &str) -> String {
    let hint = closest(value, valid.iter().copied())
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    format!(
        "is not a supported {what}; valid: {}{hint}",
        valid.join(", ")
    )
}

/// A reference (`key` of `s`) to `name`, which `section` does not define; `defined` are those it does.
fn undefined<'a>(
    s: &str,
    key: &str,
    name: &str,
    section: &str,
    defined: impl Iterator<Item = &'a str>,
) -> ConfigError {
    let known: Vec<&str> = defined.collect();
    let why = format!(
        "is not defined in `{section}:` (defined: {})",
        list_or_none(&known)
    );
    ConfigError::invalid(s, key, name, why)
}

/// `kind` is one of the component types gost-rs builds (`types`; `what` names them in the error).
fn check_type(
    subject: &str,
    key: &str,
    kind: &str,
    types: &[&str],
    what: &str,
) -> Result<(), ConfigError> {
    if types.contains(&kind) {
        return Ok(());
    }
    Err(ConfigError::invalid(
        subject,
        key,
        kind,
        one_of(kind, types, what),
    ))
}

/// The list `key` of `subject` has entries; `why` completes the error's "is empty; …".
pub(crate) fn require_entries<T>(
    subject: &str,
    key: &str,
    list: &[T],
    why: &str,
) -> Result<(), ConfigError> {
    if list.is_empty() {
        return Err(ConfigError::invalid(
            subject,
            key,
            "",
            format!("is empty; {why}"),
        ));
    }
    Ok(())
}

/// `addr` is given; `expected` says what it should look like.
fn require_addr(subject: &str, addr: &str, expected: &str) -> Result<(), ConfigError> {
    if addr.is_empty() {
        let why = format!("is missing; expected {expected}");
        return Err(ConfigError::invalid(subject, "addr", "", why));
    }
    Ok(())
}

fn check_choice(
    subject: &str,
    key: &str,
    value: Option<&str>,
    valid: &[&str],
) -> Result<(), ConfigError> {
    match value {
        Some(v) if !v.is_empty() && !valid.iter().any(|x| x.eq_ignore_ascii_case(v)) => Err(
            ConfigError::invalid(subject, key, v, one_of(v, valid, "value")),
        ),
        _ => Ok(()),
    }
}

fn check_service(
    config: &Config,
    svc: &ServiceConfig,
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    let subject = format!("service `{}`", svc.name);
    let s = subject.as_str();
    let (handler, listener) = (svc.handler.kind.as_str(), svc.listener.kind.as_str());
    check_kinds_and_addr(s, svc)?;
    check_forwarder(s, svc, handler)?;
    check_chain_refs(config, s, svc, warnings)?;
    egress::check_service(s, svc, warnings)?;
    if let Some(auth) = &svc.handler.auth {
        check_auth(s, "handler.auth", auth)?;
        // SOCKS4 checks only the user id; everywhere else an empty password is a wildcard.
        if !matches!(handler, "socks4" | "socks4a") {
            warn_any_password(s, "handler.auth", auth, warnings);
        }
    }
    for name in svc.handler.auther.iter().chain(svc.handler.authers.iter()) {
        if config.auther(name).is_none() {
            let defined = config.authers.iter().map(|a| a.name.as_str());
            return Err(undefined(s, "handler.auther", name, "authers", defined));
        }
    }
    if let Some(name) = &svc.climiter {
        check_climiter_ref(config, s, svc, name, warnings)?;
    }
    access::check_service_lists(config, s, svc)?;
    access::check_service_limiters(config, s, svc)?;
    for (key, tls) in [
        ("handler.tls", &svc.handler.tls),
        ("listener.tls", &svc.listener.tls),
    ] {
        if let Some(tls) = tls {
            check_tls_files(s, key, tls, true)?;
        }
    }
    if matches!(handler, "socks4" | "socks4a")
        && config
            .handler_credentials(svc)
            .iter()
            .any(|a| !a.password.is_empty())
    {
        warnings.push(Warning::new(
            format!("{s}: handler.auth"),
            "SOCKS4 clients send only a user id: users with a password can never authenticate",
        ));
    }
    components::check_handler_metadata(s, handler, &svc.handler.metadata, warnings)?;
    components::check_listener_metadata(s, listener, &svc.listener.metadata, warnings)
}

/// Supported handler/listener types that fit together, and a single `host:port` address.
fn check_kinds_and_addr(s: &str, svc: &ServiceConfig) -> Result<(), ConfigError> {
    let (handler, listener) = (svc.handler.kind.as_str(), svc.listener.kind.as_str());
    check_type(
        s,
        "handler.type",
        handler,
        registry::HANDLER_TYPES,
        "handler type",
    )?;
    check_type(
        s,
        "listener.type",
        listener,
        registry::LISTENER_TYPES,
        "listener type",
    )?;
    require_addr(s, &svc.addr, "host:port, e.g. `:1080`")?;
    let hp = split_host_ports(&svc.addr, true)
        .map_err(|m| ConfigError::invalid(s, "addr", &svc.addr, format!("is not valid: {m}")))?;
    if hp.first != hp.last {
        return Err(ConfigError::invalid(
            s,
            "addr",
            &svc.addr,
            "is a port range; ranges are only expanded on the command line (-L)",
        ));
    }
    for packet_pair in ["udp", "rtcp", "rudp"] {
        if (handler == packet_pair) != (listener == packet_pair)
            && !(handler == "forward" && listener == "udp")
        {
            let (key, value) = if handler == packet_pair {
                ("listener.type", listener)
            } else {
                ("handler.type", handler)
            };
            return Err(ConfigError::invalid(
                s,
                key,
                value,
                format!("does not work here: handler and listener `{packet_pair}` go together"),
            ));
        }
    }
    Ok(())
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn check_forwarder(s: &str, svc: &ServiceConfig, handler: &str) -> Result<(), ConfigError> {
    let targets = svc.targets();
    if FORWARDING_HANDLERS.contains(&handler) && targets.is_empty() {
        return Err(ConfigError::invalid(
            s,
            "forwarder.nodes",
            "",
            format!(
                "is empty; handler `{handler}` forwards to targets (command line: `{handler}://:PORT/HOST:PORT`)"
            ),
        ));
    }
    for (i, t) in targets.iter().enumerate() {
        split_host_ports(&t.addr, false)
            .ok()
            .filter(|hp| hp.first == hp.last)
            .ok_or_else(|| {
                ConfigError::invalid(
                    s,
                    format!("forwarder.nodes[{i}].addr"),
                    &t.addr,
                    "is not a valid target; expected host:port (host may be empty)",
                )
            })?;
    }
    if let Some(sel) = svc.forwarder.as_ref().and_then(|f| f.selector.as_ref()) {
        check_selector(s, "forwarder.selector", sel)?;
    }
    Ok(())
}

fn check_chain_refs(
    config: &Config,
    s: &str,
    svc: &ServiceConfig,
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    for (key, chain) in [
        ("handler.chain", &svc.handler.chain),
        ("listener.chain", &svc.listener.chain),
    ] {
        if let Some(name) = chain
            && config.chain(name).is_none()
        {
            let known: Vec<&str> = config.chains.iter().map(|c| c.name.as_str()).collect();
            return Err(ConfigError::invalid(
                s,
                key,
                name,
                format!("is not a defined chain (defined: {})", list_or_none(&known)),
            ));
        }
    }
    let remote = matches!(svc.listener.kind.as_str(), "rtcp" | "rudp");
    if svc.listener.chain.is_some() && !remote {
        if svc.handler.chain.is_some() {
            warnings.push(Warning::new(
                format!("{s}: listener.chain"),
                "ignored: only rtcp/rudp listeners bind through a chain",
            ));
        } else {
            warnings.push(Warning::new(
                format!("{s}: listener.chain"),
                "used as the handler's chain (prefer handler.chain)",
            ));
        }
    }
    if remote && svc.handler.chain.is_some() && svc.listener.chain.is_none() {
        warnings.push(Warning::new(
            format!("{s}: handler.chain"),
            "rtcp/rudp bind through listener.chain; handler.chain only dials the targets",
        ));
    }
    Ok(())
}

fn check_auth(s: &str, key: &str, auth: &AuthConfig) -> Result<(), ConfigError> {
    if auth.username.is_empty() {
        return Err(ConfigError::invalid(
            s,
            format!("{key}.username"),
            "",
            "is missing; a credential needs a user name",
        ));
    }
    Ok(())
}

/// A connector's credential: a user name, or a file to read it from (not both).
fn check_connector_auth(s: &str, auth: &AuthConfig) -> Result<(), ConfigError> {
    let Some(file) = &auth.file else {
        return check_auth(s, "connector.auth", auth);
    };
    if file.is_empty() {
        return Err(ConfigError::invalid(
            s,
            "connector.auth.file",
            "",
            "a file path is required",
        ));
    }
    if !auth.username.is_empty() || !auth.password.is_empty() {
        return Err(ConfigError::invalid(
            s,
            "connector.auth.file",
            file,
            "is given together with username/password; set one or the other",
        ));
    }
    Ok(())
}

/// A server-side credential without a password accepts any password for its user, as upstream's auther
/// does (`socks5://user@:1080`). That is legal but rarely meant, so it is said at start.
fn warn_any_password(s: &str, key: &str, auth: &AuthConfig, warnings: &mut Vec<Warning>) {
    if auth.password.is_empty() {
        warnings.push(Warning::new(
            format!("{s}: {key}.password"),
            format!(
                "user `{}` has no password, so ANY password is accepted for it (as upstream); \
                 give one (user:password@) to require it",
                auth.username
            ),
        ));
    }
}

fn check_tls_files(s: &str, key: &str, tls: &TlsConfig, server: bool) -> Result<(), ConfigError> {
    for (name, file) in [
        ("certFile", &tls.cert_file),
        ("keyFile", &tls.key_file),
        ("caFile", &tls.ca_file),
    ] {
        if let Some(path) = file
            && !Path::new(path).is_file()
        {
            return Err(ConfigError::invalid(
                s,
                format!("{key}.{name}"),
                path,
                "does not exist or is not a file",
            ));
        }
    }
    match (&tls.cert_file, &tls.key_file) {
        (Some(_), None) => Err(ConfigError::invalid(
            s,
            format!("{key}.keyFile"),
            "",
            "is missing; certFile needs its private key",
        )),
        (None, Some(_)) => Err(ConfigError::invalid(
            s,
            format!("{key}.certFile"),
            "",
            "is missing; keyFile needs its certificate",
        )),
        (None, None) if server && tls.ca_file.is_some() => Err(ConfigError::invalid(
            s,
            format!("{key}.certFile"),
            "",
            "is missing; caFile alone gives the server no certificate",
        )),
        _ => Ok(()),
    }
}

fn check_selector(s: &str, key: &str, sel: &SelectorConfig) -> Result<(), ConfigError> {
    check_choice(
        s,
        &format!("{key}.strategy"),
        sel.strategy.as_deref(),
        STRATEGIES,
    )?;
    if let Some(n) = sel.max_fails.filter(|n| *n < 0) {
        return Err(ConfigError::invalid(
            s,
            format!("{key}.maxFails"),
            n.to_string(),
            "must not be negative",
        ));
    }
    Ok(())
}

fn check_chain(chain: &ChainConfig, warnings: &mut Vec<Warning>) -> Result<(), ConfigError> {
    let cs = format!("chain `{}`", chain.name);
    require_entries(&cs, "hops", &chain.hops, "a chain needs at least one hop")?;
    for (hop_index, hop) in chain.hops.iter().enumerate() {
        let hs = format!("{cs} hop `{}`", hop.name);
        require_entries(&hs, "nodes", &hop.nodes, "a hop needs at least one node")?;
        if let Some(sel) = &hop.selector {
            check_selector(&hs, "selector", sel)?;
        }
        egress::check_hop(&hs, hop_index, hop, warnings)?;
        for node in &hop.nodes {
            let ns = format!("{hs} node `{}`", node.name);
            check_node(&ns, hop_index, node, warnings)?;
            egress::check_node(&ns, hop_index, hop, node, warnings)?;
        }
    }
    Ok(())
}

fn check_node(
    s: &str,
    hop_index: usize,
    node: &NodeConfig,
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    let (connector, dialer) = (node.connector.kind.as_str(), node.dialer.kind.as_str());
    check_type(
        s,
        "connector.type",
        connector,
        registry::CONNECTOR_TYPES,
        "connector type",
    )?;
    check_type(
        s,
        "dialer.type",
        dialer,
        registry::DIALER_TYPES,
        "dialer type",
    )?;
    require_addr(s, &node.addr, "host:port of the proxy")?;
    split_host_ports(&node.addr, false)
        .ok()
        .filter(|hp| hp.first == hp.last)
        .ok_or_else(|| {
            ConfigError::invalid(
                s,
                "addr",
                &node.addr,
                "is not valid; expected host:port with a port 1-65535",
            )
        })?;
    if dialer == "kcp" && hop_index > 0 {
        return Err(ConfigError::invalid(
            s,
            "dialer.type",
            dialer,
            "can only be used in the first hop (KCP runs over UDP, a chain carries TCP)",
        ));
    }
    if let Some(auth) = &node.connector.auth {
        check_connector_auth(s, auth)?;
        if matches!(connector, "socks4" | "socks4a") && !auth.password.is_empty() {
            warnings.push(Warning::new(
                format!("{s}: connector.auth.password"),
                "not sent: SOCKS4 carries only the user id",
            ));
        }
    }
    for (key, tls) in [
        ("connector.tls", &node.connector.tls),
        ("dialer.tls", &node.dialer.tls),
    ] {
        if let Some(tls) = tls {
            check_tls_files(s, key, tls, false)?;
        }
    }
    components::check_node_metadata(s, node, warnings)
}

/// Which sockets a service opens locally, for conflict detection.
fn local_socket(svc: &ServiceConfig) -> Option<(&'static str, String, u16)> {
    let family = match svc.listener.kind.as_str() {
        "udp" | "kcp" => "udp",
        // Remote listeners bind on the far side when they have a chain.
        "rtcp" | "rudp" if svc.listener.chain.is_some() => return None,
        "rudp" => "udp",
        _ => "tcp",
    };
    let hp = split_host_ports(&svc.addr, true).ok()?;
    if hp.first == 0 {
        return None;
    }
    let host = hp
        .host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let host = if matches!(host.as_str(), "" | "0.0.0.0" | "::") {
        String::new()
    } else {
        host
    };
    Some((family, host, hp.first))
}

fn check_conflicts(services: &[ServiceConfig]) -> Result<(), ConfigError> {
    let sockets: Vec<_> = services.iter().map(|s| (s, local_socket(s))).collect();
    for (i, (svc, a)) in sockets.iter().enumerate() {
        let Some((fam, host, port)) = a else { continue };
        for (other, b) in &sockets[..i] {
            let Some((fam2, host2, port2)) = b else {
                continue;
            };
            if fam == fam2
                && port == port2
                && (host == host2 || host.is_empty() || host2.is_empty())
            {
                return Err(ConfigError::invalid(
                    format!("service `{}`", svc.name),
                    "addr",
                    &svc.addr,
                    format!(
                        "conflicts with service `{}` ({}, both {fam}); use another port",
                        other.name, other.addr
                    ),
                ));
            }
        }
    }
    Ok(())
}
