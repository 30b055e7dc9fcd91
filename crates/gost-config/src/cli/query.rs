//! Helpers shared by the `-L` and `-F` mappings: splitting the scheme, reading and removing query
//! keys, credentials, selector keys, and routing the remaining keys to the metadata maps that read them.

use serde_json::Value;

use crate::error::{ConfigError, Warning};
use crate::metadata::{Metadata, parse_go_bool};
use crate::model::{AuthConfig, HostMappingConfig, SelectorConfig};
use crate::registry::{self, KeyKind, KeySpec};
use crate::url::{self, CmdUrl};

pub(super) fn url_err(flag: &'static str, arg: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Url {
        flag,
        arg: arg.to_owned(),
        message: message.into(),
    }
}

/// Splits `a+b` (or a single name, resolved with `resolve_single`).
pub(super) fn split_scheme<'a>(
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

/// The two component types a scheme names (`-L`: handler and listener; `-F`: connector and dialer). A
/// single name is the first component if upstream has one of that name (`firsts`), the second being the
/// same name if that is one of `seconds`, else `tcp`; otherwise it is the second component under
/// `default_first`. A name that is neither is kept as the first so validation can point at it.
pub(super) fn split_kinds(
    flag: &'static str,
    arg: &str,
    scheme: &str,
    (firsts, seconds): (&[&str], &[&str]),
    default_first: &str,
) -> Result<(String, String), ConfigError> {
    let (first, second) = split_scheme(flag, arg, scheme)?;
    let (first, second) = match second {
        Some(second) => (first, second),
        None if firsts.contains(&first) => {
            let second = if seconds.contains(&first) {
                first
            } else {
                "tcp"
            };
            (first, second)
        }
        None if seconds.contains(&first) => (default_first, first),
        None => (first, "tcp"),
    };
    Ok((first.to_owned(), second.to_owned()))
}

/// Query pairs as a metadata map; the first value of a repeated key wins, as in upstream.
pub(super) fn query_map(u: &CmdUrl) -> Metadata {
    let mut md = Metadata::new();
    for (k, v) in &u.query {
        if md.get(k).is_none() {
            md.insert(k.clone(), Value::String(v.clone()));
        }
    }
    md
}

pub(super) fn take_string(md: &mut Metadata, keys: &[&str]) -> Option<String> {
    let found = md.lookup(keys).map(|(_, v)| crate::metadata::render(v));
    for k in keys {
        md.remove(k);
    }
    found.filter(|s| !s.is_empty())
}

pub(super) fn decode_auth(
    flag: &'static str,
    arg: &str,
    b64: &str,
) -> Result<AuthConfig, ConfigError> {
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
        file: None,
    })
}

pub(super) fn user_auth(u: &CmdUrl) -> Option<AuthConfig> {
    u.user.as_ref().map(|(name, pass)| AuthConfig {
        username: name.clone(),
        password: pass.clone().unwrap_or_default(),
        file: None,
    })
}

pub(super) fn take_selector(md: &mut Metadata) -> Result<Option<SelectorConfig>, String> {
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
pub(super) fn typed(kind: KeyKind, value: Value) -> Value {
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
pub(super) struct Target<'a> {
    pub md: &'a mut Metadata,
    pub specs: Vec<KeySpec>,
}

impl<'a> Target<'a> {
    pub(super) fn new(md: &'a mut Metadata, specs: Vec<KeySpec>) -> Target<'a> {
        Target { md, specs }
    }
}

/// Routes the remaining unprefixed keys. `everywhere` maps receive keys no target reads.
pub(super) fn route(
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
pub(super) fn take_prefixed(md: &mut Metadata, prefix: &str, dest: &mut Metadata) {
    let keys: Vec<String> = md
        .iter()
        .map(|(k, _)| k.to_owned())
        .filter(|k| {
            k.len() > prefix.len()
                && k.get(..prefix.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
        })
        .collect();
    for k in keys {
        if let Some(v) = md.remove(&k) {
            dest.insert(&k[prefix.len()..], v);
        }
    }
}

/// Upstream objects the command line can create that gost-rs does not implement and that neither
/// grant nor restrict access: ignored with a warning.
const UNSUPPORTED_OBJECTS: &[&str] = &["retries"];

/// Drops the options of [`UNSUPPORTED_OBJECTS`] with a warning, and refuses the access-control options
/// gost-rs does not implement ([`registry::ACCESS_KEYS`]): running without them would leave the service
/// more open than the command line asks (fail closed).
pub(super) fn drop_unsupported(
    flag: &'static str,
    arg: &str,
    md: &mut Metadata,
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    if let Some(key) = md.iter().map(|(k, _)| k).find_map(registry::access_key) {
        return Err(ConfigError::AccessNotBuilt {
            path: format!("{flag} {arg}"),
            option: key.to_owned(),
        });
    }
    for key in UNSUPPORTED_OBJECTS {
        if md.remove(key).is_some() {
            warnings.push(Warning::unsupported(
                format!("{flag} {arg}"),
                format!("option `{key}` is not supported yet; ignored"),
            ));
        }
    }
    Ok(())
}

/// The parts every argument has: its URL, its query as metadata (credentials removed), and the
/// credentials from `user:pass@` or `?auth=`.
pub(super) fn parse_common(
    flag: &'static str,
    arg: &str,
) -> Result<(CmdUrl, Metadata, Option<AuthConfig>), ConfigError> {
    let mut u = url::parse(arg).map_err(|m| url_err(flag, arg, m))?;
    if u.scheme == "https" {
        u.scheme = "http+tls".into();
    }
    let mut md = query_map(&u);
    let mut auth = user_auth(&u);
    if let Some(b64) = take_string(&mut md, &["auth"]) {
        auth = Some(decode_auth(flag, arg, &b64)?);
    }
    Ok((u, md, auth))
}

/// Removes the certificate keys (`certFile|cert|tls.certFile`, …): `(cert, key, ca)`.
pub(super) fn take_tls_files(
    md: &mut Metadata,
) -> (Option<String>, Option<String>, Option<String>) {
    (
        take_string(md, &["tls.certFile", "certFile", "cert"]),
        take_string(md, &["tls.keyFile", "keyFile", "key"]),
        take_string(md, &["tls.caFile", "caFile", "ca"]),
    )
}

/// Removes a boolean key, rejecting values that are not booleans.
pub(super) fn take_bool(
    flag: &'static str,
    arg: &str,
    md: &mut Metadata,
    keys: &[&str],
) -> Result<bool, ConfigError> {
    match take_string(md, keys) {
        Some(v) => parse_go_bool(&v).ok_or_else(|| {
            url_err(
                flag,
                arg,
                format!(
                    "{} `{v}` is not a boolean (true/false)",
                    keys[keys.len() - 1]
                ),
            )
        }),
        None => Ok(false),
    }
}

/// `hosts=example.org:127.0.0.1,example.org:::1`: name and IP split at the first `:` (upstream's
/// form); each becomes one `mappings:` entry of a new `hosts:` table.
pub(super) fn take_hosts(
    flag: &'static str,
    arg: &str,
    md: &mut Metadata,
) -> Result<Option<Vec<HostMappingConfig>>, ConfigError> {
    let Some(v) = take_string(md, &["hosts"]) else {
        return Ok(None);
    };
    let mut mappings = Vec::new();
    for item in v.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (hostname, ip) = item
            .split_once(':')
            .filter(|(h, ip)| !h.is_empty() && ip.parse::<std::net::IpAddr>().is_ok())
            .ok_or_else(|| {
                url_err(
                    flag,
                    arg,
                    format!("hosts entry `{item}` is not name:IP (e.g. example.org:127.0.0.1)"),
                )
            })?;
        mappings.push(HostMappingConfig {
            ip: ip.to_owned(),
            hostname: hostname.to_owned(),
            aliases: Vec::new(),
        });
    }
    Ok(Some(mappings).filter(|m| !m.is_empty()))
}

/// `resolver=1.1.1.1,tcp://8.8.8.8`: the nameservers of a new `resolvers:` entry, in order.
pub(super) fn take_resolver(md: &mut Metadata) -> Option<Vec<String>> {
    let v = take_string(md, &["resolver"])?;
    let addrs: Vec<String> = v
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    Some(addrs).filter(|a| !a.is_empty())
}

/// `admission=~a,b` / `bypass=…`: comma-separated entries, a leading `~` for whitelist mode (upstream).
pub(super) fn take_list(
    flag: &'static str,
    arg: &str,
    md: &mut Metadata,
    key: &str,
) -> Result<Option<(bool, Vec<String>)>, ConfigError> {
    let v = md
        .get_string(&[key])
        .map_err(|e| url_err(flag, arg, e.to_string()))?;
    md.remove(key);
    Ok(v.filter(|v| !v.is_empty()).map(|v| {
        let (whitelist, rest) = match v.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, v.as_str()),
        };
        let matchers = rest
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect();
        (whitelist, matchers)
    }))
}
