//! Typed options of each component, read from its metadata with upstream's key names and aliases
//! (gost-wire §5.2, §6, §7, §8.4). They hold what was written: `None` (absent, or a value upstream
//! treats as unset) leaves the default of the library that uses the option, defined there once;
//! gost-app maps these structs onto the libraries' own option types.
//!
//! Every struct has `from_metadata(&Metadata) -> Result<Self, MetadataError>`; `HandlerConfig::kind()` (and the same on listener, connector and dialer)
//! gives the component's type as an enum ([`HandlerKind`], …) to pick the struct by. [`KcpOptions`]
//! is the exception: it reproduces upstream's effective KCP values (see its module).
//!
//! | component | struct | from |
//! |---|---|---|
//! | handler `socks5`/`socks`/`auto` | [`Socks5HandlerOptions`] | `service.handler.metadata` |
//! | handler `socks4`/`socks4a` | [`Socks4HandlerOptions`] | `service.handler.metadata` |
//! | handler `tcp`/`udp`/`rtcp`/`rudp`/`forward` | [`ForwardHandlerOptions`] | `service.handler.metadata` |
//! | listener `udp` | [`UdpListenerOptions`] | `service.listener.metadata` |
//! | listener `rudp` | [`UdpListenerOptions::rudp_from_metadata`] | `service.listener.metadata` |
//! | listener `ws`/`wss` | [`WsListenerOptions`] | `service.listener.metadata` |
//! | listener / dialer `kcp` | [`KcpOptions`] | `listener.metadata` / `dialer.metadata` |
//! | connector `socks5`/`socks` | [`Socks5ConnectorOptions`] | `node.connector.metadata` |
//! | connector `socks4`/`socks4a` | [`Socks4ConnectorOptions`] | `node.connector.metadata` |
//! | dialer `ws`/`wss` | [`WsDialerOptions`] | `node.dialer.metadata` |
//! | dialer `tls`/`wss` | [`TlsDialerOptions`] | `node.dialer.metadata` (+ `node.dialer.tls`) |
//! | service, node (hop) egress | [`EgressOptions`] | `interface`, `sockopts.mark`, `metadata.interface`/`so_mark` |

mod component;
pub mod egress;
mod forward;
mod kcp;
mod socks;
mod transport;

pub use component::{ConnectorKind, DialerKind, HandlerKind, ListenerKind};
pub use egress::EgressOptions;
pub use forward::{ForwardHandlerOptions, UdpListenerOptions};
pub use kcp::KcpOptions;
pub use socks::{
    MuxOptions, Socks4ConnectorOptions, Socks4HandlerOptions, Socks5ConnectorOptions,
    Socks5HandlerOptions,
};
pub use transport::{TlsDialerOptions, WsDialerOptions, WsListenerOptions};

use std::time::Duration;

use crate::metadata::{Metadata, MetadataError};

/// A duration key where zero/absent means "none".
fn optional_duration(md: &Metadata, keys: &[&str]) -> Result<Option<Duration>, MetadataError> {
    Ok(md.get_duration(keys)?.filter(|d| !d.is_zero()))
}

/// A size key where zero/absent means "unset".
fn optional_size(md: &Metadata, keys: &[&str]) -> Result<Option<usize>, MetadataError> {
    Ok(md.get_size(keys)?.filter(|n| *n > 0))
}

/// An integer key where zero/negative/absent means "unset".
fn optional_positive(md: &Metadata, keys: &[&str]) -> Result<Option<usize>, MetadataError> {
    Ok(md
        .get_int(keys)?
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0))
}

fn flag(md: &Metadata, keys: &[&str]) -> Result<bool, MetadataError> {
    Ok(md.get_bool(keys)?.unwrap_or(false))
}

fn string(md: &Metadata, keys: &[&str]) -> Result<Option<String>, MetadataError> {
    Ok(md.get_string(keys)?.filter(|s| !s.is_empty()))
}

/// The error for the present key of `keys` holding a value that is not `expected`.
fn invalid(md: &Metadata, keys: &[&str], expected: &str) -> MetadataError {
    match md.lookup(keys) {
        Some((key, value)) => MetadataError::new(key, value, expected),
        None => MetadataError {
            key: keys.join("|"),
            value: String::new(),
            expected: expected.to_owned(),
        },
    }
}

/// Metadata from a JSON object, for the option types' tests.
#[cfg(test)]
pub(crate) fn md(v: serde_json::Value) -> Metadata {
    serde_json::from_value(v).unwrap()
}
