//! WebSocket listener/dialer and TLS dialer options (gost-wire §6.1, §6.2).

use std::time::Duration;

use super::{duration_or, flag, optional_duration, positive_or, string};
use crate::metadata::{Metadata, MetadataError};
use crate::registry::keys;

/// Options of the `ws` and `wss` listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsListenerOptions {
    /// `path` / `ws.path`: the only path upgraded (default `/ws`).
    pub path: String,
    /// `header` / `ws.header`: extra response headers.
    pub header: Vec<(String, String)>,
    /// `backlog`: accept queue (default 128).
    pub backlog: usize,
    /// `enableCompression`: permessage-deflate (default false).
    pub enable_compression: bool,
}

impl Default for WsListenerOptions {
    fn default() -> Self {
        WsListenerOptions {
            path: "/ws".into(),
            header: Vec::new(),
            backlog: 128,
            enable_compression: false,
        }
    }
}

impl WsListenerOptions {
    /// Reads the listener's metadata.
    pub fn from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        Ok(WsListenerOptions {
            path: string(md, keys::WS_PATH)?.unwrap_or_else(|| "/ws".into()),
            header: md.get_string_map(keys::WS_HEADER)?.unwrap_or_default(),
            backlog: positive_or(md, keys::BACKLOG, 128)?,
            enable_compression: flag(md, keys::WS_COMPRESSION)?,
        })
    }
}

/// Options of the `ws` and `wss` dialers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsDialerOptions {
    /// `path` / `ws.path`: request path (default `/ws`).
    pub path: String,
    /// `host` / `ws.host`: `Host` header (default: the node address including its port).
    pub host: Option<String>,
    /// `header` / `ws.header`: extra request headers.
    pub header: Vec<(String, String)>,
    /// `keepalive`: send pings (default false).
    pub keepalive: bool,
    /// `ttl` / `keepalive.interval`: ping interval (default 15 s).
    pub keepalive_interval: Duration,
    /// `handshakeTimeout`: deadline of the WebSocket (and, for `wss`, TLS) handshake (default none).
    pub handshake_timeout: Option<Duration>,
}

impl Default for WsDialerOptions {
    fn default() -> Self {
        WsDialerOptions {
            path: "/ws".into(),
            host: None,
            header: Vec::new(),
            keepalive: false,
            keepalive_interval: Duration::from_secs(15),
            handshake_timeout: None,
        }
    }
}

impl WsDialerOptions {
    /// Reads the dialer's metadata.
    pub fn from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        Ok(WsDialerOptions {
            path: string(md, keys::WS_PATH)?.unwrap_or_else(|| "/ws".into()),
            host: string(md, keys::WS_HOST)?,
            header: md.get_string_map(keys::WS_HEADER)?.unwrap_or_default(),
            keepalive: flag(md, keys::KEEPALIVE)?,
            keepalive_interval: duration_or(
                md,
                keys::WS_KEEPALIVE_INTERVAL,
                Duration::from_secs(15),
            )?,
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
        assert_eq!(d.path, "/x");
        assert_eq!(d.host.as_deref(), Some("h:1"));
        assert_eq!(d.header, vec![("A".to_string(), "b".to_string())]);
        assert_eq!(d.keepalive_interval, Duration::from_secs(2));
        let bad: Metadata = serde_json::from_value(json!({"header": "A: b"})).unwrap();
        assert!(WsListenerOptions::from_metadata(&bad).is_err());
    }
}
