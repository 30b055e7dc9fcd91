//! Key normalisation of a parsed YAML/JSON tree before it becomes a [`crate::Config`].
//!
//! Upstream reads files through viper, which lowercases every key, and mapstructure, which ignores keys
//! it does not know and converts scalars weakly (`addr: 1080`, `secure: "true"`). This module
//! reproduces that: it renames keys to their canonical spelling case-insensitively, coerces scalars,
//! drops keys upstream knows but gost-rs does not implement (with a warning), reports keys that look
//! like a typo of a known key as an error with a suggestion, and drops other unknown keys with a warning.

use serde_json::{Map, Value};

use crate::duration::{format_go_duration, parse_go_duration};
use crate::error::{ConfigError, Warning};
use crate::metadata::{parse_go_bool, render};
use crate::suggest::closest;

/// The shape a key's value must have.
enum Shape {
    Str,
    Bool,
    Int,
    Duration,
    StrList,
    Metadata,
    Obj(&'static Schema),
    List(&'static Schema),
}

/// The keys of one kind of map.
struct Schema {
    fields: &'static [(&'static str, Shape)],
    /// Keys upstream accepts here that gost-rs does not implement and that neither grant nor restrict
    /// access: ignored with a warning.
    upstream: &'static [&'static str],
    /// Keys upstream accepts here that grant or restrict access and that gost-rs does not implement:
    /// an error, because ignoring them would run the service more open than configured (fail closed).
    refused: &'static [&'static str],
}

/// A [`Schema`] written as its keys: `key: Shape` for each field, then the keys of `upstream` and
/// `refused`. Keys are Rust identifiers so that each table reads as one short block; `stringify!` gives
/// their exact spelling (`certFile`, `type`).
macro_rules! schema {
    (
        $($key:ident: $shape:ident $(($inner:expr))?),*
        $(; upstream: $($up:ident),*)?
        $(; refused: $($no:ident),*)?
    ) => {
        Schema {
            fields: &[$((stringify!($key), Shape::$shape $(($inner))?)),*],
            upstream: &[$($(stringify!($up)),*)?],
            refused: &[$($(stringify!($no)),*)?],
        }
    };
}

const AUTH: Schema = schema! { username: Str, password: Str; refused: file };

/// A node connector's `auth`: there upstream also takes the credential from a file.
const CONNECTOR_AUTH: Schema = schema! { username: Str, password: Str, file: Str };

const TLS: Schema = schema! {
    certFile: Str, keyFile: Str, caFile: Str, secure: Bool, serverName: Str;
    upstream: options, validity, commonName, organization
};

const SELECTOR: Schema = schema! { strategy: Str, maxFails: Int, failTimeout: Duration };

const HANDLER: Schema = schema! {
    type: Str, chain: Str, auth: Obj(&AUTH), auther: Str, authers: StrList, limiter: Str,
    tls: Obj(&TLS), metadata: Metadata;
    upstream: retries, chainGroup, observer, ingress, router, sd
};

const LISTENER: Schema = schema! {
    type: Str, chain: Str, tls: Obj(&TLS), metadata: Metadata;
    upstream: chainGroup;
    refused: auther, authers, auth
};

const FORWARD_NODE: Schema = schema! {
    name: Str, addr: Str;
    upstream: network, protocol, host, path, http, tls, filter, matcher, metadata;
    refused: bypass, bypasses, auth
};

const FORWARDER: Schema = schema! {
    selector: Obj(&SELECTOR), nodes: List(&FORWARD_NODE);
    upstream: name, targets, hop
};

const SERVICE: Schema = schema! {
    name: Str, addr: Str, handler: Obj(&HANDLER), listener: Obj(&LISTENER),
    forwarder: Obj(&FORWARDER), climiter: Str, limiter: Str, rlimiter: Str, admission: Str,
    admissions: StrList, bypass: Str, bypasses: StrList, hosts: Str, resolver: Str, interface: Str,
    sockopts: Obj(&SOCKOPTS), metadata: Metadata;
    upstream: logger, loggers, observer, recorders, status
};

const SOCKOPTS: Schema = schema! { mark: Int };

const CONNECTOR: Schema = schema! {
    type: Str, auth: Obj(&CONNECTOR_AUTH), tls: Obj(&TLS), metadata: Metadata
};

const DIALER: Schema = schema! { type: Str, tls: Obj(&TLS), metadata: Metadata; upstream: auth };

const NODE: Schema = schema! {
    name: Str, addr: Str, connector: Obj(&CONNECTOR), dialer: Obj(&DIALER), hosts: Str,
    resolver: Str, bypass: Str, bypasses: StrList, interface: Str, sockopts: Obj(&SOCKOPTS),
    metadata: Metadata;
    upstream: network, netns, filter, matcher, http, tls
};

const HOP: Schema = schema! {
    name: Str, selector: Obj(&SELECTOR), nodes: List(&NODE), hosts: Str, resolver: Str, bypass: Str,
    bypasses: StrList, interface: Str, sockopts: Obj(&SOCKOPTS), metadata: Metadata;
    upstream: reload, file, redis, http, plugin
};

const CHAIN: Schema = schema! {
    name: Str, hops: List(&HOP), metadata: Metadata;
    upstream: selector
};

const FILE_LOADER: Schema = schema! { path: Str };

const REDIS_LOADER: Schema = schema! {
    addr: Str, db: Int, username: Str, password: Str, key: Str;
    // `type` picks another Redis data type (list, string); only upstream's defaults are read here.
    refused: type
};

const HTTP_LOADER: Schema = schema! { url: Str, timeout: Duration };

const PLUGIN: Schema = schema! { type: Str, addr: Str, timeout: Duration; refused: tls, token };

const AUTHER: Schema = schema! {
    name: Str, auths: List(&AUTH), reload: Duration, file: Obj(&FILE_LOADER),
    redis: Obj(&REDIS_LOADER), http: Obj(&HTTP_LOADER), plugin: Obj(&PLUGIN)
};

/// `admissions:` and `bypasses:` entries.
const LIST: Schema = schema! {
    name: Str, whitelist: Bool, matchers: StrList, reload: Duration, file: Obj(&FILE_LOADER),
    redis: Obj(&REDIS_LOADER), http: Obj(&HTTP_LOADER);
    // `reverse` is upstream's old spelling of `whitelist`; plugins are not built.
    refused: reverse, plugin
};

const HOST_MAPPING: Schema = schema! { ip: Str, hostname: Str, aliases: StrList };

const HOSTS: Schema = schema! {
    name: Str, mappings: List(&HOST_MAPPING), reload: Duration, file: Obj(&FILE_LOADER),
    redis: Obj(&REDIS_LOADER), http: Obj(&HTTP_LOADER);
    upstream: plugin
};

const NAMESERVER: Schema = schema! {
    addr: Str, hostname: Str, chain: Str, prefer: Str, only: Str, ttl: Duration, timeout: Duration;
    upstream: clientIP, async
};

const RESOLVER: Schema = schema! { name: Str, nameservers: List(&NAMESERVER); upstream: plugin };

const ROTATION: Schema = schema! {
    maxSize: Int, maxAge: Int, maxBackups: Int, localTime: Bool, compress: Bool
};

/// `climiters:`, `limiters:` and `rlimiters:` entries.
const LIMITER: Schema = schema! {
    name: Str, limits: StrList, reload: Duration, file: Obj(&FILE_LOADER),
    redis: Obj(&REDIS_LOADER), http: Obj(&HTTP_LOADER);
    refused: plugin
};

const LOG: Schema = schema! { level: Str, format: Str, output: Str, rotation: Obj(&ROTATION) };

const METRICS: Schema = schema! {
    addr: Str, path: Str, auth: Obj(&AUTH), auther: Str, admission: Str
};

const ROOT: Schema = schema! {
    services: List(&SERVICE), chains: List(&CHAIN), authers: List(&AUTHER), tls: Obj(&TLS),
    log: Obj(&LOG), metrics: Obj(&METRICS), climiters: List(&LIMITER), limiters: List(&LIMITER),
    rlimiters: List(&LIMITER), admissions: List(&LIST), bypasses: List(&LIST), hosts: List(&HOSTS),
    resolvers: List(&RESOLVER);
    upstream: hops, ingresses, routers, sds, recorders, observers, loggers, profiling, api
};

/// Normalises a whole config tree (see the module docs).
pub(crate) fn normalise_root(
    value: Value,
    warnings: &mut Vec<Warning>,
) -> Result<Value, ConfigError> {
    match value {
        Value::Null => Ok(Value::Object(Map::new())),
        Value::Object(map) => normalise_object(map, &ROOT, "", warnings),
        other => Err(ConfigError::Shape {
            path: "(top level)".into(),
            value: render(&other),
            expected: "a map with `services:`, `chains:`, …".into(),
        }),
    }
}

fn path_or_top(path: &str) -> String {
    match path {
        "" => "(top level)".to_owned(),
        _ => path.to_owned(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn normalise_object(
    map: Map<String, Value>,
    schema: &Schema,
    path: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Value, ConfigError> {
    let mut out = Map::new();
    for (key, value) in map {
        if let Some((canonical, shape)) = schema
            .fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&key))
        {
            let here = join(path, canonical);
            if out.contains_key(*canonical) {
                return Err(ConfigError::DuplicateKey { path: here });
            }
            out.insert(
                (*canonical).to_owned(),
                normalise_value(value, shape, &here, warnings)?,
            );
            continue;
        }
        let here = join(path, &key);
        if let Some(known) = schema.refused.iter().find(|k| k.eq_ignore_ascii_case(&key)) {
            return Err(ConfigError::AccessNotBuilt {
                path: path_or_top(path),
                option: (*known).to_owned(),
            });
        }
        if let Some(known) = schema
            .upstream
            .iter()
            .find(|k| k.eq_ignore_ascii_case(&key))
        {
            warnings.push(Warning::unsupported(
                join(path, known),
                "upstream option not supported by gost-rs yet; ignored",
            ));
            continue;
        }
        let candidates = schema
            .fields
            .iter()
            .map(|(k, _)| *k)
            .chain(schema.upstream.iter().copied())
            .chain(schema.refused.iter().copied());
        if let Some(suggestion) = closest(&key, candidates) {
            return Err(ConfigError::UnknownKey {
                path: here,
                suggestion: suggestion.to_owned(),
            });
        }
        warnings.push(Warning::unknown(
            here,
            "unknown key; ignored (as upstream does)",
        ));
    }
    Ok(Value::Object(out))
}

fn shape_error(path: &str, value: &Value, expected: &str) -> ConfigError {
    ConfigError::Shape {
        path: path.to_owned(),
        value: render(value),
        expected: expected.to_owned(),
    }
}

fn normalise_value(
    value: Value,
    shape: &Shape,
    path: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Value, ConfigError> {
    if value.is_null() {
        if let Shape::Obj(_) = shape {
            // Almost always an indentation slip: `handler:` with its keys at its own level.
            let key = path.rsplit('.').next().unwrap_or(path);
            return Err(shape_error(
                path,
                &value,
                &format!(
                    "a map: `{key}:` has nothing under it; indent the keys that belong to it \
                     deeper than `{key}:` (or remove it)"
                ),
            ));
        }
        return Ok(Value::Null);
    }
    match shape {
        Shape::Str => match value {
            Value::String(_) => Ok(value),
            Value::Number(_) | Value::Bool(_) => Ok(Value::String(value.to_string())),
            other => Err(shape_error(path, &other, "a string")),
        },
        Shape::Bool => match &value {
            Value::Bool(_) => Ok(value),
            Value::Number(n) => Ok(Value::Bool(n.as_f64() != Some(0.0))),
            Value::String(s) => parse_go_bool(s)
                .map(Value::Bool)
                .ok_or_else(|| shape_error(path, &value, "a boolean (true/false)")),
            _ => Err(shape_error(path, &value, "a boolean (true/false)")),
        },
        Shape::Int => match &value {
            Value::Number(n) if n.is_i64() => Ok(value),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| shape_error(path, &value, "an integer")),
            _ => Err(shape_error(path, &value, "an integer")),
        },
        Shape::Duration => {
            // Struct-field durations: Go duration strings, or integers of nanoseconds (mapstructure).
            let nanos = match &value {
                Value::String(s) => parse_go_duration(s.trim()).ok(),
                Value::Number(n) => n.as_i64().map(i128::from),
                _ => None,
            };
            let nanos =
                nanos.ok_or_else(|| shape_error(path, &value, "a duration such as 30s or 1m"))?;
            Ok(Value::String(format_go_duration(
                std::time::Duration::from_nanos(nanos.max(0) as u64),
            )))
        }
        Shape::StrList => match value {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| normalise_value(v, &Shape::Str, &format!("{path}[{i}]"), warnings))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::String(_) => Ok(Value::Array(vec![value])),
            other => Err(shape_error(path, &other, "a list of names")),
        },
        Shape::Metadata => match value {
            Value::Object(_) => Ok(value),
            other => Err(shape_error(path, &other, "a map of keys to values")),
        },
        Shape::Obj(schema) => match value {
            Value::Object(map) => normalise_object(map, schema, path, warnings),
            other => Err(shape_error(path, &other, "a map")),
        },
        Shape::List(schema) => match value {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let here = item_path(path, i, &item);
                    match item {
                        Value::Object(map) => normalise_object(map, schema, &here, warnings),
                        other => Err(shape_error(&here, &other, "a map")),
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Err(shape_error(path, &other, "a list")),
        },
    }
}

/// `services[0]`, or `services[0](service-0)` when the item has a name, so errors point at it.
fn item_path(path: &str, index: usize, item: &Value) -> String {
    let name = item.as_object().and_then(|m| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("name"))
            .and_then(|(_, v)| v.as_str())
    });
    match name {
        Some(name) if !name.is_empty() => format!("{path}[{index}]({name})"),
        _ => format!("{path}[{index}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn norm(v: Value) -> (Result<Value, ConfigError>, Vec<Warning>) {
        let mut w = Vec::new();
        (normalise_root(v, &mut w), w)
    }

    #[test]
    fn renames_keys_case_insensitively() {
        let (v, w) =
            norm(json!({"SERVICES": [{"Name": "a", "LISTENER": {"TLS": {"certfile": "c"}}}]}));
        assert_eq!(
            v.unwrap(),
            json!({"services": [{"name": "a", "listener": {"tls": {"certFile": "c"}}}]})
        );
        assert!(w.is_empty());
    }

    #[test]
    fn typo_gets_a_suggestion() {
        let (v, _) = norm(json!({"services": [{"name": "svc", "handlr": {}}]}));
        let err = v.unwrap_err().to_string();
        assert!(
            err.contains("services[0](svc).handlr") && err.contains("did you mean `handler`"),
            "{err}"
        );
    }

    #[test]
    fn upstream_and_unknown_keys_are_warnings() {
        let (v, w) =
            norm(json!({"api": {"addr": ":18080"}, "services": [{"observer": "o", "zzzzzz": 1}]}));
        assert_eq!(v.unwrap(), json!({"services": [{}]}));
        assert_eq!(w.len(), 3, "{w:?}");
    }

    #[test]
    fn access_keys_not_built_are_errors_not_warnings() {
        let (v, w) = norm(json!({"services": [{"name": "svc", "listener": {"AUTHER": "a"}}]}));
        match v.unwrap_err() {
            ConfigError::AccessNotBuilt { path, option } => {
                assert_eq!(
                    (path.as_str(), option.as_str()),
                    ("services[0](svc).listener", "auther")
                );
            }
            other => panic!("{other}"),
        }
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn a_section_with_nothing_under_it_names_the_indentation_slip() {
        let (v, _) = norm(json!({"services": [{"name": "a", "handler": null, "type": "socks5"}]}));
        let err = v.unwrap_err().to_string();
        assert!(
            err.starts_with("services[0](a).handler: `null` is not a map: `handler:` has nothing"),
            "{err}"
        );
    }

    #[test]
    fn scalars_are_coerced_weakly() {
        let (v, _) = norm(
            json!({"services": [{"addr": 1080}], "chains": [{"hops": [{"selector":
            {"maxFails": "3", "failTimeout": 30_000_000_000i64}}]}]}),
        );
        let v = v.unwrap();
        assert_eq!(v["services"][0]["addr"], json!("1080"));
        assert_eq!(
            v["chains"][0]["hops"][0]["selector"],
            json!({"maxFails": 3, "failTimeout": "30s"})
        );
    }
}
