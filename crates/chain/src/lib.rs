//! The client side of gost-rs: SOCKS connectors, multi-hop proxy chains and the [`Router`] that dials
//! through them, wire-compatible with upstream GOST's `-F` nodes.
//!
//! * [`Socks5Connector`]: upstream's method offer (`05 02 00 80`, with credentials `05 04 00 02 80 82`,
//!   with `notls` `05 01 00` / `05 02 00 02`), in-band TLS when the server picks 0x80/0x82, RFC 1929, then
//!   CONNECT, BIND, MBIND (the node opens one smux stream per remote peer), UDP ASSOCIATE (`relay=udp`) or
//!   UDP-TUN (CMD 0xF3, relay and bind mode). Replies are read before anything else is written.
//! * [`Socks4Connector`]: CONNECT, in SOCKS4A form by default, plain SOCKS4 with `disable4a`.
//! * [`Node`] = address + [`Connector`] + transport dialer; [`Hop`] = nodes + [`Selector`] (round-robin,
//!   random, fifo; failure marking with `maxFails`/`failTimeout`); [`Chain`] = hops.
//! * [`Router`]: dials a target directly or through a chain; UDP associations and remote listeners use the
//!   chain's last node. [`PacketConn`] is the datagram side, [`MuxBindListener`] / [`BindListener`] the
//!   remote listeners.
//! * [`build`]: chains and routers from gost-config's model.
//!
//! The protocol logic is socks-wire's sans-io machines; this crate only moves bytes, and bounds every
//! handshake with a timeout (the node's `timeout` option, else [`DEFAULT_HANDSHAKE_TIMEOUT`]).
//!
//! ```no_run
//! use gost_chain::Router;
//! # async fn demo() -> Result<(), gost_chain::Error> {
//! let (config, _) = gost_config::from_cli(&["tcp://:8080/:80"], &["socks5://127.0.0.1:1080"])
//!     .expect("valid flags");
//! let router = gost_chain::build::router(&config, config.services[0].chain())?;
//! let stream = router.dial("example.com:80").await?; // CONNECT through 127.0.0.1:1080
//! # drop(stream); Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod addr;
mod bind;
pub mod build;
mod chain;
mod connector;
mod error;
mod packet;
mod prefixed;
mod router;
pub mod select;

use std::time::Duration;

pub use bind::{BindListener, MuxBindListener};
pub use chain::{Chain, Hop, Node, Route};
pub use connector::{Connector, Socks4Connector, Socks5Connector};
pub use error::Error;
pub use packet::{MAX_TUN_PAYLOAD, PacketConn};
pub use router::{DEFAULT_DIAL_TIMEOUT, Router};
pub use select::{Selector, Strategy};

/// Bound of a connector handshake (method, auth, request and reply) when the node sets no `timeout`.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
