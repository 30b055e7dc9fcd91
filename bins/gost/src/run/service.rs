//! One configured service, bound and ready to run: a SOCKS service (listener + SOCKS handler) or a
//! forwarding service (`tcp`, `udp`, `rtcp`, `rudp`) built by gost-service.

use std::sync::Arc;

use anyhow::{Context, bail};
use gost_config::{Config, ServiceConfig};
use gost_service::forward::{ForwardService, is_forward_handler};
use gost_service::{ConnLimits, Observer, Service, ServiceOptions};
use gost_transport::Listener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::handler;
use super::listener::{self, Certificates};

/// A bound service.
pub enum Bound {
    /// A listener serving a SOCKS handler.
    Socks(Service),
    /// A forwarding service.
    Forward(ForwardService),
}

impl Bound {
    /// Builds the handler of `service` and binds its listener; errors name the service.
    pub async fn bind(
        config: &Config,
        service: &ServiceConfig,
        certs: &mut Certificates,
    ) -> anyhow::Result<Bound> {
        let kind = service.handler.kind.as_str();
        let limits = conn_limits(config, service)
            .with_context(|| format!("service {:?} ({})", service.name, service.addr))?;
        if is_forward_handler(kind) {
            // Its errors already name the service.
            return Ok(match ForwardService::from_config(config, service).await? {
                ForwardService::Tcp(s) => {
                    Bound::Forward(ForwardService::Tcp(s.with_conn_limits(limits)))
                }
                other => Bound::Forward(other),
            });
        }
        bind_socks(config, service, certs, limits)
            .await
            .with_context(|| format!("service {:?} ({})", service.name, service.addr))
    }

    /// Runs until `shutdown` is cancelled and live connections drained.
    pub async fn run(self, shutdown: CancellationToken) {
        match self {
            // Service logs its own "listening" line.
            Bound::Socks(s) => s.run(shutdown).await,
            Bound::Forward(f) => f.run(shutdown).await,
        }
    }

    /// Reports connections to `observer` (the metrics). Only services run by gost-service's
    /// [`Service`] (SOCKS and `tcp` forwarding) have connections to report.
    pub fn observed(self, observer: Option<Arc<dyn Observer>>) -> Bound {
        let Some(o) = observer else { return self };
        match self {
            Bound::Socks(s) => Bound::Socks(s.with_observer(o)),
            Bound::Forward(ForwardService::Tcp(s)) => {
                Bound::Forward(ForwardService::Tcp(s.with_observer(o)))
            }
            other => other,
        }
    }

    /// Logs the "listening" line for services whose runner does not write one itself.
    pub fn announce(&self, service: &ServiceConfig) {
        match self {
            Bound::Socks(_) | Bound::Forward(ForwardService::Tcp(_)) => {}
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

/// The limits of the `climiters:` entry the service names (validation made sure it exists and reads).
fn conn_limits(config: &Config, service: &ServiceConfig) -> anyhow::Result<ConnLimits> {
    let Some(name) = &service.climiter else {
        return Ok(ConnLimits::default());
    };
    let limiter = config
        .climiter(name)
        .with_context(|| format!("climiter {name:?} is not defined in `climiters:`"))?;
    ConnLimits::parse(&limiter.limits).with_context(|| format!("climiter {name:?}"))
}

async fn bind_socks(
    config: &Config,
    service: &ServiceConfig,
    certs: &mut Certificates,
    conn_limits: ConnLimits,
) -> anyhow::Result<Bound> {
    let kind = service.handler.kind.as_str();
    if !handler::is_socks(kind) {
        bail!(
            "handler {kind:?} is not supported (use socks5, socks4, auto, tcp, udp, rtcp or rudp)"
        );
    }
    let (listener, listener_tls) = listener::bind(config, service, certs).await?;
    let handler = handler::build(config, service, listener_tls, certs)?;
    let addr = listener.local_addr();
    if !addr.ip().is_loopback() && config.handler_credentials(service).is_empty() {
        warn!(
            service = %service.name,
            %addr,
            "open proxy: no authentication on a non-loopback address, so anyone who can reach it \
             can relay through it; add user:pass@ to the URL (or handler.auth) or listen on 127.0.0.1"
        );
    }
    let opts = ServiceOptions {
        name: service.name.clone(),
        conn_limits,
        ..ServiceOptions::default()
    };
    Ok(Bound::Socks(Service::from_parts(
        Box::new(listener),
        handler,
        opts,
    )))
}
