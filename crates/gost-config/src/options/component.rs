//! The type of each component (`handler.type`, `listener.type`, `connector.type`, `dialer.type`) as an
//! enum, so consumers match on a kind instead of on upstream's names and aliases (`socks`/`socks5`,
//! `socks4`/`socks4a`, an empty listener or dialer type meaning `tcp`).

use crate::metadata::MetadataError;
use crate::model::{ConnectorConfig, DialerConfig, HandlerConfig, ListenerConfig};

/// `handler.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerKind {
    /// `socks5`, `socks`.
    Socks5,
    /// `socks4`, `socks4a` (one handler serves both).
    Socks4,
    /// `auto`: SOCKS4/4A or SOCKS5 by the client's first byte, with SOCKS5's options.
    Auto,
    /// `tcp` and `forward`: local TCP port forwarding.
    Tcp,
    /// `udp`: local UDP port forwarding.
    Udp,
    /// `rtcp`: remote TCP port forwarding.
    Rtcp,
    /// `rudp`: remote UDP port forwarding.
    Rudp,
}

impl HandlerKind {
    /// The kind of a handler type name; `None` for a type gost-rs does not implement.
    pub fn parse(name: &str) -> Option<HandlerKind> {
        Some(match name {
            "socks5" | "socks" => HandlerKind::Socks5,
            "socks4" | "socks4a" => HandlerKind::Socks4,
            "auto" => HandlerKind::Auto,
            "tcp" | "forward" => HandlerKind::Tcp,
            "udp" => HandlerKind::Udp,
            "rtcp" => HandlerKind::Rtcp,
            "rudp" => HandlerKind::Rudp,
            _ => return None,
        })
    }

    /// Whether this is a SOCKS server (SOCKS4, SOCKS5 or both).
    pub fn is_socks(self) -> bool {
        matches!(
            self,
            HandlerKind::Socks5 | HandlerKind::Socks4 | HandlerKind::Auto
        )
    }
}

/// `listener.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// `tcp` (also an empty type).
    Tcp,
    /// `tls`.
    Tls,
    /// `ws`.
    Ws,
    /// `wss`.
    Wss,
    /// `kcp`.
    Kcp,
    /// `udp`.
    Udp,
    /// `rtcp`.
    Rtcp,
    /// `rudp`.
    Rudp,
}

impl ListenerKind {
    /// The kind of a listener type name; `None` for a type gost-rs does not implement.
    pub fn parse(name: &str) -> Option<ListenerKind> {
        Some(match name {
            "" | "tcp" => ListenerKind::Tcp,
            "tls" => ListenerKind::Tls,
            "ws" => ListenerKind::Ws,
            "wss" => ListenerKind::Wss,
            "kcp" => ListenerKind::Kcp,
            "udp" => ListenerKind::Udp,
            "rtcp" => ListenerKind::Rtcp,
            "rudp" => ListenerKind::Rudp,
            _ => return None,
        })
    }
}

/// `connector.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorKind {
    /// `socks5`, `socks`.
    Socks5,
    /// `socks4`, `socks4a`.
    Socks4,
}

impl ConnectorKind {
    /// The kind of a connector type name; `None` for a type gost-rs does not implement.
    pub fn parse(name: &str) -> Option<ConnectorKind> {
        Some(match name {
            "socks5" | "socks" => ConnectorKind::Socks5,
            "socks4" | "socks4a" => ConnectorKind::Socks4,
            _ => return None,
        })
    }
}

/// `dialer.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialerKind {
    /// `tcp` (also an empty type).
    Tcp,
    /// `tls`.
    Tls,
    /// `ws`.
    Ws,
    /// `wss`.
    Wss,
    /// `kcp`.
    Kcp,
}

impl DialerKind {
    /// The kind of a dialer type name; `None` for a type gost-rs does not implement.
    pub fn parse(name: &str) -> Option<DialerKind> {
        Some(match name {
            "" | "tcp" => DialerKind::Tcp,
            "tls" => DialerKind::Tls,
            "ws" => DialerKind::Ws,
            "wss" => DialerKind::Wss,
            "kcp" => DialerKind::Kcp,
            _ => return None,
        })
    }
}

/// A component type gost-rs does not implement (validation reports it first).
fn unsupported(kind: &str, what: &str) -> MetadataError {
    MetadataError {
        key: "type".into(),
        value: kind.into(),
        expected: format!("a supported {what} type"),
    }
}

impl HandlerConfig {
    /// The typed `type` of this handler.
    pub fn kind(&self) -> Result<HandlerKind, MetadataError> {
        HandlerKind::parse(&self.kind).ok_or_else(|| unsupported(&self.kind, "handler"))
    }
}

impl ListenerConfig {
    /// The typed `type` of this listener.
    pub fn kind(&self) -> Result<ListenerKind, MetadataError> {
        ListenerKind::parse(&self.kind).ok_or_else(|| unsupported(&self.kind, "listener"))
    }
}

impl ConnectorConfig {
    /// The typed `type` of this connector.
    pub fn kind(&self) -> Result<ConnectorKind, MetadataError> {
        ConnectorKind::parse(&self.kind).ok_or_else(|| unsupported(&self.kind, "connector"))
    }
}

impl DialerConfig {
    /// The typed `type` of this dialer.
    pub fn kind(&self) -> Result<DialerKind, MetadataError> {
        DialerKind::parse(&self.kind).ok_or_else(|| unsupported(&self.kind, "dialer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;

    #[test]
    fn every_supported_type_has_a_kind_and_aliases_agree() {
        for t in registry::HANDLER_TYPES {
            assert!(HandlerKind::parse(t).is_some(), "{t}");
        }
        for t in registry::LISTENER_TYPES {
            assert!(ListenerKind::parse(t).is_some(), "{t}");
        }
        for t in registry::CONNECTOR_TYPES {
            assert!(ConnectorKind::parse(t).is_some(), "{t}");
        }
        for t in registry::DIALER_TYPES {
            assert!(DialerKind::parse(t).is_some(), "{t}");
        }
        assert_eq!(HandlerKind::parse("socks4a"), HandlerKind::parse("socks4"));
        assert_eq!(HandlerKind::parse("forward"), Some(HandlerKind::Tcp));
        assert!(HandlerKind::Auto.is_socks() && !HandlerKind::Rtcp.is_socks());
        assert_eq!(ListenerKind::parse(""), Some(ListenerKind::Tcp));
        assert_eq!(DialerKind::parse(""), Some(DialerKind::Tcp));
    }

    #[test]
    fn unsupported_types_name_the_type() {
        let (c, _) = crate::from_cli(&["socks4a://:1"], &["socks4+ws://h:1"]).unwrap();
        assert_eq!(c.services[0].handler.kind().unwrap(), HandlerKind::Socks4);
        let node = &c.chains[0].hops[0].nodes[0];
        assert_eq!(node.connector.kind().unwrap(), ConnectorKind::Socks4);
        assert_eq!(node.dialer.kind().unwrap(), DialerKind::Ws);
        let bad = DialerConfig {
            kind: "quic".into(),
            ..Default::default()
        };
        let e = bad.kind().unwrap_err();
        assert_eq!((e.key.as_str(), e.value.as_str()), ("type", "quic"));
    }
}
