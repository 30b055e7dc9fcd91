//! SOCKS4/SOCKS5 handler and connector options, and the smux settings of MBIND.

use std::ops::RangeInclusive;
use std::time::Duration;

use super::{flag, invalid, optional_duration, optional_positive, optional_size, string};
use crate::metadata::{Metadata, MetadataError};
use crate::registry::keys;

/// smux settings used by MBIND (handler and SOCKS5 connector `mux.*` keys, gost-wire §5.2), as
/// written: `None` (absent, or zero as upstream treats it) leaves gost-smux's default.
/// Both ends must use the same `version`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MuxOptions {
    /// `mux.version`: smux protocol version, 1 or 2.
    pub version: Option<u8>,
    /// `mux.keepaliveDisabled`.
    pub keepalive_disabled: bool,
    /// `mux.keepaliveInterval`.
    pub keepalive_interval: Option<Duration>,
    /// `mux.keepaliveTimeout`.
    pub keepalive_timeout: Option<Duration>,
    /// `mux.maxFrameSize`.
    pub max_frame_size: Option<usize>,
    /// `mux.maxReceiveBuffer`.
    pub max_receive_buffer: Option<usize>,
    /// `mux.maxStreamBuffer`.
    pub max_stream_buffer: Option<usize>,
}

impl MuxOptions {
    /// Reads the `mux.*` keys; zero values are "unset", as upstream.
    pub fn from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        let version = match md.get_int(keys::MUX_VERSION)? {
            None | Some(0) => None,
            Some(v @ (1 | 2)) => Some(v as u8),
            Some(_) => return Err(invalid(md, keys::MUX_VERSION, "a smux version (1 or 2)")),
        };
        Ok(MuxOptions {
            version,
            keepalive_disabled: flag(md, keys::MUX_KEEPALIVE_DISABLED)?,
            keepalive_interval: optional_duration(md, keys::MUX_KEEPALIVE_INTERVAL)?,
            keepalive_timeout: optional_duration(md, keys::MUX_KEEPALIVE_TIMEOUT)?,
            max_frame_size: optional_size(md, keys::MUX_MAX_FRAME_SIZE)?,
            max_receive_buffer: optional_size(md, keys::MUX_MAX_RECEIVE_BUFFER)?,
            max_stream_buffer: optional_size(md, keys::MUX_MAX_STREAM_BUFFER)?,
        })
    }
}

/// SOCKS5 server options (handler types `socks5`, `socks`; also read by `auto`), gost-wire §7.2, as
/// written: `None` (absent, or zero as upstream treats it) leaves gost-service's default.
///
/// Upstream's `hash` key (`host` makes the target the key of the `hash` node-selection strategy) is not
/// read: gost-rs has no `hash` strategy, so validation warns that it is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Socks5HandlerOptions {
    /// `readTimeout`: deadline for method selection, auth and request.
    pub read_timeout: Option<Duration>,
    /// `notls`: never select the GOST TLS methods 0x80/0x82 (default false).
    pub notls: bool,
    /// `bind`: allow BIND, MBIND and UDP-TUN bind mode (default false).
    pub bind: bool,
    /// `bindPorts`: the ports BIND, MBIND and UDP-TUN bind mode may open; empty = any.
    pub bind_ports: Vec<RangeInclusive<u16>>,
    /// `udp`: allow UDP ASSOCIATE and UDP-TUN (default false).
    pub udp: bool,
    /// `udp.bufferSize` / `udpBufferSize`: UDP read buffer.
    pub udp_buffer_size: Option<usize>,
    /// `socks.publicAddr` / `publicAddr`: host announced in BIND/MBIND/UDP replies.
    pub public_addr: Option<String>,
    /// `comp`: MBIND without the per-stream reply (GOST v2 clients) (default false).
    pub comp: bool,
    /// `mux.*`: MBIND smux settings.
    pub mux: MuxOptions,
}

impl Socks5HandlerOptions {
    /// Reads the handler's metadata.
    pub fn from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        Ok(Socks5HandlerOptions {
            read_timeout: optional_duration(md, keys::READ_TIMEOUT)?,
            notls: flag(md, keys::NOTLS)?,
            bind: flag(md, keys::BIND)?,
            bind_ports: bind_ports(md)?,
            udp: flag(md, keys::UDP)?,
            udp_buffer_size: optional_size(md, keys::UDP_BUFFER_SIZE)?,
            public_addr: string(md, keys::PUBLIC_ADDR)?,
            comp: flag(md, keys::COMP)?,
            mux: MuxOptions::from_metadata(md)?,
        })
    }
}

/// SOCKS4/4A server options (handler types `socks4`, `socks4a`), gost-wire §7.3. Upstream's `hash` is
/// not read, as for [`Socks5HandlerOptions`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Socks4HandlerOptions {
    /// `readTimeout`: deadline for the request (`None`: gost-service's default).
    pub read_timeout: Option<Duration>,
    /// `bind`: allow BIND (default false; gost-rs only, upstream has no SOCKS4 BIND).
    pub bind: bool,
    /// `bindPorts`: the ports BIND may open; empty = any.
    pub bind_ports: Vec<RangeInclusive<u16>>,
}

impl Socks4HandlerOptions {
    /// Reads the handler's metadata.
    pub fn from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        Ok(Socks4HandlerOptions {
            read_timeout: optional_duration(md, keys::READ_TIMEOUT)?,
            bind: flag(md, keys::BIND)?,
            bind_ports: bind_ports(md)?,
        })
    }
}

/// `bindPorts`: comma-separated ports and inclusive ranges, e.g. `20000-20100,30000`.
fn bind_ports(md: &Metadata) -> Result<Vec<RangeInclusive<u16>>, MetadataError> {
    let Some(value) = string(md, keys::BIND_PORTS)? else {
        return Ok(Vec::new());
    };
    let bad = || {
        invalid(
            md,
            keys::BIND_PORTS,
            "ports or ranges 1-65535, like `20000-20100,30000`",
        )
    };
    let port = |p: &str| match p.trim().parse::<u16>() {
        Ok(0) | Err(_) => Err(bad()),
        Ok(p) => Ok(p),
    };
    value
        .split(',')
        .map(|part| {
            let (lo, hi) = part.split_once('-').unwrap_or((part, part));
            let (lo, hi) = (port(lo)?, port(hi)?);
            if lo > hi {
                return Err(bad());
            }
            Ok(lo..=hi)
        })
        .collect()
}

/// SOCKS5 client options (connector types `socks5`, `socks`), gost-wire §7.4.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Socks5ConnectorOptions {
    /// `timeout`: deadline for the handshake and the CONNECT/UDP request (default none).
    pub timeout: Option<Duration>,
    /// `notls`: do not offer 0x80/0x82 (default false).
    pub notls: bool,
    /// `relay=udp`: UDP through standard UDP ASSOCIATE; false (default) uses UDP-TUN (0xF3).
    pub relay: bool,
    /// `udp.bufferSize` / `udpBufferSize`: buffer for `relay=udp` (`None`: gost-chain's default).
    pub udp_buffer_size: Option<usize>,
    /// `udp.timeout`: read deadline of the `relay=udp` socket (default none).
    pub udp_timeout: Option<Duration>,
    /// `mux.*`: smux settings for MBIND.
    pub mux: MuxOptions,
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
            udp_buffer_size: optional_positive(md, keys::UDP_BUFFER_SIZE)?,
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
    use crate::options::md;
    use serde_json::json;

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
        assert_eq!(o.udp_buffer_size, Some(8192));
        assert_eq!(o.read_timeout, None, "zero is unset, as upstream");
        assert_eq!(o.public_addr.as_deref(), Some("1.2.3.4"));
        assert_eq!(o.mux.version, Some(2));
        assert_eq!(o.mux.keepalive_interval, Some(Duration::from_secs(5)));
        assert_eq!(o.mux.max_frame_size, None);
    }

    #[test]
    fn bind_ports_are_ports_and_ranges() {
        let o =
            Socks5HandlerOptions::from_metadata(&md(json!({"bindPorts": "20000-20100, 30000"})))
                .unwrap();
        assert_eq!(o.bind_ports, [20000..=20100, 30000..=30000]);
        let o = Socks4HandlerOptions::from_metadata(&md(json!({"bind": true, "bindPorts": 2222})))
            .unwrap();
        assert!(o.bind);
        assert_eq!(o.bind_ports, [2222..=2222]);
        for bad in ["0", "2-1", "x", "1-", "70000", "1,,2"] {
            let err = Socks5HandlerOptions::from_metadata(&md(json!({ "bindPorts": bad })))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("bindPorts") && err.contains("20000-20100"),
                "{bad}: {err}"
            );
        }
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
