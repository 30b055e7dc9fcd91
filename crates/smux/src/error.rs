//! Session-level errors and the reason a session ended.

use std::io;

use crate::config::ConfigError;
use crate::frame::FrameError;

/// Why a session is closed. The first reason recorded wins.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CloseReason {
    /// [`Session::close`](crate::Session::close) was called, or every handle was dropped.
    #[error("closed locally")]
    Local,
    /// The underlying connection reached EOF.
    #[error("connection closed by peer")]
    PeerClosed,
    /// Nothing was received for a whole keepalive timeout.
    #[error("keepalive timeout: peer sent nothing")]
    KeepAliveTimeout,
    /// The peer sent a malformed frame.
    #[error("protocol error: {0}")]
    Protocol(#[from] FrameError),
    /// The peer's frames carry another protocol version than ours.
    #[error("protocol version mismatch: local {local}, peer sent {peer}")]
    VersionMismatch {
        /// Our configured version.
        local: u8,
        /// The VER byte the peer sent.
        peer: u8,
    },
    /// A v2 peer reported more bytes consumed than were ever sent on a stream.
    #[error("peer acknowledged more data than was sent on stream {0}")]
    BadWindowUpdate(u32),
    /// Reading or writing the underlying connection failed.
    #[error("i/o error: {message}")]
    Io {
        /// Kind of the original error, kept for callers that map kinds to reply codes.
        kind: io::ErrorKind,
        /// Its text.
        message: String,
    },
}

impl CloseReason {
    pub(crate) fn from_io(e: &io::Error) -> CloseReason {
        CloseReason::Io {
            kind: e.kind(),
            message: e.to_string(),
        }
    }

    fn io_kind(&self) -> io::ErrorKind {
        match self {
            CloseReason::Local | CloseReason::PeerClosed => io::ErrorKind::ConnectionAborted,
            CloseReason::KeepAliveTimeout => io::ErrorKind::TimedOut,
            CloseReason::Protocol(_)
            | CloseReason::VersionMismatch { .. }
            | CloseReason::BadWindowUpdate(_) => io::ErrorKind::InvalidData,
            CloseReason::Io { kind, .. } => *kind,
        }
    }

    /// The error a stream operation returns once the session is gone.
    pub(crate) fn to_io(&self) -> io::Error {
        io::Error::new(self.io_kind(), Error::Closed(self.clone()))
    }
}

/// Errors from [`Session`](crate::Session) operations.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The configuration was rejected.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The session is closed.
    #[error("smux session closed: {0}")]
    Closed(CloseReason),
    /// All stream ids of this side are used up (upstream's "go away").
    #[error("smux: stream ids exhausted")]
    GoAway,
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Closed(reason) => reason.to_io(),
            Error::Config(_) => io::Error::new(io::ErrorKind::InvalidInput, e),
            Error::GoAway => io::Error::other(e),
        }
    }
}
