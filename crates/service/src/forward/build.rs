//! Forwarding services from gost-config's model, for the `gost` binary: which handler types are
//! forwarding, and a [`ForwardService`] built and bound from a service entry.

use std::net::SocketAddr;
use std::sync::Arc;

use gost_chain::{Router, Selector};
use gost_config::options::UdpListenerOptions;
use gost_config::{Config, ServiceConfig};
use gost_transport::tcp::{TcpListener, TcpOptions};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::{
    ChainOutbound, RtcpForwarder, RudpForwarder, Targets, TcpForwarder, UdpForwardOptions,
    UdpForwarder,
};
use crate::outbound::Outbound;
use crate::{Service, ServiceOptions};

/// Why a forwarding service could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The chain or a target is unusable.
    #[error("service {service:?}: {source}")]
    Chain {
        /// The service name.
        service: String,
        /// What was wrong.
        #[source]
        source: gost_chain::Error,
    },
    /// Binding the local port failed.
    #[error("service {service:?}: cannot listen on {addr}: {source}")]
    Listen {
        /// The service name.
        service: String,
        /// The address.
        addr: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The service entry does not describe a forwarding service gost-rs can run.
    #[error("service {service:?}: {reason}")]
    Config {
        /// The service name.
        service: String,
        /// What is wrong.
        reason: String,
    },
}

/// True for the handler types served by this module: `tcp`, `udp`, `rtcp`, `rudp` (and `forward`, upstream's
/// name for a TCP forwarder on another listener).
pub fn is_forward_handler(kind: &str) -> bool {
    matches!(kind, "tcp" | "udp" | "rtcp" | "rudp" | "forward")
}

/// The outbound for a SOCKS handler of `service`: through its chain when it has one, `None` for direct.
pub fn chain_outbound(
    config: &Config,
    service: &ServiceConfig,
) -> Result<Option<Arc<dyn Outbound>>, BuildError> {
    let Some(chain) = service.chain() else {
        return Ok(None);
    };
    let router =
        gost_chain::build::router(config, Some(chain)).map_err(|source| BuildError::Chain {
            service: service.name.clone(),
            source,
        })?;
    Ok(Some(Arc::new(ChainOutbound::new(router))))
}

/// A bound forwarding service.
#[derive(Debug)]
pub enum ForwardService {
    /// `tcp://`: a TCP listener and a [`TcpForwarder`].
    Tcp(Service),
    /// `udp://`.
    Udp(UdpForwarder),
    /// `rtcp://`.
    Rtcp(RtcpForwarder),
    /// `rudp://`.
    Rudp(RudpForwarder),
}

impl ForwardService {
    /// Builds and binds the forwarding service `service` of `config` (see [`is_forward_handler`]).
    pub async fn from_config(
        config: &Config,
        service: &ServiceConfig,
    ) -> Result<ForwardService, BuildError> {
        let name = service.name.clone();
        let chain_err = |source| BuildError::Chain {
            service: name.clone(),
            source,
        };
        let cfg_err = |reason: String| BuildError::Config {
            service: name.clone(),
            reason,
        };
        let listen_err = |source| BuildError::Listen {
            service: name.clone(),
            addr: service.addr.clone(),
            source,
        };
        let router = gost_chain::build::router(config, service.chain()).map_err(chain_err)?;
        let selector =
            Selector::from_config(service.forwarder.as_ref().and_then(|f| f.selector.as_ref()))
                .map_err(chain_err)?;
        let targets = Targets::new(service.targets().iter().map(|t| t.addr.clone()), selector)
            .ok_or_else(|| cfg_err("no forwarding target (e.g. tcp://:8080/host:80)".into()))?;
        let md_err = |e: gost_config::MetadataError| cfg_err(e.to_string());
        match service.handler.kind.as_str() {
            "tcp" | "forward" => {
                if !matches!(service.listener.kind.as_str(), "" | "tcp") {
                    return Err(cfg_err(format!(
                        "listener {:?} is not supported for TCP forwarding (tcp)",
                        service.listener.kind
                    )));
                }
                let listener = TcpListener::bind(&service.addr, TcpOptions::default())
                    .await
                    .map_err(|e| listen_err(e.into()))?;
                let opts = ServiceOptions {
                    name: service.name.clone(),
                    ..ServiceOptions::default()
                };
                let handler = TcpForwarder::new(router, targets);
                Ok(ForwardService::Tcp(Service::new(listener, handler, opts)))
            }
            "udp" => {
                let o = UdpListenerOptions::from_metadata(&service.listener.metadata)
                    .map_err(md_err)?;
                let udp = UdpForwarder::bind(&service.addr, router, targets, udp_options(&o))
                    .await
                    .map_err(listen_err)?;
                Ok(ForwardService::Udp(udp))
            }
            "rtcp" => Ok(ForwardService::Rtcp(RtcpForwarder::new(
                service.addr.clone(),
                need_chain(router, &cfg_err)?,
                targets,
            ))),
            "rudp" => {
                let o = UdpListenerOptions::rudp_from_metadata(&service.listener.metadata)
                    .map_err(md_err)?;
                Ok(ForwardService::Rudp(RudpForwarder::new(
                    service.addr.clone(),
                    need_chain(router, &cfg_err)?,
                    targets,
                    udp_options(&o),
                )))
            }
            other => Err(cfg_err(format!("{other:?} is not a forwarding handler"))),
        }
    }

    /// The local address, for the services that listen here (`tcp`, `udp`).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            ForwardService::Tcp(s) => Some(s.local_addr()),
            ForwardService::Udp(u) => Some(u.local_addr()),
            ForwardService::Rtcp(_) | ForwardService::Rudp(_) => None,
        }
    }

    /// Runs until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        match self {
            ForwardService::Tcp(s) => s.run(shutdown).await,
            ForwardService::Udp(u) => u.run(shutdown).await,
            ForwardService::Rtcp(r) => r.run(shutdown).await,
            ForwardService::Rudp(r) => r.run(shutdown).await,
        }
    }
}

fn need_chain(router: Router, err: &dyn Fn(String) -> BuildError) -> Result<Router, BuildError> {
    if router.chain().is_none() {
        return Err(err(
            "remote forwarding listens on a proxy server: add a chain (-F socks5://server:port)"
                .into(),
        ));
    }
    Ok(router)
}

fn udp_options(o: &UdpListenerOptions) -> UdpForwardOptions {
    UdpForwardOptions {
        keepalive: o.keepalive,
        ttl: o.ttl,
        read_buffer_size: o.read_buffer_size,
        read_queue_size: o.read_queue_size,
    }
}

/// Binds a UDP socket on `addr` (`:port` = all interfaces, dual-stack where possible).
pub(crate) async fn bind_udp(addr: &str) -> std::io::Result<UdpSocket> {
    match addr.strip_prefix(':') {
        Some(port) => match UdpSocket::bind(format!("[::]:{port}")).await {
            Ok(s) => Ok(s),
            Err(_) => UdpSocket::bind(format!("0.0.0.0:{port}")).await,
        },
        None => UdpSocket::bind(addr).await,
    }
}
