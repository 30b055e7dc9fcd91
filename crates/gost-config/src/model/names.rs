//! The name-resolution entries of the model: `hosts:` tables and their mappings, `resolvers:` and
//! their nameservers (docs/names.md).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Loaders, de_duration, ser_duration};

/// A named hosts table (`hosts:` entry): inline mappings plus the loaders' lines in the hosts-file
/// format (`IP hostname [aliases…]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostsConfig {
    /// Name referenced by services, hops and nodes.
    pub name: String,
    /// Inline mappings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mappings: Vec<HostMappingConfig>,
    /// Where more mappings come from.
    #[serde(flatten)]
    pub loaders: Loaders,
}

/// A named DNS resolver (`resolvers:` entry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResolverConfig {
    /// Name referenced by services, hops and nodes.
    pub name: String,
    /// Asked in order; the first that answers wins.
    pub nameservers: Vec<NameserverConfig>,
}

/// One `nameservers:` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NameserverConfig {
    /// `[udp://|tcp://|tls://|https://]IP[:port][/path]` (port 53, 853 for tls, 443 for https).
    pub addr: String,
    /// The name a `tls://` or `https://` nameserver's certificate must carry (default: its IP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// A chain to reach the nameserver through (not built: refused by validation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// `ipv4` (default) or `ipv6`: which addresses come first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefer: Option<String>,
    /// `ipv4` or `ipv6`: only those addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only: Option<String>,
    /// Cache answers this long instead of their own TTL.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_duration",
        deserialize_with = "de_duration"
    )]
    pub ttl: Option<Duration>,
    /// Bound on one query.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_duration",
        deserialize_with = "de_duration"
    )]
    pub timeout: Option<Duration>,
}

/// One `mappings:` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostMappingConfig {
    /// The address (IPv4 or IPv6).
    pub ip: String,
    /// The name; a leading `.` maps the domain and every name under it.
    pub hostname: String,
    /// More names for the address.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}
