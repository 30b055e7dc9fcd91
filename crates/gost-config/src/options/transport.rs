//! WebSocket listener/dialer and TLS dialer options (gost-wire §6.1, §6.2).

use std::time::Duration;

use super::{flag, optional_duration, optional_positive, string};
use crate::metadata::{Metadata, MetadataError};
use crate::registry::keys;

/// Options of the `ws` and `wss` listeners, as written: `None` leaves gost-transport's default
/// (`WsOptions::default()`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WsListenerOptions {
    /// `path` / `ws.path`: the only path upgraded.
    pub path: Option<String>,
    /// `header` / `ws.header`: extra response headers.
    pub header: Vec<(String, String)>,
    /// `backlog`: upgraded connections waiting to be accepted.
    pub backlog: Option<usize>,
    /// `enableCompression`: upstream offers permessage-deflate; gost-rs does not implement it (the
    /// connection stays uncompressed, which every peer accepts), so validation warns when it is set.
    pub enable_compression: bool,
}

impl WsListenerOptions {
    /// Reads the listener's metadata.
    pub fn from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        Ok(WsListenerOptions {
            path: string(md, keys::WS_PATH)?,
            header: md.get_string_map(keys::WS_HEADER)?.unwrap_or_default(),
            backlog: optional_positive(md, keys::BACKLOG)?,
            enable_compression: flag(md, keys::WS_COMPRESSION)?,
        })
    }
}

/// Options of the `ws` and `wss` dialers, as written: `None` leaves gost-transport's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WsDialerOptions {
    /// `path` / `ws.path`: request path.
    pub path: Option<String>,
    /// `host` / `ws.host`: `Host` header (default: the node address including its port).
    pub host: Option<String>,
    /// `header` / `ws.header`: extra request headers.
    pub header: Vec<(String, String)>,
    /// `keepalive`: send pings (default false).
    pub keepalive: bool,
    /// `ttl` / `keepalive.interval`: ping interval.
    pub keepalive_interval: Option<Duration>,
    /// `handshakeTimeout`: deadline of the WebSocket (and, for `wss`, TLS) handshake.
    pub handshake_timeout: Option<Duration>,
}

impl WsDialerOptions {
    /// Reads the dialer's metadata.
    pub fn from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        Ok(WsDialerOptions {
            path: string(md, keys::WS_PATH)?,
            host: string(md, keys::WS_HOST)?,
            header: md.get_string_map(keys::WS_HEADER)?.unwrap_or_default(),
            keepalive: flag(md, keys::KEEPALIVE)?,
            keepalive_interval: optional_duration(md, keys::WS_KEEPALIVE_INTERVAL)?,
            handshake_timeout: optional_duration(md, keys::HANDSHAKE_TIMEOUT)?,
        })
    }
}

/// Metadata options of the `tls` (and `wss`) dialer; the certificate settings themselves are in
/// `node.dialer.tls` ([`crate::TlsConfig`]): no verification unless `secure`, SNI = `serverName` or the
/// node host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsDialerOptions {
    /// `handshakeTimeout`: deadline of the TLS handshake (default none).
    pub handshake_timeout: Option<Duration>,
}

impl TlsDialerOptions {
    /// Reads the dialer's metadata.
    pub fn from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        Ok(TlsDialerOptions {
            handshake_timeout: optional_duration(md, keys::HANDSHAKE_TIMEOUT)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ws_defaults_and_values() {
        assert_eq!(
            WsListenerOptions::from_metadata(&Metadata::new()).unwrap(),
            WsListenerOptions::default()
        );
        let md: Metadata = serde_json::from_value(
            json!({"path": "/x", "ws.host": "h:1", "header": {"A": "b"}, "ttl": "2s"}),
        )
        .unwrap();
        let d = WsDialerOptions::from_metadata(&md).unwrap();
        assert_eq!(d.path.as_deref(), Some("/x"));
        assert_eq!(d.host.as_deref(), Some("h:1"));
        assert_eq!(d.header, vec![("A".to_string(), "b".to_string())]);
        assert_eq!(d.keepalive_interval, Some(Duration::from_secs(2)));
        let bad: Metadata = serde_json::from_value(json!({"header": "A: b"})).unwrap();
        assert!(WsListenerOptions::from_metadata(&bad).is_err());
    }
}
