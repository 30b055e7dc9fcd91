//! Port forwarding, upstream GOST's `tcp`, `udp`, `rtcp` and `rudp` services.
//!
//! | service | what it does |
//! |---|---|
//! | `tcp://:L/target` | [`TcpForwarder`]: each connection to local port L is relayed to `target`, directly or through the chain |
//! | `udp://:L/target` | [`UdpForwarder`]: datagrams to local port L go to `target`; one association per client address |
//! | `rtcp://:R/target` | [`RtcpForwarder`]: port R is opened on the chain's last node (MBIND); its connections are relayed to `target` from here |
//! | `rudp://:R/target` | [`RudpForwarder`]: UDP port R is opened on the chain's last node (UDP-TUN bind mode) |
//!
//! Several comma-separated targets are picked round-robin (or by the forwarder's `selector`), skipping
//! targets that just failed. Targets and remote listen addresses are parsed once, when the forwarder is
//! built; from then on they travel as `socks_wire::Address`.
//!
//! `udp`, `rtcp` and `rudp` forwarders check their clients' (remote peers') addresses against an
//! [`crate::Admission`] themselves ([`PeerAdmission`], their `admission()`); `tcp` forwarding is run by [`crate::Service`],
//! whose gate does it.

mod admit;
mod reopen;
mod rtcp;
mod rudp;
mod targets;
mod tcp;
mod udp;

pub use admit::PeerAdmission;
pub use rtcp::RtcpForwarder;
pub use rudp::RudpForwarder;
pub use targets::{Target, Targets};
pub use tcp::TcpForwarder;
pub use udp::{UdpForwardOptions, UdpForwarder};
