//! Name resolution for gost-rs with upstream GOST's semantics: a [`Hosts`] table (upstream `hosts:`)
//! is asked first, then a [`Dns`] resolver (upstream `resolvers:`, UDP/TCP/TLS/HTTPS nameservers)
//! when one is configured; otherwise a name goes to the system resolver for a direct connection, and
//! through a proxy chain stays a name for the far end to resolve ([`Names`]).
//!
//! [`Names`] implements gost-transport's [`Resolver`](gost_transport::tcp::Resolver), so a
//! `TcpDialer` (a node's address) or gost-chain's `Router` (a request's target) uses it as it is.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use gost_resolve::{HostMapping, Hosts, HostsSpec};
//!
//! let hosts = Hosts::start(HostsSpec {
//!     name: "hosts-0".into(),
//!     mappings: vec![HostMapping::new("127.0.0.1".parse().unwrap(), ".example.test")],
//!     ..HostsSpec::default()
//! })
//! .await;
//! assert_eq!(hosts.lookup("www.example.test"), ["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
//! assert!(hosts.lookup("example.org").is_empty());
//! # }
//! ```

mod dns;
mod hosts;
mod names;
mod nameserver;

pub use dns::Dns;
pub use hosts::{HostMapping, Hosts, HostsSpec};
pub use names::Names;
pub use nameserver::{DnsError, Family, NameserverSpec, Protocol};
