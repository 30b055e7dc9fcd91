//! The `-L` (service) and `-F` (chain node) command-line forms mapped onto the same [`Config`] a
//! YAML file produces (gost-wire §8.2, §8.3).
//!
//! Query keys are routed like upstream (TLS keys to `tls`, selector keys to the selector,
//! `handler.`/`listener.`/`service.`/`hop.`/`node.`/`connector.`/`dialer.` prefixes to that map) with
//! one refinement: an unprefixed key goes only to the components that read it (`udp` to a `socks5`
//! handler, `path` to a `ws` listener), where upstream copies it into every map and lets each
//! component ignore what it does not read. Keys no supported component reads are still copied
//! everywhere, as upstream does. Values of boolean and integer keys become YAML booleans and
//! integers, so `-O yaml` prints what one would write by hand.

use serde_json::Value;

use crate::error::{ConfigError, Warning};
use crate::metadata::{Metadata, parse_go_bool};
use crate::model::*;
use crate::registry::{self, KeyKind, KeySpec};
use crate::url::{self, CmdUrl};

/// Builds a config from `-L` and `-F` arguments, in order.
///
/// All `-F` arguments form one chain `chain-0` (one hop per `-F`); every service uses it.
///
/// ```
/// let (config, _warnings) = gost_config::from_cli(&["socks5://user:pass@:1080?udp=true"], &[] as &[&str]).unwrap();
/// let svc = &config.services[0];
/// assert_eq!((svc.name.as_str(), svc.addr.as_str(), svc.handler.kind.as_str()), ("service-0", ":1080", "socks5"));
/// assert_eq!(svc.handler.auth.as_ref().unwrap().password, "pass");
/// ```
pub fn from_cli(
    services: &[impl AsRef<str>],
    nodes: &[impl AsRef<str>],
) -> Result<(Config, Vec<Warning>), ConfigError> {
    let mut config = Config::default();
    let mut warnings = Vec::new();
    if !nodes.is_empty() {
        let mut chain = ChainConfig {
            name: "chain-0".into(),
            ..Default::default()
        };
        for (i, arg) in nodes.iter().enumerate() {
            chain.hops.push(build_hop(arg.as_ref(), i, &mut warnings)?);
        }
        config.chains.push(chain);
    }
    for arg in services {
        for mut svc in build_services(arg.as_ref(), &mut warnings)? {
            svc.name = format!("service-{}", config.services.len());
            if !config.chains.is_empty() {
                if matches!(svc.listener.kind.as_str(), "rtcp" | "rudp" | "runix") {
                    svc.listener.chain = Some("chain-0".into());
                } else {
                    svc.handler.chain = Some("chain-0".into());
                }
            }
            config.services.push(svc);
        }
    }
    crate::load::fill_defaults(&mut config);
    Ok((config, warnings))
}

fn url_err(flag: &'static str, arg: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Url {
        flag,
        arg: arg.to_owned(),
        message: message.into(),
    }
}

/// Splits `a+b` (or a single name, resolved with `resolve_single`).
fn split_scheme<'a>(
    flag: &'static str,
    arg: &str,
    scheme: &'a str,
) -> Result<(&'a str, Option<&'a str>), ConfigError> {
    let mut parts = scheme.split('+');
    let first = parts.next().unwrap_or_default();
    let second = parts.next();
    if parts.next().is_some() || first.is_empty() || second == Some("") {
        return Err(url_err(
            flag,
            arg,
            format!("scheme `{scheme}` must be `name` or `name+transport`"),
        ));
    }
    Ok((first, second))
}

/// Query pairs as a metadata map; the first value of a repeated key wins, as in upstream.
fn query_map(u: &CmdUrl) -> Metadata {
    let mut md = Metadata::new();
    for (k, v) in &u.query {
        if md.get(k).is_none() {
            md.insert(k.clone(), Value::String(v.clone()));
        }
    }
    md
}

fn take_string(md: &mut Metadata, keys: &[&str]) -> Option<String> {
    let found = md.lookup(keys).map(|(_, v)| crate::metadata::render(v));
    for k in keys {
        md.remove(k);
    }
    found.filter(|s| !s.is_empty())
}

fn decode_auth(flag: &'static str, arg: &str, b64: &str) -> Result<AuthConfig, ConfigError> {
    let bytes = url::base64_decode(b64).ok_or_else(|| {
        url_err(
            flag,
            arg,
            format!("auth `{b64}` is not base64 of user:pass"),
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        url_err(
            flag,
            arg,
            format!("auth `{b64}` does not decode to UTF-8 text"),
        )
    })?;
    let (username, password) = text.split_once(':').unwrap_or((&text, ""));
    Ok(AuthConfig {
        username: username.into(),
        password: password.into(),
    })
}

fn user_auth(u: &CmdUrl) -> Option<AuthConfig> {
    u.user.as_ref().map(|(name, pass)| AuthConfig {
        username: name.clone(),
        password: pass.clone().unwrap_or_default(),
    })
}

fn take_selector(md: &mut Metadata) -> Result<Option<SelectorConfig>, String> {
    let strategy = take_string(md, &["strategy"]);
    let max_fails = take_string(md, &["maxFails", "max_fails"]);
    let fail_timeout = take_string(md, &["failTimeout", "fail_timeout"]);
    if strategy.is_none() && max_fails.is_none() && fail_timeout.is_none() {
        return Ok(None);
    }
    let max_fails = match max_fails {
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| format!("maxFails `{v}` is not an integer"))?,
        None => 1,
    };
    let fail_timeout = match fail_timeout {
        Some(v) => {
            let mut probe = Metadata::new();
            probe.insert("failTimeout", Value::String(v));
            probe
                .get_duration(&["failTimeout"])
                .map_err(|e| e.to_string())?
                .unwrap_or_default()
        }
        None => std::time::Duration::ZERO,
    };
    // Upstream's command-line selector fills the gaps with round robin, 1 failure, 30 s.
    Ok(Some(SelectorConfig {
        strategy: Some(strategy.unwrap_or_else(|| "round".into())),
        max_fails: Some(if max_fails <= 0 { 1 } else { max_fails }),
        fail_timeout: Some(if fail_timeout.is_zero() {
            std::time::Duration::from_secs(30)
        } else {
            fail_timeout
        }),
    }))
}

/// Converts a command-line string to the value kind its key has (bool/int), when it parses.
fn typed(kind: KeyKind, value: Value) -> Value {
    let Value::String(s) = &value else {
        return value;
    };
    match kind {
        KeyKind::Bool => parse_go_bool(s).map_or(value, Value::Bool),
        KeyKind::Int | KeyKind::Size => s.parse::<i64>().map_or(value, Value::from),
        _ => value,
    }
}

/// One destination map of unprefixed keys: the map and the keys its component reads.
struct Target<'a> {
    md: &'a mut Metadata,
    specs: Vec<KeySpec>,
}

/// Routes the remaining unprefixed keys. `everywhere` maps receive keys no target reads.
fn route(
    flag: &'static str,
    arg: &str,
    rest: Metadata,
    targets: &mut [Target<'_>],
    everywhere: &mut [&mut Metadata],
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    for (key, value) in rest.iter() {
        let mut used = false;
        for t in targets.iter_mut() {
            if let Some((spec, canonical)) = registry::find_key(&t.specs, key) {
                t.md.insert(canonical, typed(spec.kind, value.clone()));
                used = true;
            }
        }
        if used {
            continue;
        }
        if !registry::is_known_key(key)
            && let Some(s) = registry::suggest_key(key)
        {
            return Err(url_err(
                flag,
                arg,
                format!("unknown option `{key}`; did you mean `{s}`?"),
            ));
        }
        let warn = if registry::is_upstream_only_key(key) {
            Warning::unsupported
        } else if registry::is_known_key(key) {
            Warning::new
        } else {
            Warning::unknown
        };
        warnings.push(warn(
            format!("{flag} {arg}"),
            format!(
                "option `{key}` is not used by any component of this {}; kept as metadata",
                match flag {
                    "-L" => "service",
                    _ => "node",
                }
            ),
        ));
        for t in targets.iter_mut() {
            t.md.insert(key, value.clone());
        }
        for md in everywhere.iter_mut() {
            md.insert(key, value.clone());
        }
    }
    Ok(())
}

/// Moves keys with `prefix.` into `dest` (prefix stripped).
fn take_prefixed(md: &mut Metadata, prefix: &str, dest: &mut Metadata) {
    let keys: Vec<String> = md
        .iter()
        .map(|(k, _)| k.to_owned())
        .filter(|k| k.len() > prefix.len() && k[..prefix.len()].eq_ignore_ascii_case(prefix))
        .collect();
    for k in keys {
        if let Some(v) = md.remove(&k) {
            dest.insert(&k[prefix.len()..], v);
        }
    }
}

/// Upstream objects the command line can create that gost-rs does not implement.
const UNSUPPORTED_OBJECTS: &[&str] = &[
    "bypass",
    "admission",
    "resolver",
    "hosts",
    "limiter.in",
    "limiter.out",
    "limiter.conn.in",
    "limiter.conn.out",
    "climiter",
    "rlimiter",
    "retries",
];

fn drop_unsupported(flag: &'static str, arg: &str, md: &mut Metadata, warnings: &mut Vec<Warning>) {
    for key in UNSUPPORTED_OBJECTS {
        if md.remove(key).is_some() {
            warnings.push(Warning::unsupported(
                format!("{flag} {arg}"),
                format!("option `{key}` is not supported yet; ignored"),
            ));
        }
    }
}

fn build_services(
    arg: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<ServiceConfig>, ConfigError> {
    const FLAG: &str = "-L";
    let mut u = url::parse(arg).map_err(|m| url_err(FLAG, arg, m))?;
    if u.scheme == "https" {
        u.scheme = "http+tls".into();
    }
    let (first, second) = split_scheme(FLAG, arg, &u.scheme)?;
    let (mut handler, listener) = match second {
        Some(l) => (first.to_owned(), l.to_owned()),
        None if registry::UPSTREAM_HANDLERS.contains(&first) => {
            let l = if registry::UPSTREAM_LISTENERS.contains(&first) {
                first
            } else {
                "tcp"
            };
            (first.to_owned(), l.to_owned())
        }
        None if registry::UPSTREAM_LISTENERS.contains(&first) => {
            ("auto".to_owned(), first.to_owned())
        }
        // Neither a handler nor a listener upstream: keep it so validation can name it.
        None => (first.to_owned(), "tcp".to_owned()),
    };
    let ports = url::split_host_ports(&u.host, true).map_err(|m| url_err(FLAG, arg, m))?;

    let mut targets = Vec::new();
    if !u.path.is_empty() {
        for target in u.path.split(',') {
            let hp = url::split_host_ports(target, false)
                .map_err(|m| url_err(FLAG, arg, format!("forwarding target `{target}`: {m}")))?;
            for addr in hp.addrs() {
                targets.push(ForwardNodeConfig {
                    name: format!("target-{}", targets.len()),
                    addr,
                });
            }
        }
        const OWN_HANDLER: &[&str] = &[
            "tcp", "udp", "rtcp", "rudp", "tun", "tap", "dns", "unix", "runix", "serial",
        ];
        if handler != "relay" {
            handler = if OWN_HANDLER.contains(&listener.as_str()) {
                listener.clone()
            } else {
                "forward".into()
            };
        }
    }

    let mut md = query_map(&u);
    let mut auth = user_auth(&u);
    if let Some(b64) = take_string(&mut md, &["auth"]) {
        auth = Some(decode_auth(FLAG, arg, &b64)?);
    }
    let cert = take_string(&mut md, &["tls.certFile", "certFile", "cert"]);
    let key = take_string(&mut md, &["tls.keyFile", "keyFile", "key"]);
    let ca = take_string(&mut md, &["tls.caFile", "caFile", "ca"]);
    if cert.is_none() && (key.is_some() || ca.is_some()) {
        return Err(url_err(
            FLAG,
            arg,
            "keyFile/caFile given without certFile (the listener needs a certificate)",
        ));
    }
    let tls = cert.map(|cert| TlsConfig {
        cert_file: Some(cert),
        key_file: key,
        ca_file: ca,
        ..Default::default()
    });
    let selector = take_selector(&mut md).map_err(|m| url_err(FLAG, arg, m))?;
    drop_unsupported(FLAG, arg, &mut md, warnings);

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
    for key in ["interface", "so_mark", "proxyProtocol", "netns"] {
        if let Some(v) = md.remove(key) {
            svc.metadata.insert(key, v);
        }
    }
    route(
        FLAG,
        arg,
        md,
        &mut [
            Target {
                md: &mut svc.handler.metadata,
                specs: registry::handler_keys(&handler),
            },
            Target {
                md: &mut svc.listener.metadata,
                specs: registry::listener_keys(&listener),
            },
        ],
        &mut [&mut svc.metadata],
        warnings,
    )?;
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
    Ok(ports
        .addrs()
        .map(|addr| ServiceConfig {
            addr,
            ..svc.clone()
        })
        .collect())
}

fn build_hop(
    arg: &str,
    index: usize,
    warnings: &mut Vec<Warning>,
) -> Result<HopConfig, ConfigError> {
    const FLAG: &str = "-F";
    let mut u = url::parse(arg).map_err(|m| url_err(FLAG, arg, m))?;
    if u.scheme == "https" {
        u.scheme = "http+tls".into();
    }
    let (first, second) = split_scheme(FLAG, arg, &u.scheme)?;
    let (connector, dialer) = match second {
        Some(d) => (first.to_owned(), d.to_owned()),
        None if registry::UPSTREAM_CONNECTORS.contains(&first) => {
            let d = if registry::UPSTREAM_DIALERS.contains(&first) {
                first
            } else {
                "tcp"
            };
            (first.to_owned(), d.to_owned())
        }
        None if first == "auto" => ("http".to_owned(), "tcp".to_owned()),
        None if registry::UPSTREAM_DIALERS.contains(&first) => {
            ("http".to_owned(), first.to_owned())
        }
        None => (first.to_owned(), "tcp".to_owned()),
    };
    if !u.path.is_empty() {
        return Err(url_err(
            FLAG,
            arg,
            format!(
                "unexpected path `/{}` (a node is scheme://host:port?options)",
                u.path
            ),
        ));
    }

    let mut md = query_map(&u);
    let mut auth = user_auth(&u);
    if let Some(b64) = take_string(&mut md, &["auth"]) {
        auth = Some(decode_auth(FLAG, arg, &b64)?);
    }
    let cert = take_string(&mut md, &["tls.certFile", "certFile", "cert"]);
    let key = take_string(&mut md, &["tls.keyFile", "keyFile", "key"]);
    let ca = take_string(&mut md, &["tls.caFile", "caFile", "ca"]);
    let secure = match take_string(&mut md, &["tls.secure", "secure"]) {
        Some(v) => parse_go_bool(&v).ok_or_else(|| {
            url_err(
                FLAG,
                arg,
                format!("secure `{v}` is not a boolean (true/false)"),
            )
        })?,
        None => false,
    };
    let server_name = take_string(&mut md, &["tls.serverName", "serverName"]);
    let any_tls =
        cert.is_some() || key.is_some() || ca.is_some() || secure || server_name.is_some();
    let selector = take_selector(&mut md).map_err(|m| url_err(FLAG, arg, m))?;
    drop_unsupported(FLAG, arg, &mut md, warnings);

    let mut hop = HopConfig {
        name: format!("hop-{index}"),
        selector,
        ..Default::default()
    };
    let mut node_md = Metadata::new();
    let mut template = NodeConfig {
        connector: ConnectorConfig {
            kind: connector.clone(),
            auth,
            ..Default::default()
        },
        dialer: DialerConfig {
            kind: dialer.clone(),
            ..Default::default()
        },
        ..Default::default()
    };
    take_prefixed(&mut md, "hop.", &mut hop.metadata);
    take_prefixed(&mut md, "node.", &mut node_md);
    take_prefixed(&mut md, "connector.", &mut template.connector.metadata);
    take_prefixed(&mut md, "dialer.", &mut template.dialer.metadata);
    route(
        FLAG,
        arg,
        md,
        &mut [
            Target {
                md: &mut template.connector.metadata,
                specs: registry::connector_keys(&connector),
            },
            Target {
                md: &mut template.dialer.metadata,
                specs: registry::dialer_keys(&dialer),
            },
        ],
        &mut [&mut hop.metadata, &mut node_md],
        warnings,
    )?;
    template.metadata = node_md;

    for addr in u.host.split(',') {
        let hp = url::split_host_ports(addr, false).map_err(|m| url_err(FLAG, arg, m))?;
        if hp.first != hp.last {
            return Err(url_err(
                FLAG,
                arg,
                format!("port range `{addr}` is not allowed for a node"),
            ));
        }
        let mut node = template.clone();
        node.name = format!("node-{}", hop.nodes.len());
        node.addr = addr.to_owned();
        if any_tls || matches!(dialer.as_str(), "tls" | "wss") {
            let host = hp.host.trim_start_matches('[').trim_end_matches(']');
            node.dialer.tls = Some(TlsConfig {
                cert_file: cert.clone(),
                key_file: key.clone(),
                ca_file: ca.clone(),
                secure,
                server_name: server_name
                    .clone()
                    .or_else(|| (!host.is_empty()).then(|| host.to_owned())),
            });
        }
        hop.nodes.push(node);
    }
    Ok(hop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cli(l: &[&str], f: &[&str]) -> Config {
        from_cli(l, f).unwrap().0
    }

    #[test]
    fn single_name_schemes() {
        let kinds = |arg: &str| {
            let c = cli(&[arg], &[]);
            (
                c.services[0].handler.kind.clone(),
                c.services[0].listener.kind.clone(),
            )
        };
        assert_eq!(kinds("socks5://:1080"), ("socks5".into(), "tcp".into()));
        assert_eq!(kinds("tls://:443"), ("auto".into(), "tls".into()));
        assert_eq!(kinds(":1080"), ("auto".into(), "tcp".into()));
        assert_eq!(kinds("udp://:53"), ("udp".into(), "udp".into()));
        assert_eq!(kinds("rtcp://:22/:22"), ("rtcp".into(), "rtcp".into()));
        assert_eq!(
            kinds("socks5+tls://:22/:22"),
            ("forward".into(), "tls".into())
        );
    }

    #[test]
    fn port_range_makes_one_service_per_port() {
        let c = cli(&["socks5://:8000-8002", "socks4://:9000"], &[]);
        let names: Vec<_> = c
            .services
            .iter()
            .map(|s| (s.name.as_str(), s.addr.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("service-0", ":8000"),
                ("service-1", ":8001"),
                ("service-2", ":8002"),
                ("service-3", ":9000")
            ]
        );
    }

    #[test]
    fn keys_go_where_they_are_read() {
        let c = cli(
            &["socks5+ws://:8080?path=/x&udp=true&foo=bar&listener.udp=1"],
            &[],
        );
        let s = &c.services[0];
        assert_eq!(s.handler.metadata.get("udp"), Some(&json!(true)));
        assert_eq!(s.listener.metadata.get("path"), Some(&json!("/x")));
        assert_eq!(s.listener.metadata.get("udp"), Some(&json!("1")));
        assert_eq!(s.metadata.get("foo"), Some(&json!("bar")));
        assert_eq!(s.handler.metadata.get("foo"), Some(&json!("bar")));
    }

    #[test]
    fn auth_from_query_overrides_userinfo() {
        let c = cli(&["socks5://a:b@:1080?auth=dXNlcjpwYXNz"], &[]);
        assert_eq!(
            c.services[0].handler.auth,
            Some(AuthConfig {
                username: "user".into(),
                password: "pass".into()
            })
        );
    }

    #[test]
    fn nodes_form_one_chain() {
        let c = cli(
            &[":1080"],
            &[
                "socks5+tls://u:p@h1:443,h2:443?notls=true&maxFails=3",
                "socks4://h3:1080",
            ],
        );
        let chain = &c.chains[0];
        assert_eq!(chain.hops.len(), 2);
        assert_eq!(chain.hops[0].nodes.len(), 2);
        assert_eq!(
            chain.hops[0].nodes[1]
                .dialer
                .tls
                .as_ref()
                .unwrap()
                .server_name
                .as_deref(),
            Some("h2")
        );
        assert_eq!(chain.hops[0].selector.as_ref().unwrap().max_fails, Some(3));
        assert_eq!(chain.hops[1].nodes[0].connector.kind, "socks4");
        assert_eq!(c.services[0].handler.chain.as_deref(), Some("chain-0"));
    }

    #[test]
    fn typo_in_option_is_an_error() {
        let err = from_cli(&["socks5://:1080?udpBuferSize=1"], &[] as &[&str])
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `udpBufferSize`"), "{err}");
    }
}
