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

const AUTH: Schema = Schema {
    fields: &[("username", Shape::Str), ("password", Shape::Str)],
    upstream: &[],
    refused: &["file"],
};

/// A node connector's `auth`: there upstream also takes the credential from a file.
const CONNECTOR_AUTH: Schema = Schema {
    fields: &[
        ("username", Shape::Str),
        ("password", Shape::Str),
        ("file", Shape::Str),
    ],
    upstream: &[],
    refused: &[],
};

const TLS: Schema = Schema {
    fields: &[
        ("certFile", Shape::Str),
        ("keyFile", Shape::Str),
        ("caFile", Shape::Str),
        ("secure", Shape::Bool),
        ("serverName", Shape::Str),
    ],
    upstream: &["options", "validity", "commonName", "organization"],
    refused: &[],
};

const SELECTOR: Schema = Schema {
    fields: &[
        ("strategy", Shape::Str),
        ("maxFails", Shape::Int),
        ("failTimeout", Shape::Duration),
    ],
    upstream: &[],
    refused: &[],
};

const HANDLER: Schema = Schema {
    fields: &[
        ("type", Shape::Str),
        ("chain", Shape::Str),
        ("auth", Shape::Obj(&AUTH)),
        ("auther", Shape::Str),
        ("authers", Shape::StrList),
        ("limiter", Shape::Str),
        ("tls", Shape::Obj(&TLS)),
        ("metadata", Shape::Metadata),
    ],
    upstream: &[
        "retries",
        "chainGroup",
        "observer",
        "ingress",
        "router",
        "sd",
    ],
    refused: &[],
};

const LISTENER: Schema = Schema {
    fields: &[
        ("type", Shape::Str),
        ("chain", Shape::Str),
        ("tls", Shape::Obj(&TLS)),
        ("metadata", Shape::Metadata),
    ],
    upstream: &["chainGroup"],
    refused: &["auther", "authers", "auth"],
};

const FORWARD_NODE: Schema = Schema {
    fields: &[("name", Shape::Str), ("addr", Shape::Str)],
    upstream: &[
        "network", "protocol", "host", "path", "http", "tls", "filter", "matcher", "metadata",
    ],
    refused: &["bypass", "bypasses", "auth"],
};

const FORWARDER: Schema = Schema {
    fields: &[
        ("selector", Shape::Obj(&SELECTOR)),
        ("nodes", Shape::List(&FORWARD_NODE)),
    ],
    upstream: &["name", "targets", "hop"],
    refused: &[],
};

const SERVICE: Schema = Schema {
    fields: &[
        ("name", Shape::Str),
        ("addr", Shape::Str),
        ("handler", Shape::Obj(&HANDLER)),
        ("listener", Shape::Obj(&LISTENER)),
        ("forwarder", Shape::Obj(&FORWARDER)),
        ("climiter", Shape::Str),
        ("limiter", Shape::Str),
        ("rlimiter", Shape::Str),
        ("admission", Shape::Str),
        ("admissions", Shape::StrList),
        ("bypass", Shape::Str),
        ("bypasses", Shape::StrList),
        ("hosts", Shape::Str),
        ("resolver", Shape::Str),
        ("interface", Shape::Str),
        ("sockopts", Shape::Obj(&SOCKOPTS)),
        ("metadata", Shape::Metadata),
    ],
    upstream: &["logger", "loggers", "observer", "recorders", "status"],
    refused: &[],
};

const SOCKOPTS: Schema = Schema {
    fields: &[("mark", Shape::Int)],
    upstream: &[],
    refused: &[],
};

const CONNECTOR: Schema = Schema {
    fields: &[
        ("type", Shape::Str),
        ("auth", Shape::Obj(&CONNECTOR_AUTH)),
        ("tls", Shape::Obj(&TLS)),
        ("metadata", Shape::Metadata),
    ],
    upstream: &[],
    refused: &[],
};

const DIALER: Schema = Schema {
    fields: &[
        ("type", Shape::Str),
        ("tls", Shape::Obj(&TLS)),
        ("metadata", Shape::Metadata),
    ],
    upstream: &["auth"],
    refused: &[],
};

const NODE: Schema = Schema {
    fields: &[
        ("name", Shape::Str),
        ("addr", Shape::Str),
        ("connector", Shape::Obj(&CONNECTOR)),
        ("dialer", Shape::Obj(&DIALER)),
        ("hosts", Shape::Str),
        ("resolver", Shape::Str),
        ("bypass", Shape::Str),
        ("bypasses", Shape::StrList),
        ("interface", Shape::Str),
        ("sockopts", Shape::Obj(&SOCKOPTS)),
        ("metadata", Shape::Metadata),
    ],
    upstream: &["network", "netns", "filter", "matcher", "http", "tls"],
    refused: &[],
};

const HOP: Schema = Schema {
    fields: &[
        ("name", Shape::Str),
        ("selector", Shape::Obj(&SELECTOR)),
        ("nodes", Shape::List(&NODE)),
        ("hosts", Shape::Str),
        ("resolver", Shape::Str),
        ("bypass", Shape::Str),
        ("bypasses", Shape::StrList),
        ("interface", Shape::Str),
        ("sockopts", Shape::Obj(&SOCKOPTS)),
        ("metadata", Shape::Metadata),
    ],
    upstream: &["reload", "file", "redis", "http", "plugin"],
    refused: &[],
};

const CHAIN: Schema = Schema {
    fields: &[
        ("name", Shape::Str),
        ("hops", Shape::List(&HOP)),
        ("metadata", Shape::Metadata),
    ],
    upstream: &["selector"],
    refused: &[],
};

const FILE_LOADER: Schema = Schema {
    fields: &[("path", Shape::Str)],
    upstream: &[],
    refused: &[],
};

const REDIS_LOADER: Schema = Schema {
    fields: &[
        ("addr", Shape::Str),
        ("db", Shape::Int),
        ("username", Shape::Str),
        ("password", Shape::Str),
        ("key", Shape::Str),
    ],
    upstream: &[],
    // `type` picks another Redis data type (list, string); only upstream's defaults are read here.
    refused: &["type"],
};

const HTTP_LOADER: Schema = Schema {
    fields: &[("url", Shape::Str), ("timeout", Shape::Duration)],
    upstream: &[],
    refused: &[],
};

const PLUGIN: Schema = Schema {
    fields: &[
        ("type", Shape::Str),
        ("addr", Shape::Str),
        ("timeout", Shape::Duration),
    ],
    upstream: &[],
    refused: &["tls", "token"],
};

const AUTHER: Schema = Schema {
    fields: &[
        ("name", Shape::Str),
        ("auths", Shape::List(&AUTH)),
        ("reload", Shape::Duration),
        ("file", Shape::Obj(&FILE_LOADER)),
        ("redis", Shape::Obj(&REDIS_LOADER)),
        ("http", Shape::Obj(&HTTP_LOADER)),
        ("plugin", Shape::Obj(&PLUGIN)),
    ],
    upstream: &[],
    refused: &[],
};

/// `admissions:` and `bypasses:` entries.
const LIST: Schema = Schema {
    fields: &[
        ("name", Shape::Str),
        ("whitelist", Shape::Bool),
        ("matchers", Shape::StrList),
        ("reload", Shape::Duration),
        ("file", Shape::Obj(&FILE_LOADER)),
        ("redis", Shape::Obj(&REDIS_LOADER)),
        ("http", Shape::Obj(&HTTP_LOADER)),
    ],
    upstream: &[],
    // `reverse` is upstream's old spelling of `whitelist`; plugins are not built.
    refused: &["reverse", "plugin"],
};

const CLIMITER: Schema = Schema {
    fields: &[("name", Shape::Str), ("limits", Shape::StrList)],
    upstream: &[],
    refused: &["reload", "file", "redis", "http", "plugin"],
};

const HOST_MAPPING: Schema = Schema {
    fields: &[
        ("ip", Shape::Str),
        ("hostname", Shape::Str),
        ("aliases", Shape::StrList),
    ],
    upstream: &[],
    refused: &[],
};

const HOSTS: Schema = Schema {
    fields: &[
        ("name", Shape::Str),
        ("mappings", Shape::List(&HOST_MAPPING)),
        ("reload", Shape::Duration),
        ("file", Shape::Obj(&FILE_LOADER)),
        ("redis", Shape::Obj(&REDIS_LOADER)),
        ("http", Shape::Obj(&HTTP_LOADER)),
    ],
    upstream: &["plugin"],
    refused: &[],
};

const NAMESERVER: Schema = Schema {
    fields: &[
        ("addr", Shape::Str),
        ("hostname", Shape::Str),
        ("chain", Shape::Str),
        ("prefer", Shape::Str),
        ("only", Shape::Str),
        ("ttl", Shape::Duration),
        ("timeout", Shape::Duration),
    ],
    upstream: &["clientIP", "async"],
    refused: &[],
};

const RESOLVER: Schema = Schema {
    fields: &[
        ("name", Shape::Str),
        ("nameservers", Shape::List(&NAMESERVER)),
    ],
    upstream: &["plugin"],
    refused: &[],
};

const ROTATION: Schema = Schema {
    fields: &[
        ("maxSize", Shape::Int),
        ("maxAge", Shape::Int),
        ("maxBackups", Shape::Int),
        ("localTime", Shape::Bool),
        ("compress", Shape::Bool),
    ],
    upstream: &[],
    refused: &[],
};

/// `limiters:` and `rlimiters:` entries.
const LIMITER: Schema = Schema {
    fields: &[
        ("name", Shape::Str),
        ("limits", Shape::StrList),
        ("reload", Shape::Duration),
        ("file", Shape::Obj(&FILE_LOADER)),
        ("redis", Shape::Obj(&REDIS_LOADER)),
        ("http", Shape::Obj(&HTTP_LOADER)),
    ],
    upstream: &[],
    refused: &["plugin"],
};

const LOG: Schema = Schema {
    fields: &[
        ("level", Shape::Str),
        ("format", Shape::Str),
        ("output", Shape::Str),
        ("rotation", Shape::Obj(&ROTATION)),
    ],
    upstream: &[],
    refused: &[],
};

const METRICS: Schema = Schema {
    fields: &[
        ("addr", Shape::Str),
        ("path", Shape::Str),
        ("auth", Shape::Obj(&AUTH)),
    ],
    upstream: &[],
    refused: &["auther", "admission"],
};

const ROOT: Schema = Schema {
    fields: &[
        ("services", Shape::List(&SERVICE)),
        ("chains", Shape::List(&CHAIN)),
        ("authers", Shape::List(&AUTHER)),
        ("tls", Shape::Obj(&TLS)),
        ("log", Shape::Obj(&LOG)),
        ("metrics", Shape::Obj(&METRICS)),
        ("climiters", Shape::List(&CLIMITER)),
        ("limiters", Shape::List(&LIMITER)),
        ("rlimiters", Shape::List(&LIMITER)),
        ("admissions", Shape::List(&LIST)),
        ("bypasses", Shape::List(&LIST)),
        ("hosts", Shape::List(&HOSTS)),
        ("resolvers", Shape::List(&RESOLVER)),
    ],
    upstream: &[
        "hops",
        "ingresses",
        "routers",
        "sds",
        "recorders",
        "observers",
        "loggers",
        "profiling",
        "api",
    ],
    refused: &[],
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
