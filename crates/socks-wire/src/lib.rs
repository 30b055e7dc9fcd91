//! Sans-io SOCKS4/4A, SOCKS5 (RFC 1928), username/password (RFC 1929) and upstream GOST
//! extension codecs, plus SOCKS4/4A and SOCKS5 handshake state machines for both sides.
//!
//! No I/O, no async runtime: every decoder takes a byte slice, every encoder writes into a
//! [`bytes::BufMut`], and the handshake machines are fed bytes and told what to write. Use them
//! with blocking sockets, tokio, or anything else (an optional `codec` feature adds
//! `tokio_util::codec` impls).
//!
//! # Messages
//!
//! | message | type |
//! |---|---|
//! | address `ATYP ADDR PORT` | [`Address`], [`Domain`] |
//! | SOCKS4/4A request, reply | [`Socks4Request`], [`Socks4Reply`] |
//! | SOCKS5 method selection | [`MethodRequest`], [`MethodReply`], [`Method`] (incl. GOST 0x80 TLS, 0x82 TLS-AUTH) |
//! | SOCKS5 request, reply | [`Request`] / [`Command`] (incl. GOST 0xF2 MBIND, 0xF3 UDP-TUN), [`Reply`] / [`ReplyCode`] |
//! | RFC 1929 | [`UserPassRequest`], [`UserPassResponse`] |
//! | UDP relay header (RFC 1928 §7) | [`UdpHeader`] |
//! | GOST UDP-TUN frame | [`UdpTunFrame`] |
//!
//! Every message implements [`Decode`] and [`Encode`]:
//!
//! * `decode` returns [`Decoded::Complete`] with the value and the number of bytes it used
//!   (anything after that is left for the caller), [`Decoded::NeedMore`] for any proper prefix of
//!   a valid message (never an error), or a [`DecodeError`] naming what is malformed. It never
//!   panics and allocates at most once per message (for a domain name, user id or method list).
//! * `encode` checks the value and the buffer's room first, then writes the exact bytes with no
//!   intermediate allocation; on error nothing is written.
//!
//! ```
//! use socks_wire::{Command, Decode, Decoded, Encode, Request};
//! let wire = [5, 1, 0, 3, 11, b'e', b'x', b'a', b'm', b'p', b'l', b'e', b'.', b'c', b'o', b'm', 0, 80];
//! assert!(matches!(Request::decode(&wire[..7]), Ok(Decoded::NeedMore(_))));
//! let Ok(Decoded::Complete(req, len)) = Request::decode(&wire) else { panic!() };
//! assert_eq!((req.command, req.addr.to_string(), len), (Command::Connect, "example.com:80".into(), 18));
//! let mut out = bytes::BytesMut::new();
//! req.encode(&mut out).unwrap();
//! assert_eq!(&out[..], &wire[..]);
//! ```
//!
//! # Handshakes
//!
//! [`Socks4ServerHandshake`] and [`Socks4ClientHandshake`] run SOCKS4/4A: one request, one reply
//! (two for BIND), with the same [`Step`] results and [`HandshakeError`]s as the SOCKS5 machines.
//!
//! [`ServerHandshake`] and [`ClientHandshake`] run the SOCKS5 negotiation. Each call to `advance`
//! takes the bytes received and not yet consumed, may append bytes to send to `out`, and returns a
//! [`Step`]: how many input bytes it consumed and an event. The caller writes `out`, drops the
//! consumed bytes, and acts on the event: read more, start TLS on the connection (GOST methods
//! 0x80/0x82; afterwards feed decrypted bytes and write through TLS), check credentials (server),
//! or take the final request (server) / reply (client). Any error ends the handshake; `out` may
//! then hold the refusal to send before closing (`05 FF`, `01 01`, or a 0x08 reply).
//!
//! The server picks methods as RFC 1928 and upstream GOST HEAD do ([`choose_method`]); the client
//! offers what upstream's client offers ([`ClientConfig::offer`]) and accepts any choice it can
//! serve. The client never pipelines: it sends the request only after the negotiation, and the
//! caller must not send data before the reply arrives, because upstream servers drop bytes that
//! arrive in the same read as the request.
//!
//! A SOCKS5 server and client over loopback with `std::net`:
//!
//! ```
//! use std::error::Error;
//! use std::io::{Read, Write};
//! use std::net::{TcpListener, TcpStream};
//! use std::thread;
//!
//! use socks_wire::{
//!     ClientConfig, ClientEvent, ClientHandshake, Command, Encode, Reply, ReplyCode, Request,
//!     ServerConfig, ServerEvent, ServerHandshake, UserPassRequest,
//! };
//!
//! type BoxError = Box<dyn Error + Send + Sync>;
//!
//! /// Appends whatever the peer sends next to `input`.
//! fn read_more(conn: &mut TcpStream, input: &mut Vec<u8>) -> Result<(), BoxError> {
//!     let mut chunk = [0u8; 1024];
//!     let n = conn.read(&mut chunk)?;
//!     if n == 0 {
//!         return Err("peer closed the connection mid-handshake".into());
//!     }
//!     input.extend_from_slice(&chunk[..n]);
//!     Ok(())
//! }
//!
//! /// Serves one SOCKS5 connection: handshake with username/password, then CONNECT.
//! fn serve(mut conn: TcpStream) -> Result<(), BoxError> {
//!     let mut hs = ServerHandshake::new(ServerConfig { auth: true, tls: false });
//!     let (mut input, mut out) = (Vec::new(), Vec::new());
//!     let request = loop {
//!         let step = hs.advance(&input, &mut out);
//!         conn.write_all(&out)?; // also carries refusals such as `05 FF`
//!         out.clear();
//!         let step = step?;
//!         input.drain(..step.consumed);
//!         match step.event {
//!             ServerEvent::NeedMore(_) => read_more(&mut conn, &mut input)?,
//!             // Real servers compare in constant time (e.g. with the `subtle` crate).
//!             ServerEvent::Authenticate(creds) => {
//!                 hs.set_authenticated(creds == UserPassRequest::new("alice", "s3cret"))?
//!             }
//!             ServerEvent::StartTls => return Err("TLS was not enabled".into()),
//!             ServerEvent::Request(request) => break request,
//!         }
//!     };
//!     let target = match (request.command, request.addr.to_socket_addr()) {
//!         (Command::Connect, Some(addr)) => TcpStream::connect(addr),
//!         _ => {
//!             Reply::failure(ReplyCode::CommandNotSupported).encode(&mut out)?;
//!             return Ok(conn.write_all(&out)?);
//!         }
//!     };
//!     let Ok(mut target) = target else {
//!         Reply::failure(ReplyCode::ConnectionRefused).encode(&mut out)?;
//!         return Ok(conn.write_all(&out)?);
//!     };
//!     Reply::success(target.local_addr()?.into()).encode(&mut out)?;
//!     conn.write_all(&out)?;
//!     // Bytes the client sent early belong to the target; then relay both ways.
//!     target.write_all(&input)?;
//!     let (mut up_from, mut up_to) = (conn.try_clone()?, target.try_clone()?);
//!     thread::spawn(move || std::io::copy(&mut up_from, &mut up_to));
//!     std::io::copy(&mut target, &mut conn)?;
//!     Ok(())
//! }
//!
//! # fn main() -> Result<(), BoxError> {
//! // A target that echoes one message, and the proxy, both on loopback.
//! let echo = TcpListener::bind("127.0.0.1:0")?;
//! let echo_addr = echo.local_addr()?;
//! thread::spawn(move || -> std::io::Result<()> {
//!     let (mut s, _) = echo.accept()?;
//!     let mut buf = [0u8; 64];
//!     let n = s.read(&mut buf)?;
//!     s.write_all(&buf[..n])
//! });
//! let proxy = TcpListener::bind("127.0.0.1:0")?;
//! let proxy_addr = proxy.local_addr()?;
//! thread::spawn(move || serve(proxy.accept()?.0));
//!
//! // The client: negotiate, send CONNECT, wait for the reply, then talk to the target.
//! let mut conn = TcpStream::connect(proxy_addr)?;
//! let config = ClientConfig {
//!     credentials: Some(UserPassRequest::new("alice", "s3cret")),
//!     tls: false,
//! };
//! let mut hs = ClientHandshake::new(config, Request::new(Command::Connect, echo_addr.into()));
//! let (mut input, mut out) = (Vec::new(), Vec::new());
//! let reply = loop {
//!     let step = hs.advance(&input, &mut out)?;
//!     conn.write_all(&out)?;
//!     out.clear();
//!     input.drain(..step.consumed);
//!     match step.event {
//!         ClientEvent::NeedMore(_) => read_more(&mut conn, &mut input)?,
//!         ClientEvent::StartTls => return Err("TLS was not offered".into()),
//!         ClientEvent::Reply(reply) => break reply,
//!     }
//! };
//! assert_eq!(reply.code, ReplyCode::Succeeded);
//! conn.write_all(b"hello through SOCKS5")?;
//! let mut echoed = [0u8; 20];
//! conn.read_exact(&mut echoed)?;
//! assert_eq!(&echoed, b"hello through SOCKS5");
//! # Ok(())
//! # }
//! ```
//!
//! # Upstream GOST compatibility
//!
//! Byte layouts follow upstream GOST v3 (release 3.2.6 and master) where it extends or bends the
//! RFCs: SOCKS4 replies start with 0x00; the RSV byte of requests and replies is ignored; UDP-TUN
//! frames carry the payload length in RSV and 0xFF in FRAG; the SOCKS4A marker is any `0.0.0.x`
//! with x != 0 and encodes as `0.0.0.1`; USERID and SOCKS4A hostnames are limited to 255 bytes.

#![forbid(unsafe_code)]

mod addr;
mod auth;
mod client;
#[cfg(feature = "codec")]
pub mod codec;
mod error;
mod handshake;
mod method;
mod reader;
mod reply;
mod request;
mod server;
mod socks4;
mod socks4_handshake;
mod udp;

use bytes::BufMut;

pub use addr::{Address, AddressError, Domain};
pub use auth::{UserPassRequest, UserPassResponse};
pub use client::{ClientConfig, ClientEvent, ClientHandshake};
pub use error::{DecodeError, EncodeError};
pub use handshake::{HandshakeError, Step};
pub use method::{Method, MethodReply, MethodRequest};
pub use reply::{Reply, ReplyCode};
pub use request::{Command, Request};
pub use server::{ServerConfig, ServerEvent, ServerHandshake, choose_method};
pub use socks4::{Socks4Command, Socks4Reply, Socks4ReplyCode, Socks4Request, Socks4Target};
pub use socks4_handshake::{
    Socks4ClientEvent, Socks4ClientHandshake, Socks4ServerEvent, Socks4ServerHandshake,
};
pub use udp::{UdpHeader, UdpTunFrame};

/// The result of decoding from a buffer that may hold only part of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Decoded<T> {
    /// A whole message and the number of bytes it took; later bytes belong to the caller.
    Complete(T, usize),
    /// The input is a proper prefix of a valid message: at least this many more bytes (>= 1) are
    /// needed. The count is exact once the message's length is determined by the bytes seen
    /// (e.g. once the address type and domain length are known); before that, and for SOCKS4's
    /// NUL-terminated strings, it is a lower bound.
    NeedMore(usize),
}

impl<T> Decoded<T> {
    /// The message and its length, or `None` when more bytes are needed.
    pub fn complete(self) -> Option<(T, usize)> {
        match self {
            Decoded::Complete(value, len) => Some((value, len)),
            Decoded::NeedMore(_) => None,
        }
    }

    /// Applies `f` to a complete message.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Decoded<U> {
        match self {
            Decoded::Complete(value, len) => Decoded::Complete(f(value), len),
            Decoded::NeedMore(n) => Decoded::NeedMore(n),
        }
    }
}

/// A message that can be read from the start of a byte slice.
///
/// The lifetime lets a message borrow from the input ([`UdpTunFrame`] borrows its payload).
pub trait Decode<'a>: Sized {
    /// Decodes one message from the start of `buf`. See [`Decoded`] for the outcomes.
    fn decode(buf: &'a [u8]) -> Result<Decoded<Self>, DecodeError>;
}

/// A message that can be written to a [`BufMut`].
pub trait Encode {
    /// The exact number of bytes [`Encode::encode`] writes.
    fn encoded_len(&self) -> usize;

    /// Checks the value, then writes it and returns the number of bytes written. Fails without
    /// writing if the value cannot be encoded or `buf` has less room than
    /// [`Encode::encoded_len`].
    fn encode<B: BufMut>(&self, buf: &mut B) -> Result<usize, EncodeError>;

    /// Encodes into a new vector of exactly the right size.
    fn to_vec(&self) -> Result<Vec<u8>, EncodeError> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.encode(&mut v)?;
        Ok(v)
    }
}

/// Checks that `buf` can take `len` more bytes, returning `len`.
pub(crate) fn ensure_room<B: BufMut>(buf: &B, len: usize) -> Result<usize, EncodeError> {
    let remaining = buf.remaining_mut();
    if remaining < len {
        return Err(EncodeError::BufferTooSmall {
            needed: len,
            remaining,
        });
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code enum gives back the byte it was read from, known or not.
    #[test]
    fn codes_round_trip_through_u8() {
        for b in 0..=255u8 {
            assert_eq!(u8::from(Method::from(b)), b);
            assert_eq!(u8::from(Command::from(b)), b);
            assert_eq!(u8::from(ReplyCode::from(b)), b);
            assert_eq!(u8::from(Socks4Command::from(b)), b);
            assert_eq!(u8::from(Socks4ReplyCode::from(b)), b);
        }
    }
}
