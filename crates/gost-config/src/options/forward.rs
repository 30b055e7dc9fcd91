//! Port-forwarding options: the forwarding handlers and the `udp`/`rudp` listeners (gost-wire §8.4).

use std::time::Duration;

use super::{flag, optional_duration, optional_positive, optional_size};
use crate::metadata::{Metadata, MetadataError};
use crate::registry::keys;

/// Options of the forwarding handlers `tcp`, `udp`, `rtcp`, `rudp` and `forward`, as written. gost-rs's
/// forwarders read neither: upstream uses `readTimeout` while sniffing the first bytes (gost-rs does not
/// sniff) and `bufferSize` for its handler-side UDP relay (gost-rs's datagrams are sized by the `udp`/
/// `rudp` listener's `readBufferSize`), so validation warns that they are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardHandlerOptions {
    /// `readTimeout`.
    pub read_timeout: Option<Duration>,
    /// `bufferSize` / `readBufferSize` / `udp.bufferSize`.
    pub buffer_size: Option<usize>,
}

impl ForwardHandlerOptions {
    /// Reads the handler's metadata.
    pub fn from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        Ok(ForwardHandlerOptions {
            read_timeout: optional_duration(md, keys::READ_TIMEOUT)?,
            buffer_size: optional_size(md, keys::FORWARD_BUFFER_SIZE)?,
        })
    }
}

/// Options of the `udp` listener (local UDP port forwarding) and of the `rudp` listener (remote UDP
/// port forwarding), as written: `None` (absent, or zero as upstream treats it) leaves gost-service's
/// default (`UdpForwardOptions::default()` for `udp`, `UdpForwardOptions::rudp()` for `rudp`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UdpListenerOptions {
    /// `keepalive` (`udp` only; `rudp` always keeps sessions): keep a client's session until idle;
    /// when false a session ends right after the first reply datagram (DNS style).
    pub keepalive: bool,
    /// `ttl` / `keepalive.ttl`: idle time after which a session is closed.
    pub ttl: Option<Duration>,
    /// `readBufferSize` / `udp.bufferSize`: datagram buffer; longer datagrams are truncated.
    pub read_buffer_size: Option<usize>,
    /// `readQueueSize` / `recvQueueSize`: datagrams queued per session.
    pub read_queue_size: Option<usize>,
    /// `backlog`: upstream's queue of sessions waiting to be accepted. gost-rs hands each datagram
    /// to its session at once and has no such queue, so validation warns that it is ignored.
    pub backlog: Option<usize>,
}

impl UdpListenerOptions {
    /// Reads a `udp` listener's metadata.
    pub fn from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        let mut o = Self::rudp_from_metadata(md)?;
        o.keepalive = flag(md, keys::KEEPALIVE)?;
        Ok(o)
    }

    /// Reads a `rudp` listener's metadata (no `keepalive`).
    pub fn rudp_from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        Ok(UdpListenerOptions {
            keepalive: false,
            ttl: optional_duration(md, keys::TTL)?,
            read_buffer_size: optional_size(md, keys::READ_BUFFER_SIZE)?,
            read_queue_size: optional_positive(md, keys::READ_QUEUE_SIZE)?,
            backlog: optional_positive(md, keys::BACKLOG)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::md;
    use serde_json::json;

    #[test]
    fn udp_listener() {
        let o = UdpListenerOptions::from_metadata(&md(
            json!({"keepalive": "true", "ttl": "30s", "readBufferSize": 65535}),
        ))
        .unwrap();
        assert_eq!(
            o,
            UdpListenerOptions {
                keepalive: true,
                ttl: Some(Duration::from_secs(30)),
                read_buffer_size: Some(65535),
                read_queue_size: None,
                backlog: None,
            }
        );
        let r = UdpListenerOptions::rudp_from_metadata(&md(json!({"keepalive": "true"}))).unwrap();
        assert_eq!(r, UdpListenerOptions::default(), "rudp reads no keepalive");
        let zero = md(json!({"ttl": "0s", "readQueueSize": 0, "backlog": -1}));
        assert_eq!(
            UdpListenerOptions::from_metadata(&zero).unwrap(),
            UdpListenerOptions::default(),
            "zero and negative mean unset, as upstream"
        );
    }

    #[test]
    fn forward_handler_aliases() {
        let o = ForwardHandlerOptions::from_metadata(&md(json!({"readBufferSize": 9000}))).unwrap();
        assert_eq!(o.buffer_size, Some(9000));
        assert_eq!(
            ForwardHandlerOptions::from_metadata(&Metadata::new()).unwrap(),
            ForwardHandlerOptions::default()
        );
    }
}
