//! Server side of gost-rs: SOCKS handlers, the relay that moves bytes between a client and its target, and
//! the service runner that accepts connections and hands them to a handler.

mod auth;
mod conn;
mod error;
pub mod forward;
pub mod outbound;
pub mod relay;
pub mod service;
pub mod socks4;
pub mod socks5;

pub use auth::Users;
pub use error::Error;
pub use service::{Handler, Report, Service, ServiceOptions};
pub use socks4::{Socks4Handler, Socks4Options};
pub use socks5::{Socks5Handler, Socks5Options};
