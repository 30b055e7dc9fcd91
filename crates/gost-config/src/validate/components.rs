//! Checks of each component's metadata: the typed options must parse (right kinds of values), sizes
//! must be in range, and keys that look like typos of known keys are rejected with a suggestion.

use super::one_of;
use crate::error::{ConfigError, Warning};
use crate::metadata::{Metadata, MetadataError, render};
use crate::model::NodeConfig;
use crate::options::*;
use crate::registry::{self, KeySpec};
use crate::validate::{MAX_UDP_BUFFER_SIZE, MIN_UDP_BUFFER_SIZE};

const KCP_CRYPTS: &[&str] = &[
    "aes", "aes-128", "aes-192", "salsa20", "blowfish", "twofish", "cast5", "3des", "xtea", "tea",
    "sm4", "xor", "none",
];
const KCP_MODES: &[&str] = &["normal", "fast", "fast2", "fast3"];

// Why options upstream reads have no effect in gost-rs (validation warns when they are written).
const FORWARD_SNIFF: &str = "upstream's forwarders use it while sniffing the first bytes; gost-rs's do not sniff, so it is ignored";
const FORWARD_BUFFER: &str = "gost-rs sizes forwarded datagrams with the udp/rudp listener's \
     readBufferSize; the handler's bufferSize is ignored";
const UDP_BACKLOG: &str = "gost-rs hands each datagram to its session at once and keeps no queue of \
     sessions waiting to be accepted; ignored";
const WS_COMPRESSION: &str = "gost-rs does not offer permessage-deflate; connections stay \
     uncompressed (every peer accepts that); ignored";

/// Warns that the present key of `keys` is ignored, saying `why`.
fn ignored(
    s: &str,
    section: &str,
    md: &Metadata,
    keys: &[&str],
    why: &str,
    warnings: &mut Vec<Warning>,
) {
    if let Some((key, _)) = md.lookup(keys) {
        warnings.push(Warning::unsupported(
            format!("{s}: {section}.metadata.{key}"),
            why,
        ));
    }
}
fn metadata_error(s: &str, section: &str, e: MetadataError) -> ConfigError {
    ConfigError::invalid(
        s,
        format!("{section}.metadata.{}", e.key),
        e.value,
        format!("is not {}", e.expected),
    )
}

fn check_udp_buffer(
    s: &str,
    section: &str,
    md: &Metadata,
    keys: &[&str],
    size: usize,
) -> Result<(), ConfigError> {
    if (MIN_UDP_BUFFER_SIZE..=MAX_UDP_BUFFER_SIZE).contains(&size) {
        return Ok(());
    }
    let (key, value) = md
        .lookup(keys)
        .map(|(k, v)| (k.to_owned(), render(v)))
        .unwrap_or_default();
    Err(ConfigError::invalid(
        s,
        format!("{section}.metadata.{key}"),
        value,
        format!(
            "is out of range; use {MIN_UDP_BUFFER_SIZE}..={MAX_UDP_BUFFER_SIZE} (at least the largest UDP datagram + 10; 65535 for anything)"
        ),
    ))
}

/// Warns about (or, when it looks like a typo, rejects) keys the component does not read.
fn check_keys(
    s: &str,
    section: &str,
    kind: &str,
    md: &Metadata,
    specs: &[KeySpec],
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    for (key, value) in md.iter() {
        if registry::find_key(specs, key).is_some() {
            continue;
        }
        if let Some(option) = registry::access_key(key) {
            return Err(ConfigError::AccessNotBuilt {
                path: format!("{s}: {section}.metadata"),
                option: option.to_owned(),
            });
        }
        if registry::is_upstream_only_key(key) {
            warnings.push(Warning::unsupported(
                format!("{s}: {section}.metadata.{key}"),
                "upstream option not supported by gost-rs yet; ignored",
            ));
            continue;
        }
        // Keys of other components are expected here: upstream's command line copies keys everywhere.
        if registry::is_known_key(key) {
            continue;
        }
        if let Some(suggestion) = registry::suggest_key(key) {
            return Err(ConfigError::invalid(
                s,
                format!("{section}.metadata.{key}"),
                render(value),
                format!("is an unknown option; did you mean `{suggestion}`?"),
            ));
        }
        warnings.push(Warning::unknown(
            format!("{s}: {section}.metadata.{key}"),
            format!("not an option of {section} `{kind}`; ignored"),
        ));
    }
    Ok(())
}

pub(super) fn check_handler_metadata(
    s: &str,
    kind: &str,
    md: &Metadata,
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    let err = |e| metadata_error(s, "handler", e);
    match HandlerKind::parse(kind) {
        Some(HandlerKind::Socks5 | HandlerKind::Auto) => {
            let o = Socks5HandlerOptions::from_metadata(md).map_err(err)?;
            if let Some(size) = o.udp_buffer_size {
                check_udp_buffer(s, "handler", md, registry::keys::UDP_BUFFER_SIZE, size)?;
            }
        }
        Some(HandlerKind::Socks4) => {
            Socks4HandlerOptions::from_metadata(md).map_err(err)?;
        }
        _ => {
            let o = ForwardHandlerOptions::from_metadata(md).map_err(err)?;
            if let Some(size) = o.buffer_size {
                check_udp_buffer(s, "handler", md, registry::keys::FORWARD_BUFFER_SIZE, size)?;
            }
            ignored(
                s,
                "handler",
                md,
                registry::keys::READ_TIMEOUT,
                FORWARD_SNIFF,
                warnings,
            );
            // Only the handler's own alias: `readBufferSize`/`udp.bufferSize` are the listener's keys
            // too, and the command line gives them to both.
            ignored(
                s,
                "handler",
                md,
                &registry::keys::FORWARD_BUFFER_SIZE[..1],
                FORWARD_BUFFER,
                warnings,
            );
        }
    }
    if md.lookup(registry::keys::HASH).is_some() {
        warnings.push(Warning::unsupported(
            format!("{s}: handler.metadata.hash"),
            "keys upstream's `hash` node selection, which gost-rs does not implement; ignored",
        ));
    }
    check_keys(
        s,
        "handler",
        kind,
        md,
        &registry::handler_keys(kind),
        warnings,
    )
}

pub(super) fn check_listener_metadata(
    s: &str,
    kind: &str,
    md: &Metadata,
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    let err = |e| metadata_error(s, "listener", e);
    match kind {
        "udp" | "rudp" => {
            let o = if kind == "udp" {
                UdpListenerOptions::from_metadata(md)
            } else {
                UdpListenerOptions::rudp_from_metadata(md)
            };
            let o = o.map_err(err)?;
            if let Some(size) = o.read_buffer_size {
                check_udp_buffer(s, "listener", md, registry::keys::READ_BUFFER_SIZE, size)?;
            }
            ignored(
                s,
                "listener",
                md,
                registry::keys::BACKLOG,
                UDP_BACKLOG,
                warnings,
            );
        }
        "ws" | "wss" => {
            let o = WsListenerOptions::from_metadata(md).map_err(err)?;
            if let Some(path) = &o.path {
                check_ws_path(s, "listener", md, path)?;
            }
            if o.enable_compression {
                ignored(
                    s,
                    "listener",
                    md,
                    registry::keys::WS_COMPRESSION,
                    WS_COMPRESSION,
                    warnings,
                );
            }
        }
        "kcp" => check_kcp(s, "listener", md)?,
        _ => {}
    }
    check_keys(
        s,
        "listener",
        kind,
        md,
        &registry::listener_keys(kind),
        warnings,
    )
}

fn check_ws_path(s: &str, section: &str, md: &Metadata, path: &str) -> Result<(), ConfigError> {
    if path.starts_with('/') {
        return Ok(());
    }
    let key = md
        .lookup(registry::keys::WS_PATH)
        .map(|(k, _)| k.to_owned())
        .unwrap_or_default();
    Err(ConfigError::invalid(
        s,
        format!("{section}.metadata.{key}"),
        path,
        "must start with `/`, e.g. /ws",
    ))
}

fn check_kcp(s: &str, section: &str, md: &Metadata) -> Result<(), ConfigError> {
    let o = KcpOptions::from_metadata(md).map_err(|e| metadata_error(s, section, e))?;
    let key = |names: &[&str]| {
        format!(
            "{section}.metadata.{}",
            md.lookup(names).map_or(names[0], |(k, _)| k)
        )
    };
    if let Some((_, v)) = md.lookup(registry::keys::KCP_CONFIG_FILE) {
        return Err(ConfigError::invalid(
            s,
            key(registry::keys::KCP_CONFIG_FILE),
            render(v),
            "is not supported yet; put the settings in `kcp.*` keys or a `kcp.config` map",
        ));
    }
    if o.tcp {
        return Err(ConfigError::invalid(
            s,
            key(registry::keys::KCP_TCP),
            "true",
            "is not supported yet (fake-TCP KCP); remove it to use KCP over UDP",
        ));
    }
    if !o.crypt.is_empty() && !KCP_CRYPTS.contains(&o.crypt.as_str()) {
        return Err(ConfigError::invalid(
            s,
            key(registry::keys::KCP_CRYPT),
            &o.crypt,
            one_of(&o.crypt, KCP_CRYPTS, "KCP cipher"),
        ));
    }
    if !o.mode.is_empty() && !KCP_MODES.contains(&o.mode.as_str()) {
        return Err(ConfigError::invalid(
            s,
            key(registry::keys::KCP_MODE),
            &o.mode,
            one_of(&o.mode, KCP_MODES, "KCP mode"),
        ));
    }
    if o.smux_ver > 2 {
        return Err(ConfigError::invalid(
            s,
            key(registry::keys::KCP_SMUXVER),
            o.smux_ver.to_string(),
            "is not a smux version (1 or 2)",
        ));
    }
    if o.smux_buf <= 0 || o.stream_buf <= 0 {
        return Err(ConfigError::invalid(
            s,
            key(registry::keys::KCP_SMUXBUF),
            o.smux_buf.to_string(),
            "must be positive: a `kcp.config` map without `sockbuf` needs kcp.smuxbuf and kcp.streambuf",
        ));
    }
    Ok(())
}

/// The connector's and dialer's metadata of a node.
pub(super) fn check_node_metadata(
    s: &str,
    node: &NodeConfig,
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    let (connector, dialer) = (node.connector.kind.as_str(), node.dialer.kind.as_str());
    let cmd = &node.connector.metadata;
    let err = |e| metadata_error(s, "connector", e);
    match ConnectorKind::parse(connector) {
        Some(ConnectorKind::Socks5) => {
            let o = Socks5ConnectorOptions::from_metadata(cmd).map_err(err)?;
            if let Some(size) = o.udp_buffer_size {
                check_udp_buffer(s, "connector", cmd, registry::keys::UDP_BUFFER_SIZE, size)?;
            }
        }
        _ => {
            Socks4ConnectorOptions::from_metadata(cmd).map_err(err)?;
        }
    }
    check_keys(
        s,
        "connector",
        connector,
        cmd,
        &registry::connector_keys(connector),
        warnings,
    )?;
    let dmd = &node.dialer.metadata;
    let err = |e| metadata_error(s, "dialer", e);
    match dialer {
        "ws" | "wss" => {
            let o = WsDialerOptions::from_metadata(dmd).map_err(err)?;
            if let Some(path) = &o.path {
                check_ws_path(s, "dialer", dmd, path)?;
            }
        }
        "tls" => {
            TlsDialerOptions::from_metadata(dmd).map_err(err)?;
        }
        "kcp" => check_kcp(s, "dialer", dmd)?,
        _ => {}
    }
    check_keys(
        s,
        "dialer",
        dialer,
        dmd,
        &registry::dialer_keys(dialer),
        warnings,
    )
}
