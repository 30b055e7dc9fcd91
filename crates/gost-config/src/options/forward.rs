//! Port-forwarding options: the forwarding handlers and the `udp`/`rudp` listeners (gost-wire §8.4).

use std::time::Duration;

use super::{duration_or, flag, positive_or, size_or};
use crate::metadata::{Metadata, MetadataError};
use crate::registry::keys;

/// Options of the forwarding handlers `tcp`, `udp`, `rtcp`, `rudp` and `forward`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardHandlerOptions {
    /// `readTimeout` (default 15 s; upstream uses it while sniffing the first bytes).
    pub read_timeout: Duration,
    /// `bufferSize` / `readBufferSize` / `udp.bufferSize`: UDP datagram buffer (default 4096).
    pub buffer_size: usize,
}

impl Default for ForwardHandlerOptions {
    fn default() -> Self {
        ForwardHandlerOptions {
            read_timeout: Duration::from_secs(15),
            buffer_size: 4096,
        }
    }
}

impl ForwardHandlerOptions {
    /// Reads the handler's metadata.
    pub fn from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        let d = ForwardHandlerOptions::default();
        Ok(ForwardHandlerOptions {
            read_timeout: duration_or(md, keys::READ_TIMEOUT, d.read_timeout)?,
            buffer_size: size_or(md, keys::FORWARD_BUFFER_SIZE, d.buffer_size)?,
        })
    }
}

/// Options of the `udp` listener (local UDP port forwarding) and, with other defaults, of the
/// `rudp` listener (remote UDP port forwarding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpListenerOptions {
    /// `keepalive`: keep a client's session until idle; when false (default) a session ends right
    /// after the first reply datagram (one request, one response, DNS style). Always true for `rudp`.
    pub keepalive: bool,
    /// `ttl` / `keepalive.ttl`: idle time after which a session is closed (default 5 s).
    pub ttl: Duration,
    /// `readBufferSize` / `udp.bufferSize`: datagram buffer; longer datagrams are truncated
    /// (default 4096 for `udp`, 8192 for `rudp`).
    pub read_buffer_size: usize,
    /// `readQueueSize` / `recvQueueSize`: datagrams queued per session (default 128 / 1024 for `rudp`).
    pub read_queue_size: usize,
    /// `backlog`: sessions waiting to be accepted (default 128).
    pub backlog: usize,
}

impl Default for UdpListenerOptions {
    fn default() -> Self {
        UdpListenerOptions {
            keepalive: false,
            ttl: Duration::from_secs(5),
            read_buffer_size: 4096,
            read_queue_size: 128,
            backlog: 128,
        }
    }
}

impl UdpListenerOptions {
    /// Upstream's defaults for the `rudp` listener.
    pub fn rudp_default() -> Self {
        UdpListenerOptions {
            keepalive: true,
            read_buffer_size: 8192,
            read_queue_size: 1024,
            ..Default::default()
        }
    }

    /// Reads a `udp` listener's metadata.
    pub fn from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        let mut o = Self::read(md, UdpListenerOptions::default())?;
        o.keepalive = flag(md, keys::KEEPALIVE)?;
        Ok(o)
    }

    /// Reads a `rudp` listener's metadata.
    pub fn rudp_from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        Self::read(md, UdpListenerOptions::rudp_default())
    }

    fn read(md: &Metadata, d: UdpListenerOptions) -> Result<Self, MetadataError> {
        Ok(UdpListenerOptions {
            keepalive: d.keepalive,
            ttl: duration_or(md, keys::TTL, d.ttl)?,
            read_buffer_size: size_or(md, keys::READ_BUFFER_SIZE, d.read_buffer_size)?,
            read_queue_size: positive_or(md, keys::READ_QUEUE_SIZE, d.read_queue_size)?,
            backlog: positive_or(md, keys::BACKLOG, d.backlog)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn md(v: serde_json::Value) -> Metadata {
        serde_json::from_value(v).unwrap()
    }

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
                ttl: Duration::from_secs(30),
                read_buffer_size: 65535,
                read_queue_size: 128,
                backlog: 128
            }
        );
        let r = UdpListenerOptions::rudp_from_metadata(&Metadata::new()).unwrap();
        assert_eq!(
            (r.read_buffer_size, r.read_queue_size, r.ttl),
            (8192, 1024, Duration::from_secs(5))
        );
    }

    #[test]
    fn forward_handler_aliases() {
        let o = ForwardHandlerOptions::from_metadata(&md(json!({"readBufferSize": 9000}))).unwrap();
        assert_eq!(o.buffer_size, 9000);
        assert_eq!(
            ForwardHandlerOptions::from_metadata(&Metadata::new()).unwrap(),
            ForwardHandlerOptions::default()
        );
    }
}
