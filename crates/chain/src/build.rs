//! Building chains and routers from gost-config's model (`chains:` in YAML, `-F` on the command line).

use std::path::PathBuf;
use std::sync::Arc;

use gost_config::options::{
    KcpOptions, Socks4ConnectorOptions, Socks5ConnectorOptions, TlsDialerOptions, WsDialerOptions,
};
use gost_config::{ChainConfig, Config, ConnectorConfig, DialerConfig, NodeConfig, TlsConfig};
use gost_transport::Dialer;
use gost_transport::kcp::{KcpConfig, KcpDialer};
use gost_transport::tcp::{TcpDialer, TcpOptions};
use gost_transport::tls::{ClientTls, TlsClientOptions, TlsDialer};
use gost_transport::ws::{WsDialer, WsOptions};

use crate::{
    Chain, Connector, Error, Hop, Node, Router, Selector, Socks4Connector, Socks5Connector,
};

/// The router of a service using chain `name` of `config` (direct when `name` is `None`).
pub fn router(config: &Config, name: Option<&str>) -> Result<Router, Error> {
    let Some(name) = name else {
        return Ok(Router::new(None));
    };
    let chain = config
        .chain(name)
        .ok_or_else(|| Error::Config(format!("no chain named {name:?}")))?;
    Ok(Router::new(Some(chain_from_config(chain)?)))
}

/// A chain from its configuration.
pub fn chain_from_config(cfg: &ChainConfig) -> Result<Chain, Error> {
    let hops = cfg
        .hops
        .iter()
        .map(|h| {
            let nodes = h
                .nodes
                .iter()
                .map(node_from_config)
                .collect::<Result<Vec<_>, _>>()?;
            let selector = Selector::from_config(h.selector.as_ref())?;
            Hop::new(h.name.clone(), nodes, selector)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Chain::new(cfg.name.clone(), hops)
}

/// A node from its configuration.
pub fn node_from_config(cfg: &NodeConfig) -> Result<Node, Error> {
    let what = |e: &dyn std::fmt::Display| Error::Config(format!("node {:?}: {e}", cfg.name));
    let connector = connector_from_config(&cfg.connector).map_err(|e| what(&e))?;
    let dialer = dialer_from_config(&cfg.dialer).map_err(|e| what(&e))?;
    Ok(Node::new(
        cfg.name.clone(),
        cfg.addr.clone(),
        connector,
        dialer,
    ))
}

/// A connector from its configuration (`socks5`/`socks`, `socks4`/`socks4a`).
pub fn connector_from_config(cfg: &ConnectorConfig) -> Result<Connector, Error> {
    let bad_md = |e: gost_config::MetadataError| Error::Config(e.to_string());
    match cfg.kind.as_str() {
        "socks5" | "socks" => {
            let opts = Socks5ConnectorOptions::from_metadata(&cfg.metadata).map_err(bad_md)?;
            let creds = cfg
                .auth
                .as_ref()
                .map(|a| (a.username.clone(), a.password.clone()));
            let tls = client_tls(cfg.tls.as_ref(), None)?;
            Ok(Connector::Socks5(Socks5Connector::new(opts, creds, tls)))
        }
        "socks4" | "socks4a" => {
            let opts = Socks4ConnectorOptions::from_metadata(&cfg.metadata).map_err(bad_md)?;
            let user = cfg.auth.as_ref().map_or("", |a| a.username.as_str());
            Ok(Connector::Socks4(Socks4Connector::new(opts, user)))
        }
        other => Err(Error::Config(format!(
            "connector {other:?} is not supported (socks5, socks4)"
        ))),
    }
}

/// A dialer from its configuration (`tcp`, `tls`, `ws`, `wss`, `kcp`).
pub fn dialer_from_config(cfg: &DialerConfig) -> Result<Arc<dyn Dialer>, Error> {
    let bad_md = |e: gost_config::MetadataError| Error::Config(e.to_string());
    let tcp = TcpDialer::new(TcpOptions::default());
    match cfg.kind.as_str() {
        "" | "tcp" => Ok(Arc::new(tcp)),
        "tls" => {
            let opts = TlsDialerOptions::from_metadata(&cfg.metadata).map_err(bad_md)?;
            let tls = client_tls(cfg.tls.as_ref(), opts.handshake_timeout)?;
            Ok(Arc::new(TlsDialer::new(tcp, tls)))
        }
        "ws" | "wss" => {
            let opts = WsDialerOptions::from_metadata(&cfg.metadata).map_err(bad_md)?;
            let mut ws = WsOptions {
                path: opts.path,
                host: opts.host,
                headers: opts.header,
                keepalive: opts.keepalive.then_some(opts.keepalive_interval),
                ..WsOptions::default()
            };
            if let Some(t) = opts.handshake_timeout {
                ws.handshake_timeout = t;
            }
            let tls = match cfg.kind.as_str() {
                "wss" => Some(client_tls(cfg.tls.as_ref(), opts.handshake_timeout)?),
                _ => None,
            };
            Ok(Arc::new(WsDialer::new(tcp, ws, tls)))
        }
        "kcp" => {
            let opts = KcpOptions::from_metadata(&cfg.metadata).map_err(bad_md)?;
            Ok(Arc::new(KcpDialer::new(kcp_config(&opts)?)?))
        }
        other => Err(Error::Config(format!(
            "dialer {other:?} is not supported (tcp, tls, ws, wss, kcp)"
        ))),
    }
}

/// The KCP settings of a `kcp` listener or dialer from its parsed metadata (upstream's effective
/// values, see [`KcpOptions::from_metadata`]); out-of-range numbers and `kcp.tcp` are refused with
/// the option's name.
pub fn kcp_config(opts: &KcpOptions) -> Result<KcpConfig, Error> {
    let mut c = KcpConfig {
        key: opts.key.clone(),
        crypt: opts.crypt.clone(),
        mode: opts.mode.clone(),
        ..KcpConfig::default()
    };
    let numbers = [
        ("mtu", opts.mtu),
        ("sndwnd", opts.snd_wnd),
        ("rcvwnd", opts.rcv_wnd),
        ("datashard", opts.data_shard),
        ("parityshard", opts.parity_shard),
        ("dscp", opts.dscp),
        ("nodelay", opts.no_delay),
        ("interval", opts.interval),
        ("resend", opts.resend),
        ("nc", opts.no_congestion),
        ("sockbuf", opts.sock_buf),
        ("smuxver", opts.smux_ver),
        ("smuxbuf", opts.smux_buf),
        ("streambuf", opts.stream_buf),
        ("keepalive", opts.keepalive),
    ];
    let flags = [
        ("nocomp", opts.no_comp),
        ("acknodelay", opts.ack_nodelay),
        ("tcp", opts.tcp),
    ];
    let set = |c: &mut KcpConfig, name: &str, value: String| {
        c.set(name, &value)
            .map_err(|e| Error::Config(format!("kcp: {e}")))
    };
    for (name, value) in numbers {
        set(&mut c, name, value.to_string())?;
    }
    for (name, value) in flags {
        set(&mut c, name, value.to_string())?;
    }
    Ok(c)
}

/// The TLS client of a connector or dialer: upstream verifies nothing unless `secure` or a CA is set.
fn client_tls(
    cfg: Option<&TlsConfig>,
    handshake_timeout: Option<std::time::Duration>,
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
        assert!(dialer_from_config(&d).is_err());
        assert!(router(&Config::default(), Some("nope")).is_err());
    }
}
