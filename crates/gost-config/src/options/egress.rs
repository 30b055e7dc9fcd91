//! Egress options (upstream's `interface` and `so_mark`): where the outgoing sockets of a service (its
//! direct dials and UDP associations) or of a chain node (the connection to the node) leave this host.
//!
//! Upstream reads them from the fields `interface` and `sockopts.mark` of a service, hop or node, and
//! from the keys `interface` and `so_mark` of their metadata (the command line's `?interface=` and
//! `?so_mark=`), the metadata winning. A node without its own takes its hop's, each option on its own.

use crate::metadata::{Metadata, MetadataError};
use crate::model::{HopConfig, NodeConfig, ServiceConfig, SockOptsConfig};

/// Metadata key of the outgoing interface.
pub const INTERFACE: &str = "interface";
/// Metadata key of the outgoing sockets' `SO_MARK`.
pub const SO_MARK: &str = "so_mark";

/// Linux's limit of a device name (`IFNAMSIZ` less the terminating NUL).
const MAX_DEVICE_NAME: usize = 15;

/// The egress options as written: `None` leaves the system's choice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressOptions {
    /// An IP address of this host to bind to, or a device name (`SO_BINDTODEVICE`).
    pub interface: Option<String>,
    /// `SO_MARK` of the outgoing sockets (0 is written as none, as upstream).
    pub mark: Option<u32>,
}

impl EgressOptions {
    /// True when neither option is set.
    pub fn is_empty(&self) -> bool {
        self.interface.is_none() && self.mark.is_none()
    }

    /// A service's options.
    pub fn of_service(svc: &ServiceConfig) -> Result<EgressOptions, MetadataError> {
        written(
            svc.interface.as_deref(),
            svc.sockopts.as_ref(),
            &svc.metadata,
        )
    }

    /// A hop's options, the default of its nodes.
    pub fn of_hop(hop: &HopConfig) -> Result<EgressOptions, MetadataError> {
        written(
            hop.interface.as_deref(),
            hop.sockopts.as_ref(),
            &hop.metadata,
        )
    }

    /// A node's options, each one falling back to its hop's.
    pub fn of_node(hop: &HopConfig, node: &NodeConfig) -> Result<EgressOptions, MetadataError> {
        let own = written(
            node.interface.as_deref(),
            node.sockopts.as_ref(),
            &node.metadata,
        )?;
        let hop = EgressOptions::of_hop(hop)?;
        Ok(EgressOptions {
            interface: own.interface.or(hop.interface),
            mark: own.mark.or(hop.mark),
        })
    }
}

fn written(
    interface: Option<&str>,
    sockopts: Option<&SockOptsConfig>,
    md: &Metadata,
) -> Result<EgressOptions, MetadataError> {
    let in_md = |mut e: MetadataError| {
        e.key = format!("metadata.{}", e.key);
        e
    };
    let interface = match md.get_string(&[INTERFACE]).map_err(in_md)? {
        Some(v) => Some(("metadata.interface", v)),
        None => interface.map(|v| ("interface", v.to_owned())),
    };
    let interface = interface
        .map(|(key, v)| (key, v.trim().to_owned()))
        .filter(|(_, v)| !v.is_empty())
        .map(|(key, v)| check_interface(key, v))
        .transpose()?;
    let mark = match md.get_int(&[SO_MARK]).map_err(in_md)? {
        Some(n) => Some(("metadata.so_mark", n)),
        None => sockopts.and_then(|o| o.mark).map(|n| ("sockopts.mark", n)),
    };
    let mark = mark
        .filter(|(_, n)| *n != 0)
        .map(|(key, n)| {
            u32::try_from(n).map_err(|_| {
                MetadataError::new(
                    key,
                    &n.into(),
                    "a mark from 0 to 4294967295 (SO_MARK is 32 bits)",
                )
            })
        })
        .transpose()?;
    Ok(EgressOptions { interface, mark })
}

/// One IP address or device name. Upstream also takes a comma-separated list tried in order (`!` for
/// strict); that is refused rather than half-applied.
fn check_interface(key: &str, v: String) -> Result<String, MetadataError> {
    let bad = |expected: &str| Err(MetadataError::new(key, &v.as_str().into(), expected));
    if v.contains(',') {
        return bad("one IP address or device name (lists of several are not supported)");
    }
    if v.parse::<std::net::IpAddr>().is_err()
        && (v.len() > MAX_DEVICE_NAME || v.contains(['/', ' ', '!']))
    {
        return bad("an IP address of this host or a network device name (at most 15 characters)");
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::md;
    use serde_json::json;

    #[test]
    fn metadata_wins_over_the_fields() {
        let mut svc = ServiceConfig {
            interface: Some("eth0".into()),
            sockopts: Some(SockOptsConfig { mark: Some(5) }),
            ..Default::default()
        };
        let o = EgressOptions::of_service(&svc).unwrap();
        assert_eq!((o.interface.as_deref(), o.mark), (Some("eth0"), Some(5)));
        svc.metadata = md(json!({"interface": "127.0.0.9", "so_mark": "7"}));
        let o = EgressOptions::of_service(&svc).unwrap();
        assert_eq!(
            (o.interface.as_deref(), o.mark),
            (Some("127.0.0.9"), Some(7))
        );
        assert!(
            EgressOptions::of_service(&ServiceConfig::default())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_node_falls_back_to_its_hop_option_by_option() {
        let hop = HopConfig {
            interface: Some("lo".into()),
            metadata: md(json!({"so_mark": 9})),
            ..Default::default()
        };
        let node = NodeConfig {
            interface: Some("127.0.0.9".into()),
            ..Default::default()
        };
        let o = EgressOptions::of_node(&hop, &node).unwrap();
        assert_eq!(
            (o.interface.as_deref(), o.mark),
            (Some("127.0.0.9"), Some(9))
        );
        let o = EgressOptions::of_node(&hop, &NodeConfig::default()).unwrap();
        assert_eq!(o.interface.as_deref(), Some("lo"));
    }

    #[test]
    fn bad_values_name_their_key() {
        for (v, key) in [
            (json!({"so_mark": -1}), "metadata.so_mark"),
            (json!({"so_mark": "x"}), "metadata.so_mark"),
            (
                json!({"interface": "10.0.0.1,10.0.0.2!"}),
                "metadata.interface",
            ),
            (
                json!({"interface": "a-very-long-device-name"}),
                "metadata.interface",
            ),
        ] {
            let svc = ServiceConfig {
                metadata: md(v),
                ..Default::default()
            };
            assert_eq!(EgressOptions::of_service(&svc).unwrap_err().key, key);
        }
        let svc = ServiceConfig {
            sockopts: Some(SockOptsConfig {
                mark: Some(1 << 40),
            }),
            ..Default::default()
        };
        assert_eq!(
            EgressOptions::of_service(&svc).unwrap_err().key,
            "sockopts.mark"
        );
    }
}
