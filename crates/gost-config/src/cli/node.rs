//! `-F`: one argument to one hop of `chain-0`, one node per comma-separated address (gost-wire §8.3).

use super::query::*;
use crate::error::{ConfigError, Warning};
use crate::metadata::Metadata;
use crate::model::*;
use crate::options::egress;
use crate::registry;
use crate::url;

const FLAG: &str = "-F";

/// What a `-F` argument asks for besides its hop, all at hop level as upstream: the mappings of its
/// `?hosts=`, the nameservers of its `?resolver=` and the `(whitelist, matchers)` of its `?bypass=`.
#[derive(Debug, Default)]
pub(super) struct HopLists {
    pub(super) hosts: Option<Vec<HostMappingConfig>>,
    pub(super) resolver: Option<Vec<String>>,
    pub(super) bypass: Option<(bool, Vec<String>)>,
}

/// Hop `hop-{index}` of one `-F` argument and its [`HopLists`].
pub(super) fn build_hop(
    arg: &str,
    index: usize,
    warnings: &mut Vec<Warning>,
) -> Result<(HopConfig, HopLists), ConfigError> {
    let (u, mut md, auth) = parse_common(FLAG, arg)?;
    let (connector, dialer) = kinds(arg, &u.scheme)?;
    if !u.path.is_empty() {
        let message = format!(
            "unexpected path `/{}` (a node is scheme://host:port?options)",
            u.path
        );
        return Err(url_err(FLAG, arg, message));
    }
    let tls = DialerTls::take(arg, &mut md)?;
    let selector = take_selector(&mut md).map_err(|m| url_err(FLAG, arg, m))?;
    let lists = HopLists {
        hosts: take_hosts(FLAG, arg, &mut md)?,
        resolver: take_resolver(&mut md),
        bypass: take_list(FLAG, arg, &mut md, "bypass")?,
    };
    drop_unsupported(FLAG, arg, &mut md, warnings)?;

    let mut hop = HopConfig {
        name: format!("hop-{index}"),
        selector,
        ..Default::default()
    };
    let mut template = NodeConfig {
        connector: ConnectorConfig {
            kind: connector.clone(),
            auth,
            ..Default::default()
        },
        dialer: DialerConfig {
            kind: dialer.clone(),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut node_md = Metadata::new();
    // Upstream: the command line's `interface` and `so_mark` are the hop's, inherited by its nodes.
    for key in [egress::INTERFACE, egress::SO_MARK] {
        if let Some(v) = md.remove(key) {
            hop.metadata.insert(key, v);
        }
    }
    take_prefixed(&mut md, "hop.", &mut hop.metadata);
    take_prefixed(&mut md, "node.", &mut node_md);
    take_prefixed(&mut md, "connector.", &mut template.connector.metadata);
    take_prefixed(&mut md, "dialer.", &mut template.dialer.metadata);
    let mut targets = [
        Target::new(
            &mut template.connector.metadata,
            registry::connector_keys(&connector),
        ),
        Target::new(
            &mut template.dialer.metadata,
            registry::dialer_keys(&dialer),
        ),
    ];
    let everywhere = &mut [&mut hop.metadata, &mut node_md];
    route(FLAG, arg, md, &mut targets, everywhere, warnings)?;
    template.metadata = node_md;

    let uses_tls = tls.given || matches!(dialer.as_str(), "tls" | "wss");
    for addr in u.host.split(',') {
        let hp = url::split_host_ports(addr, false).map_err(|m| url_err(FLAG, arg, m))?;
        if hp.first != hp.last {
            return Err(url_err(
                FLAG,
                arg,
                format!("port range `{addr}` is not allowed for a node"),
            ));
        }
        let mut node = template.clone();
        node.name = format!("node-{}", hop.nodes.len());
        node.addr = addr.to_owned();
        if uses_tls {
            node.dialer.tls =
                Some(tls.for_host(hp.host.trim_start_matches('[').trim_end_matches(']')));
        }
        hop.nodes.push(node);
    }
    Ok((hop, lists))
}

/// Connector and dialer types from the scheme ([`split_kinds`], under the `http` connector). Upstream
/// reads a lone `auto` as the `http` connector over `tcp`.
fn kinds(arg: &str, scheme: &str) -> Result<(String, String), ConfigError> {
    let scheme = if scheme == "auto" { "http" } else { scheme };
    let registries = (registry::UPSTREAM_CONNECTORS, registry::UPSTREAM_DIALERS);
    split_kinds(FLAG, arg, scheme, registries, "http")
}

/// The TLS query keys of a node, destined for `dialer.tls`.
struct DialerTls {
    given: bool,
    cert: Option<String>,
    key: Option<String>,
    ca: Option<String>,
    secure: bool,
    server_name: Option<String>,
}

impl DialerTls {
    fn take(arg: &str, md: &mut Metadata) -> Result<Self, ConfigError> {
        let (cert, key, ca) = take_tls_files(md);
        let secure = take_bool(FLAG, arg, md, &["tls.secure", "secure"])?;
        let server_name = take_string(md, &["tls.serverName", "serverName"]);
        let given =
            cert.is_some() || key.is_some() || ca.is_some() || secure || server_name.is_some();
        Ok(DialerTls {
            given,
            cert,
            key,
            ca,
            secure,
            server_name,
        })
    }

    /// The node's TLS settings; `serverName` defaults to the node's host, as upstream.
    fn for_host(&self, host: &str) -> TlsConfig {
        TlsConfig {
            cert_file: self.cert.clone(),
            key_file: self.key.clone(),
            ca_file: self.ca.clone(),
            secure: self.secure,
            server_name: self
                .server_name
                .clone()
                .or_else(|| (!host.is_empty()).then(|| host.to_owned())),
        }
    }
}
