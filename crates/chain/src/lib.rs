//! The client side of gost-rs: SOCKS connectors, multi-hop proxy chains and the [`Router`] that dials
//! through them, wire-compatible with upstream GOST's `-F` nodes.
//!
//! * [`Socks5Connector`]: upstream's method offer (`05 02 00 80`, with credentials `05 04 00 02 80 82`,
//!   with `notls` `05 01 00` / `05 02 00 02`), in-band TLS when the server picks 0x80/0x82, RFC 1929, then
//!   CONNECT, BIND, MBIND (the node opens one smux stream per remote peer), UDP ASSOCIATE (`relay=udp`) or
//!   UDP-TUN (CMD 0xF3, relay and bind mode). Replies are read before anything else is written.
//! * [`Socks4Connector`]: CONNECT, in SOCKS4A form by default, plain SOCKS4 with `disable4a`.
//! * [`Node`] = address + [`Connector`] + transport dialer; [`Hop`] = nodes + [`Selector`] (round-robin,
//!   random, fifo; failure marking with `maxFails`/`failTimeout`); [`Chain`] = hops. Hops and nodes may
//!   have a [`Bypass`]: the targets they do not carry (upstream's chain-level bypass).
//! * [`ChainObserver`]: what a chain reports (first-node connect time, failed dials) for upstream's
//!   chain metrics; [`Chain::with_observer`] installs it.
//! * [`Router`]: dials a target directly or through a chain; UDP associations and remote listeners use the
//!   chain's last node. [`PacketConn`] is the datagram side, [`MuxBindListener`] / [`BindListener`] the
//!   remote listeners.
//!
//! The protocol logic is socks-wire's sans-io machines; this crate only moves bytes, and bounds every
//! handshake with a timeout (the node's `timeout` option, else [`DEFAULT_HANDSHAKE_TIMEOUT`]).
//!
//! ```no_run
//! use std::sync::Arc;
//! use gost_chain::{Chain, Connector, Hop, Node, Router, Selector, Socks5Connector};
//! use gost_transport::tcp::{TcpDialer, TcpOptions};
//! use gost_transport::tls::ClientTls;
//! # async fn demo() -> Result<(), gost_chain::Error> {
//! let socks5 = Socks5Connector::new(Default::default(), None, ClientTls::insecure());
//! let node = Node::new(
//!     "node-0",
//!     gost_chain::addr::target_address("127.0.0.1:1080")?,
//!     Connector::Socks5(socks5),
//!     Arc::new(TcpDialer::new(TcpOptions::default())),
//! );
//! let hop = Hop::new("hop-0", vec![node], Selector::default())?;
//! let router = Router::new(Some(Chain::new("chain-0", vec![hop])?));
//! let stream = router.dial(&"example.com:80".parse().unwrap()).await?; // CONNECT through 127.0.0.1:1080
//! # drop(stream); Ok(()) }
//! ```

#![forbid(unsafe_code)]

pub mod addr;
mod bind;
mod bypass;
mod chain;
mod connector;
mod error;
mod observe;
mod packet;
mod router;
pub mod select;

use std::time::Duration;

pub use bind::{BindListener, MuxBindListener};
pub use bypass::{Bypass, NotLoaded};
pub use chain::{Chain, Hop, Node, Route};
pub use connector::{
    Connector, Socks4Connector, Socks4ConnectorOptions, Socks5Connector, Socks5ConnectorOptions,
};
pub use error::Error;
pub use observe::ChainObserver;
pub use packet::{MAX_TUN_PAYLOAD, PacketConn};
pub use router::{DEFAULT_DIAL_TIMEOUT, Router};
pub use select::{Selector, Strategy};

/// Upstream's bound of a SOCKS handshake, 15 s: of a connector's (method, auth, request and reply) when
/// the node sets no `timeout`, and of a server handler's (`readTimeout`) in gost-service. Defined once.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
