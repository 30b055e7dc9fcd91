//! The SOCKS5 request `05 CMD RSV ATYP DST.ADDR DST.PORT`, with upstream GOST's extra commands.

use std::fmt;

use bytes::BufMut;

use crate::reader::{Reader, Stop};
use crate::{Address, DecodeError};

/// A SOCKS5 command code. Unknown codes are kept so a server can answer them with
/// [`ReplyCode::CommandNotSupported`](crate::ReplyCode::CommandNotSupported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// 0x01 CONNECT.
    Connect,
    /// 0x02 BIND (upstream listens on DST.ADDR:DST.PORT and sends two replies).
    Bind,
    /// 0x03 UDP ASSOCIATE.
    UdpAssociate,
    /// 0xF0 Tor RESOLVE (upstream HEAD only).
    Resolve,
    /// 0xF1 Tor RESOLVE_PTR (upstream HEAD only).
    ResolvePtr,
    /// 0xF2 GOST MBIND: BIND whose connection becomes an smux session, one stream per peer.
    MuxBind,
    /// 0xF3 GOST UDP-TUN: UDP datagrams framed over this TCP stream (see
    /// [`UdpTunFrame`](crate::UdpTunFrame)); port 0 = relay mode, otherwise UDP bind mode.
    UdpTun,
    /// Any other code.
    Other(u8),
}

impl From<u8> for Command {
    fn from(b: u8) -> Self {
        match b {
            0x01 => Command::Connect,
            0x02 => Command::Bind,
            0x03 => Command::UdpAssociate,
            0xF0 => Command::Resolve,
            0xF1 => Command::ResolvePtr,
            0xF2 => Command::MuxBind,
            0xF3 => Command::UdpTun,
            other => Command::Other(other),
        }
    }
}

impl From<Command> for u8 {
    fn from(c: Command) -> u8 {
        match c {
            Command::Connect => 0x01,
            Command::Bind => 0x02,
            Command::UdpAssociate => 0x03,
            Command::Resolve => 0xF0,
            Command::ResolvePtr => 0xF1,
            Command::MuxBind => 0xF2,
            Command::UdpTun => 0xF3,
            Command::Other(b) => b,
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Connect => f.write_str("CONNECT"),
            Command::Bind => f.write_str("BIND"),
            Command::UdpAssociate => f.write_str("UDP ASSOCIATE"),
            Command::Resolve => f.write_str("RESOLVE"),
            Command::ResolvePtr => f.write_str("RESOLVE_PTR"),
            Command::MuxBind => f.write_str("MBIND"),
            Command::UdpTun => f.write_str("UDP-TUN"),
            Command::Other(b) => write!(f, "command {b:#04x}"),
        }
    }
}

/// Reads `05 CODE RSV ATYP ADDR PORT`, the shape shared by requests and replies. RSV is ignored,
/// as upstream does.
pub(crate) fn read_framed(r: &mut Reader<'_>) -> Result<(u8, Address), Stop> {
    // VER CODE RSV ATYP plus the shortest address body (a 1-byte domain and the port).
    r.version(0x05, 3 + 4, DecodeError::Socks5Version)?;
    let head = r.take_then(2, 5)?;
    let code = head[0];
    Ok((code, Address::read_then(r, 0)?))
}

pub(crate) fn write_framed<B: BufMut>(buf: &mut B, code: u8, addr: &Address) {
    buf.put_slice(&[0x05, code, 0x00]);
    addr.write(buf);
}

/// `Decode` and `Encode` of a message framed as [`read_framed`] reads it: requests and replies
/// differ only in what their code byte means (the `$code` field).
macro_rules! framed_message {
    ($msg:ident { $code:ident }) => {
        impl $crate::Decode<'_> for $msg {
            fn decode(buf: &[u8]) -> Result<$crate::Decoded<Self>, $crate::DecodeError> {
                $crate::reader::run(buf, |r| {
                    let (code, addr) = $crate::request::read_framed(r)?;
                    Ok($msg {
                        $code: code.into(),
                        addr,
                    })
                })
            }
        }

        impl $crate::Encode for $msg {
            fn encoded_len(&self) -> usize {
                3 + self.addr.encoded_len()
            }

            fn encode<B: bytes::BufMut>(&self, buf: &mut B) -> Result<usize, $crate::EncodeError> {
                let len = $crate::ensure_room(buf, self.encoded_len())?;
                $crate::request::write_framed(buf, self.$code.into(), &self.addr);
                Ok(len)
            }
        }
    };
}
pub(crate) use framed_message;

/// A SOCKS5 request.
///
/// ```
/// use socks_wire::{Address, Command, Encode, Request};
/// let req = Request::new(Command::Connect, "127.0.0.1:32001".parse::<Address>().unwrap());
/// assert_eq!(req.to_vec().unwrap(), [5, 1, 0, 1, 127, 0, 0, 1, 0x7d, 0x01]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Request {
    /// CMD.
    pub command: Command,
    /// DST.ADDR and DST.PORT.
    pub addr: Address,
}

impl Request {
    /// A request for `command` on `addr`.
    pub fn new(command: Command, addr: Address) -> Request {
        Request { command, addr }
    }
}

framed_message!(Request { command });

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decode, Decoded};

    #[test]
    fn decodes_connect_and_leaves_trailing_bytes() {
        let wire = [5, 1, 0, 1, 127, 0, 0, 1, 0x7d, 0x01, 0xEE];
        let Ok(Decoded::Complete(req, 10)) = Request::decode(&wire) else {
            panic!()
        };
        assert_eq!(req.command, Command::Connect);
        assert_eq!(req.addr.to_string(), "127.0.0.1:32001");
    }

    #[test]
    fn reserved_byte_is_ignored_and_unknown_command_kept() {
        let wire = [5, 9, 0x77, 1, 0, 0, 0, 0, 0, 0];
        let Ok(Decoded::Complete(req, 10)) = Request::decode(&wire) else {
            panic!()
        };
        assert_eq!(req.command, Command::Other(9));
    }

    #[test]
    fn prefix_needs() {
        assert_eq!(Request::decode(&[]), Ok(Decoded::NeedMore(8)));
        assert_eq!(Request::decode(&[5, 1]), Ok(Decoded::NeedMore(6)));
        assert_eq!(Request::decode(&[5, 1, 0, 1]), Ok(Decoded::NeedMore(6)));
        assert_eq!(Request::decode(&[5, 1, 0, 4, 0]), Ok(Decoded::NeedMore(17)));
    }

    #[test]
    fn malformed() {
        assert_eq!(
            Request::decode(&[4, 1, 0]),
            Err(DecodeError::Socks5Version(4))
        );
        assert_eq!(
            Request::decode(&[5, 1, 0, 5]),
            Err(DecodeError::AddressType(5))
        );
        assert_eq!(
            Request::decode(&[5, 1, 0, 3, 0]),
            Err(DecodeError::EmptyDomain)
        );
    }
}
