//! [`ServiceBuilder`]: a SOCKS4/4A, SOCKS5 or `auto` (both) server from code in a few lines: address or listener,
//! handler options, authenticator, outbound or per-request routing, observers, limits.

use std::sync::Arc;
use std::time::Duration;

use gost_chain::Router;
use gost_transport::Listener;
use gost_transport::tcp::{TcpListener, TcpOptions};
use tokio_util::sync::CancellationToken;

use crate::limit::Limits;
use crate::observe::{Observer, Observers};
use crate::outbound::{ChainOutbound, Direct, Outbound};
use crate::policy::Policy;
use crate::{
    Admission, Authenticator, AutoHandler, ConnLimitsSource, Handler, Routing, Service,
    ServiceOptions, Socks4Handler, Socks4Options, Socks5Handler, Socks5Options, TargetFilter,
    Users,
};

/// Why [`ServiceBuilder::build`] could not make a service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Neither [`ServiceBuilder::bind`] nor [`ServiceBuilder::listener`] was called.
    #[error("no address to listen on: call bind() or listener()")]
    NoAddress,
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address given to [`ServiceBuilder::bind`].
        addr: String,
        /// What the OS said.
        #[source]
        source: gost_transport::Error,
    },
}

enum Protocol {
    Socks5(Box<Socks5Options>),
    Socks4(Socks4Options),
    Auto(Box<Socks5Options>, Socks4Options),
}

/// Builds a SOCKS [`Service`]; see the crate docs for a complete example.
///
/// Everything not set keeps the handler's and runner's defaults: no authentication, direct dialing,
/// upstream's timeouts, 8192 connections at most.
pub struct ServiceBuilder {
    protocol: Protocol,
    addr: Option<String>,
    listener: Option<Box<dyn Listener>>,
    tcp: TcpOptions,
    service: ServiceOptions,
    outbound: Option<Arc<dyn Outbound>>,
    policy: Policy,
    admission: Option<Arc<dyn Admission>>,
    limits: Limits,
    observers: Observers,
}

impl std::fmt::Debug for ServiceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let protocol = match self.protocol {
            Protocol::Socks5(_) => "socks5",
            Protocol::Socks4(_) => "socks4",
            Protocol::Auto(..) => "auto",
        };
        f.debug_struct("ServiceBuilder")
            .field("protocol", &protocol)
            .field("addr", &self.addr)
            .field("name", &self.service.name)
            .finish_non_exhaustive()
    }
}

impl ServiceBuilder {
    /// A SOCKS5 server with default [`Socks5Options`] (CONNECT only; BIND and UDP off, no in-band TLS).
    pub fn socks5() -> ServiceBuilder {
        ServiceBuilder::socks5_with(Socks5Options::default())
    }

    /// A SOCKS5 server with these options (e.g. `udp: true`, TLS methods, timeouts).
    pub fn socks5_with(opts: Socks5Options) -> ServiceBuilder {
        ServiceBuilder::new(Protocol::Socks5(Box::new(opts)))
    }

    /// A SOCKS4/4A server with default [`Socks4Options`].
    pub fn socks4() -> ServiceBuilder {
        ServiceBuilder::socks4_with(Socks4Options::default())
    }

    /// A SOCKS4/4A server with these options.
    pub fn socks4_with(opts: Socks4Options) -> ServiceBuilder {
        ServiceBuilder::new(Protocol::Socks4(opts))
    }

    /// SOCKS4/4A and SOCKS5 on one port (upstream's `auto`), with default options.
    pub fn auto() -> ServiceBuilder {
        ServiceBuilder::auto_with(Socks5Options::default(), Socks4Options::default())
    }

    /// SOCKS5 clients are served with `v5`, SOCKS4/4A clients (first byte 4) with `v4`; the first byte
    /// must arrive within `v5.handshake_timeout`.
    pub fn auto_with(v5: Socks5Options, v4: Socks4Options) -> ServiceBuilder {
        ServiceBuilder::new(Protocol::Auto(Box::new(v5), v4))
    }

    fn new(protocol: Protocol) -> ServiceBuilder {
        ServiceBuilder {
            protocol,
            addr: None,
            listener: None,
            tcp: TcpOptions::default(),
            service: ServiceOptions::default(),
            outbound: None,
            policy: Policy::default(),
            admission: None,
            limits: Limits::default(),
            observers: Observers::default(),
        }
    }

    /// Listens on plain TCP at `addr` (`"127.0.0.1:1080"`, `":1080"` for every interface).
    pub fn bind(mut self, addr: impl Into<String>) -> ServiceBuilder {
        self.addr = Some(addr.into());
        self
    }

    /// Socket options of the TCP listener made by [`ServiceBuilder::bind`].
    pub fn tcp_options(mut self, opts: TcpOptions) -> ServiceBuilder {
        self.tcp = opts;
        self
    }

    /// Accepts from this listener instead (TLS, WebSocket, KCP, … from gost-transport); wins over `bind`.
    pub fn listener(mut self, listener: impl Listener + 'static) -> ServiceBuilder {
        self.listener = Some(Box::new(listener));
        self
    }

    /// The service's name in logs, observer events and metric labels. Default `service`.
    pub fn name(mut self, name: impl Into<String>) -> ServiceBuilder {
        self.service.name = name.into();
        self
    }

    /// Limits and drain deadline of the runner (the name set by [`ServiceBuilder::name`] is kept unless
    /// `opts.name` differs from the default).
    pub fn service_options(mut self, opts: ServiceOptions) -> ServiceBuilder {
        let name = std::mem::take(&mut self.service.name);
        self.service = opts;
        if self.service.name == ServiceOptions::default().name {
            self.service.name = name;
        }
        self
    }

    /// Requires authentication against a fixed user list (SOCKS4 checks userids with empty passwords).
    pub fn users(self, users: Users) -> ServiceBuilder {
        if users.is_empty() {
            return self;
        }
        self.auth(users)
    }

    /// Requires authentication decided by `auth`.
    pub fn auth(mut self, auth: impl Authenticator) -> ServiceBuilder {
        self.policy.auth = Some(Arc::new(auth));
        self
    }

    /// Dials every target through `outbound` (default: [`Direct`]).
    pub fn outbound(mut self, outbound: impl Outbound) -> ServiceBuilder {
        self.outbound = Some(Arc::new(outbound));
        self
    }

    /// Dials every target through a gost-chain router (a proxy chain).
    pub fn chain(self, router: Router) -> ServiceBuilder {
        self.outbound(ChainOutbound::new(router))
    }

    /// Picks the outbound of each CONNECT, or refuses it; [`crate::Route::Default`] means the outbound
    /// set with [`ServiceBuilder::outbound`] / [`ServiceBuilder::chain`].
    pub fn routing(mut self, routing: impl Routing) -> ServiceBuilder {
        self.policy.routing = Some(Arc::new(routing));
        self
    }

    /// Refuses CONNECT targets `bypass` does not allow (SOCKS5 0x02, SOCKS4 0x5B), never dialling them.
    pub fn bypass(mut self, bypass: impl TargetFilter) -> ServiceBuilder {
        self.policy.bypass = Some(Arc::new(bypass));
        self
    }

    /// Upstream's `limiter` and `rlimiter` ([`Service::with_limits`]).
    pub fn limits(mut self, limits: Limits) -> ServiceBuilder {
        self.limits = limits;
        self
    }

    /// Closes clients `admission` refuses right after accept, before a byte is read.
    pub fn admission(mut self, admission: impl Admission) -> ServiceBuilder {
        self.admission = Some(Arc::new(admission));
        self
    }

    /// Reports connections to `observer`; call again to add more (called in order).
    pub fn observer(mut self, observer: impl Observer) -> ServiceBuilder {
        self.observers.push(Arc::new(observer));
        self
    }

    /// Most connections served at once; further clients are closed at accept. Default 8192.
    pub fn max_connections(mut self, n: usize) -> ServiceBuilder {
        self.service.max_connections = n;
        self
    }

    /// Upstream's `climiter`: clients over these limits (service-wide `$`, per client IP `$$`, IP and
    /// network lines) are closed at once. Fixed [`crate::ConnLimits`], or a [`crate::ConnLimitsSource`] whose
    /// loader re-reads them. Default: no limit.
    ///
    /// ```
    /// let limits = gost_service::ConnLimits {
    ///     per_ip: Some(100),
    ///     ..Default::default()
    /// };
    /// let builder = gost_service::ServiceBuilder::socks5().conn_limits(limits);
    /// # drop(builder);
    /// ```
    pub fn conn_limits(mut self, limits: impl Into<ConnLimitsSource>) -> ServiceBuilder {
        self.service.conn_limits = limits.into();
        self
    }

    /// How long live connections may run after shutdown was requested. Default 30 s.
    pub fn drain_timeout(mut self, d: Duration) -> ServiceBuilder {
        self.service.drain_timeout = d;
        self
    }

    /// Binds (unless a listener was given) and assembles the service; run it with [`Service::run`].
    pub async fn build(self) -> Result<Service, BuildError> {
        let listener: Box<dyn Listener> = match (self.listener, self.addr) {
            (Some(l), _) => l,
            (None, Some(addr)) => match TcpListener::bind(&addr, self.tcp).await {
                Ok(l) => Box::new(l),
                Err(source) => return Err(BuildError::Bind { addr, source }),
            },
            (None, None) => return Err(BuildError::NoAddress),
        };
        let outbound = self.outbound.unwrap_or_else(|| Arc::new(Direct::default()));
        let policy = self.policy;
        let handler: Arc<dyn Handler> = match self.protocol {
            Protocol::Socks5(opts) => Arc::new(Socks5Handler::with_policy(*opts, outbound, policy)),
            Protocol::Socks4(opts) => Arc::new(Socks4Handler::with_policy(opts, outbound, policy)),
            Protocol::Auto(v5_opts, v4_opts) => Arc::new(AutoHandler {
                timeout: v5_opts.handshake_timeout,
                v5: Socks5Handler::with_policy(*v5_opts, outbound.clone(), policy.clone()),
                v4: Socks4Handler::with_policy(v4_opts, outbound, policy),
            }),
        };
        let service = Service::from_parts(listener, handler, self.service).with_limits(self.limits);
        let service = match self.admission {
            Some(a) => service.with_admission(a),
            None => service,
        };
        Ok(if self.observers.is_empty() {
            service
        } else {
            service.with_observer(Arc::new(self.observers))
        })
    }

    /// [`ServiceBuilder::build`], then [`Service::run`] until `shutdown` is cancelled and the live
    /// connections drained.
    pub async fn serve(self, shutdown: CancellationToken) -> Result<(), BuildError> {
        self.build().await?.run(shutdown).await;
        Ok(())
    }
}
