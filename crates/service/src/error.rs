//! Why a connection ended badly: the `outcome` of the per-connection log line.

use std::io;
use std::time::Duration;

/// What went wrong while serving one connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing the client or target connection failed.
    #[error(transparent)]
    Io(#[from] io::Error),

    /// A transport operation (dial, TLS handshake) failed.
    #[error(transparent)]
    Transport(#[from] gost_transport::Error),

    /// The client did not finish its handshake and request in time.
    #[error("handshake timed out after {0:?}")]
    HandshakeTimeout(Duration),
}
