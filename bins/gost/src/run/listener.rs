//! Listeners by `listener.type`: `tcp` (the default), `tls`, `ws`, `wss` and `kcp`, bound on the service's
//! address, plus the server certificate a service uses (its own, the global one, or a generated one).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use gost_chain::build::kcp_config;
use gost_config::options::{KcpOptions, WsListenerOptions};
use gost_config::{Config, ServiceConfig, TlsConfig};
use gost_transport::kcp::KcpListener;
use gost_transport::tcp::{TcpListener, TcpOptions};
use gost_transport::tls::{ServerTls, TlsListener, TlsServerOptions};
use gost_transport::ws::{WsListener, WsOptions};
use gost_transport::{BoxFuture, Listener, Stream};

/// A bound listener of any supported type.
#[derive(Debug)]
pub enum AnyListener {
    /// `tcp`.
    Tcp(TcpListener),
    /// `tls`.
    Tls(TlsListener),
    /// `ws` and `wss`.
    Ws(WsListener),
    /// `kcp`.
    Kcp(KcpListener),
}

impl Listener for AnyListener {
    fn accept(&self) -> BoxFuture<'_, Result<(Stream, SocketAddr), gost_transport::Error>> {
        match self {
            AnyListener::Tcp(l) => l.accept(),
            AnyListener::Tls(l) => l.accept(),
            AnyListener::Ws(l) => l.accept(),
            AnyListener::Kcp(l) => l.accept(),
        }
    }

    fn local_addr(&self) -> SocketAddr {
        match self {
            AnyListener::Tcp(l) => l.local_addr(),
            AnyListener::Tls(l) => l.local_addr(),
            AnyListener::Ws(l) => l.local_addr(),
            AnyListener::Kcp(l) => l.local_addr(),
        }
    }
}

/// Server certificates of one configuration; the generated fallback is made once and shared, as
/// upstream shares its default certificate between services.
#[derive(Default)]
pub struct Certificates {
    generated: Option<ServerTls>,
}

impl Certificates {
    /// The certificate for `own` (a listener's or handler's `tls` section), else the global `tls`
    /// section of `config`, else the generated one.
    pub fn server(
        &mut self,
        config: &Config,
        own: Option<&TlsConfig>,
    ) -> anyhow::Result<ServerTls> {
        let files = [own, config.tls.as_ref()]
            .into_iter()
            .flatten()
            .find(|t| t.cert_file.is_some() || t.key_file.is_some());
        if let Some(t) = files {
            let opts = TlsServerOptions {
                cert_file: t.cert_file.as_ref().map(PathBuf::from),
                key_file: t.key_file.as_ref().map(PathBuf::from),
                ca_file: t.ca_file.as_ref().map(PathBuf::from),
                ..TlsServerOptions::default()
            };
            return ServerTls::new(&opts).with_context(|| {
                format!(
                    "tls: cannot use certFile {:?} / keyFile {:?}",
                    t.cert_file.as_deref().unwrap_or(""),
                    t.key_file.as_deref().unwrap_or("")
                )
            });
        }
        if let Some(tls) = &self.generated {
            return Ok(tls.clone());
        }
        let tls = ServerTls::self_signed().context("cannot generate a self-signed certificate")?;
        self.generated = Some(tls.clone());
        Ok(tls)
    }
}

/// The listener type of `service`, with upstream's default `tcp`.
pub fn kind(service: &ServiceConfig) -> &str {
    match service.listener.kind.as_str() {
        "" => "tcp",
        k => k,
    }
}

/// Binds the listener of `service`; also returns the certificate it serves, if any, which the SOCKS5
/// handler reuses for methods 0x80/0x82.
pub async fn bind(
    config: &Config,
    service: &ServiceConfig,
    certs: &mut Certificates,
) -> anyhow::Result<(AnyListener, Option<ServerTls>)> {
    let addr = service.addr.as_str();
    let tcp = TcpOptions::default();
    let own_tls = service.listener.tls.as_ref();
    let bound = match kind(service) {
        "tcp" => TcpListener::bind(addr, tcp)
            .await
            .map(|l| (AnyListener::Tcp(l), None)),
        "tls" => {
            let tls = certs.server(config, own_tls)?;
            TlsListener::bind(addr, tcp, tls.clone())
                .await
                .map(|l| (AnyListener::Tls(l), Some(tls)))
        }
        k @ ("ws" | "wss") => {
            let o = WsListenerOptions::from_metadata(&service.listener.metadata)
                .context("listener metadata")?;
            let ws = WsOptions {
                path: o.path,
                headers: o.header,
                ..WsOptions::default()
            };
            let tls = match k {
                "wss" => Some(certs.server(config, own_tls)?),
                _ => None,
            };
            WsListener::bind(addr, tcp, ws, tls.clone())
                .await
                .map(|l| (AnyListener::Ws(l), tls))
        }
        "kcp" => {
            let o = KcpOptions::from_metadata(&service.listener.metadata)
                .context("listener metadata")?;
            let kcp = kcp_config(&o).context("listener kcp options")?;
            KcpListener::bind(addr, kcp)
                .await
                .map(|l| (AnyListener::Kcp(l), None))
        }
        other => bail!(
            "listener {other:?} cannot carry a {:?} handler (use tcp, tls, ws, wss or kcp)",
            service.handler.kind
        ),
    };
    bound.context(BindFailed(addr.to_owned()))
}

/// Context of a bind failure: the address could not be listened on (in use, not local, no permission).
#[derive(Debug)]
pub struct BindFailed(pub String);

impl std::fmt::Display for BindFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot listen on {}", self.0)
    }
}
