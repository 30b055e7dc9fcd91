//! An [xtaci/smux](https://github.com/xtaci/smux)-compatible stream multiplexer for tokio.
//!
//! smux carries many independent byte streams over one reliable connection. GOST uses it for the
//! SOCKS5 MBIND command (`rtcp` forwarding) and inside the KCP transport; both ends must speak the
//! same protocol version (1, GOST's default, or 2 with per-stream flow control).
//!
//! * [`frame`] is the sans-io codec: the 8-byte little-endian header and its payload.
//! * [`Session`] runs the protocol over any `AsyncRead + AsyncWrite` connection and hands out
//!   [`Stream`]s; [`Config`] holds upstream's settings and defaults.
//!
//! # Flow control and memory
//!
//! Received data waits in per-stream buffers until read. The session-wide total is capped by
//! [`Config::max_receive_buffer`]: beyond it the session stops reading the connection, which
//! pushes back on the peer through the transport. In version 1 that is the only mechanism, so a
//! stream whose reader stalls eventually stalls *every* stream of the session (head-of-line
//! blocking, exactly as in xtaci/smux) while memory stays bounded. In version 2 each stream also
//! has a window (the peer sends at most 256 KiB before our first window update, then
//! `max_stream_buffer`), so one stalled stream only stops itself, as long as the stalled streams'
//! windows together stay below `max_receive_buffer`.
//!
//! Outgoing frames are queued in one bounded buffer that a single task writes; control frames
//! (SYN, window updates, keepalives) go ahead of queued data.

mod config;
mod driver;
mod error;
pub mod frame;
mod session;
mod shared;
mod stream;

pub use config::{Config, ConfigError};
pub use error::{CloseReason, Error};
pub use frame::{Cmd, Decoded, Frame, FrameError, HEADER_LEN, Header};
pub use session::Session;
pub use stream::Stream;
