//! Why a connection ended badly: the `outcome` of the per-connection log line.

use std::io;
use std::time::Duration;

use crate::outbound::DialError;

/// What went wrong while serving one connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing the client or target connection failed.
    #[error(transparent)]
    Io(#[from] io::Error),

    /// A transport operation (TLS handshake, listener) failed.
    #[error(transparent)]
    Transport(#[from] gost_transport::Error),

    /// The client did not finish its handshake and request in time.
    #[error("handshake timed out after {0:?}")]
    HandshakeTimeout(Duration),

    /// The client sent a malformed message.
    #[error("malformed request: {0}")]
    Decode(#[from] socks_wire::DecodeError),

    /// A reply could not be encoded (e.g. a public address longer than 255 bytes).
    #[error("cannot encode reply: {0}")]
    Encode(#[from] socks_wire::EncodeError),

    /// The SOCKS5 negotiation failed (no acceptable method, bad credentials, malformed message).
    #[error("SOCKS5 handshake: {0}")]
    Handshake(#[from] socks_wire::HandshakeError),

    /// The client's credentials or userid were rejected.
    #[error("authentication failed for user {0:?}")]
    AuthFailed(String),

    /// The target is refused by the service's bypass list; it was never dialled.
    #[error("target {0} refused by the service's bypass")]
    Bypassed(String),

    /// The command is turned off on this service (`bind=true` / `udp=true` enable them).
    #[error("{0} is disabled on this service")]
    Disabled(&'static str),

    /// The command code is not one this server implements.
    #[error("unsupported command {0:#04x}")]
    UnsupportedCommand(u8),

    /// The target could not be reached.
    #[error("dial failed: {0}")]
    Dial(#[from] DialError),

    /// A BIND, MBIND or UDP-TUN bind asked for a port the service's `bindPorts` does not allow.
    #[error("port {0} is outside this service's bindPorts")]
    PortNotAllowed(u16),

    /// Waiting for a BIND peer took too long.
    #[error("no peer connected within {0:?}")]
    AcceptTimeout(Duration),

    /// The process's descriptor budget has nothing left for this kind of connection (`udp association`);
    /// the client got a failure reply.
    #[error("no descriptors left for a {0} (the process's descriptor budget is spent)")]
    OutOfDescriptors(&'static str),

    /// The smux session of an MBIND failed.
    #[error("smux: {0}")]
    Mux(String),
}
