//! The SOCKS5 reply `05 REP RSV ATYP BND.ADDR BND.PORT` and its reply codes.

use std::fmt;

use crate::Address;
use crate::request::framed_message;

/// A SOCKS5 reply code (REP). Unknown codes are kept as [`ReplyCode::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyCode {
    /// 0x00 succeeded.
    Succeeded,
    /// 0x01 general SOCKS server failure.
    GeneralFailure,
    /// 0x02 connection not allowed by ruleset.
    NotAllowed,
    /// 0x03 network unreachable (upstream GOST sends it for every failed CONNECT).
    NetworkUnreachable,
    /// 0x04 host unreachable.
    HostUnreachable,
    /// 0x05 connection refused.
    ConnectionRefused,
    /// 0x06 TTL expired.
    TtlExpired,
    /// 0x07 command not supported.
    CommandNotSupported,
    /// 0x08 address type not supported.
    AddressTypeNotSupported,
    /// Any other code.
    Other(u8),
}

impl From<u8> for ReplyCode {
    fn from(b: u8) -> Self {
        match b {
            0x00 => ReplyCode::Succeeded,
            0x01 => ReplyCode::GeneralFailure,
            0x02 => ReplyCode::NotAllowed,
            0x03 => ReplyCode::NetworkUnreachable,
            0x04 => ReplyCode::HostUnreachable,
            0x05 => ReplyCode::ConnectionRefused,
            0x06 => ReplyCode::TtlExpired,
            0x07 => ReplyCode::CommandNotSupported,
            0x08 => ReplyCode::AddressTypeNotSupported,
            other => ReplyCode::Other(other),
        }
    }
}

impl From<ReplyCode> for u8 {
    fn from(c: ReplyCode) -> u8 {
        match c {
            ReplyCode::Succeeded => 0x00,
            ReplyCode::GeneralFailure => 0x01,
            ReplyCode::NotAllowed => 0x02,
            ReplyCode::NetworkUnreachable => 0x03,
            ReplyCode::HostUnreachable => 0x04,
            ReplyCode::ConnectionRefused => 0x05,
            ReplyCode::TtlExpired => 0x06,
            ReplyCode::CommandNotSupported => 0x07,
            ReplyCode::AddressTypeNotSupported => 0x08,
            ReplyCode::Other(b) => b,
        }
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ReplyCode::Succeeded => "succeeded",
            ReplyCode::GeneralFailure => "general SOCKS server failure",
            ReplyCode::NotAllowed => "connection not allowed by ruleset",
            ReplyCode::NetworkUnreachable => "network unreachable",
            ReplyCode::HostUnreachable => "host unreachable",
            ReplyCode::ConnectionRefused => "connection refused",
            ReplyCode::TtlExpired => "TTL expired",
            ReplyCode::CommandNotSupported => "command not supported",
            ReplyCode::AddressTypeNotSupported => "address type not supported",
            ReplyCode::Other(b) => return write!(f, "unknown reply code {b:#04x}"),
        };
        f.write_str(text)
    }
}

/// A SOCKS5 reply.
///
/// ```
/// use socks_wire::{Encode, Reply, ReplyCode};
/// // What upstream sends for a refused CONNECT: REP 0x03 with the "nil" address 0.0.0.0:0.
/// let r = Reply::failure(ReplyCode::NetworkUnreachable);
/// assert_eq!(r.to_vec().unwrap(), [5, 3, 0, 1, 0, 0, 0, 0, 0, 0]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reply {
    /// REP.
    pub code: ReplyCode,
    /// BND.ADDR and BND.PORT.
    pub addr: Address,
}

impl Reply {
    /// A reply with `code` and `addr`.
    pub fn new(code: ReplyCode, addr: Address) -> Reply {
        Reply { code, addr }
    }

    /// REP 0x00 with the bound address `addr`.
    pub fn success(addr: Address) -> Reply {
        Reply::new(ReplyCode::Succeeded, addr)
    }

    /// A reply with `code` and the address `0.0.0.0:0`, the form upstream uses for failures.
    pub fn failure(code: ReplyCode) -> Reply {
        Reply::new(code, Address::UNSPECIFIED)
    }
}

framed_message!(Reply { code });

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decode, DecodeError, Decoded, Encode};

    #[test]
    fn every_rfc_code_has_a_name_and_round_trips() {
        for b in 0..=8u8 {
            let code = ReplyCode::from(b);
            assert!(!matches!(code, ReplyCode::Other(_)));
            assert_eq!(u8::from(code), b);
            let wire = Reply::failure(code).to_vec().unwrap();
            assert_eq!(wire, [5, b, 0, 1, 0, 0, 0, 0, 0, 0]);
            assert_eq!(
                Reply::decode(&wire),
                Ok(Decoded::Complete(Reply::failure(code), 10))
            );
        }
        assert_eq!(ReplyCode::from(0x42), ReplyCode::Other(0x42));
    }

    #[test]
    fn ipv6_bound_address() {
        let mut wire = vec![5, 0, 0, 4];
        wire.extend([0; 16]);
        wire.extend([0xb8, 0x93]);
        let Ok(Decoded::Complete(r, 22)) = Reply::decode(&wire) else {
            panic!()
        };
        assert_eq!(r.addr.to_string(), "[::]:47251");
        assert_eq!(r.to_vec().unwrap(), wire);
    }

    #[test]
    fn malformed() {
        assert_eq!(
            Reply::decode(&[0, 0x5a]),
            Err(DecodeError::Socks5Version(0))
        );
        assert_eq!(
            Reply::decode(&[5, 0, 0, 2]),
            Err(DecodeError::AddressType(2))
        );
    }
}
