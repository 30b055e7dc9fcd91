//! Server side of gost-rs: SOCKS handlers, the relay that moves bytes between a client and its target, and
//! the service runner that accepts connections and hands them to a handler.

mod error;
pub mod relay;
pub mod service;

pub use error::Error;
pub use service::{Handler, Report, Service, ServiceOptions};
