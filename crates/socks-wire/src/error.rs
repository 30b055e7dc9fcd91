//! Error types: what can be wrong with bytes being decoded and with values being encoded.

use thiserror::Error;

/// A byte sequence that is not a valid message (as opposed to one that is merely incomplete, which
/// decoders report as [`Decoded::NeedMore`](crate::Decoded::NeedMore)).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A SOCKS5 message did not start with version byte 0x05.
    #[error("not a SOCKS5 message: version byte {0:#04x}, expected 0x05")]
    Socks5Version(u8),
    /// A SOCKS4 request did not start with version byte 0x04.
    #[error("not a SOCKS4 request: version byte {0:#04x}, expected 0x04")]
    Socks4Version(u8),
    /// A SOCKS4 reply did not start with version byte 0x00.
    #[error("bad SOCKS4 reply: version byte {0:#04x}, expected 0x00")]
    Socks4ReplyVersion(u8),
    /// An RFC 1929 username/password message did not start with version byte 0x01.
    #[error("bad username/password sub-negotiation version {0:#04x}, expected 0x01")]
    AuthVersion(u8),
    /// A method selection request listed no methods (NMETHODS = 0).
    #[error("method selection request lists no methods (NMETHODS = 0)")]
    NoMethods,
    /// An address had an ATYP other than 0x01 (IPv4), 0x03 (domain) or 0x04 (IPv6).
    #[error("unknown address type (ATYP) {0:#04x}")]
    AddressType(u8),
    /// A domain-name address had length 0.
    #[error("domain-name address of length 0")]
    EmptyDomain,
    /// A SOCKS4 USERID ran past 255 bytes without its terminating NUL.
    #[error("SOCKS4 USERID longer than 255 bytes")]
    Socks4UserIdTooLong,
    /// A SOCKS4A hostname ran past 255 bytes without its terminating NUL.
    #[error("SOCKS4A hostname longer than 255 bytes")]
    Socks4HostnameTooLong,
    /// A SOCKS4A request (DSTIP 0.0.0.x, x != 0) carried an empty hostname.
    #[error("SOCKS4A request with an empty hostname")]
    Socks4EmptyHostname,
    /// An RFC 1928 UDP request header had a non-zero RSV field.
    #[error("UDP request header RSV field is {0:#06x}, must be 0")]
    UdpReserved(u16),
    /// A UDP-TUN frame announced a zero-length payload (upstream readers desynchronise on it).
    #[error("UDP-TUN frame with a zero-length payload")]
    EmptyUdpTunFrame,
    /// A datagram ended before its header was complete.
    #[error("datagram truncated: header incomplete")]
    Truncated,
}

/// A value that cannot be put on the wire, or a buffer too small to hold it. Encoders check
/// everything before writing, so on error nothing has been written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The destination buffer has less room than the encoded message needs.
    #[error("buffer too small: message needs {needed} bytes, buffer has room for {remaining}")]
    BufferTooSmall {
        /// Bytes the message needs.
        needed: usize,
        /// Bytes the buffer had room for.
        remaining: usize,
    },
    /// A method selection request with no methods (SOCKS5 requires 1..=255).
    #[error("method selection request needs at least one method")]
    NoMethods,
    /// A method selection request with more than 255 methods.
    #[error("method selection request lists {0} methods, at most 255 fit")]
    TooManyMethods(usize),
    /// A length-prefixed or NUL-terminated field longer than 255 bytes.
    #[error("{field} is {len} bytes long, at most 255 fit")]
    FieldTooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// A SOCKS4 NUL-terminated field (USERID or SOCKS4A hostname) containing a NUL byte.
    #[error("{0} contains a NUL byte, which SOCKS4 uses as terminator")]
    NulInField(&'static str),
    /// A SOCKS4 DSTIP of the form 0.0.0.x (x != 0), which receivers read as the SOCKS4A marker.
    #[error("SOCKS4 destination IP {0} is reserved for the SOCKS4A marker; use a hostname")]
    Socks4ReservedIp(std::net::Ipv4Addr),
    /// A SOCKS4 destination that is an IPv6 address (SOCKS4 carries IPv4 or, with 4A, a hostname).
    #[error("SOCKS4 cannot carry the IPv6 destination {0}")]
    Socks4Ipv6(std::net::Ipv6Addr),
    /// A UDP-TUN frame with an empty payload (upstream readers desynchronise on it).
    #[error("UDP-TUN frame with an empty payload cannot be sent")]
    EmptyUdpTunPayload,
    /// A UDP-TUN frame payload longer than its 16-bit length field can express.
    #[error("UDP-TUN payload of {0} bytes exceeds 65535")]
    UdpTunPayloadTooLong(usize),
}
