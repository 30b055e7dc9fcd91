//! Checks of the egress options (`interface`, `so_mark`; see [`EgressOptions`]): values that parse, a
//! warning where they cannot change anything, and an error where gost-rs would open a socket without
//! them (fail loud rather than leave through the wrong interface).

use crate::error::{ConfigError, Warning};
use crate::metadata::MetadataError;
use crate::model::{HopConfig, NodeConfig, ServiceConfig};
use crate::options::EgressOptions;

/// Service metadata keys upstream reads and gost-rs ignores (`-L …?netns=` puts them there too).
const UNBUILT_SERVICE_KEYS: [&str; 2] = ["netns", "proxyProtocol"];

fn invalid(s: &str, e: MetadataError) -> ConfigError {
    ConfigError::invalid(s, e.key, e.value, format!("is not {}", e.expected))
}

/// A service's options parse; with a chain they only reach what the service dials from this host.
pub(super) fn check_service(
    s: &str,
    svc: &ServiceConfig,
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    let o = EgressOptions::of_service(svc).map_err(|e| invalid(s, e))?;
    // Upstream reads these from a service's metadata too; gost-rs does not build them yet.
    for key in UNBUILT_SERVICE_KEYS {
        if let Some((k, _)) = svc.metadata.lookup(&[key]) {
            warnings.push(Warning::unsupported(
                format!("{s}: metadata.{k}"),
                "upstream option not supported by gost-rs yet; ignored",
            ));
        }
    }
    let local_targets = matches!(svc.handler.kind.as_str(), "rtcp" | "rudp");
    if !o.is_empty() && svc.chain().is_some() && !local_targets {
        warnings.push(Warning::new(
            format!("{s}: interface/so_mark"),
            "not used for connections through the chain; set them on the chain's first hop or its nodes",
        ));
    }
    Ok(())
}

/// A hop's options parse; beyond the first hop nothing opens a socket from this host.
pub(super) fn check_hop(
    hs: &str,
    hop_index: usize,
    hop: &HopConfig,
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    let o = EgressOptions::of_hop(hop).map_err(|e| invalid(hs, e))?;
    if hop_index > 0 && !o.is_empty() {
        warnings.push(beyond_first_hop(hs));
    }
    Ok(())
}

/// A node's options parse, and its dialer can honour them.
pub(super) fn check_node(
    s: &str,
    hop_index: usize,
    hop: &HopConfig,
    node: &NodeConfig,
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    let own = EgressOptions::of_node(&HopConfig::default(), node).map_err(|e| invalid(s, e))?;
    if hop_index > 0 && !own.is_empty() {
        warnings.push(beyond_first_hop(s));
    }
    // The hop's own errors are reported with the hop.
    let o = EgressOptions::of_node(hop, node).unwrap_or_default();
    if hop_index == 0 && !o.is_empty() && node.dialer.kind == "kcp" {
        return Err(ConfigError::invalid(
            s,
            "interface/so_mark",
            o.interface.unwrap_or_default(),
            "cannot be applied to the UDP socket of a kcp dialer; remove them or use a TCP-based dialer",
        ));
    }
    Ok(())
}

fn beyond_first_hop(s: &str) -> Warning {
    Warning::new(
        format!("{s}: interface/so_mark"),
        "has no effect beyond the first hop (the connection is made by the previous node)",
    )
}
