//! Which component types exist (upstream) and which gost-rs supports, and which metadata keys each
//! component reads, with their aliases and value kinds.
//!
//! Upstream's registries decide how a single-name URL scheme is read (`tls://` is handler `auto` over a
//! `tls` listener because `tls` is not a handler), so they are listed here even for types gost-rs
//! rejects later with a clear error. The key tables drive the command-line mapping (which metadata map
//! a query key goes to, and whether `true`/`4096` become YAML bools/ints), the canonical spelling of
//! keys, and typo detection.

/// Handler types gost-rs supports. `auto` detects SOCKS4 or SOCKS5 from the first byte (upstream also
/// detects HTTP, which gost-rs does not implement).
pub const HANDLER_TYPES: &[&str] = &[
    "socks5", "socks", "socks4", "socks4a", "auto", "tcp", "udp", "rtcp", "rudp", "forward",
];
/// Listener types gost-rs supports.
pub const LISTENER_TYPES: &[&str] = &["tcp", "tls", "ws", "wss", "kcp", "udp", "rtcp", "rudp"];
/// Connector types gost-rs supports.
pub const CONNECTOR_TYPES: &[&str] = &["socks5", "socks", "socks4", "socks4a"];
/// Dialer types gost-rs supports.
pub const DIALER_TYPES: &[&str] = &["tcp", "tls", "ws", "wss", "kcp"];

/// Upstream's handler registry (go-gost/x, v3): decides single-name schemes.
pub(crate) const UPSTREAM_HANDLERS: &[&str] = &[
    "auto", "dns", "file", "forward", "http", "http2", "http3", "metrics", "red", "redir",
    "redirect", "redu", "relay", "router", "rtcp", "rudp", "serial", "sni", "socks", "socks4",
    "socks4a", "socks5", "ss", "ssu", "sshd", "tap", "tcp", "tun", "tunnel", "udp", "unix",
    "runix",
];
/// Upstream's listener registry.
pub(crate) const UPSTREAM_LISTENERS: &[&str] = &[
    "dns",
    "dtls",
    "ftcp",
    "grpc",
    "h2",
    "h2c",
    "h3",
    "http2",
    "http3",
    "icmp",
    "kcp",
    "mtcp",
    "mtls",
    "mws",
    "mwss",
    "obfs-http",
    "obfs-tls",
    "ohttp",
    "otls",
    "pht",
    "phts",
    "quic",
    "red",
    "redir",
    "redirect",
    "redu",
    "rtcp",
    "rudp",
    "runix",
    "serial",
    "ssh",
    "sshd",
    "tap",
    "tcp",
    "tls",
    "tun",
    "udp",
    "unix",
    "ws",
    "wss",
    "wt",
];
/// Upstream's connector registry.
pub(crate) const UPSTREAM_CONNECTORS: &[&str] = &[
    "direct", "forward", "http", "http2", "relay", "router", "serial", "sni", "socks", "socks4",
    "socks4a", "socks5", "ss", "ssu", "sshd", "tcp", "tunnel", "unix",
];
/// Upstream's dialer registry.
pub(crate) const UPSTREAM_DIALERS: &[&str] = &[
    "dtls",
    "ftcp",
    "grpc",
    "h2",
    "h2c",
    "h3",
    "http2",
    "http3",
    "icmp",
    "kcp",
    "mtcp",
    "mtls",
    "mws",
    "mwss",
    "obfs-http",
    "obfs-tls",
    "ohttp",
    "otls",
    "pht",
    "phts",
    "quic",
    "serial",
    "ssh",
    "sshd",
    "tcp",
    "tls",
    "udp",
    "unix",
    "ws",
    "wss",
    "wt",
];

/// How a metadata value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// [`crate::Metadata::get_bool`].
    Bool,
    /// [`crate::Metadata::get_int`].
    Int,
    /// [`crate::Metadata::get_size`].
    Size,
    /// [`crate::Metadata::get_duration`].
    Duration,
    /// [`crate::Metadata::get_string`].
    String,
    /// [`crate::Metadata::get_string_map`].
    Map,
}

/// One metadata option: its aliases (first present wins, the first is the canonical spelling of the
/// group only for printing) and its kind.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    /// Aliases in upstream's lookup order.
    pub names: &'static [&'static str],
    /// Value kind.
    pub kind: KeyKind,
}

const fn k(names: &'static [&'static str], kind: KeyKind) -> KeySpec {
    KeySpec { names, kind }
}

use KeyKind::{Bool, Duration as Dur, Int, Map, Size, String as Str};

pub(crate) mod keys {
    //! Alias lists shared by the key tables and the typed option structs.
    pub(crate) const READ_TIMEOUT: &[&str] = &["readTimeout"];
    /// Client IPs/CIDRs that pass authentication with any credentials (upstream 3.3).
    pub(crate) const SKIPAUTH: &[&str] = &["skipauth"];
    pub(crate) const NOTLS: &[&str] = &["notls"];
    pub(crate) const BIND: &[&str] = &["bind"];
    /// Ports BIND/MBIND/UDP-TUN bind mode may open (gost-rs; upstream has no such key).
    pub(crate) const BIND_PORTS: &[&str] = &["bindPorts"];
    pub(crate) const UDP: &[&str] = &["udp"];
    pub(crate) const UDP_BUFFER_SIZE: &[&str] = &["udp.bufferSize", "udpBufferSize"];
    pub(crate) const PUBLIC_ADDR: &[&str] = &["socks.publicAddr", "publicAddr"];
    pub(crate) const COMP: &[&str] = &["comp"];
    pub(crate) const HASH: &[&str] = &["hash"];
    pub(crate) const MUX_VERSION: &[&str] = &["mux.version"];
    pub(crate) const MUX_KEEPALIVE_DISABLED: &[&str] = &["mux.keepaliveDisabled"];
    pub(crate) const MUX_KEEPALIVE_INTERVAL: &[&str] = &["mux.keepaliveInterval"];
    pub(crate) const MUX_KEEPALIVE_TIMEOUT: &[&str] = &["mux.keepaliveTimeout"];
    pub(crate) const MUX_MAX_FRAME_SIZE: &[&str] = &["mux.maxFrameSize"];
    pub(crate) const MUX_MAX_RECEIVE_BUFFER: &[&str] = &["mux.maxReceiveBuffer"];
    pub(crate) const MUX_MAX_STREAM_BUFFER: &[&str] = &["mux.maxStreamBuffer"];
    pub(crate) const TIMEOUT: &[&str] = &["timeout"];
    pub(crate) const RELAY: &[&str] = &["relay"];
    pub(crate) const UDP_TIMEOUT: &[&str] = &["udp.timeout"];
    pub(crate) const DISABLE4A: &[&str] = &["disable4a"];
    pub(crate) const FORWARD_BUFFER_SIZE: &[&str] =
        &["bufferSize", "readBufferSize", "udp.bufferSize"];
    pub(crate) const KEEPALIVE: &[&str] = &["keepalive"];
    pub(crate) const TTL: &[&str] = &["ttl", "keepalive.ttl"];
    pub(crate) const READ_BUFFER_SIZE: &[&str] = &["readBufferSize", "udp.bufferSize"];
    pub(crate) const READ_QUEUE_SIZE: &[&str] = &["readQueueSize", "recvQueueSize"];
    pub(crate) const BACKLOG: &[&str] = &["backlog"];
    pub(crate) const WS_PATH: &[&str] = &["ws.path", "path"];
    pub(crate) const WS_HOST: &[&str] = &["ws.host", "host"];
    pub(crate) const WS_HEADER: &[&str] = &["ws.header", "header"];
    pub(crate) const WS_COMPRESSION: &[&str] = &["enableCompression"];
    pub(crate) const WS_KEEPALIVE_INTERVAL: &[&str] = &["ttl", "keepalive.interval"];
    pub(crate) const HANDSHAKE_TIMEOUT: &[&str] = &["handshakeTimeout"];
    pub(crate) const KCP_TCP: &[&str] = &["kcp.tcp", "tcp"];
    pub(crate) const KCP_KEY: &[&str] = &["kcp.key"];
    pub(crate) const KCP_CRYPT: &[&str] = &["kcp.crypt"];
    pub(crate) const KCP_MODE: &[&str] = &["kcp.mode"];
    pub(crate) const KCP_KEEPALIVE: &[&str] = &["kcp.keepalive"];
    pub(crate) const KCP_INTERVAL: &[&str] = &["kcp.interval"];
    pub(crate) const KCP_MTU: &[&str] = &["kcp.mtu"];
    pub(crate) const KCP_RCVWND: &[&str] = &["kcp.rcvwnd"];
    pub(crate) const KCP_SNDWND: &[&str] = &["kcp.sndwnd"];
    pub(crate) const KCP_SMUXVER: &[&str] = &["kcp.smuxver"];
    pub(crate) const KCP_SMUXBUF: &[&str] = &["kcp.smuxbuf"];
    pub(crate) const KCP_STREAMBUF: &[&str] = &["kcp.streambuf"];
    pub(crate) const KCP_NOCOMP: &[&str] = &["kcp.nocomp"];
    pub(crate) const KCP_CONFIG_FILE: &[&str] = &["c", "kcp.configFile"];
    pub(crate) const KCP_CONFIG: &[&str] = &["kcp.config"];
}

const MUX: &[KeySpec] = &[
    k(keys::MUX_VERSION, Int),
    k(keys::MUX_KEEPALIVE_DISABLED, Bool),
    k(keys::MUX_KEEPALIVE_INTERVAL, Dur),
    k(keys::MUX_KEEPALIVE_TIMEOUT, Dur),
    k(keys::MUX_MAX_FRAME_SIZE, Size),
    k(keys::MUX_MAX_RECEIVE_BUFFER, Size),
    k(keys::MUX_MAX_STREAM_BUFFER, Size),
];

const SOCKS5_HANDLER: &[KeySpec] = &[
    k(keys::READ_TIMEOUT, Dur),
    k(keys::NOTLS, Bool),
    k(keys::BIND, Bool),
    k(keys::BIND_PORTS, Str),
    k(keys::UDP, Bool),
    k(keys::UDP_BUFFER_SIZE, Size),
    k(keys::PUBLIC_ADDR, Str),
    k(keys::COMP, Bool),
    k(keys::HASH, Str),
    k(keys::SKIPAUTH, Str),
];
const SOCKS4_HANDLER: &[KeySpec] = &[
    k(keys::READ_TIMEOUT, Dur),
    k(keys::BIND, Bool),
    k(keys::BIND_PORTS, Str),
    k(keys::HASH, Str),
    k(keys::SKIPAUTH, Str),
];
const FORWARD_HANDLER: &[KeySpec] = &[
    k(keys::READ_TIMEOUT, Dur),
    k(keys::FORWARD_BUFFER_SIZE, Size),
];

const UDP_LISTENER: &[KeySpec] = &[
    k(keys::KEEPALIVE, Bool),
    k(keys::TTL, Dur),
    k(keys::READ_BUFFER_SIZE, Size),
    k(keys::READ_QUEUE_SIZE, Int),
    k(keys::BACKLOG, Int),
];
const RUDP_LISTENER: &[KeySpec] = &[
    k(keys::TTL, Dur),
    k(keys::READ_BUFFER_SIZE, Size),
    k(keys::READ_QUEUE_SIZE, Int),
    k(keys::BACKLOG, Int),
];
const WS_LISTENER: &[KeySpec] = &[
    k(keys::WS_PATH, Str),
    k(keys::WS_HEADER, Map),
    k(keys::BACKLOG, Int),
    k(keys::WS_COMPRESSION, Bool),
];
const KCP_COMMON: &[KeySpec] = &[
    k(keys::KCP_TCP, Bool),
    k(keys::KCP_KEY, Str),
    k(keys::KCP_CRYPT, Str),
    k(keys::KCP_MODE, Str),
    k(keys::KCP_KEEPALIVE, Int),
    k(keys::KCP_INTERVAL, Int),
    k(keys::KCP_MTU, Int),
    k(keys::KCP_RCVWND, Int),
    k(keys::KCP_SNDWND, Int),
    k(keys::KCP_SMUXVER, Int),
    k(keys::KCP_SMUXBUF, Int),
    k(keys::KCP_STREAMBUF, Int),
    k(keys::KCP_NOCOMP, Bool),
    k(keys::KCP_CONFIG_FILE, Str),
    k(keys::KCP_CONFIG, Map),
];
const KCP_LISTENER_EXTRA: &[KeySpec] = &[k(keys::BACKLOG, Int)];

const SOCKS5_CONNECTOR: &[KeySpec] = &[
    k(keys::TIMEOUT, Dur),
    k(keys::NOTLS, Bool),
    k(keys::RELAY, Str),
    k(keys::UDP_BUFFER_SIZE, Size),
    k(keys::UDP_TIMEOUT, Dur),
];
const SOCKS4_CONNECTOR: &[KeySpec] = &[k(keys::TIMEOUT, Dur), k(keys::DISABLE4A, Bool)];

const TLS_DIALER: &[KeySpec] = &[k(keys::HANDSHAKE_TIMEOUT, Dur)];
const WS_DIALER: &[KeySpec] = &[
    k(keys::WS_PATH, Str),
    k(keys::WS_HOST, Str),
    k(keys::WS_HEADER, Map),
    k(keys::KEEPALIVE, Bool),
    k(keys::WS_KEEPALIVE_INTERVAL, Dur),
    k(keys::HANDSHAKE_TIMEOUT, Dur),
];

/// Metadata keys upstream reads somewhere that gost-rs ignores (kept, and reported as unsupported).
pub(crate) const UPSTREAM_ONLY_KEYS: &[&str] = &[
    "sniffing",
    "sniffing.timeout",
    "sniffing.websocket",
    "sniffing.websocket.sampleRate",
    "observePeriod",
    "observer.period",
    "observer.resetTraffic",
    "limiter.refreshInterval",
    "limiter.scope",
    "mitm.certFile",
    "mitm.keyFile",
    "mitm.alpn",
    "mitm.bypass",
    "udp.resolveDomain",
    "udpResolveDomain",
    "udp.bindRange.min",
    "udp.bindRange.max",
    "udp.minPort",
    "udp.maxPort",
    "tor",
    "enableTor",
    "socks5.tor",
    "proxyProtocol",
    "netns",
    "mptcp",
    "keepAlivePeriod",
    "readHeaderTimeout",
    "writeBufferSize",
    "idleTimeout",
    "mux.type",
    "mux.maxStreamWindow",
    "stateless",
    "dialTimeout",
    "retries",
    "resolver",
    "hosts",
    "limiter",
    "climiter",
];

/// Metadata and command-line options upstream reads that grant or restrict access and that gost-rs
/// does not implement. Using one is an error, never a warning: ignoring it would leave the service more
/// open than configured (fail closed).
pub(crate) const ACCESS_KEYS: &[&str] = &["bypass", "admission", "rlimiter"];

/// The spelling in [`ACCESS_KEYS`] of `key`, when `key` is an access-control option gost-rs refuses.
pub(crate) fn access_key(key: &str) -> Option<&'static str> {
    ACCESS_KEYS
        .iter()
        .copied()
        .find(|k| k.eq_ignore_ascii_case(key))
}

/// The metadata keys a handler type reads.
pub fn handler_keys(kind: &str) -> Vec<KeySpec> {
    match kind {
        "socks5" | "socks" => [SOCKS5_HANDLER, MUX].concat(),
        "socks4" | "socks4a" => SOCKS4_HANDLER.to_vec(),
        "auto" => [SOCKS5_HANDLER, MUX].concat(),
        "tcp" | "udp" | "rtcp" | "rudp" | "forward" => FORWARD_HANDLER.to_vec(),
        _ => Vec::new(),
    }
}

/// The metadata keys a listener type reads.
pub fn listener_keys(kind: &str) -> Vec<KeySpec> {
    match kind {
        "udp" => UDP_LISTENER.to_vec(),
        "rudp" => RUDP_LISTENER.to_vec(),
        "ws" | "wss" => WS_LISTENER.to_vec(),
        "kcp" => [KCP_COMMON, KCP_LISTENER_EXTRA].concat(),
        _ => Vec::new(),
    }
}

/// The metadata keys a connector type reads.
pub fn connector_keys(kind: &str) -> Vec<KeySpec> {
    match kind {
        "socks5" | "socks" => [SOCKS5_CONNECTOR, MUX].concat(),
        "socks4" | "socks4a" => SOCKS4_CONNECTOR.to_vec(),
        _ => Vec::new(),
    }
}

/// The metadata keys a dialer type reads.
pub fn dialer_keys(kind: &str) -> Vec<KeySpec> {
    match kind {
        "tls" => TLS_DIALER.to_vec(),
        "ws" => WS_DIALER.to_vec(),
        "wss" => [WS_DIALER, TLS_DIALER].concat(),
        "kcp" => KCP_COMMON.to_vec(),
        _ => Vec::new(),
    }
}

/// Every metadata key gost-rs reads anywhere, for typo suggestions.
pub(crate) fn all_known_keys() -> impl Iterator<Item = &'static str> {
    let tables: [&[KeySpec]; 13] = [
        MUX,
        SOCKS5_HANDLER,
        SOCKS4_HANDLER,
        FORWARD_HANDLER,
        UDP_LISTENER,
        RUDP_LISTENER,
        WS_LISTENER,
        KCP_COMMON,
        KCP_LISTENER_EXTRA,
        SOCKS5_CONNECTOR,
        SOCKS4_CONNECTOR,
        TLS_DIALER,
        WS_DIALER,
    ];
    tables
        .into_iter()
        .flat_map(|t| t.iter().flat_map(|s| s.names.iter().copied()))
}

/// The spec among `specs` that has `key` as one of its aliases, with the alias's canonical spelling.
pub(crate) fn find_key(specs: &[KeySpec], key: &str) -> Option<(KeySpec, &'static str)> {
    specs.iter().find_map(|spec| {
        spec.names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(key))
            .map(|n| (*spec, *n))
    })
}

/// True when only upstream reads `key` (gost-rs does not implement it).
pub(crate) fn is_upstream_only_key(key: &str) -> bool {
    UPSTREAM_ONLY_KEYS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(key))
}

/// Keys of a service's, hop's or node's own metadata that gost-rs reads (not a component's).
const EGRESS_KEYS: &[&str] = &[
    crate::options::egress::INTERFACE,
    crate::options::egress::SO_MARK,
];

/// True when `key` is read somewhere by upstream or by gost-rs (so it is not a typo).
pub(crate) fn is_known_key(key: &str) -> bool {
    all_known_keys()
        .chain(EGRESS_KEYS.iter().copied())
        .chain(UPSTREAM_ONLY_KEYS.iter().copied())
        .chain(ACCESS_KEYS.iter().copied())
        .any(|k| k.eq_ignore_ascii_case(key))
}

/// A "did you mean" for an unknown metadata key.
pub(crate) fn suggest_key(key: &str) -> Option<&'static str> {
    crate::suggest::closest(
        key,
        all_known_keys()
            .chain(EGRESS_KEYS.iter().copied())
            .chain(UPSTREAM_ONLY_KEYS.iter().copied())
            .chain(ACCESS_KEYS.iter().copied()),
    )
}
