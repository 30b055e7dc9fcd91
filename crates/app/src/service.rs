//! One configured service, bound and ready to run: a SOCKS service (listener + SOCKS handler, through
//! gost-service's `ServiceBuilder`) or a forwarding service (`tcp`, `udp`, `rtcp`, `rudp`).

use std::net::SocketAddr;
use std::sync::Arc;

use gost_chain::ChainObserver;
use gost_config::options::HandlerKind;
use gost_config::{Config, ServiceConfig};
use gost_service::{ConnLimitsSource, Observer, Service};
use gost_transport::Listener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::access::{self, ServiceAccess};
use crate::certs::Certificates;
use crate::forward::ForwardService;
use crate::names::Tables;
use crate::policies::Policies;
use crate::{Error, listener, socks};

/// A bound service.
#[derive(Debug)]
pub(crate) enum Bound {
    /// A listener serving a SOCKS handler.
    Socks(Service),
    /// A forwarding service (boxed: it is much larger than a [`Service`], and one is built per
    /// configured service, so the indirection costs nothing).
    Forward(Box<ForwardService>),
}

impl Bound {
    /// Builds the handler of `service` and binds its listener; errors name the service.
    /// Named policies and tables come from `policies`, shared with the other services naming them.
    pub(crate) async fn bind(
        config: &Config,
        service: &ServiceConfig,
        certs: &mut Certificates,
        chains: Option<&Arc<dyn ChainObserver>>,
        policies: &mut Policies,
    ) -> Result<Bound, Error> {
        let bound = async {
            let limits = policies.climiter(config, service).await?;
            let kind = service.handler.kind().map_err(|_| {
                Error::Unsupported(format!(
                    "handler {:?} is not supported (use socks5, socks4, auto, tcp, udp, rtcp or rudp)",
                    service.handler.kind
                ))
            })?;
            let access = access::build(config, service, policies).await?;
            let tables = Tables::start(config, service, policies).await?;
            if !kind.is_socks() {
                let forward =
                    match ForwardService::bind_with(config, service, &tables, chains).await? {
                        ForwardService::Tcp(s) => ForwardService::Tcp(s.with_conn_limits(limits)),
                        other => other,
                    };
                let forward = forward.with_limits(&service.name, access.limits);
                return Ok(Bound::Forward(Box::new(match access.admission {
                    Some(a) => forward.with_admission(&service.name, a),
                    None => forward,
                })));
            }
            let socks = Socks {
                kind,
                limits,
                access,
                tables,
                chains,
            };
            bind_socks(config, service, certs, socks).await
        };
        bound.await.map_err(|e| e.in_service(service))
    }

    /// The address the service listens on; `None` for `rtcp`/`rudp`, which listen on the chain's
    /// last node.
    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Bound::Socks(s) => Some(s.local_addr()),
            Bound::Forward(f) => f.local_addr(),
        }
    }

    /// Runs until `shutdown` is cancelled and live connections drained.
    pub(crate) async fn run(self, shutdown: CancellationToken) {
        match self {
            // Service logs its own "listening" line.
            Bound::Socks(s) => s.run(shutdown).await,
            Bound::Forward(f) => (*f).run(shutdown).await,
        }
    }

    /// Reports connections to `observer` (the metrics). Only services run by gost-service's
    /// [`Service`] (SOCKS and `tcp` forwarding) have connections to report; `udp`, `rtcp` and `rudp`
    /// report the clients their admission refuses.
    pub(crate) fn observed(self, observer: Option<Arc<dyn Observer>>) -> Bound {
        let Some(o) = observer else { return self };
        match self {
            Bound::Socks(s) => Bound::Socks(s.with_observer(o)),
            Bound::Forward(f) => Bound::Forward(Box::new((*f).with_observer(o))),
        }
    }

    /// Logs the "listening" line for services whose runner does not write one itself.
    pub(crate) fn announce(&self, service: &ServiceConfig) {
        match self {
            Bound::Socks(_) => {}
            Bound::Forward(f) if matches!(**f, ForwardService::Tcp(_)) => {}
            Bound::Forward(f) => match f.local_addr() {
                Some(addr) => info!(service = %service.name, %addr, "listening"),
                None => info!(
                    service = %service.name,
                    remote = %service.addr,
                    "listening on the chain's last node"
                ),
            },
        }
    }
}

/// What a SOCKS service is built with besides the configuration.
struct Socks<'a> {
    kind: HandlerKind,
    limits: ConnLimitsSource,
    access: ServiceAccess,
    tables: Tables,
    chains: Option<&'a Arc<dyn ChainObserver>>,
}

async fn bind_socks(
    config: &Config,
    service: &ServiceConfig,
    certs: &mut Certificates,
    socks: Socks<'_>,
) -> Result<Bound, Error> {
    let Socks {
        kind,
        limits: conn_limits,
        access,
        tables,
        chains,
    } = socks;
    let (listener, listener_tls) = listener::bind(config, service, certs).await?;
    let mut builder = socks::builder(config, service, kind, listener_tls, certs, &tables, chains)?;
    let addr = listener.local_addr();
    let open = config.handler_credentials(service).is_empty() && access.auth.is_none();
    if let Some(a) = access.auth {
        builder = builder.auth(a);
    }
    if let Some(b) = access.bypass {
        builder = builder.bypass(b);
    }
    if let Some(a) = access.admission {
        builder = builder.admission(a);
    }
    if !addr.ip().is_loopback() && open {
        warn!(
            service = %service.name,
            %addr,
            "open proxy: no authentication on a non-loopback address, so anyone who can reach it \
             can relay through it; add user:pass@ to the URL (or handler.auth) or listen on 127.0.0.1"
        );
    }
    let service = builder
        .listener(listener)
        .name(service.name.clone())
        .conn_limits(conn_limits)
        .limits(access.limits)
        .build()
        .await?;
    Ok(Bound::Socks(service))
}
