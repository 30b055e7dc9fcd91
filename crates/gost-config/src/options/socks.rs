//! SOCKS4/SOCKS5 handler and connector options, and the smux settings of MBIND.

use std::time::Duration;

use super::{duration_or, flag, invalid, optional_duration, positive_or, size_or, string};
use crate::metadata::{Metadata, MetadataError};
use crate::registry::keys;

/// smux settings used by MBIND (handler and SOCKS5 connector `mux.*` keys, gost-wire §5.2).
/// Both ends must use the same `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuxOptions {
    /// `mux.version`: smux protocol version, 1 or 2 (default 1).
    pub version: u8,
    /// `mux.keepaliveDisabled` (default false).
    pub keepalive_disabled: bool,
    /// `mux.keepaliveInterval` (default 10 s).
    pub keepalive_interval: Duration,
    /// `mux.keepaliveTimeout` (default 30 s).
    pub keepalive_timeout: Duration,
    /// `mux.maxFrameSize` (default 32768).
    pub max_frame_size: usize,
    /// `mux.maxReceiveBuffer` (default 4194304).
    pub max_receive_buffer: usize,
    /// `mux.maxStreamBuffer` (default 65536).
    pub max_stream_buffer: usize,
}

impl Default for MuxOptions {
    fn default() -> Self {
        MuxOptions {
            version: 1,
            keepalive_disabled: false,
            keepalive_interval: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(30),
            max_frame_size: 32768,
            max_receive_buffer: 4_194_304,
            max_stream_buffer: 65536,
        }
    }
}

impl MuxOptions {
    /// Reads the `mux.*` keys; zero values keep the defaults, as upstream.
    pub fn from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        let d = MuxOptions::default();
        let version = match md.get_int(keys::MUX_VERSION)? {
            None | Some(0) => d.version,
            Some(v @ (1 | 2)) => v as u8,
            Some(_) => return Err(invalid(md, keys::MUX_VERSION, "a smux version (1 or 2)")),
        };
        Ok(MuxOptions {
            version,
            keepalive_disabled: flag(md, keys::MUX_KEEPALIVE_DISABLED)?,
            keepalive_interval: duration_or(
                md,
                keys::MUX_KEEPALIVE_INTERVAL,
                d.keepalive_interval,
            )?,
            keepalive_timeout: duration_or(md, keys::MUX_KEEPALIVE_TIMEOUT, d.keepalive_timeout)?,
            max_frame_size: size_or(md, keys::MUX_MAX_FRAME_SIZE, d.max_frame_size)?,
            max_receive_buffer: size_or(md, keys::MUX_MAX_RECEIVE_BUFFER, d.max_receive_buffer)?,
            max_stream_buffer: size_or(md, keys::MUX_MAX_STREAM_BUFFER, d.max_stream_buffer)?,
        })
    }
}

/// SOCKS5 server options (handler types `socks5`, `socks`; also read by `auto`), gost-wire §7.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socks5HandlerOptions {
    /// `readTimeout`: deadline for method selection, auth and request (default 15 s).
    pub read_timeout: Duration,
    /// `notls`: never select the GOST TLS methods 0x80/0x82 (default false).
    pub notls: bool,
    /// `bind`: allow BIND, MBIND and UDP-TUN bind mode (default false).
    pub bind: bool,
    /// `udp`: allow UDP ASSOCIATE and UDP-TUN (default false).
    pub udp: bool,
    /// `udp.bufferSize` / `udpBufferSize`: UDP read buffer (default 4096).
    pub udp_buffer_size: usize,
    /// `socks.publicAddr` / `publicAddr`: host announced in BIND/MBIND/UDP replies.
    pub public_addr: Option<String>,
    /// `comp`: MBIND without the per-stream reply (GOST v2 clients) (default false).
    pub comp: bool,
    /// `hash`: `host` makes the target the key of `hash` node selection.
    pub hash: Option<String>,
    /// `mux.*`: MBIND smux settings.
    pub mux: MuxOptions,
}

impl Default for Socks5HandlerOptions {
    fn default() -> Self {
        Socks5HandlerOptions {
            read_timeout: Duration::from_secs(15),
            notls: false,
            bind: false,
            udp: false,
            udp_buffer_size: 4096,
            public_addr: None,
            comp: false,
            hash: None,
            mux: MuxOptions::default(),
        }
    }
}

impl Socks5HandlerOptions {
    /// Reads the handler's metadata.
    pub fn from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        let d = Socks5HandlerOptions::default();
        Ok(Socks5HandlerOptions {
            read_timeout: duration_or(md, keys::READ_TIMEOUT, d.read_timeout)?,
            notls: flag(md, keys::NOTLS)?,
            bind: flag(md, keys::BIND)?,
            udp: flag(md, keys::UDP)?,
            udp_buffer_size: size_or(md, keys::UDP_BUFFER_SIZE, d.udp_buffer_size)?,
            public_addr: string(md, keys::PUBLIC_ADDR)?,
            comp: flag(md, keys::COMP)?,
            hash: string(md, keys::HASH)?,
            mux: MuxOptions::from_metadata(md)?,
        })
    }
}

/// SOCKS4/4A server options (handler types `socks4`, `socks4a`), gost-wire §7.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socks4HandlerOptions {
    /// `readTimeout`: deadline for the request (default 15 s).
    pub read_timeout: Duration,
    /// `hash`: see [`Socks5HandlerOptions::hash`].
    pub hash: Option<String>,
}

impl Default for Socks4HandlerOptions {
    fn default() -> Self {
        Socks4HandlerOptions {
            read_timeout: Duration::from_secs(15),
            hash: None,
        }
    }
}

impl Socks4HandlerOptions {
    /// Reads the handler's metadata.
    pub fn from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        Ok(Socks4HandlerOptions {
            read_timeout: duration_or(md, keys::READ_TIMEOUT, Duration::from_secs(15))?,
            hash: string(md, keys::HASH)?,
        })
    }
}

/// SOCKS5 client options (connector types `socks5`, `socks`), gost-wire §7.4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socks5ConnectorOptions {
    /// `timeout`: deadline for the handshake and the CONNECT/UDP request (default none).
    pub timeout: Option<Duration>,
    /// `notls`: do not offer 0x80/0x82 (default false).
    pub notls: bool,
    /// `relay=udp`: UDP through standard UDP ASSOCIATE; false (default) uses UDP-TUN (0xF3).
    pub relay: bool,
    /// `udp.bufferSize` / `udpBufferSize`: buffer for `relay=udp` (default 4096).
    pub udp_buffer_size: usize,
    /// `udp.timeout`: read deadline of the `relay=udp` socket (default none).
    pub udp_timeout: Option<Duration>,
    /// `mux.*`: smux settings for MBIND.
    pub mux: MuxOptions,
}

impl Default for Socks5ConnectorOptions {
    fn default() -> Self {
        Socks5ConnectorOptions {
            timeout: None,
            notls: false,
            relay: false,
            udp_buffer_size: 4096,
            udp_timeout: None,
            mux: MuxOptions::default(),
        }
    }
}

impl Socks5ConnectorOptions {
    /// Reads the connector's metadata. `relay` must be `udp` or empty (upstream treats any other
    /// value as UDP-TUN, which is never what someone writing `relay=true` wants).
    pub fn from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        let relay = match string(md, keys::RELAY)? {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("udp") => true,
            Some(_) => {
                return Err(invalid(
                    md,
                    keys::RELAY,
                    "a relay mode (`udp` for standard UDP ASSOCIATE; omit it for UDP-TUN)",
                ));
            }
        };
        Ok(Socks5ConnectorOptions {
            timeout: optional_duration(md, keys::TIMEOUT)?,
            notls: flag(md, keys::NOTLS)?,
            relay,
            udp_buffer_size: positive_or(md, keys::UDP_BUFFER_SIZE, 4096)?,
            udp_timeout: optional_duration(md, keys::UDP_TIMEOUT)?,
            mux: MuxOptions::from_metadata(md)?,
        })
    }
}

/// SOCKS4/4A client options (connector types `socks4`, `socks4a`), gost-wire §7.5.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Socks4ConnectorOptions {
    /// `timeout`: deadline for request and reply (default none).
    pub timeout: Option<Duration>,
    /// `disable4a`: resolve names locally and send plain SOCKS4 (default false: always 4A form).
    pub disable4a: bool,
}

impl Socks4ConnectorOptions {
    /// Reads the connector's metadata.
    pub fn from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        Ok(Socks4ConnectorOptions {
            timeout: optional_duration(md, keys::TIMEOUT)?,
            disable4a: flag(md, keys::DISABLE4A)?,
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
    fn socks5_handler_defaults_and_aliases() {
        assert_eq!(
            Socks5HandlerOptions::from_metadata(&Metadata::new()).unwrap(),
            Socks5HandlerOptions::default()
        );
        let o = Socks5HandlerOptions::from_metadata(&md(json!({
            "udp": "true", "udp.bufferSize": "8192", "udpBufferSize": 1, "readTimeout": "0",
            "publicAddr": "1.2.3.4", "mux.version": 2, "mux.keepaliveInterval": "5s", "mux.maxFrameSize": 0
        })))
        .unwrap();
        assert!(o.udp && !o.bind);
        assert_eq!(o.udp_buffer_size, 8192);
        assert_eq!(o.read_timeout, Duration::from_secs(15));
        assert_eq!(o.public_addr.as_deref(), Some("1.2.3.4"));
        assert_eq!(o.mux.version, 2);
        assert_eq!(o.mux.keepalive_interval, Duration::from_secs(5));
        assert_eq!(o.mux.max_frame_size, 32768);
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(Socks5HandlerOptions::from_metadata(&md(json!({"bind": "yes"}))).is_err());
        assert!(Socks5HandlerOptions::from_metadata(&md(json!({"mux.version": 3}))).is_err());
        let err = Socks5ConnectorOptions::from_metadata(&md(json!({"relay": "true"}))).unwrap_err();
        assert!(
            err.to_string().contains("`udp` for standard UDP ASSOCIATE"),
            "{err}"
        );
    }

    #[test]
    fn connectors() {
        let o =
            Socks5ConnectorOptions::from_metadata(&md(json!({"relay": "udp", "timeout": "5s"})))
                .unwrap();
        assert!(o.relay);
        assert_eq!(o.timeout, Some(Duration::from_secs(5)));
        let o =
            Socks4ConnectorOptions::from_metadata(&md(json!({"disable4a": true, "timeout": 0})))
                .unwrap();
        assert_eq!(
            o,
            Socks4ConnectorOptions {
                timeout: None,
                disable4a: true
            }
        );
    }
}
