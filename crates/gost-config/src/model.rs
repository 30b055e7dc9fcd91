//! The configuration model: upstream GOST's YAML/JSON schema (services, chains, authers, tls, log)
//! for the features gost-rs implements. Both the `-L`/`-F` command line and config files produce a
//! [`Config`]; serialising one prints upstream's key spelling (`certFile`, `maxFails`, …).
//!
//! Loading fills in upstream's type defaults (handler `auto`, listener `tcp`, connector `http`, dialer
//! `tcp`), so a config compares equal to its command-line twin.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::duration::{format_go_duration, parse_go_duration};
use crate::metadata::Metadata;

mod names;
pub use names::*;

/// A whole configuration: what one `gost` process runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Listening services.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceConfig>,
    /// Named proxy chains services dial through.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub chains: Vec<ChainConfig>,
    /// Named credential lists referenced by `handler.auther` / `handler.authers`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authers: Vec<AutherConfig>,
    /// Global default certificate (used for SOCKS5 0x80/0x82 and TLS listeners without their own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// Logging.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<LogConfig>,
    /// Prometheus metrics endpoint (`metrics:`, or upstream's `-metrics` flag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsConfig>,
    /// Named concurrent-connection limits referenced by `service.climiter` (`?climiter=N` on the
    /// command line makes one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub climiters: Vec<LimiterConfig>,
    /// Named bandwidth limits referenced by `service.limiter` / `handler.limiter` (`?limiter.in=…`
    /// makes one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limiters: Vec<LimiterConfig>,
    /// Named request-rate limits referenced by `service.rlimiter` (`?rlimiter=N` makes one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rlimiters: Vec<LimiterConfig>,
    /// Named client admission lists referenced by `service.admission(s)` (`?admission=` makes one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub admissions: Vec<ListConfig>,
    /// Named target lists referenced by `service.bypass(es)` (`?bypass=` on `-L` makes one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bypasses: Vec<ListConfig>,
    /// Named hosts tables referenced by services, hops and nodes (`?hosts=` makes one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostsConfig>,
    /// Named DNS resolvers referenced by services, hops and nodes (`?resolver=` makes one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resolvers: Vec<ResolverConfig>,
}

/// One service: a listener accepting connections and a handler serving them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceConfig {
    /// Unique name (`service-0`, … from the command line).
    pub name: String,
    /// Listen address `host:port`; an empty host means all interfaces.
    pub addr: String,
    /// Protocol served on accepted connections.
    pub handler: HandlerConfig,
    /// How connections are accepted.
    pub listener: ListenerConfig,
    /// Forwarding targets of `tcp`/`udp`/`rtcp`/`rudp`/`forward` handlers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forwarder: Option<ForwarderConfig>,
    /// Name of the `climiters:` entry limiting this service's concurrent connections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub climiter: Option<String>,
    /// Name of the `limiters:` entry limiting this service's bandwidth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limiter: Option<String>,
    /// Name of the `rlimiters:` entry limiting this service's request rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rlimiter: Option<String>,
    /// Name of the `admissions:` entry deciding which clients may connect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admission: Option<String>,
    /// Several `admissions:` entries; a client any of them refuses is refused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub admissions: Vec<String>,
    /// Name of the `bypasses:` entry deciding which targets are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bypass: Option<String>,
    /// Several `bypasses:` entries, combined as upstream's bypass group.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bypasses: Vec<String>,
    /// Name of the `hosts:` table asked before dialling a target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<String>,
    /// Name of the `resolvers:` entry asked for names the hosts table does not map.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolver: Option<String>,
    /// Where the service's own outgoing sockets leave this host: an IP address of this host or a
    /// device name (metadata `interface` wins). See [`crate::options::EgressOptions`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Options of the service's outgoing sockets (metadata `so_mark` wins over `mark`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sockopts: Option<SockOptsConfig>,
    /// Service-level metadata (`interface`, `so_mark`; other upstream keys are not used).
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// `service.handler`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HandlerConfig {
    /// Handler type: `socks5`, `socks4`, `tcp`, … (see [`crate::registry`]).
    #[serde(rename = "type")]
    pub kind: String,
    /// Chain used for outgoing connections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// Single credential (`user:pass@` on the command line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    /// Name of an entry of the top-level `authers`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auther: Option<String>,
    /// Several names of `authers` entries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authers: Vec<String>,
    /// Name of a `limiters:` entry limiting the handler's bandwidth (with the service's, if any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limiter: Option<String>,
    /// Certificate for the SOCKS5 negotiated-TLS methods (else the global `tls`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// Handler options, see the `*HandlerOptions` types in [`crate::options`].
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// `service.listener`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListenerConfig {
    /// Listener type: `tcp`, `tls`, `ws`, `wss`, `kcp`, `udp`, `rtcp`, `rudp`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Chain through which `rtcp`/`rudp` listeners bind on the remote side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// Server certificate of `tls`/`wss` listeners (else the global `tls`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// Listener options, see the `*ListenerOptions` types in [`crate::options`].
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// `service.forwarder`: where forwarding handlers send traffic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ForwarderConfig {
    /// How a target is picked when there are several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<SelectorConfig>,
    /// Targets.
    pub nodes: Vec<ForwardNodeConfig>,
}

/// One forwarding target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ForwardNodeConfig {
    /// Name (`target-0`, …).
    pub name: String,
    /// `host:port`; an empty host means the far end's own host (through a SOCKS5 chain: `127.0.0.1`).
    pub addr: String,
}

/// A named chain of hops.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChainConfig {
    /// Unique name referenced by `handler.chain` / `listener.chain`.
    pub name: String,
    /// Hops in dialling order.
    pub hops: Vec<HopConfig>,
    /// Chain metadata (none used by gost-rs yet).
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// One hop: a set of interchangeable nodes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HopConfig {
    /// Name (`hop-0`, …).
    pub name: String,
    /// How a node of this hop is picked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<SelectorConfig>,
    /// The nodes.
    pub nodes: Vec<NodeConfig>,
    /// Name of the `hosts:` table resolving node addresses (a node's own `hosts` wins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<String>,
    /// Name of the `resolvers:` entry asked for names the hosts table does not map.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolver: Option<String>,
    /// Name of the `bypasses:` entry whose targets this hop does not carry: the route ends before it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bypass: Option<String>,
    /// Several `bypasses:` entries, combined as upstream's bypass group.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bypasses: Vec<String>,
    /// `interface` of the nodes that set none of their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// `sockopts` of the nodes that set none of their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sockopts: Option<SockOptsConfig>,
    /// Hop metadata (`interface`, `so_mark`, inherited by the nodes as the fields are).
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// One proxy server: an address, the protocol spoken to it and the transport reaching it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeConfig {
    /// Name (`node-0`, …).
    pub name: String,
    /// `host:port` of the proxy.
    pub addr: String,
    /// Proxy protocol client.
    pub connector: ConnectorConfig,
    /// Transport.
    pub dialer: DialerConfig,
    /// Name of the `hosts:` table resolving this node's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<String>,
    /// Name of the `resolvers:` entry asked for names the hosts table does not map.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolver: Option<String>,
    /// Name of the `bypasses:` entry whose targets this node does not carry: it is not picked for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bypass: Option<String>,
    /// Several `bypasses:` entries, combined as upstream's bypass group.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bypasses: Vec<String>,
    /// Where the connection to this node leaves this host (first hop only), as a service's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Options of the socket to this node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sockopts: Option<SockOptsConfig>,
    /// Node metadata (`interface`, `so_mark`).
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// `sockopts:` of a service, hop or node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SockOptsConfig {
    /// `SO_MARK` of outgoing sockets (upstream's `so_mark`); 0 means none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mark: Option<i64>,
}

/// `node.connector`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectorConfig {
    /// Connector type: `socks5`, `socks`, `socks4`, `socks4a`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Credentials sent to the proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    /// Client TLS settings for the SOCKS5 negotiated-TLS methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// Connector options, see the `*ConnectorOptions` types in [`crate::options`].
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// `node.dialer`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DialerConfig {
    /// Dialer type: `tcp`, `tls`, `ws`, `wss`, `kcp`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Client TLS settings of `tls`/`wss` dialers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// Dialer options, see the `*DialerOptions` types in [`crate::options`].
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// A username and password.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// User name.
    pub username: String,
    /// Password; empty for SOCKS4 user ids.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// A file whose first entry (`user password`, upstream's auth file format) is the credential,
    /// instead of `username`/`password`. Only a node's connector reads it (upstream).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// `metrics:`: where the Prometheus text endpoint listens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsConfig {
    /// Listen address `host:port`; an empty host means all interfaces.
    pub addr: String,
    /// URL path served (default `/metrics`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// HTTP Basic credentials a scraper must send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    /// The `authers:` entry that checks a scraper's Basic credentials (upstream: `auth` is then
    /// ignored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auther: Option<String>,
    /// The `admissions:` entry a scraper's address must pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admission: Option<String>,
}

/// A named limiter (`climiters:`, `limiters:`, `rlimiters:`): upstream's `limits:` lines (for
/// `climiters:` read by [`crate::climit::parse_lines`]) and loaders.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LimiterConfig {
    /// Name referenced by `service.climiter` / `limiter` / `rlimiter`.
    pub name: String,
    /// `SCOPE LIMIT` lines: `$ 1000`, `$$ 100`, `192.168.1.1 10`, `10.0.0.0/8 5`; for `limiters:`
    /// `SCOPE IN [OUT]`: `$ 100MB 100MB`, `$$ 10MB`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<String>,
    /// Where more lines come from (a file, a Redis set, an HTTP body), re-read every `reload`.
    #[serde(flatten)]
    pub loaders: Loaders,
}

/// A named list of credentials (`authers:`): inline `auths`, loaders, or an HTTP plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AutherConfig {
    /// Name referenced by `handler.auther`.
    pub name: String,
    /// Accepted credentials.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auths: Vec<AuthConfig>,
    /// Where more credentials come from (upstream's `user password` lines; a Redis hash).
    #[serde(flatten)]
    pub loaders: Loaders,
    /// An external authentication service (only `type: http` is built); the other fields are unused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<PluginConfig>,
}

/// A named admission or bypass list (`admissions:`, `bypasses:`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListConfig {
    /// Name referenced by services.
    pub name: String,
    /// Only matching entries pass (the CLI's `~` prefix).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub whitelist: bool,
    /// Inline entries: IPs, CIDRs, names (and for bypass ranges, wildcards, ports).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<String>,
    /// Where more entries come from.
    #[serde(flatten)]
    pub loaders: Loaders,
}

/// The loaders a named component shares with upstream (`reload`, `file`, `redis`, `http`): each
/// source's entries are added to the inline ones, read again every `reload`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Loaders {
    /// How often the loaders are read again.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_duration",
        deserialize_with = "de_duration"
    )]
    pub reload: Option<Duration>,
    /// A file in the component's line format (`#` comments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileLoader>,
    /// A Redis key (a hash of users for authers, a set of entries for lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisLoader>,
    /// An HTTP URL answering the file format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpLoader>,
}

/// `file:` of a loader.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileLoader {
    /// The file.
    pub path: String,
}

/// `redis:` of a loader.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RedisLoader {
    /// `host:port`.
    pub addr: String,
    /// Database number (default 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub db: i64,
    /// ACL user name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The key (default `gost`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// `http:` of a loader.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpLoader {
    /// The URL (GET; a 200 answer's body is the data).
    pub url: String,
    /// Request timeout.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_duration",
        deserialize_with = "de_duration"
    )]
    pub timeout: Option<Duration>,
}

/// `plugin:` of an auther.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PluginConfig {
    /// `http` (upstream's default, `grpc`, is not built).
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The service's URL.
    pub addr: String,
    /// Bound on one call (default 10 s).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_duration",
        deserialize_with = "de_duration"
    )]
    pub timeout: Option<Duration>,
}

/// Certificate files (server side) or client TLS settings (dialer/connector side).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TlsConfig {
    /// PEM certificate chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    /// PEM private key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// PEM CA: on a server it makes client certificates mandatory; on a client it verifies the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Client: verify the server certificate and name (upstream default: no verification).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub secure: bool,
    /// Client: SNI / verified name (default: the node's host).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
}

/// Node selection and failure marking for a hop or a forwarder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SelectorConfig {
    /// `round`/`rr`, `random`/`rand`, `fifo`/`ha`, `hash` (default round robin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// Failures before a node is skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_fails: Option<i64>,
    /// How long a failed node is skipped.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_duration",
        deserialize_with = "de_duration"
    )]
    pub fail_timeout: Option<Duration>,
}

/// `log:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// `trace`, `debug`, `info` (default), `warn`, `error`, `fatal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// `text` (gost-rs default) or `json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// `stderr` (default), `stdout`, `none` or a file path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// `rotation:` of a log file (ignored unless `output` is a file path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<LogRotation>,
}

/// `log.rotation:`, with upstream's (lumberjack's) meaning; a value left out or 0 is upstream's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LogRotation {
    /// Megabytes a file may reach before it is rotated (default 100).
    #[serde(skip_serializing_if = "is_zero")]
    pub max_size: i64,
    /// Days a rotated file is kept, by the time in its name (default: no limit).
    #[serde(skip_serializing_if = "is_zero")]
    pub max_age: i64,
    /// How many rotated files are kept (default: all).
    #[serde(skip_serializing_if = "is_zero")]
    pub max_backups: i64,
    /// Name rotated files with local time instead of UTC.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub local_time: bool,
    /// Gzip rotated files.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub compress: bool,
}

fn ser_duration<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&format_go_duration(*d)),
        None => s.serialize_none(),
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    let nanos = parse_go_duration(&text).map_err(serde::de::Error::custom)?;
    Ok(Some(Duration::from_nanos(nanos.max(0) as u64)))
}

impl HopConfig {
    /// The names of the hop's bypasses (`bypass` then `bypasses`).
    pub fn bypass_names(&self) -> impl Iterator<Item = &str> {
        self.bypass.iter().chain(&self.bypasses).map(String::as_str)
    }
}

impl NodeConfig {
    /// The names of the node's bypasses (`bypass` then `bypasses`).
    pub fn bypass_names(&self) -> impl Iterator<Item = &str> {
        self.bypass.iter().chain(&self.bypasses).map(String::as_str)
    }
}

impl ServiceConfig {
    /// The names of the admissions the service uses (`admission` then `admissions`).
    pub fn admission_names(&self) -> impl Iterator<Item = &str> {
        self.admission
            .iter()
            .chain(&self.admissions)
            .map(String::as_str)
    }

    /// The names of the bypasses the service uses (`bypass` then `bypasses`).
    pub fn bypass_names(&self) -> impl Iterator<Item = &str> {
        self.bypass.iter().chain(&self.bypasses).map(String::as_str)
    }

    /// The chain this service dials through: `handler.chain`, else `listener.chain`.
    ///
    /// Upstream's command line puts the chain on the handler, except for `rtcp`/`rudp` listeners,
    /// which bind through it; its documentation also shows `listener.chain` on `udp` services, so a
    /// forwarding handler accepts either.
    pub fn chain(&self) -> Option<&str> {
        self.handler
            .chain
            .as_deref()
            .or(self.listener.chain.as_deref())
    }

    /// Forwarding targets (empty when there is no forwarder).
    pub fn targets(&self) -> &[ForwardNodeConfig] {
        self.forwarder.as_ref().map_or(&[], |f| &f.nodes)
    }
}

impl Config {
    /// The chain called `name`.
    pub fn chain(&self, name: &str) -> Option<&ChainConfig> {
        self.chains.iter().find(|c| c.name == name)
    }

    /// The `climiters:` entry called `name`.
    pub fn climiter(&self, name: &str) -> Option<&LimiterConfig> {
        self.climiters.iter().find(|l| l.name == name)
    }

    /// The `limiters:` entry called `name`.
    pub fn limiter(&self, name: &str) -> Option<&LimiterConfig> {
        self.limiters.iter().find(|l| l.name == name)
    }

    /// The `rlimiters:` entry called `name`.
    pub fn rlimiter(&self, name: &str) -> Option<&LimiterConfig> {
        self.rlimiters.iter().find(|l| l.name == name)
    }

    /// The auther called `name`.
    pub fn auther(&self, name: &str) -> Option<&AutherConfig> {
        self.authers.iter().find(|a| a.name == name)
    }

    /// The `admissions:` entry called `name`.
    pub fn admission(&self, name: &str) -> Option<&ListConfig> {
        self.admissions.iter().find(|a| a.name == name)
    }

    /// The `hosts:` entry called `name`.
    pub fn hosts_table(&self, name: &str) -> Option<&HostsConfig> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The `resolvers:` entry called `name`.
    pub fn resolver(&self, name: &str) -> Option<&ResolverConfig> {
        self.resolvers.iter().find(|r| r.name == name)
    }

    /// The `bypasses:` entry called `name`.
    pub fn bypass(&self, name: &str) -> Option<&ListConfig> {
        self.bypasses.iter().find(|a| a.name == name)
    }

    /// Every credential a service's handler accepts: `handler.auth` plus the users of the authers it
    /// names. Empty means no authentication.
    pub fn handler_credentials(&self, service: &ServiceConfig) -> Vec<AuthConfig> {
        let h = &service.handler;
        let names = h.auther.iter().chain(h.authers.iter());
        h.auth
            .iter()
            .cloned()
            .chain(
                names
                    .filter_map(|n| self.auther(n))
                    .flat_map(|a| a.auths.iter().cloned()),
            )
            .collect()
    }
}
