//! The one error type of connectors, chains and the router, with messages that say what to change.

use std::io;
use std::time::Duration;

use socks_wire::{HandshakeError, ReplyCode, Socks4ReplyCode};

/// Why dialing, binding or relaying through a proxy failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a connection failed.
    #[error(transparent)]
    Io(#[from] io::Error),

    /// A transport (TCP, TLS, WebSocket) could not be opened or layered.
    #[error(transparent)]
    Transport(#[from] gost_transport::Error),

    /// The SOCKS5 negotiation with a node failed (no acceptable method, credentials rejected, bad reply).
    #[error("SOCKS5 handshake with {node} failed: {source}")]
    Handshake {
        /// The node address.
        node: String,
        /// What the handshake machine reported.
        #[source]
        source: HandshakeError,
    },

    /// A SOCKS5 node answered a request with a failure code.
    #[error("SOCKS5 server {node} refused {command} {target}: {code}{hint}")]
    Refused {
        /// The node address.
        node: String,
        /// The command (`CONNECT`, `UDP ASSOCIATE`, `MBIND`, ...).
        command: &'static str,
        /// The address the request named.
        target: String,
        /// The reply code.
        code: ReplyCode,
        /// What to change, when the code says it (e.g. "; the server does not allow UDP; start it with udp=true").
        hint: &'static str,
    },

    /// A SOCKS5 node hung up instead of answering a request: what plain SOCKS5 servers (dante, for
    /// one) do with GOST's extension commands.
    #[error("SOCKS5 server {node} closed the connection instead of answering {command}{hint}")]
    HungUp {
        /// The node address.
        node: String,
        /// The command (`MBIND`, `UDP-TUN`, ...).
        command: &'static str,
        /// What to change (e.g. "; ... set relay=udp on the node").
        hint: &'static str,
    },

    /// A SOCKS4 node answered a request with a failure code.
    #[error("SOCKS4 server {node} refused CONNECT {target}: {code}")]
    Socks4Refused {
        /// The node address.
        node: String,
        /// The address the request named.
        target: String,
        /// The reply code.
        code: Socks4ReplyCode,
    },

    /// A node sent something that is not a valid reply.
    #[error("malformed reply from {node}: {source}")]
    Malformed {
        /// The node address.
        node: String,
        /// What was wrong.
        #[source]
        source: socks_wire::DecodeError,
    },

    /// A handshake did not finish in time.
    #[error("{what} with {node} timed out after {timeout:?}")]
    Timeout {
        /// Which exchange ("handshake", "MBIND", ...).
        what: &'static str,
        /// The node address or target.
        node: String,
        /// The limit that passed.
        timeout: Duration,
    },

    /// A `host:port` string could not be used.
    #[error("invalid address {addr:?}: {reason}")]
    InvalidAddress {
        /// The address as given.
        addr: String,
        /// Why it was rejected.
        reason: String,
    },

    /// The operation needs a connector that can do it (e.g. BIND through a SOCKS4 node).
    #[error("{0}")]
    Unsupported(String),

    /// The smux session of an MBIND failed.
    #[error("smux: {0}")]
    Mux(#[from] gost_smux::Error),

    /// The chain or node configuration is unusable.
    #[error("chain configuration: {0}")]
    Config(String),

    /// A hop's or node's bypass could not say whether it carries the target.
    #[error(transparent)]
    Bypass(#[from] crate::NotLoaded),
}

impl Error {
    /// The [`io::ErrorKind`] behind this error when it comes from a socket or a timeout.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            Error::Io(e) => Some(e.kind()),
            Error::Transport(e) => e.io_kind(),
            Error::Timeout { .. } => Some(io::ErrorKind::TimedOut),
            _ => None,
        }
    }

    /// True when the server does not know the command: it answered "command not supported" (0x07) or
    /// hung up on the request. Remote forwarding then falls back from MBIND to plain BIND.
    pub fn command_unknown(&self) -> bool {
        matches!(
            self,
            Error::Refused {
                code: ReplyCode::CommandNotSupported,
                ..
            } | Error::HungUp { .. }
        )
    }

    /// The reply code of a refusing SOCKS5 server, if that is what happened.
    pub fn reply_code(&self) -> Option<ReplyCode> {
        match self {
            Error::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(e) => e,
            Error::Transport(e) => e.into(),
            other => {
                let kind = other.io_kind().unwrap_or(match &other {
                    Error::Refused {
                        code: ReplyCode::ConnectionRefused,
                        ..
                    } => io::ErrorKind::ConnectionRefused,
                    Error::Refused {
                        code: ReplyCode::HostUnreachable,
                        ..
                    } => io::ErrorKind::HostUnreachable,
                    Error::Refused {
                        code: ReplyCode::NetworkUnreachable,
                        ..
                    } => io::ErrorKind::NetworkUnreachable,
                    Error::HungUp { .. } => io::ErrorKind::ConnectionAborted,
                    Error::InvalidAddress { .. } | Error::Config(_) => io::ErrorKind::InvalidInput,
                    Error::Unsupported(_) => io::ErrorKind::Unsupported,
                    _ => io::ErrorKind::Other,
                });
                io::Error::new(kind, other)
            }
        }
    }
}

/// Runs `fut` under `timeout`, naming what timed out.
pub(crate) async fn bounded<T>(
    timeout: Duration,
    what: &'static str,
    node: &(dyn std::fmt::Display + Sync),
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| Error::Timeout {
            what,
            node: node.to_string(),
            timeout,
        })?
}
