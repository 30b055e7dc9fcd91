//! Error types: configuration mistakes, rejected datagrams, and session I/O failures.

use std::io;

/// A KCP option that cannot be used.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The option name is not one of upstream's KCP options.
    #[error("unknown kcp option `{0}`")]
    UnknownOption(String),
    /// The option's value does not parse or is out of range.
    #[error("invalid value for kcp option `{name}`: {value}")]
    BadValue {
        /// Option name.
        name: String,
        /// Offending value and, when useful, the allowed range.
        value: String,
    },
    /// Upstream knows this setting but gost-rs does not implement it.
    #[error("kcp: {0} is not supported by gost-rs")]
    Unsupported(String),
}

/// Why an incoming datagram was dropped. Datagrams are never answered, so this only feeds counters
/// and logs.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum PacketError {
    /// Shorter than the crypt + FEC + KCP headers.
    #[error("datagram too short ({0} bytes)")]
    TooShort(usize),
    /// CRC32 after decryption did not match: wrong key/cipher or corrupted.
    #[error("checksum mismatch (wrong key or cipher?)")]
    Checksum,
    /// A KCP segment header or length is inconsistent.
    #[error("malformed KCP segment")]
    Segment,
    /// The KCP conversation id belongs to another session.
    #[error("conversation id {got:#010x} does not match session {want:#010x}")]
    Conv {
        /// This session's conv.
        want: u32,
        /// The datagram's conv.
        got: u32,
    },
}

/// Failure of a KCP session or listener.
#[derive(Debug, thiserror::Error)]
pub enum KcpError {
    /// Socket error.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// Invalid configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl From<KcpError> for io::Error {
    fn from(e: KcpError) -> io::Error {
        match e {
            KcpError::Io(e) => e,
            KcpError::Config(e) => io::Error::new(io::ErrorKind::InvalidInput, e),
        }
    }
}
