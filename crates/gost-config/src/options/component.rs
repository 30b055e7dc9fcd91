//! One typed-options value per component, chosen by the component's type, so a consumer can go from
//! a [`HandlerConfig`]/[`ListenerConfig`]/[`ConnectorConfig`]/[`DialerConfig`] straight to its options.

use super::*;
use crate::model::{ConnectorConfig, DialerConfig, HandlerConfig, ListenerConfig};

/// A handler's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerOptions {
    /// `socks5`, `socks` and `auto` (which also serves SOCKS4 with SOCKS5's read timeout).
    Socks5(Socks5HandlerOptions),
    /// `socks4`, `socks4a`.
    Socks4(Socks4HandlerOptions),
    /// `tcp`, `udp`, `rtcp`, `rudp`, `forward`.
    Forward(ForwardHandlerOptions),
}

/// A listener's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerOptions {
    /// `tcp`, `tls`, `rtcp`: nothing beyond `listener.tls`.
    Plain,
    /// `ws`, `wss`.
    Ws(WsListenerOptions),
    /// `kcp`.
    Kcp(KcpOptions),
    /// `udp` and `rudp` (with `rudp`'s defaults).
    Udp(UdpListenerOptions),
}

/// A connector's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorOptions {
    /// `socks5`, `socks`.
    Socks5(Socks5ConnectorOptions),
    /// `socks4`, `socks4a`.
    Socks4(Socks4ConnectorOptions),
}

/// A dialer's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialerOptions {
    /// `tcp`.
    Tcp,
    /// `tls` (certificates in `dialer.tls`).
    Tls(TlsDialerOptions),
    /// `ws` and `wss` (for `wss` the TLS settings are in `dialer.tls`).
    Ws(WsDialerOptions),
    /// `kcp`.
    Kcp(KcpOptions),
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
    /// The typed options of this handler, by its type.
    pub fn options(&self) -> Result<HandlerOptions, MetadataError> {
        let md = &self.metadata;
        Ok(match self.kind.as_str() {
            "socks5" | "socks" | "auto" => {
                HandlerOptions::Socks5(Socks5HandlerOptions::from_metadata(md)?)
            }
            "socks4" | "socks4a" => {
                HandlerOptions::Socks4(Socks4HandlerOptions::from_metadata(md)?)
            }
            "tcp" | "udp" | "rtcp" | "rudp" | "forward" => {
                HandlerOptions::Forward(ForwardHandlerOptions::from_metadata(md)?)
            }
            other => return Err(unsupported(other, "handler")),
        })
    }
}

impl ListenerConfig {
    /// The typed options of this listener, by its type.
    pub fn options(&self) -> Result<ListenerOptions, MetadataError> {
        let md = &self.metadata;
        Ok(match self.kind.as_str() {
            "tcp" | "tls" | "rtcp" => ListenerOptions::Plain,
            "ws" | "wss" => ListenerOptions::Ws(WsListenerOptions::from_metadata(md)?),
            "kcp" => ListenerOptions::Kcp(KcpOptions::from_metadata(md)?),
            "udp" => ListenerOptions::Udp(UdpListenerOptions::from_metadata(md)?),
            "rudp" => ListenerOptions::Udp(UdpListenerOptions::rudp_from_metadata(md)?),
            other => return Err(unsupported(other, "listener")),
        })
    }
}

impl ConnectorConfig {
    /// The typed options of this connector, by its type.
    pub fn options(&self) -> Result<ConnectorOptions, MetadataError> {
        let md = &self.metadata;
        Ok(match self.kind.as_str() {
            "socks5" | "socks" => {
                ConnectorOptions::Socks5(Socks5ConnectorOptions::from_metadata(md)?)
            }
            "socks4" | "socks4a" => {
                ConnectorOptions::Socks4(Socks4ConnectorOptions::from_metadata(md)?)
            }
            other => return Err(unsupported(other, "connector")),
        })
    }
}

impl DialerConfig {
    /// The typed options of this dialer, by its type.
    pub fn options(&self) -> Result<DialerOptions, MetadataError> {
        let md = &self.metadata;
        Ok(match self.kind.as_str() {
            "tcp" => DialerOptions::Tcp,
            "tls" => DialerOptions::Tls(TlsDialerOptions::from_metadata(md)?),
            "ws" | "wss" => DialerOptions::Ws(WsDialerOptions::from_metadata(md)?),
            "kcp" => DialerOptions::Kcp(KcpOptions::from_metadata(md)?),
            other => return Err(unsupported(other, "dialer")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_follow_the_type() {
        let (c, _) = crate::from_cli(
            &["udp://:53/:53?ttl=9s"],
            &["socks4+ws://h:1?disable4a=true"],
        )
        .unwrap();
        let svc = &c.services[0];
        assert!(matches!(
            svc.handler.options().unwrap(),
            HandlerOptions::Forward(_)
        ));
        match svc.listener.options().unwrap() {
            ListenerOptions::Udp(o) => assert_eq!(o.ttl, std::time::Duration::from_secs(9)),
            other => panic!("{other:?}"),
        }
        let node = &c.chains[0].hops[0].nodes[0];
        assert_eq!(
            node.connector.options().unwrap(),
            ConnectorOptions::Socks4(Socks4ConnectorOptions {
                timeout: None,
                disable4a: true
            })
        );
        assert!(matches!(
            node.dialer.options().unwrap(),
            DialerOptions::Ws(_)
        ));
        let bad = DialerConfig {
            kind: "quic".into(),
            ..Default::default()
        };
        assert!(bad.options().is_err());
    }
}
