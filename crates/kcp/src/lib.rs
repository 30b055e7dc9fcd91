//! A kcp-go compatible KCP stack, wire-compatible with upstream GOST's `kcp` transport.
//!
//! Layers, bottom up (each usable on its own, the lower ones without any I/O):
//! * [`crypt`] and [`packet`]: the datagram envelope (nonce, CRC32, CFB cipher) and its sealing;
//! * [`fec`]: Reed-Solomon forward error correction groups;
//! * [`arq`]: the ikcp ARQ engine in stream mode;
//! * [`KcpStream`] and [`KcpListener`]: tokio UDP sessions as byte streams;
//! * [`SnappyStream`]: snappy framing on top of the stream (unless `nocomp`).
//!
//! [`KcpConfig::default`] is the configuration upstream GOST actually uses when no `kcp.*` options
//! are given, so default settings interoperate with a default GOST node.

pub mod arq;
pub mod config;
pub mod crypt;
mod error;
pub mod fec;
mod listener;
pub mod packet;
mod session;
pub mod snappy;

pub use config::{ArqSettings, KcpConfig, ValidConfig};
pub use crypt::{BlockCrypt, CryptMethod};
pub use error::{ConfigError, KcpError, PacketError};
pub use listener::{KcpListener, ListenerLimits};
pub use session::{KcpStream, SessionLimits};
pub use snappy::SnappyStream;
