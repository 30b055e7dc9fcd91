//! Forwarding services (`tcp`, `udp`, `rtcp`, `rudp` handlers): a service entry becomes one of
//! gost-service's forwarders, bound and ready to run.

use std::net::SocketAddr;
use std::sync::Arc;

use gost_chain::{ChainObserver, Router};
use gost_config::options::{HandlerKind, ListenerKind, UdpListenerOptions};
use gost_config::{Config, ServiceConfig};
use gost_service::forward::{
    PeerAdmission, RtcpForwarder, RudpForwarder, Targets, TcpForwarder, UdpForwardOptions,
    UdpForwarder,
};
use gost_service::{Admission, Limits, Observer, Service, ServiceOptions};
use gost_transport::tcp::{TcpListener, TcpOptions};
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::chain::{selector, service_router};
use crate::names::Tables;
use crate::policies::Policies;

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
    /// Builds and binds the forwarding service `service` of `config`; its chain reports to `chains`
    /// (the metrics), if given.
    pub async fn bind(
        config: &Config,
        service: &ServiceConfig,
        chains: Option<&Arc<dyn ChainObserver>>,
    ) -> Result<ForwardService, Error> {
        let tables = Tables::start(config, service, &mut Policies::default()).await?;
        ForwardService::bind_with(config, service, &tables, chains).await
    }

    /// [`ForwardService::bind`] with the service's `tables` already started.
    pub(crate) async fn bind_with(
        config: &Config,
        service: &ServiceConfig,
        tables: &Tables,
        chains: Option<&Arc<dyn ChainObserver>>,
    ) -> Result<ForwardService, Error> {
        let kind = service.handler.kind().map_err(Error::metadata("handler"))?;
        let router = service_router(config, service, tables, chains)?;
        let selector = selector(service.forwarder.as_ref().and_then(|f| f.selector.as_ref()))?;
        // Targets and the remote address are parsed once, here; the forwarders pass them on as is.
        let targets = Targets::new(service.targets().iter().map(|t| &t.addr), selector)?
            .ok_or_else(|| {
                Error::Unsupported("no forwarding target (e.g. tcp://:8080/host:80)".into())
            })?;
        let md = &service.listener.metadata;
        let addr = service.addr.as_str();
        match kind {
            HandlerKind::Tcp => {
                if ListenerKind::parse(&service.listener.kind) != Some(ListenerKind::Tcp) {
                    return Err(Error::Unsupported(format!(
                        "listener {:?} is not supported for TCP forwarding (tcp)",
                        service.listener.kind
                    )));
                }
                let listener = TcpListener::bind(addr, TcpOptions::default())
                    .await
                    .map_err(|e| Error::listen(addr, e))?;
                let opts = ServiceOptions {
                    name: service.name.clone(),
                    ..ServiceOptions::default()
                };
                let handler = TcpForwarder::new(router, targets);
                Ok(ForwardService::Tcp(Service::new(listener, handler, opts)))
            }
            HandlerKind::Udp => {
                let o =
                    UdpListenerOptions::from_metadata(md).map_err(Error::metadata("listener"))?;
                let opts = udp_options(&o, UdpForwardOptions::default());
                let udp = UdpForwarder::bind(addr, router, targets, opts)
                    .await
                    .map_err(|e| Error::listen(addr, e))?;
                Ok(ForwardService::Udp(udp))
            }
            HandlerKind::Rtcp => Ok(ForwardService::Rtcp(RtcpForwarder::new(
                addr,
                need_chain(router)?,
                targets,
            )?)),
            HandlerKind::Rudp => {
                let o = UdpListenerOptions::rudp_from_metadata(md)
                    .map_err(Error::metadata("listener"))?;
                Ok(ForwardService::Rudp(RudpForwarder::new(
                    addr,
                    need_chain(router)?,
                    targets,
                    udp_options(&o, UdpForwardOptions::rudp()),
                )?))
            }
            other => Err(Error::Unsupported(format!(
                "{other:?} is not a forwarding handler"
            ))),
        }
    }

    /// Refuses the clients `admission` refuses (service `name` in logs and metrics): `tcp` closes them
    /// at accept, `udp` and `rudp` drop their datagrams, `rtcp` closes their streams unread.
    pub fn with_admission(self, name: &str, admission: Arc<dyn Admission>) -> ForwardService {
        self.apply(
            |s| s.with_admission(admission.clone()),
            |a| a.set(name, admission.clone()),
        )
    }

    /// Applies `limits` (upstream's `limiter` and `rlimiter`; service `name` in logs and metrics):
    /// `tcp` at accept, `udp` and `rudp` to each new client session, `rtcp` to each remote peer.
    pub fn with_limits(self, name: &str, limits: Limits) -> ForwardService {
        if limits.is_empty() {
            return self;
        }
        self.apply(
            |s| s.with_limits(limits.clone()),
            |a| a.limit(name, limits.clone()),
        )
    }

    /// Reports to `observer`: `tcp` its connections, the others the clients their admission refuses.
    pub fn with_observer(self, observer: Arc<dyn Observer>) -> ForwardService {
        self.apply(
            |s| s.with_observer(observer.clone()),
            |a| a.report_to(observer.clone()),
        )
    }

    /// `tcp` (run by gost-service's [`Service`]) through `service`; the others, which check each
    /// datagram or remote peer themselves, through `peers` on their [`PeerAdmission`].
    fn apply(
        self,
        service: impl FnOnce(Service) -> Service,
        peers: impl FnOnce(&mut PeerAdmission),
    ) -> ForwardService {
        match self {
            ForwardService::Tcp(s) => ForwardService::Tcp(service(s)),
            mut other => {
                if let Some(a) = other.peer_admission() {
                    peers(a);
                }
                other
            }
        }
    }

    /// The admission of the forwarders that check each datagram or remote peer themselves.
    fn peer_admission(&mut self) -> Option<&mut PeerAdmission> {
        match self {
            ForwardService::Tcp(_) => None,
            ForwardService::Udp(u) => Some(u.admission()),
            ForwardService::Rtcp(r) => Some(r.admission()),
            ForwardService::Rudp(r) => Some(r.admission()),
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

fn need_chain(router: Router) -> Result<Router, Error> {
    if router.chain().is_none() {
        return Err(Error::Unsupported(
            "remote forwarding listens on a proxy server: add a chain (-F socks5://server:port)"
                .into(),
        ));
    }
    Ok(router)
}

/// The written listener options over `d`, gost-service's defaults for `udp` or `rudp` (`keepalive` can
/// only be switched on: `rudp` always keeps sessions and does not read it).
fn udp_options(o: &UdpListenerOptions, d: UdpForwardOptions) -> UdpForwardOptions {
    UdpForwardOptions {
        keepalive: d.keepalive || o.keepalive,
        ttl: o.ttl.unwrap_or(d.ttl),
        read_buffer_size: o.read_buffer_size.unwrap_or(d.read_buffer_size),
        read_queue_size: o.read_queue_size.unwrap_or(d.read_queue_size),
    }
}
