//! Chains and routers from the configuration (`chains:` in YAML, `-F` on the command line): each node's
//! connector and dialer options become gost-chain's and gost-transport's own option types here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gost_chain::select::{DEFAULT_FAIL_TIMEOUT, DEFAULT_MAX_FAILS};
use gost_chain::{
    Chain, ChainObserver, Connector, Hop, Node, Router, Selector, Socks4Connector,
    Socks4ConnectorOptions, Socks5Connector, Socks5ConnectorOptions, Strategy,
};
use gost_config::options::{
    ConnectorKind, DialerKind, EgressOptions, KcpOptions, Socks4ConnectorOptions as Socks4Written,
    Socks5ConnectorOptions as Socks5Written, TlsDialerOptions, WsDialerOptions,
};
use gost_config::{
    AuthConfig, ChainConfig, Config, ConnectorConfig, DialerConfig, NodeConfig, SelectorConfig,
    ServiceConfig, TlsConfig,
};
use gost_service::gost_access::Credentials;
use gost_transport::kcp::KcpDialer;
use gost_transport::tcp::{Resolver, TcpDialer, TcpOptions};
use gost_transport::tls::{ClientTls, TlsClientOptions, TlsDialer};
use gost_transport::ws::{DEFAULT_KEEPALIVE_INTERVAL, WsDialer, WsOptions};
use gost_transport::{Dialer, Egress, Interface};

use crate::Error;
use crate::kcp::kcp_config;
use crate::mux::smux_config;
use crate::names::Tables;

/// The router of a service using chain `name` of `config` (direct when `name` is `None`), for a
/// configuration without `hosts:` tables (see [`router_with`]).
pub fn router(config: &Config, name: Option<&str>) -> Result<Router, Error> {
    router_with(config, name, &Tables::default(), None)
}

/// The router of a service using chain `name`, its nodes resolved through the hop's or node's table
/// in `tables`, its routes reported to `observer` (the metrics).
pub fn router_with(
    config: &Config,
    name: Option<&str>,
    tables: &Tables,
    observer: Option<&Arc<dyn ChainObserver>>,
) -> Result<Router, Error> {
    let Some(name) = name else {
        return Ok(Router::new(None));
    };
    let chain = config
        .chain(name)
        .ok_or_else(|| Error::Unsupported(format!("no chain named {name:?}")))?;
    let chain = chain_from_config(chain, tables)?;
    Ok(Router::new(Some(match observer {
        Some(o) => chain.with_observer(o.clone()),
        None => chain,
    })))
}

/// The router of `service`: its chain (if any) with nodes resolved through `tables`, targets
/// resolved through the service's own `hosts` table (if any) before dialling, and the sockets it opens
/// from this host leaving through the service's `interface`/`so_mark`; its chain's routes are
/// reported to `observer`.
pub fn service_router(
    config: &Config,
    service: &ServiceConfig,
    tables: &Tables,
    observer: Option<&Arc<dyn ChainObserver>>,
) -> Result<Router, Error> {
    let router = router_with(config, service.chain(), tables, observer)?
        .with_egress(service_egress(service)?);
    Ok(
        match tables.resolver(service.hosts.as_deref(), service.resolver.as_deref())? {
            Some(r) => router.with_resolver(r),
            None => router,
        },
    )
}

/// The egress of a service's own sockets (`interface`, `so_mark`).
pub fn service_egress(service: &ServiceConfig) -> Result<Egress, Error> {
    let o = EgressOptions::of_service(service).map_err(Error::metadata("service"))?;
    Ok(egress(o))
}

fn egress(o: EgressOptions) -> Egress {
    Egress {
        interface: o.interface.as_deref().map(Interface::parse),
        mark: o.mark,
    }
}

/// A chain from its configuration; a node's address is resolved through its own `hosts` table, else
/// its hop's (as upstream), else the system resolver. The bypasses of hops and nodes come started
/// from `tables`.
pub fn chain_from_config(cfg: &ChainConfig, tables: &Tables) -> Result<Chain, Error> {
    let hops = cfg
        .hops
        .iter()
        .map(|h| {
            let nodes = h
                .nodes
                .iter()
                .map(|n| {
                    let hosts = n.hosts.as_deref().or(h.hosts.as_deref());
                    let dns = n.resolver.as_deref().or(h.resolver.as_deref());
                    let out = EgressOptions::of_node(h, n).map_err(Error::metadata("node"))?;
                    let node = node_from_config(n, tables.resolver(hosts, dns)?, egress(out))?;
                    Ok(match tables.bypass(n.bypass_names())? {
                        Some(b) => node.with_bypass(b),
                        None => node,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            let selector = selector(h.selector.as_ref())?;
            let hop = Hop::new(h.name.clone(), nodes, selector)?;
            Ok(match tables.bypass(h.bypass_names())? {
                Some(b) => hop.with_bypass(b),
                None => hop,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Chain::new(cfg.name.clone(), hops)?)
}

/// A node from its configuration, its address resolved by `resolver` (default: the system's), its
/// sockets leaving this host through `egress` (the node's or hop's `interface`/`so_mark`).
pub fn node_from_config(
    cfg: &NodeConfig,
    resolver: Option<Arc<dyn Resolver>>,
    egress: Egress,
) -> Result<Node, Error> {
    let what = |e: Error| Error::Node {
        name: cfg.name.clone(),
        source: Box::new(e),
    };
    let connector = match connector_from_config(&cfg.connector).map_err(what)? {
        Connector::Socks5(c) => Connector::Socks5(c.with_egress(egress.clone())),
        other => other,
    };
    let dialer = dialer_from_config(&cfg.dialer, resolver, egress).map_err(what)?;
    // Parsed once, here: the router, connectors and dialers pass the address on as it is.
    let addr = gost_chain::addr::target_address(&cfg.addr).map_err(|e| what(e.into()))?;
    Ok(Node::new(cfg.name.clone(), addr, connector, dialer))
}

/// The selector of a hop or forwarder (`selector:`, `?strategy=&maxFails=&failTimeout=`); absent
/// values, zero and negative ones mean gost-chain's defaults, as upstream.
pub fn selector(cfg: Option<&SelectorConfig>) -> Result<Selector, Error> {
    let Some(cfg) = cfg else {
        return Ok(Selector::default());
    };
    let strategy = Strategy::parse(cfg.strategy.as_deref().unwrap_or(""))?;
    let max_fails = cfg
        .max_fails
        .filter(|n| *n > 0)
        .map_or(DEFAULT_MAX_FAILS, |n| u32::try_from(n).unwrap_or(u32::MAX));
    let fail_timeout = cfg
        .fail_timeout
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_FAIL_TIMEOUT);
    Ok(Selector::new(strategy, max_fails, fail_timeout))
}

/// A connector from its configuration (`socks5`/`socks`, `socks4`/`socks4a`).
pub fn connector_from_config(cfg: &ConnectorConfig) -> Result<Connector, Error> {
    let bad_md = Error::metadata("connector");
    match cfg
        .kind()
        .map_err(|_| unsupported("connector", &cfg.kind, "socks5, socks4"))?
    {
        ConnectorKind::Socks5 => {
            let written = Socks5Written::from_metadata(&cfg.metadata).map_err(bad_md)?;
            let creds = connector_credentials(cfg.auth.as_ref())?;
            let tls = client_tls(cfg.tls.as_ref(), None)?;
            let opts = socks5_connector_options(written);
            Ok(Connector::Socks5(Socks5Connector::new(opts, creds, tls)))
        }
        ConnectorKind::Socks4 => {
            let written = Socks4Written::from_metadata(&cfg.metadata).map_err(bad_md)?;
            let opts = Socks4ConnectorOptions {
                timeout: written.timeout,
                disable4a: written.disable4a,
            };
            let creds = connector_credentials(cfg.auth.as_ref())?;
            let user = creds.as_ref().map_or("", |(user, _)| user.as_str());
            Ok(Connector::Socks4(Socks4Connector::new(opts, user)))
        }
    }
}

/// The connector's `auth`: its `username`/`password`, or the first entry of its `file` (upstream's
/// auth file format), read each time the chain is built (at start and on SIGHUP).
fn connector_credentials(auth: Option<&AuthConfig>) -> Result<Option<(String, String)>, Error> {
    let Some(auth) = auth else { return Ok(None) };
    let Some(path) = &auth.file else {
        return Ok(Some((auth.username.clone(), auth.password.clone())));
    };
    let what = || format!("connector.auth.file {path:?}");
    let text = std::fs::read_to_string(path).map_err(|e| Error::Access {
        what: what(),
        source: Box::new(e),
    })?;
    match Credentials::first_in_text(&text) {
        Some(creds) => Ok(Some(creds)),
        None => Err(Error::Access {
            what: what(),
            source: "no `user password` line in it".into(),
        }),
    }
}

fn socks5_connector_options(w: Socks5Written) -> Socks5ConnectorOptions {
    let d = Socks5ConnectorOptions::default();
    Socks5ConnectorOptions {
        timeout: w.timeout,
        notls: w.notls,
        relay: w.relay,
        udp_buffer_size: w.udp_buffer_size.unwrap_or(d.udp_buffer_size),
        udp_timeout: w.udp_timeout,
        mux: smux_config(&w.mux),
    }
}

fn unsupported(what: &str, kind: &str, valid: &str) -> Error {
    Error::Unsupported(format!("{what} {kind:?} is not supported ({valid})"))
}

/// A dialer from its configuration (`tcp`, `tls`, `ws`, `wss`, `kcp`); `resolver` resolves the node's
/// name for the TCP-based ones, whose socket leaves through `egress` (validation refuses an egress
/// for `kcp`, whose UDP socket gost-kcp opens).
pub fn dialer_from_config(
    cfg: &DialerConfig,
    resolver: Option<Arc<dyn Resolver>>,
    egress: Egress,
) -> Result<Arc<dyn Dialer>, Error> {
    let bad_md = Error::metadata("dialer");
    let mut tcp = TcpDialer::new(TcpOptions::default()).with_egress(egress);
    if let Some(r) = resolver {
        tcp = tcp.with_resolver(r);
    }
    let kind = cfg
        .kind()
        .map_err(|_| unsupported("dialer", &cfg.kind, "tcp, tls, ws, wss, kcp"))?;
    match kind {
        DialerKind::Tcp => Ok(Arc::new(tcp)),
        DialerKind::Tls => {
            let opts = TlsDialerOptions::from_metadata(&cfg.metadata).map_err(bad_md)?;
            let tls = client_tls(cfg.tls.as_ref(), opts.handshake_timeout)?;
            Ok(Arc::new(TlsDialer::new(tcp, tls)))
        }
        DialerKind::Ws | DialerKind::Wss => {
            let opts = WsDialerOptions::from_metadata(&cfg.metadata).map_err(bad_md)?;
            let d = WsOptions::default();
            let interval = opts
                .keepalive_interval
                .unwrap_or(DEFAULT_KEEPALIVE_INTERVAL);
            let ws = WsOptions {
                path: opts.path.unwrap_or(d.path),
                host: opts.host,
                headers: opts.header,
                keepalive: opts.keepalive.then_some(interval),
                handshake_timeout: opts.handshake_timeout.unwrap_or(d.handshake_timeout),
                ..d
            };
            let tls = match kind {
                DialerKind::Wss => Some(client_tls(cfg.tls.as_ref(), opts.handshake_timeout)?),
                _ => None,
            };
            Ok(Arc::new(WsDialer::new(tcp, ws, tls)))
        }
        DialerKind::Kcp => {
            let opts = KcpOptions::from_metadata(&cfg.metadata).map_err(bad_md)?;
            let kcp = kcp_config(&opts, "dialer kcp options")?;
            Ok(Arc::new(KcpDialer::new(kcp)?))
        }
    }
}

/// The TLS client of a connector or dialer: upstream verifies nothing unless `secure` or a CA is set.
fn client_tls(
    cfg: Option<&TlsConfig>,
    handshake_timeout: Option<Duration>,
) -> Result<ClientTls, Error> {
    let mut opts = TlsClientOptions::default();
    if let Some(c) = cfg {
        opts.secure = c.secure;
        opts.server_name = c.server_name.clone();
        opts.ca_file = c.ca_file.as_ref().map(PathBuf::from);
        opts.cert_file = c.cert_file.as_ref().map(PathBuf::from);
        opts.key_file = c.key_file.as_ref().map(PathBuf::from);
    }
    if let Some(t) = handshake_timeout {
        opts.handshake_timeout = t;
    }
    Ok(ClientTls::new(&opts)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_chain_builds_with_every_hop() {
        let (cfg, _) = gost_config::from_cli(
            &["tcp://:15201/:5201"],
            &[
                "socks5+tls://u:p@127.0.0.1:1443?notls=true",
                "socks5+ws://127.0.0.1:1080,127.0.0.1:1081?path=/x",
                "socks4://alice@127.0.0.1:1082?disable4a=true",
            ],
        )
        .unwrap();
        let r = router(&cfg, cfg.services[0].chain()).unwrap();
        let chain = r.chain().unwrap();
        assert_eq!(chain.hops().len(), 3);
        assert_eq!(chain.hops()[1].nodes().len(), 2);
        assert_eq!(chain.hops()[2].nodes()[0].connector().kind(), "socks4");
    }

    #[test]
    fn unknown_kinds_are_named() {
        let mut c = ConnectorConfig {
            kind: "http".into(),
            ..Default::default()
        };
        let e = connector_from_config(&c).unwrap_err().to_string();
        assert!(e.contains("\"http\""), "{e}");
        c.kind = "socks5".into();
        assert!(connector_from_config(&c).is_ok());
        let d = DialerConfig {
            kind: "quic".into(),
            ..Default::default()
        };
        assert!(dialer_from_config(&d, None, Egress::default()).is_err());
        assert!(router(&Config::default(), Some("nope")).is_err());
    }
}
