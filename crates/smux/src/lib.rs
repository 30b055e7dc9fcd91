//! An [xtaci/smux](https://github.com/xtaci/smux)-compatible stream multiplexer.
//!
//! smux carries many independent byte streams over one reliable connection. GOST uses it for the
//! SOCKS5 MBIND command (`rtcp` forwarding) and inside the KCP transport; both ends must speak the
//! same protocol version (1 or 2).
//!
//! The crate has a sans-io layer, [`frame`], which encodes and decodes the 8-byte little-endian frame
//! header, and (added on top) an async session for tokio.

pub mod frame;

pub use frame::{Cmd, Decoded, Frame, FrameError, HEADER_LEN, Header};
