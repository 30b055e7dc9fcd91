//! `-L`: one argument to one service per listen port (gost-wire §8.2).

use super::query::*;
use crate::error::{ConfigError, Warning};
use crate::model::*;
use crate::registry;
use crate::url;

const FLAG: &str = "-L";

/// Listener types whose name is also the handler of a forwarding service (`tcp://:1/:2`).
const OWN_HANDLER: &[&str] = &[
    "tcp", "udp", "rtcp", "rudp", "tun", "tap", "dns", "unix", "runix", "serial",
];

/// Most services times forwarding targets the `-L` arguments of one command line may expand to
/// through port ranges. A range is meant for a handful of ports; each entry becomes a config object
/// (and a few dozen YAML nodes when printed with `-O`), and a slip such as
/// `tcp://:1-65535/host:1-65535` would otherwise ask for four billion of them and exhaust memory.
pub(super) const MAX_EXPANSION: usize = 4096;

/// Service-level keys upstream keeps in the service metadata.
const SERVICE_KEYS: &[&str] = &["interface", "so_mark", "proxyProtocol", "netns"];

/// The services of one `-L` argument (several for a port range), not yet named, and the service-wide
/// connection limit of `?climiter=N` (upstream turns it into a `climiters:` entry `$ N`).
/// What `?admission=`, `?bypass=` on one `-L` ask for: `(whitelist, matchers)` of each.
/// `?limiter.in=…` (and `out`, `conn.in`, `conn.out`) as the lines of a `limiters:` entry, and
/// `?rlimiter=N` as the line of an `rlimiters:` entry (empty: not asked for).
pub(super) struct Lists {
    pub(super) admission: Option<(bool, Vec<String>)>,
    pub(super) bypass: Option<(bool, Vec<String>)>,
    /// `?hosts=`: the mappings of the service's own hosts table.
    pub(super) hosts: Option<Vec<HostMappingConfig>>,
    pub(super) limiter: Vec<String>,
    pub(super) rlimiter: Vec<String>,
    /// `?resolver=`: the nameservers of the service's own resolver.
    pub(super) resolver: Option<Vec<String>>,
}

/// `room`: how many more entries (services × forwarding targets) the command line may expand to;
/// what this argument takes is subtracted.
pub(super) fn build_services(
    arg: &str,
    room: &mut usize,
    warnings: &mut Vec<Warning>,
) -> Result<(Vec<ServiceConfig>, Option<usize>, Lists), ConfigError> {
    let (u, mut md, auth) = parse_common(FLAG, arg)?;
    let (handler, listener) = kinds(arg, &u.scheme)?;
    let ports = url::split_host_ports(&u.host, true).map_err(|m| url_err(FLAG, arg, m))?;
    if ports.len() > *room {
        return Err(too_many(arg));
    }
    let targets = targets(arg, &u.path, *room / ports.len())?;
    *room -= ports.len() * targets.len().max(1);
    let handler = match targets.is_empty() || handler == "relay" {
        true => handler,
        false if OWN_HANDLER.contains(&listener.as_str()) => listener.clone(),
        false => "forward".to_owned(),
    };
    let tls = listener_tls(arg, &mut md)?;
    let selector = take_selector(&mut md).map_err(|m| url_err(FLAG, arg, m))?;
    let climit = take_climit(arg, &mut md)?;
    let lists = Lists {
        admission: take_list(FLAG, arg, &mut md, "admission")?,
        bypass: take_list(FLAG, arg, &mut md, "bypass")?,
        hosts: take_hosts(FLAG, arg, &mut md)?,
        limiter: take_limiter(&mut md),
        rlimiter: take_string(&mut md, &["rlimiter"])
            .map(|n| vec![format!("$ {n}")])
            .unwrap_or_default(),
        resolver: take_resolver(&mut md),
    };
    drop_unsupported(FLAG, arg, &mut md, warnings)?;

    let mut svc = ServiceConfig {
        handler: HandlerConfig {
            kind: handler.clone(),
            auth,
            ..Default::default()
        },
        listener: ListenerConfig {
            kind: listener.clone(),
            tls,
            ..Default::default()
        },
        ..Default::default()
    };
    take_prefixed(&mut md, "service.", &mut svc.metadata);
    take_prefixed(&mut md, "handler.", &mut svc.handler.metadata);
    take_prefixed(&mut md, "listener.", &mut svc.listener.metadata);
    for key in SERVICE_KEYS {
        if let Some(v) = md.remove(key) {
            svc.metadata.insert(*key, v);
        }
    }
    let mut components = [
        Target::new(&mut svc.handler.metadata, registry::handler_keys(&handler)),
        Target::new(
            &mut svc.listener.metadata,
            registry::listener_keys(&listener),
        ),
    ];
    let everywhere = &mut [&mut svc.metadata];
    route(FLAG, arg, md, &mut components, everywhere, warnings)?;
    if !targets.is_empty() {
        svc.forwarder = Some(ForwarderConfig {
            selector,
            nodes: targets,
        });
    } else if selector.is_some() {
        warnings.push(Warning::new(
            format!("{FLAG} {arg}"),
            "selector options without forwarding targets; ignored",
        ));
    }
    let services = ports
        .addrs()
        .map(|addr| ServiceConfig {
            addr,
            ..svc.clone()
        })
        .collect();
    Ok((services, climit, lists))
}

/// `limiter.in`/`limiter.out` (the service, `$`) and `limiter.conn.in`/`limiter.conn.out` (each
/// connection, `$$`) as `limits:` lines, as upstream builds them; a missing rate is written as 0 (no
/// limit). The values are checked where the lines are read.
fn take_limiter(md: &mut crate::Metadata) -> Vec<String> {
    let mut lines = Vec::new();
    for (scope, prefix) in [("$", "limiter"), ("$$", "limiter.conn")] {
        let input = take_string(md, &[&format!("{prefix}.in")]);
        let output = take_string(md, &[&format!("{prefix}.out")]);
        if input.is_some() || output.is_some() {
            let rate = |r: Option<String>| r.unwrap_or_else(|| "0".into());
            lines.push(format!("{scope} {} {}", rate(input), rate(output)));
        }
    }
    lines
}

/// `climiter=N`: a positive N limits the service; 0 or below means no limit, as upstream.
fn take_climit(arg: &str, md: &mut crate::Metadata) -> Result<Option<usize>, ConfigError> {
    let n = md
        .get_int(&["climiter"])
        .map_err(|e| url_err(FLAG, arg, e.to_string()))?;
    md.remove("climiter");
    Ok(n.and_then(|n| usize::try_from(n).ok()).filter(|n| *n > 0))
}

/// Handler and listener types from the scheme ([`split_kinds`], under the `auto` handler). Upstream
/// silently falls back to `auto` for a name that is neither; here validation points at it.
fn kinds(arg: &str, scheme: &str) -> Result<(String, String), ConfigError> {
    let registries = (registry::UPSTREAM_HANDLERS, registry::UPSTREAM_LISTENERS);
    split_kinds(FLAG, arg, scheme, registries, "auto")
}

/// Forwarding targets from the path: a comma list, each possibly a port range; at most `max` of them
/// (what is left of [`MAX_EXPANSION`] for each listen port).
fn targets(arg: &str, path: &str, max: usize) -> Result<Vec<ForwardNodeConfig>, ConfigError> {
    let mut targets = Vec::new();
    for target in path.split(',').filter(|t| !t.is_empty()) {
        let hp = url::split_host_ports(target, false)
            .map_err(|m| url_err(FLAG, arg, format!("forwarding target `{target}`: {m}")))?;
        if targets.len() + hp.len() > max {
            return Err(too_many(arg));
        }
        for addr in hp.addrs() {
            targets.push(ForwardNodeConfig {
                name: format!("target-{}", targets.len()),
                addr,
            });
        }
    }
    Ok(targets)
}

fn too_many(arg: &str) -> ConfigError {
    url_err(
        FLAG,
        arg,
        format!(
            "port ranges of the -L arguments expand to more than {MAX_EXPANSION} services × \
             forwarding targets; use smaller ranges"
        ),
    )
}

/// `listener.tls` from the certificate keys; only a certificate makes one.
fn listener_tls(arg: &str, md: &mut crate::Metadata) -> Result<Option<TlsConfig>, ConfigError> {
    let (cert, key, ca) = take_tls_files(md);
    if cert.is_none() && (key.is_some() || ca.is_some()) {
        return Err(url_err(
            FLAG,
            arg,
            "keyFile/caFile given without certFile (the listener needs a certificate)",
        ));
    }
    Ok(cert.map(|cert| TlsConfig {
        cert_file: Some(cert),
        key_file: key,
        ca_file: ca,
        ..Default::default()
    }))
}
