//! SOCKS4 and SOCKS4A: the request (`04 CD DSTPORT DSTIP USERID 00 [HOST 00]`) and the 8-byte reply.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

use bytes::BufMut;

use crate::reader::{Stop, run};
use crate::{Decode, DecodeError, Decoded, Domain, Encode, EncodeError, ensure_room};

/// Longest USERID / SOCKS4A hostname accepted (upstream HEAD's limit).
const MAX_FIELD: usize = 255;

/// The SOCKS4 command code (CD). Unknown codes are kept so a server can refuse them with a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Socks4Command {
    /// 0x01 CONNECT.
    Connect,
    /// 0x02 BIND.
    Bind,
    /// Any other code.
    Other(u8),
}

impl From<u8> for Socks4Command {
    fn from(b: u8) -> Self {
        match b {
            0x01 => Socks4Command::Connect,
            0x02 => Socks4Command::Bind,
            other => Socks4Command::Other(other),
        }
    }
}

impl From<Socks4Command> for u8 {
    fn from(c: Socks4Command) -> u8 {
        match c {
            Socks4Command::Connect => 0x01,
            Socks4Command::Bind => 0x02,
            Socks4Command::Other(b) => b,
        }
    }
}

/// Where a SOCKS4 request goes: an IPv4 address (SOCKS4) or a hostname the server resolves
/// (SOCKS4A, sent as DSTIP `0.0.0.1` followed by the NUL-terminated name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Socks4Target {
    /// Plain SOCKS4: an IPv4 address. It must not be `0.0.0.x` with x != 0 (the SOCKS4A marker).
    Ip(Ipv4Addr),
    /// SOCKS4A: a hostname (any bytes but NUL). Decoding accepts every `0.0.0.x` (x != 0)
    /// marker; encoding always writes `0.0.0.1`, as upstream does.
    Domain(Domain),
}

fn is_4a_marker(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    o[..3] == [0, 0, 0] && o[3] != 0
}

/// A SOCKS4/4A request: `04 CD DSTPORT DSTIP USERID 00` plus `HOSTNAME 00` for SOCKS4A.
///
/// ```
/// use socks_wire::{Decode, Decoded, Encode, Socks4Request, Socks4Target};
/// // Upstream GOST's client sends the 4A form even for IP literals.
/// let wire = b"\x04\x01\x7d\x01\x00\x00\x00\x01\x00127.0.0.1\x00";
/// let Ok(Decoded::Complete(req, len)) = Socks4Request::decode(wire) else { panic!() };
/// assert_eq!(len, wire.len());
/// assert_eq!(req.port, 32001);
/// assert!(matches!(&req.target, Socks4Target::Domain(d) if d.as_str() == Some("127.0.0.1")));
/// assert_eq!(req.to_vec().unwrap(), wire);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Socks4Request {
    /// CD: CONNECT, BIND or an unknown code.
    pub command: Socks4Command,
    /// DSTPORT.
    pub port: u16,
    /// DSTIP, or the SOCKS4A hostname.
    pub target: Socks4Target,
    /// USERID (0..=255 bytes, no NUL).
    pub user_id: Vec<u8>,
}

impl Socks4Request {
    /// A CONNECT request with an empty USERID.
    pub fn connect(target: Socks4Target, port: u16) -> Socks4Request {
        Socks4Request {
            command: Socks4Command::Connect,
            port,
            target,
            user_id: Vec::new(),
        }
    }

    fn check(&self) -> Result<usize, EncodeError> {
        if self.user_id.len() > MAX_FIELD {
            return Err(EncodeError::FieldTooLong {
                field: "SOCKS4 USERID",
                len: self.user_id.len(),
            });
        }
        if self.user_id.contains(&0) {
            return Err(EncodeError::NulInField("SOCKS4 USERID"));
        }
        match &self.target {
            Socks4Target::Ip(ip) if is_4a_marker(*ip) => Err(EncodeError::Socks4ReservedIp(*ip)),
            Socks4Target::Domain(d) if d.as_bytes().contains(&0) => {
                Err(EncodeError::NulInField("SOCKS4A hostname"))
            }
            _ => Ok(self.encoded_len()),
        }
    }
}

impl Decode<'_> for Socks4Request {
    fn decode(buf: &[u8]) -> Result<Decoded<Self>, DecodeError> {
        run(buf, |r| {
            r.version(0x04, 0, DecodeError::Socks4Version)?;
            // CD, DSTPORT, DSTIP and at least the USERID terminator.
            let head = r.take_then(7, 1)?;
            let command = Socks4Command::from(head[0]);
            let port = u16::from_be_bytes([head[1], head[2]]);
            let ip = Ipv4Addr::new(head[3], head[4], head[5], head[6]);
            let user_id = r.until_nul(MAX_FIELD, DecodeError::Socks4UserIdTooLong)?;
            let target = if is_4a_marker(ip) {
                let host = r.until_nul(MAX_FIELD, DecodeError::Socks4HostnameTooLong)?;
                if host.is_empty() {
                    return Err(Stop::Bad(DecodeError::Socks4EmptyHostname));
                }
                Socks4Target::Domain(
                    Domain::new(host).map_err(|_| DecodeError::Socks4EmptyHostname)?,
                )
            } else {
                Socks4Target::Ip(ip)
            };
            Ok(Socks4Request {
                command,
                port,
                target,
                user_id: user_id.to_vec(),
            })
        })
    }
}

impl Encode for Socks4Request {
    fn encoded_len(&self) -> usize {
        let host = match &self.target {
            Socks4Target::Ip(_) => 0,
            Socks4Target::Domain(d) => d.len() + 1,
        };
        8 + self.user_id.len() + 1 + host
    }

    fn encode<B: BufMut>(&self, buf: &mut B) -> Result<usize, EncodeError> {
        let len = ensure_room(buf, self.check()?)?;
        buf.put_u8(0x04);
        buf.put_u8(self.command.into());
        buf.put_u16(self.port);
        match &self.target {
            Socks4Target::Ip(ip) => buf.put_slice(&ip.octets()),
            Socks4Target::Domain(_) => buf.put_slice(&[0, 0, 0, 1]),
        }
        buf.put_slice(&self.user_id);
        buf.put_u8(0);
        if let Socks4Target::Domain(d) = &self.target {
            buf.put_slice(d.as_bytes());
            buf.put_u8(0);
        }
        Ok(len)
    }
}

/// The SOCKS4 reply code (CD of the reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Socks4ReplyCode {
    /// 0x5A (90): request granted.
    Granted,
    /// 0x5B (91): request rejected or failed.
    Rejected,
    /// 0x5C (92): rejected because the server cannot reach the client's identd.
    IdentdUnreachable,
    /// 0x5D (93): rejected because identd reports a different user id.
    IdentdMismatch,
    /// Any other code.
    Other(u8),
}

impl From<u8> for Socks4ReplyCode {
    fn from(b: u8) -> Self {
        match b {
            0x5A => Socks4ReplyCode::Granted,
            0x5B => Socks4ReplyCode::Rejected,
            0x5C => Socks4ReplyCode::IdentdUnreachable,
            0x5D => Socks4ReplyCode::IdentdMismatch,
            other => Socks4ReplyCode::Other(other),
        }
    }
}

impl From<Socks4ReplyCode> for u8 {
    fn from(c: Socks4ReplyCode) -> u8 {
        match c {
            Socks4ReplyCode::Granted => 0x5A,
            Socks4ReplyCode::Rejected => 0x5B,
            Socks4ReplyCode::IdentdUnreachable => 0x5C,
            Socks4ReplyCode::IdentdMismatch => 0x5D,
            Socks4ReplyCode::Other(b) => b,
        }
    }
}

impl fmt::Display for Socks4ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Socks4ReplyCode::Granted => "request granted",
            Socks4ReplyCode::Rejected => "request rejected or failed",
            Socks4ReplyCode::IdentdUnreachable => "identd unreachable",
            Socks4ReplyCode::IdentdMismatch => "identd user id mismatch",
            Socks4ReplyCode::Other(b) => return write!(f, "unknown SOCKS4 reply code {b:#04x}"),
        };
        f.write_str(text)
    }
}

/// The 8-byte SOCKS4 reply `00 CD DSTPORT DSTIP`. The version byte is 0x00, not 0x04.
///
/// ```
/// use socks_wire::{Encode, Socks4Reply, Socks4ReplyCode};
/// let granted = Socks4Reply::new(Socks4ReplyCode::Granted);
/// assert_eq!(granted.to_vec().unwrap(), [0x00, 0x5a, 0, 0, 0, 0, 0, 0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Socks4Reply {
    /// CD.
    pub code: Socks4ReplyCode,
    /// DSTPORT and DSTIP (meaningful for BIND; upstream sends zeros for CONNECT).
    pub addr: SocketAddrV4,
}

impl Socks4Reply {
    /// A reply with the given code and a zero address, as upstream GOST sends it.
    pub fn new(code: Socks4ReplyCode) -> Socks4Reply {
        Socks4Reply {
            code,
            addr: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
        }
    }
}

impl Decode<'_> for Socks4Reply {
    fn decode(buf: &[u8]) -> Result<Decoded<Self>, DecodeError> {
        run(buf, |r| {
            r.version(0x00, 7, DecodeError::Socks4ReplyVersion)?;
            let b = r.take(7)?;
            let port = u16::from_be_bytes([b[1], b[2]]);
            let ip = Ipv4Addr::new(b[3], b[4], b[5], b[6]);
            Ok(Socks4Reply {
                code: Socks4ReplyCode::from(b[0]),
                addr: SocketAddrV4::new(ip, port),
            })
        })
    }
}

impl Encode for Socks4Reply {
    fn encoded_len(&self) -> usize {
        8
    }

    fn encode<B: BufMut>(&self, buf: &mut B) -> Result<usize, EncodeError> {
        let len = ensure_room(buf, 8)?;
        buf.put_u8(0x00);
        buf.put_u8(self.code.into());
        buf.put_u16(self.addr.port());
        buf.put_slice(&self.addr.ip().octets());
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(b: &[u8]) -> Result<Decoded<Socks4Request>, DecodeError> {
        Socks4Request::decode(b)
    }

    #[test]
    fn plain_socks4_request_round_trips() {
        let wire = [4, 1, 0x7d, 0x01, 127, 0, 0, 1, b'u', 0];
        let Ok(Decoded::Complete(r, n)) = req(&wire) else {
            panic!()
        };
        assert_eq!(n, wire.len());
        assert_eq!(r.target, Socks4Target::Ip(Ipv4Addr::LOCALHOST));
        assert_eq!(r.user_id, b"u");
        assert_eq!(r.to_vec().unwrap(), wire);
    }

    #[test]
    fn trailing_bytes_are_left() {
        let wire = [4, 2, 0, 80, 10, 0, 0, 1, 0, 0xAA, 0xBB];
        assert!(
            matches!(req(&wire), Ok(Decoded::Complete(r, 9)) if r.command == Socks4Command::Bind)
        );
    }

    #[test]
    fn any_4a_marker_is_accepted() {
        let wire = [4, 1, 0, 80, 0, 0, 0, 0xff, 0, b'h', 0];
        let Ok(Decoded::Complete(r, 11)) = req(&wire) else {
            panic!()
        };
        assert!(matches!(r.target, Socks4Target::Domain(_)));
    }

    #[test]
    fn malformed_requests_get_specific_errors() {
        assert_eq!(req(&[5, 1]), Err(DecodeError::Socks4Version(5)));
        let mut long = vec![4, 1, 0, 80, 1, 2, 3, 4];
        long.extend([b'a'; 256]);
        assert_eq!(req(&long), Err(DecodeError::Socks4UserIdTooLong));
        let mut long_host = vec![4, 1, 0, 80, 0, 0, 0, 1, 0];
        long_host.extend([b'a'; 256]);
        assert_eq!(req(&long_host), Err(DecodeError::Socks4HostnameTooLong));
        assert_eq!(
            req(&[4, 1, 0, 80, 0, 0, 0, 1, 0, 0]),
            Err(DecodeError::Socks4EmptyHostname)
        );
    }

    #[test]
    fn unknown_command_is_representable() {
        let wire = [4, 3, 0, 80, 1, 2, 3, 4, 0];
        let Ok(Decoded::Complete(r, 9)) = req(&wire) else {
            panic!()
        };
        assert_eq!(r.command, Socks4Command::Other(3));
        assert_eq!(r.to_vec().unwrap(), wire);
    }

    #[test]
    fn encode_rejects_unrepresentable_requests() {
        let mut r = Socks4Request::connect(Socks4Target::Ip(Ipv4Addr::new(0, 0, 0, 9)), 1);
        assert_eq!(
            r.to_vec(),
            Err(EncodeError::Socks4ReservedIp(Ipv4Addr::new(0, 0, 0, 9)))
        );
        r.target = Socks4Target::Ip(Ipv4Addr::UNSPECIFIED);
        r.user_id = b"a\0b".to_vec();
        assert_eq!(r.to_vec(), Err(EncodeError::NulInField("SOCKS4 USERID")));
        r.user_id = vec![b'a'; 256];
        assert!(matches!(
            r.to_vec(),
            Err(EncodeError::FieldTooLong { len: 256, .. })
        ));
        r.user_id.clear();
        r.target = Socks4Target::Domain(Domain::new(b"a\0").unwrap());
        assert_eq!(r.to_vec(), Err(EncodeError::NulInField("SOCKS4A hostname")));
    }

    #[test]
    fn reply_needs_eight_bytes_and_version_zero() {
        assert_eq!(Socks4Reply::decode(&[]), Ok(Decoded::NeedMore(8)));
        assert_eq!(Socks4Reply::decode(&[0, 0x5a, 0]), Ok(Decoded::NeedMore(5)));
        assert_eq!(
            Socks4Reply::decode(&[4, 0x5a]),
            Err(DecodeError::Socks4ReplyVersion(4))
        );
        let wire = [0, 0x5b, 0x1f, 0x90, 10, 0, 0, 1];
        let Ok(Decoded::Complete(r, 8)) = Socks4Reply::decode(&wire) else {
            panic!()
        };
        assert_eq!(r.code, Socks4ReplyCode::Rejected);
        assert_eq!(r.addr, "10.0.0.1:8080".parse().unwrap());
        assert_eq!(r.to_vec().unwrap(), wire);
    }
}
