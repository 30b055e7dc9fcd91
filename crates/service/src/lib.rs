//! Server side of gost-rs: SOCKS handlers, the relay that moves bytes between a client and its target, and
//! the service runner that accepts connections and hands them to a handler.

mod auth;
mod builder;
mod conn;
mod error;
pub mod forward;
pub mod metrics;
pub mod observe;
pub mod outbound;
pub mod relay;
pub mod route;
pub mod service;
pub mod socks4;
pub mod socks5;

pub use auth::{AuthMethod, AuthRequest, Authenticator, Users};
pub use builder::{BuildError, ServiceBuilder};
pub use error::Error;
pub use gost_transport::BoxFuture;
pub use observe::{Closed, Conn, Observer, Outcome};
pub use outbound::{DialError, Direct, Outbound};
pub use route::{Route, RouteRequest, Routing};
pub use service::{Handler, Report, Service, ServiceOptions};
pub use socks_wire;
pub use socks4::{Socks4Handler, Socks4Options};
pub use socks5::{Socks5Handler, Socks5Options};
