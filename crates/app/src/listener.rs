//! Listeners of SOCKS services by `listener.type`: `tcp` (the default), `tls`, `ws`, `wss` and `kcp`,
//! bound on the service's address.

use gost_config::options::{KcpOptions, ListenerKind, WsListenerOptions};
use gost_config::{Config, ServiceConfig};
use gost_transport::AnyListener;
use gost_transport::kcp::KcpListener;
use gost_transport::tcp::{TcpListener, TcpOptions};
use gost_transport::tls::{ServerTls, TlsListener};
use gost_transport::ws::{WsListener, WsOptions};

use crate::Error;
use crate::certs::Certificates;
use crate::kcp::kcp_config;

/// Binds the listener of `service`; also returns the certificate it serves, if any, which the SOCKS5
/// handler reuses for methods 0x80/0x82.
pub(crate) async fn bind(
    config: &Config,
    service: &ServiceConfig,
    certs: &mut Certificates,
) -> Result<(AnyListener, Option<ServerTls>), Error> {
    let addr = service.addr.as_str();
    let tcp = TcpOptions::default();
    let own_tls = service.listener.tls.as_ref();
    let kind = ListenerKind::parse(&service.listener.kind);
    let bound = match kind {
        Some(ListenerKind::Tcp) => TcpListener::bind(addr, tcp)
            .await
            .map(|l| (AnyListener::Tcp(l), None)),
        Some(ListenerKind::Tls) => {
            let tls = certs.server(config, own_tls)?;
            TlsListener::bind(addr, tcp, tls.clone())
                .await
                .map(|l| (AnyListener::Tls(l), Some(tls)))
        }
        Some(k @ (ListenerKind::Ws | ListenerKind::Wss)) => {
            let o = WsListenerOptions::from_metadata(&service.listener.metadata)
                .map_err(Error::metadata("listener"))?;
            let d = WsOptions::default();
            let ws = WsOptions {
                path: o.path.unwrap_or(d.path),
                headers: o.header,
                backlog: o.backlog.unwrap_or(d.backlog),
                ..d
            };
            let tls = match k {
                ListenerKind::Wss => Some(certs.server(config, own_tls)?),
                _ => None,
            };
            WsListener::bind(addr, tcp, ws, tls.clone())
                .await
                .map(|l| (AnyListener::Ws(l), tls))
        }
        Some(ListenerKind::Kcp) => {
            let o = KcpOptions::from_metadata(&service.listener.metadata)
                .map_err(Error::metadata("listener"))?;
            let kcp = kcp_config(&o, "listener kcp options")?;
            KcpListener::bind(addr, kcp)
                .await
                .map(|l| (AnyListener::Kcp(l), None))
        }
        _ => {
            return Err(Error::Unsupported(format!(
                "listener {:?} cannot carry a {:?} handler (use tcp, tls, ws, wss or kcp)",
                service.listener.kind, service.handler.kind
            )));
        }
    };
    bound.map_err(|e| Error::listen(addr, e))
}
