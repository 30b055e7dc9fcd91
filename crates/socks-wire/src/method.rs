//! SOCKS5 method selection: the client's `05 NMETHODS METHODS..` and the server's `05 METHOD`,
//! with upstream GOST's TLS methods 0x80 and 0x82.

use std::fmt;

use bytes::BufMut;

use crate::reader::{Stop, run};
use crate::{Decode, DecodeError, Decoded, Encode, EncodeError, ensure_room};

/// An authentication method code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// 0x00: no authentication.
    NoAuth,
    /// 0x01: GSSAPI (RFC 1961).
    Gssapi,
    /// 0x02: username/password (RFC 1929).
    UserPass,
    /// 0x80: GOST "TLS": a TLS handshake on the same connection right after the method reply,
    /// then the rest of SOCKS5 inside TLS, without authentication.
    Tls,
    /// 0x82: GOST "TLS-AUTH": TLS as for 0x80, then RFC 1929 inside TLS.
    TlsAuth,
    /// 0xFF: no acceptable method (server reply only).
    NoAcceptable,
    /// Any other code.
    Other(u8),
}

impl From<u8> for Method {
    fn from(b: u8) -> Self {
        match b {
            0x00 => Method::NoAuth,
            0x01 => Method::Gssapi,
            0x02 => Method::UserPass,
            0x80 => Method::Tls,
            0x82 => Method::TlsAuth,
            0xFF => Method::NoAcceptable,
            other => Method::Other(other),
        }
    }
}

impl From<Method> for u8 {
    fn from(m: Method) -> u8 {
        match m {
            Method::NoAuth => 0x00,
            Method::Gssapi => 0x01,
            Method::UserPass => 0x02,
            Method::Tls => 0x80,
            Method::TlsAuth => 0x82,
            Method::NoAcceptable => 0xFF,
            Method::Other(b) => b,
        }
    }
}

impl Method {
    /// True for 0x80 and 0x82, after which the connection switches to TLS.
    pub fn starts_tls(self) -> bool {
        matches!(self, Method::Tls | Method::TlsAuth)
    }

    /// True for 0x02 and 0x82, which run the RFC 1929 username/password sub-negotiation.
    pub fn needs_credentials(self) -> bool {
        matches!(self, Method::UserPass | Method::TlsAuth)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Method::NoAuth => f.write_str("no authentication (0x00)"),
            Method::Gssapi => f.write_str("GSSAPI (0x01)"),
            Method::UserPass => f.write_str("username/password (0x02)"),
            Method::Tls => f.write_str("TLS (0x80)"),
            Method::TlsAuth => f.write_str("TLS with username/password (0x82)"),
            Method::NoAcceptable => f.write_str("no acceptable method (0xff)"),
            Method::Other(b) => write!(f, "unknown method {b:#04x}"),
        }
    }
}

/// The client's greeting `05 NMETHODS METHODS..` (1..=255 methods, in the client's order).
///
/// ```
/// use socks_wire::{Decode, Decoded, Encode, Method, MethodRequest};
/// let Ok(Decoded::Complete(req, 4)) = MethodRequest::decode(&[5, 2, 0x00, 0x80]) else { panic!() };
/// assert_eq!(req.methods, [Method::NoAuth, Method::Tls]);
/// assert_eq!(req.to_vec().unwrap(), [5, 2, 0x00, 0x80]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MethodRequest {
    /// The offered methods.
    pub methods: Vec<Method>,
}

impl MethodRequest {
    /// True when `method` is among the offered ones.
    pub fn offers(&self, method: Method) -> bool {
        self.methods.contains(&method)
    }
}

impl Decode<'_> for MethodRequest {
    fn decode(buf: &[u8]) -> Result<Decoded<Self>, DecodeError> {
        run(buf, |r| {
            r.version(0x05, 2, DecodeError::Socks5Version)?;
            let n = usize::from(r.take_then(1, 1)?[0]);
            if n == 0 {
                return Err(Stop::Bad(DecodeError::NoMethods));
            }
            let methods = r.take(n)?.iter().map(|&b| Method::from(b)).collect();
            Ok(MethodRequest { methods })
        })
    }
}

impl Encode for MethodRequest {
    fn encoded_len(&self) -> usize {
        2 + self.methods.len()
    }

    fn encode<B: BufMut>(&self, buf: &mut B) -> Result<usize, EncodeError> {
        match self.methods.len() {
            0 => return Err(EncodeError::NoMethods),
            1..=255 => {}
            n => return Err(EncodeError::TooManyMethods(n)),
        }
        let len = ensure_room(buf, self.encoded_len())?;
        buf.put_u8(0x05);
        buf.put_u8(self.methods.len() as u8);
        for &m in &self.methods {
            buf.put_u8(m.into());
        }
        Ok(len)
    }
}

/// The server's method choice `05 METHOD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MethodReply {
    /// The chosen method, or [`Method::NoAcceptable`].
    pub method: Method,
}

impl Decode<'_> for MethodReply {
    fn decode(buf: &[u8]) -> Result<Decoded<Self>, DecodeError> {
        run(buf, |r| {
            r.version(0x05, 1, DecodeError::Socks5Version)?;
            Ok(MethodReply {
                method: Method::from(r.u8()?),
            })
        })
    }
}

impl Encode for MethodReply {
    fn encoded_len(&self) -> usize {
        2
    }

    fn encode<B: BufMut>(&self, buf: &mut B) -> Result<usize, EncodeError> {
        let len = ensure_room(buf, 2)?;
        buf.put_u8(0x05);
        buf.put_u8(self.method.into());
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_prefixes_need_exact_counts() {
        let d = MethodRequest::decode;
        assert_eq!(d(&[]), Ok(Decoded::NeedMore(3)));
        assert_eq!(d(&[5]), Ok(Decoded::NeedMore(2)));
        assert_eq!(d(&[5, 3, 0]), Ok(Decoded::NeedMore(2)));
    }

    #[test]
    fn malformed_greetings_are_rejected() {
        assert_eq!(
            MethodRequest::decode(&[4, 1, 0]),
            Err(DecodeError::Socks5Version(4))
        );
        assert_eq!(MethodRequest::decode(&[5, 0]), Err(DecodeError::NoMethods));
        assert_eq!(
            MethodReply::decode(&[1, 0]),
            Err(DecodeError::Socks5Version(1))
        );
    }

    #[test]
    fn encode_checks_method_count() {
        let empty = MethodRequest { methods: vec![] };
        assert_eq!(empty.to_vec(), Err(EncodeError::NoMethods));
        let many = MethodRequest {
            methods: vec![Method::NoAuth; 256],
        };
        assert_eq!(many.to_vec(), Err(EncodeError::TooManyMethods(256)));
    }

    #[test]
    fn reply_round_trips() {
        let reply = MethodReply {
            method: Method::TlsAuth,
        };
        assert_eq!(reply.to_vec().unwrap(), [5, 0x82]);
        assert_eq!(
            MethodReply::decode(&[5, 0x82, 9]),
            Ok(Decoded::Complete(reply, 2))
        );
        assert_eq!(MethodReply::decode(&[5]), Ok(Decoded::NeedMore(1)));
    }
}
