//! The free-form `metadata` maps of services, handlers, listeners, hops, nodes, connectors and dialers,
//! with typed getters that read values exactly as upstream's `metadata/util` does (gost-wire §7.1):
//! case-insensitive keys, alias lists where the first key present wins, and lenient scalar conversions.
//!
//! Where upstream silently turns an unparsable value into zero/false, these getters return a
//! [`MetadataError`] instead, so a typo like `udp=ture` is reported before anything starts.

use std::fmt;
use std::time::Duration;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::duration::parse_go_duration;

/// A metadata value: whatever YAML/JSON held (bool, number, string, list, map) or, from the command
/// line, a string (or the typed value the CLI mapping converted it to).
pub type Value = serde_json::Value;

/// An ordered map of metadata with ASCII-case-insensitive keys.
///
/// Keys keep the spelling they were written with (so printed configs look like the input) but are
/// matched case-insensitively, as upstream lowercases them. Inserting a key that differs only in case
/// replaces the old entry.
///
/// ```
/// use gost_config::Metadata;
/// let mut md = Metadata::new();
/// md.insert("udpBufferSize", "65535".into());
/// assert_eq!(md.get_size(&["udp.bufferSize", "UDPBUFFERSIZE"]).unwrap(), Some(65535));
/// assert_eq!(md.get_bool(&["udp"]).unwrap(), None);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    entries: Vec<(String, Value)>,
}

/// A metadata value that does not have the type its key needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: `{value}` is not {expected}")]
pub struct MetadataError {
    /// The key as written in the config.
    pub key: String,
    /// The offending value, rendered as text.
    pub value: String,
    /// What would have been valid, e.g. "a boolean (true/false/1/0)".
    pub expected: String,
}

impl MetadataError {
    /// An error for `key` holding `value` where `expected` was needed.
    pub fn new(key: &str, value: &Value, expected: impl Into<String>) -> Self {
        MetadataError {
            key: key.to_owned(),
            value: render(value),
            expected: expected.into(),
        }
    }
}

/// Renders a value the way a user wrote it (strings without quotes).
pub(crate) fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

const BOOL_EXPECTED: &str = "a boolean (true/false, 1/0, t/f)";
const INT_EXPECTED: &str = "an integer";
const SIZE_EXPECTED: &str = "a non-negative integer (bytes)";
const DURATION_EXPECTED: &str = "a duration (e.g. 10s, 300ms, 1m30s, or whole seconds)";

impl Metadata {
    /// An empty map.
    pub fn new() -> Self {
        Metadata::default()
    }

    /// True when the map holds no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Inserts or replaces (case-insensitively) `key`.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        match self
            .entries
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(&key))
        {
            Some(entry) => *entry = (key, value),
            None => self.entries.push((key, value)),
        }
    }

    /// Removes `key` (case-insensitively) and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let pos = self
            .entries
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(key))?;
        Some(self.entries.remove(pos).1)
    }

    /// The value of `key`, matched case-insensitively.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }

    /// The first of `keys` that is present, with the key as written in the map.
    pub fn lookup(&self, keys: &[&str]) -> Option<(&str, &Value)> {
        keys.iter().find_map(|wanted| {
            self.entries
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(wanted))
                .map(|(k, v)| (k.as_str(), v))
        })
    }

    /// Iterates over `(key, value)` in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// A boolean: YAML bool; integer ≠ 0 is true; strings as Go's `ParseBool`
    /// (`1 t T TRUE true True 0 f F FALSE false False`).
    pub fn get_bool(&self, keys: &[&str]) -> Result<Option<bool>, MetadataError> {
        self.get_parsed(keys, BOOL_EXPECTED, |value| match value {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => n.as_f64().map(|f| f != 0.0),
            Value::String(s) => parse_go_bool(s),
            _ => None,
        })
    }

    /// A signed integer: YAML int, bool as 1/0, or a decimal string.
    pub fn get_int(&self, keys: &[&str]) -> Result<Option<i64>, MetadataError> {
        self.get_parsed(keys, INT_EXPECTED, |value| match value {
            Value::Bool(b) => Some(i64::from(*b)),
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
    }

    /// The value of the first of `keys` present, read by `parse`; when it cannot, the error says the
    /// value should have been `expected`.
    fn get_parsed<T>(
        &self,
        keys: &[&str],
        expected: &str,
        parse: impl FnOnce(&Value) -> Option<T>,
    ) -> Result<Option<T>, MetadataError> {
        let Some((key, value)) = self.lookup(keys) else {
            return Ok(None);
        };
        parse(value)
            .map(Some)
            .ok_or_else(|| MetadataError::new(key, value, expected))
    }

    /// A size in bytes: an integer that is not negative.
    pub fn get_size(&self, keys: &[&str]) -> Result<Option<usize>, MetadataError> {
        let Some((key, value)) = self.lookup(keys) else {
            return Ok(None);
        };
        match self.get_int(keys) {
            Ok(Some(n)) => usize::try_from(n)
                .map(Some)
                .map_err(|_| MetadataError::new(key, value, SIZE_EXPECTED)),
            Ok(None) => Ok(None),
            Err(_) => Err(MetadataError::new(key, value, SIZE_EXPECTED)),
        }
    }

    /// A duration: a Go duration string (`300ms`, `1.5h`, `2m10s`); a string that is not one is read as
    /// whole seconds (`"30"`); a YAML number is seconds. Negative durations become zero (every upstream
    /// duration key treats ≤ 0 as "use the default" or "none").
    pub fn get_duration(&self, keys: &[&str]) -> Result<Option<Duration>, MetadataError> {
        let Some((key, value)) = self.lookup(keys) else {
            return Ok(None);
        };
        let err = || MetadataError::new(key, value, DURATION_EXPECTED);
        let nanos: i128 = match value {
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(secs), _) => i128::from(secs) * 1_000_000_000,
                (None, Some(f)) if f.is_finite() && f.abs() < 1e12 => (f * 1e9) as i128,
                _ => return Err(err()),
            },
            Value::String(s) => match parse_go_duration(s.trim()) {
                Ok(n) => n,
                Err(_) => {
                    let secs: i64 = s.trim().parse().map_err(|_| err())?;
                    i128::from(secs) * 1_000_000_000
                }
            },
            _ => return Err(err()),
        };
        Ok(Some(Duration::from_nanos(
            u64::try_from(nanos.max(0)).map_err(|_| err())?,
        )))
    }

    /// A string: strings as-is, numbers and bools rendered as text.
    pub fn get_string(&self, keys: &[&str]) -> Result<Option<String>, MetadataError> {
        let Some((key, value)) = self.lookup(keys) else {
            return Ok(None);
        };
        match value {
            Value::String(s) => Ok(Some(s.clone())),
            Value::Number(_) | Value::Bool(_) => Ok(Some(value.to_string())),
            Value::Null => Ok(None),
            _ => Err(MetadataError::new(key, value, "a string")),
        }
    }

    /// A list of strings: a YAML/JSON list, or one comma-separated string (the command line's form).
    pub fn get_strings(&self, keys: &[&str]) -> Result<Option<Vec<String>>, MetadataError> {
        let Some((key, value)) = self.lookup(keys) else {
            return Ok(None);
        };
        let item = |v: &Value| match v {
            Value::String(s) => Ok(s.trim().to_owned()),
            Value::Number(_) | Value::Bool(_) => Ok(v.to_string()),
            _ => Err(MetadataError::new(key, value, "a list of strings")),
        };
        let items = match value {
            Value::Array(items) => items.iter().map(item).collect::<Result<Vec<_>, _>>()?,
            Value::String(s) => s.split(',').map(|p| p.trim().to_owned()).collect(),
            Value::Null => return Ok(None),
            _ => return Err(MetadataError::new(key, value, "a list of strings")),
        };
        Ok(Some(items.into_iter().filter(|s| !s.is_empty()).collect()))
    }

    /// A string→string map (e.g. WebSocket `header`); like upstream, only a YAML/JSON map is accepted.
    pub fn get_string_map(
        &self,
        keys: &[&str],
    ) -> Result<Option<Vec<(String, String)>>, MetadataError> {
        let Some((key, value)) = self.lookup(keys) else {
            return Ok(None);
        };
        match value {
            Value::Object(map) => Ok(Some(
                map.iter().map(|(k, v)| (k.clone(), render(v))).collect(),
            )),
            Value::Null => Ok(None),
            _ => Err(MetadataError::new(key, value, "a map of names to values")),
        }
    }
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

impl PartialEq for Metadata {
    /// Same keys (ignoring case and order) with equal values.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl FromIterator<(String, Value)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        let mut md = Metadata::new();
        for (k, v) in iter {
            md.insert(k, v);
        }
        md
    }
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MetadataVisitor;
        impl<'de> Visitor<'de> for MetadataVisitor {
            type Value = Metadata;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of metadata keys to values")
            }
            fn visit_unit<E>(self) -> Result<Metadata, E> {
                Ok(Metadata::new())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Metadata, A::Error> {
                let mut md = Metadata::new();
                while let Some((k, v)) = access.next_entry::<String, Value>()? {
                    md.insert(k, v);
                }
                Ok(md)
            }
        }
        deserializer.deserialize_any(MetadataVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn md(pairs: &[(&str, Value)]) -> Metadata {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn keys_are_case_insensitive_and_first_alias_wins() {
        let m = md(&[("udpBufferSize", json!(1)), ("UDP.BUFFERSIZE", json!(2))]);
        assert_eq!(
            m.get_size(&["udp.bufferSize", "udpBufferSize"]).unwrap(),
            Some(2)
        );
        assert_eq!(m.get_size(&["udpbuffersize"]).unwrap(), Some(1));
        assert_eq!(m.get_size(&["missing"]).unwrap(), None);
    }

    #[test]
    fn bool_follows_go_parse_bool() {
        for (v, want) in [
            (json!(true), true),
            (json!(0), false),
            (json!(7), true),
            (json!("T"), true),
            (json!("FALSE"), false),
            (json!("1"), true),
            (json!("False"), false),
        ] {
            assert_eq!(
                md(&[("k", v.clone())]).get_bool(&["k"]).unwrap(),
                Some(want),
                "{v}"
            );
        }
        for v in [json!("yes"), json!("tRuE"), json!(""), json!([1])] {
            let err = md(&[("k", v.clone())]).get_bool(&["k"]).unwrap_err();
            assert!(err.to_string().contains("is not a boolean"), "{err}");
        }
    }

    #[test]
    fn int_and_size() {
        assert_eq!(md(&[("k", json!("42"))]).get_int(&["k"]).unwrap(), Some(42));
        assert_eq!(md(&[("k", json!(true))]).get_int(&["k"]).unwrap(), Some(1));
        assert_eq!(md(&[("k", json!(-3))]).get_int(&["k"]).unwrap(), Some(-3));
        assert!(md(&[("k", json!("4k"))]).get_int(&["k"]).is_err());
        assert!(md(&[("k", json!(-3))]).get_size(&["k"]).is_err());
        assert!(md(&[("k", json!(1.5))]).get_size(&["k"]).is_err());
    }

    #[test]
    fn duration_forms() {
        let d = |v: Value| md(&[("k", v)]).get_duration(&["k"]);
        assert_eq!(d(json!("300ms")).unwrap(), Some(Duration::from_millis(300)));
        assert_eq!(d(json!("1.5h")).unwrap(), Some(Duration::from_secs(5400)));
        assert_eq!(d(json!("2m10s")).unwrap(), Some(Duration::from_secs(130)));
        assert_eq!(d(json!("30")).unwrap(), Some(Duration::from_secs(30)));
        assert_eq!(d(json!(30)).unwrap(), Some(Duration::from_secs(30)));
        assert_eq!(d(json!("-5s")).unwrap(), Some(Duration::ZERO));
        assert!(d(json!("soon")).is_err());
        assert!(d(json!(true)).is_err());
    }

    #[test]
    fn equality_ignores_case_and_order() {
        let a = md(&[("A", json!(1)), ("b", json!("x"))]);
        let b = md(&[("B", json!("x")), ("a", json!(1))]);
        assert_eq!(a, b);
        assert_ne!(a, md(&[("a", json!(1))]));
    }

    #[test]
    fn insert_replaces_case_insensitively() {
        let mut m = Metadata::new();
        m.insert("Path", json!("/a"));
        m.insert("path", json!("/b"));
        assert_eq!(m.len(), 1);
        assert_eq!(m.get_string(&["PATH"]).unwrap().as_deref(), Some("/b"));
    }
}
