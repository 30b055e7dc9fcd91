//! Server side of gost-rs: SOCKS4/4A and SOCKS5 handlers, the relay that moves bytes between a client and
//! its target, the service runner that accepts connections and hands them to a handler, port forwarding,
//! and the hooks to embed all of it in your own proxy.
//!
//! # A SOCKS5 server in a few lines
//!
//! ```
//! use gost_service::{ServiceBuilder, Users};
//! use tokio_util::sync::CancellationToken;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let service = ServiceBuilder::socks5()
//!     .bind("127.0.0.1:0") // ":1080" for every interface
//!     .users(Users::new([("alice", "s3cret")]))
//!     .build()
//!     .await?;
//! let proxy = service.local_addr();
//! let shutdown = CancellationToken::new();
//! let running = tokio::spawn(service.run(shutdown.clone()));
//!
//! // Any SOCKS5 client works (here the tokio-socks crate) to any target (here a local listener).
//! let target = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let client = tokio_socks::tcp::Socks5Stream::connect_with_password(
//!     proxy,
//!     target.local_addr()?,
//!     "alice",
//!     "s3cret",
//! )
//! .await?;
//! let (from_proxy, _) = target.accept().await?;
//! drop((client, from_proxy));
//! shutdown.cancel(); // stop accepting, drain live connections, return
//! running.await?;
//! # Ok(())
//! # }
//! ```
//!
//! # The embedding API
//!
//! Every type has one path: the crate root, except the three subsystems that keep a module of their
//! own, [`forward`] (port forwarding), [`metrics`] (Prometheus) and [`relay`] (moving bytes).
//!
//! | item | what it is |
//! |---|---|
//! | [`ServiceBuilder`] | `socks5()` / `socks4()` / `auto()` / `socks5_with(opts)` / `socks4_with(opts)` / `auto_with(v5, v4)`, then `bind(addr)` or `listener(l)`, `name`, `users`, `auth`, `outbound`, `chain`, `routing`, `observer` (repeatable), `max_connections`, `conn_limits`, `drain_timeout`, `service_options`, `tcp_options`; finish with `build().await -> Result<Service, BuildError>` or `serve(shutdown).await` |
//! | [`Service`] | `new(listener, handler, opts)`, `from_parts(Box<dyn Listener>, Arc<dyn Handler>, opts)`, `with_observer(Arc<dyn Observer>)`, `with_conn_limits(impl Into<ConnLimitsSource>)`, `local_addr()`, `name()`, `run(shutdown)` |
//! | [`Authenticator`] | async `authenticate(&AuthRequest { method, user, password, client, tls }) -> bool`; [`Users`] implements it in constant time |
//! | [`Admission`] | `admit(client_ip) -> bool`, set with `ServiceBuilder::admission` / `Service::with_admission`: refused clients are closed at accept, inside the listener before any TLS/WebSocket handshake ([`gost_transport::Gate`]); `gost_access::Admission` and `Vec<Arc<_>>` (any refuses) implement it |
//! | [`TargetFilter`] | `allows(&Address) -> bool`, set with `ServiceBuilder::bypass` / `with_bypass` on the handlers: refused CONNECT targets get SOCKS5 0x02 / SOCKS4 0x5B and are never dialled; `gost_access::BypassGroup` implements it |
//! | [`AccessAuth`] | an [`Authenticator`] from the handler's users, gost-access authers and HTTP plugins (any one passes) and `skipauth` networks |
//! | [`Denied`] | why a policy refused (`auth`, `admission`, `bypass`): the `reason` of [`Observer::denied`] and of the `gost_service_denied_total` metric |
//! | [`Routing`] | async `route(&RouteRequest { target, client, user }) -> Route` with [`Route`] `Default` / `Direct` / `Via(Arc<dyn Outbound>)` / `Refuse(ReplyCode)`, and `Route::chain(gost_chain::Router)`; applies to CONNECT |
//! | [`Outbound`] | how a handler dials: [`Direct`], [`ChainOutbound`] (through a `gost_chain::Router`), or yours; UDP through a [`PacketConn`] |
//! | [`Observer`] | `service_started`, `service_stopped`, `accepted`, `refused`, `authenticated`, `denied`, `target`, `closed(&Conn, &Closed)`; all default to nothing; [`Observers`] fans out |
//! | [`ConnLimits`] | upstream's `climiter` lines (`$ N`, `$$ N`, IP/network `N`) for [`ServiceOptions::conn_limits`]; fields `service`, `per_ip`, `hosts` ([`HostLimit`]), `set_host`, `per_client(ip)` |
//! | [`ConnLimitsSource`] | fixed [`ConnLimits`] or a gost-access `LoadedList<ConnLimits>` re-read from file/Redis/HTTP; `current()` (`None` until loaded: every client refused) |
//! | [`Limits`] | upstream's `limiter` (bandwidth, gost-access `TrafficLimiter`) and `rlimiter` (request rate, `RequestLimiter`) for `ServiceBuilder::limits` / `Service::with_limits`: asked at accept; a limited client's stream is wrapped in gost-access's `Throttled` |
//! | [`Conn`] | one connection: `id()`, `service()`, `client()`, `user()`, `request()` |
//! | [`metrics::Metrics`] | an `Observer` with upstream GOST's Prometheus metrics; `render()` |
//! | [`metrics::MetricsServer`] | `bind(addr, path, Arc<Metrics>)`, `from_endpoint(&Endpoint, Arc<Metrics>)`, `basic_auth(user, pass)`, `local_addr()`, `run(shutdown)`; or [`metrics::serve`] |
//! | [`metrics::Endpoint`] | `addr`, `path`, `auth`; `FromStr` parses upstream's `-metrics` value (`user:pass@:9000?path=/metrics`) |
//! | [`Socks5Handler`] / [`Socks4Handler`] / [`AutoHandler`] | the handlers behind the builder (`AutoHandler` serves both, by the client's first byte): `new(opts)`, `with_outbound(opts, outbound)`, `with_authenticator(a)`, `with_routing(r)` |
//! | [`Handler`] | your own protocol: `handle(conn, &Conn) -> Report`; a session that ends in a relay puts a [`relay::Relay`] in [`Report::relay`] and the runner relays it |
//!
//! Every `Arc<T>` of an authenticator, routing, observer or outbound is one too, so one value can be
//! shared by several services (e.g. one `Arc<Metrics>` for all of them and the metrics endpoint).
//!
//! # Logs
//!
//! The runner writes, with `tracing`, one event `connection` per connection (`info`; `warn` when this
//! host or its upstreams failed), with stable field names: `service`, `conn_id`, `client`, `user`,
//! `target`, `bytes_in`, `bytes_out`, `duration_ms`, `outcome` (`ok`, `error`, `cut`), `error_kind`
//! ([`error_kind`]) and `reason`. Sessions without a connection of their own (`udp://`
//! forwarding sessions, rtcp and MBIND peers) get one `session` event each. docs/embedding.md
//! describes levels and kinds.

pub mod access;
mod auth;
mod auto;
mod builder;
mod climit;
mod conn;
mod error;
mod fds;
pub mod forward;
mod gate;
mod limit;
pub mod metrics;
mod observe;
mod outbound;
mod policy;
pub mod relay;
mod rendezvous;
mod route;
mod service;
mod socks4;
mod socks5;

pub use access::{AccessAuth, Admission, Denied, TargetFilter};
pub use auth::{AuthMethod, AuthRequest, Authenticator, Users};
pub use auto::AutoHandler;
pub use builder::{BuildError, ServiceBuilder};
pub use climit::{ConnLimits, ConnLimitsSource, HostLimit};
pub use error::Error;
pub use gost_access;
pub use gost_transport::BoxFuture;
pub use limit::Limits;
pub use observe::{
    Closed, Conn, NoObserver, Observer, Observers, Outcome, PROGRESS_STEP, error_kind,
};
pub use outbound::{ChainOutbound, DialError, Direct, Outbound, PacketConn};
pub use rendezvous::BindPorts;
pub use route::{Route, RouteRequest, Routing};
pub use service::{Handler, Report, Service, ServiceOptions};
pub use socks_wire;
pub use socks4::{Socks4Handler, Socks4Options};
pub use socks5::{Socks5Handler, Socks5Options};
