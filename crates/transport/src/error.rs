//! The one error type of every listener, dialer and handshake in this crate.
//!
//! Socket failures keep their [`io::ErrorKind`] reachable through [`Error::io_kind`], because servers map
//! "connection refused", "network unreachable" and "timed out" to protocol reply codes.

use std::io;
use std::time::Duration;

/// What went wrong while listening, dialing or layering a transport.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A socket operation failed (accept, bind, read/write during a handshake, ...).
    #[error(transparent)]
    Io(#[from] io::Error),

    /// The address is not `host:port` (IPv6 literals in brackets: `[::1]:1080`).
    #[error("invalid address {addr:?}: {reason}")]
    InvalidAddress {
        /// The address as given.
        addr: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// Name resolution failed or returned no address.
    #[error("cannot resolve {host:?}: {source}")]
    Resolve {
        /// The host name that was looked up.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },

    /// Every connection attempt to the address failed; `source` is the last failure.
    #[error("connect to {addr} failed: {source}")]
    Connect {
        /// The address that was dialed, as given.
        addr: String,
        /// The error of the last attempt (refused, unreachable, ...).
        #[source]
        source: io::Error,
    },

    /// The connect timeout passed before any attempt succeeded.
    #[error("connect to {addr} timed out after {timeout:?}")]
    ConnectTimeout {
        /// The address that was dialed, as given.
        addr: String,
        /// The configured connect timeout.
        timeout: Duration,
    },

    /// A TLS or WebSocket handshake did not finish in time.
    #[error("{what} handshake timed out after {timeout:?}")]
    HandshakeTimeout {
        /// Which handshake ("TLS", "ws").
        what: &'static str,
        /// The configured handshake timeout.
        timeout: Duration,
    },

    /// Certificates, keys or CA files could not be loaded, or a TLS configuration is invalid.
    #[error("TLS configuration: {0}")]
    TlsConfig(String),

    /// The TLS handshake failed (bad certificate, unknown CA, protocol error, ...).
    #[error("TLS handshake failed: {0}")]
    Tls(String),

    /// The server's certificate does not have the pinned SHA-256 fingerprint.
    #[error(
        "TLS handshake failed: server certificate SHA-256 {actual} does not match the pinned {expected}"
    )]
    PinMismatch {
        /// The pinned fingerprint (lowercase hex).
        expected: String,
        /// The fingerprint of the certificate the server presented (lowercase hex).
        actual: String,
    },

    /// The server answered the WebSocket upgrade with something other than `101 Switching Protocols`.
    #[error("ws upgrade rejected: HTTP {status}")]
    WsRejected {
        /// The HTTP status code the server sent.
        status: u16,
    },

    /// The WebSocket upgrade failed for another reason (malformed request/response, bad accept key, ...).
    #[error("ws handshake failed: {0}")]
    Ws(String),
}

impl Error {
    /// The [`io::ErrorKind`] behind this error, when it comes from a socket or a timeout.
    ///
    /// Servers use it to pick a reply code: `ConnectionRefused`, `HostUnreachable`, `NetworkUnreachable`,
    /// `TimedOut`, ...
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            Error::Io(e) => Some(e.kind()),
            Error::Connect { source, .. } | Error::Resolve { source, .. } => Some(source.kind()),
            Error::ConnectTimeout { .. } | Error::HandshakeTimeout { .. } => {
                Some(io::ErrorKind::TimedOut)
            }
            _ => None,
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(e) => e,
            other => {
                let kind = other.io_kind().unwrap_or(match other {
                    Error::InvalidAddress { .. } | Error::TlsConfig(_) => {
                        io::ErrorKind::InvalidInput
                    }
                    _ => io::ErrorKind::InvalidData,
                });
                io::Error::new(kind, other)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_kind_survives_wrapping() {
        let e = Error::Connect {
            addr: "127.0.0.1:1".into(),
            source: io::Error::from(io::ErrorKind::ConnectionRefused),
        };
        assert_eq!(e.io_kind(), Some(io::ErrorKind::ConnectionRefused));
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused);
        assert!(io.to_string().starts_with("connect to 127.0.0.1:1 failed"));
    }

    #[test]
    fn timeouts_are_timed_out() {
        let e = Error::HandshakeTimeout {
            what: "TLS",
            timeout: Duration::from_secs(1),
        };
        assert_eq!(io::Error::from(e).kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn plain_io_is_unwrapped() {
        let e = Error::from(io::Error::new(io::ErrorKind::AddrInUse, "busy"));
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(io.to_string(), "busy");
    }

    #[test]
    fn ws_rejection_message() {
        assert_eq!(
            Error::WsRejected { status: 404 }.to_string(),
            "ws upgrade rejected: HTTP 404"
        );
    }
}

/// Whether `e` says the process or the system is out of descriptors or of memory for them (`EMFILE`,
/// `ENFILE`, `ENOBUFS`, `ENOMEM`): retrying at once cannot help.
pub fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

impl Error {
    /// Whether this is an I/O error of [`is_resource_exhaustion`].
    pub fn is_resource_exhaustion(&self) -> bool {
        matches!(self, Error::Io(e) if is_resource_exhaustion(e))
    }
}

#[cfg(test)]
mod exhaustion_tests {
    use super::*;

    #[test]
    fn only_resource_errors_are_exhaustion() {
        let emfile = Error::Io(io::Error::from_raw_os_error(libc::EMFILE));
        assert!(emfile.is_resource_exhaustion());
        let reset = Error::Io(io::ErrorKind::ConnectionReset.into());
        assert!(!reset.is_resource_exhaustion());
    }
}
