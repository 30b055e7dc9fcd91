//! A kcp-go compatible KCP stack, wire-compatible with upstream GOST's `kcp` transport.
//!
//! Layers, bottom up (each usable on its own, the lower ones without any I/O):
//! * [`crypt`] and [`packet`]: the datagram envelope (nonce, CRC32, CFB cipher) and its sealing;
//! * [`fec`]: Reed-Solomon forward error correction groups;
//! * the ikcp ARQ engine in stream mode;
//! * a tokio UDP session and listener exposing each session as a byte stream;
//! * snappy framing on top of the stream.
//!
//! [`KcpConfig::default`] is the configuration upstream GOST actually uses when no `kcp.*` options
//! are given, so default settings interoperate with a default GOST node.

pub mod arq;
pub mod config;
pub mod crypt;
mod error;
pub mod fec;
pub mod packet;

pub use config::{ArqSettings, KcpConfig, ValidConfig};
pub use crypt::{BlockCrypt, CryptMethod};
pub use error::{ConfigError, KcpError, PacketError};
