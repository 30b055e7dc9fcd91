//! SOCKS4/4A handshake state machines, server and client, beside the SOCKS5 ones: a SOCKS4 user feeds
//! bytes and is told what to write, with no hand-written glue around [`Socks4Request`] and
//! [`Socks4Reply`].
//!
//! SOCKS4 has no negotiation: the client sends one request and the server answers with one 8-byte
//! reply, or with two for BIND (the address it listens on, then the peer that connected). The machines
//! enforce that order, report every reply code other than "granted" as an error on the client, and
//! leave the bytes that follow the handshake to the caller (a client may send data right after its
//! request; the server must not read them as part of it).

use std::net::{Ipv4Addr, SocketAddrV4};

use bytes::BufMut;

use crate::{
    Decode, Decoded, Encode, HandshakeError, Socks4Command, Socks4Reply, Socks4ReplyCode,
    Socks4Request, Step,
};

/// What a [`Socks4ServerHandshake`] needs from the caller next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Socks4ServerEvent {
    /// Read more from the client (at least this many bytes) and call `advance` again with the
    /// unconsumed bytes followed by the new ones.
    NeedMore(usize),
    /// The client's request. Check the user id and the target, then answer with
    /// [`Socks4ServerHandshake::reply`] (twice for a granted BIND). Unconsumed input is data the client
    /// sent early, for the target.
    Request(Socks4Request),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerState {
    Request,
    /// Waiting for the caller's reply; `true` when a granted reply is followed by a second (BIND).
    Reply {
        bind: bool,
    },
    /// A granted BIND reply was sent; the second one (the peer's address) is due.
    SecondReply,
    Done,
    Failed,
}

/// Server side of a SOCKS4/4A handshake.
///
/// ```
/// use socks_wire::{Socks4ReplyCode, Socks4ServerEvent, Socks4ServerHandshake};
/// let mut hs = Socks4ServerHandshake::new();
/// let wire = b"\x04\x01\x00\x50\x00\x00\x00\x01alice\x00example.com\x00GET";
/// let step = hs.advance(wire).unwrap();
/// let Socks4ServerEvent::Request(req) = step.event else { panic!() };
/// assert_eq!((req.port, &req.user_id[..]), (80, &b"alice"[..]));
/// assert_eq!(&wire[step.consumed..], b"GET"); // early data, for the target
/// let mut out = Vec::new();
/// hs.reply(Socks4ReplyCode::Granted, None, &mut out).unwrap();
/// assert_eq!(out, [0x00, 0x5a, 0, 0, 0, 0, 0, 0]);
/// assert!(hs.is_done());
/// ```
#[derive(Debug, Clone)]
pub struct Socks4ServerHandshake {
    state: ServerState,
}

impl Default for Socks4ServerHandshake {
    fn default() -> Self {
        Socks4ServerHandshake::new()
    }
}

impl Socks4ServerHandshake {
    /// A handshake waiting for the client's request.
    pub fn new() -> Socks4ServerHandshake {
        Socks4ServerHandshake {
            state: ServerState::Request,
        }
    }

    /// True once the last reply has been written.
    pub fn is_done(&self) -> bool {
        self.state == ServerState::Done
    }

    /// Feeds the bytes received so far (not yet consumed). A malformed request is a final error; as
    /// upstream GOST, no reply is due for it (the bytes may not be SOCKS4 at all).
    pub fn advance(&mut self, input: &[u8]) -> Result<Step<Socks4ServerEvent>, HandshakeError> {
        if self.state != ServerState::Request {
            return Err(self.fail(HandshakeError::OutOfOrder("the request was already taken")));
        }
        match Socks4Request::decode(input) {
            Ok(Decoded::NeedMore(n)) => Ok(Step {
                consumed: 0,
                event: Socks4ServerEvent::NeedMore(n),
            }),
            Ok(Decoded::Complete(request, consumed)) => {
                let bind = request.command == Socks4Command::Bind;
                self.state = ServerState::Reply { bind };
                Ok(Step {
                    consumed,
                    event: Socks4ServerEvent::Request(request),
                })
            }
            Err(e) => Err(self.fail(e.into())),
        }
    }

    /// Writes the 8-byte reply into `out`, in its own write (upstream clients drop bytes that arrive
    /// together with it). `addr` is the reply's DSTIP/DSTPORT: for BIND, the address listened on (first
    /// reply) and the peer's (second); for CONNECT `None` (zeros, as upstream sends). A refusal, or the
    /// second reply of a BIND, ends the handshake.
    pub fn reply<B: BufMut>(
        &mut self,
        code: Socks4ReplyCode,
        addr: Option<SocketAddrV4>,
        out: &mut B,
    ) -> Result<(), HandshakeError> {
        let next = match self.state {
            ServerState::Reply { bind: true } if code == Socks4ReplyCode::Granted => {
                ServerState::SecondReply
            }
            ServerState::Reply { .. } | ServerState::SecondReply => ServerState::Done,
            _ => {
                return Err(self.fail(HandshakeError::OutOfOrder(
                    "no request is waiting for a reply",
                )));
            }
        };
        let reply = Socks4Reply {
            code,
            addr: addr.unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
        };
        reply.encode(out).map_err(|e| self.fail(e.into()))?;
        self.state = next;
        Ok(())
    }

    fn fail(&mut self, e: HandshakeError) -> HandshakeError {
        self.state = ServerState::Failed;
        e
    }
}

/// What a [`Socks4ClientHandshake`] tells the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Socks4ClientEvent {
    /// Write `out` (the request, on the first call), then read more from the server (at least this
    /// many bytes) and call `advance` again.
    NeedMore(usize),
    /// BIND only: the server listens on this address; tell the peer, then keep calling `advance`
    /// for the second reply.
    Bound(SocketAddrV4),
    /// The handshake is done: for CONNECT the reply's address (zeros from upstream GOST), for BIND the
    /// peer that connected. Unconsumed input is data from the target.
    Connected(SocketAddrV4),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ClientState {
    Send(Socks4Request),
    Reply { bind: bool },
    SecondReply,
    Done,
    Failed,
}

/// Client side of a SOCKS4/4A handshake.
///
/// ```
/// use socks_wire::{Domain, Socks4ClientEvent, Socks4ClientHandshake, Socks4Request, Socks4Target};
/// let target = Socks4Target::Domain(Domain::try_from("example.com").unwrap());
/// let mut hs = Socks4ClientHandshake::new(Socks4Request::connect(target, 80));
/// let mut out = Vec::new();
/// let step = hs.advance(&[], &mut out).unwrap();
/// assert_eq!(step.event, Socks4ClientEvent::NeedMore(8));
/// assert_eq!(out, b"\x04\x01\x00\x50\x00\x00\x00\x01\x00example.com\x00");
/// let step = hs.advance(&[0x00, 0x5a, 0, 0, 0, 0, 0, 0], &mut out).unwrap();
/// assert!(matches!(step.event, Socks4ClientEvent::Connected(_)));
/// ```
#[derive(Debug, Clone)]
pub struct Socks4ClientHandshake {
    state: ClientState,
}

impl Socks4ClientHandshake {
    /// A handshake that sends `request` on the first [`advance`](Self::advance).
    pub fn new(request: Socks4Request) -> Socks4ClientHandshake {
        Socks4ClientHandshake {
            state: ClientState::Send(request),
        }
    }

    /// Feeds the bytes received so far (not yet consumed) and writes the request into `out` on the
    /// first call. A reply code other than "granted" ends the handshake with
    /// [`HandshakeError::Socks4Refused`].
    pub fn advance<B: BufMut>(
        &mut self,
        input: &[u8],
        out: &mut B,
    ) -> Result<Step<Socks4ClientEvent>, HandshakeError> {
        if let ClientState::Send(request) = &self.state {
            let bind = request.command == Socks4Command::Bind;
            request.encode(out).map_err(|e| self.fail(e.into()))?;
            self.state = ClientState::Reply { bind };
        }
        let bind = match self.state {
            ClientState::Reply { bind } => bind,
            ClientState::SecondReply => false,
            _ => {
                return Err(self.fail(HandshakeError::OutOfOrder("the handshake is over")));
            }
        };
        let (reply, consumed) = match Socks4Reply::decode(input) {
            Ok(Decoded::NeedMore(n)) => {
                return Ok(Step {
                    consumed: 0,
                    event: Socks4ClientEvent::NeedMore(n),
                });
            }
            Ok(Decoded::Complete(reply, consumed)) => (reply, consumed),
            Err(e) => return Err(self.fail(e.into())),
        };
        if reply.code != Socks4ReplyCode::Granted {
            return Err(self.fail(HandshakeError::Socks4Refused(reply.code)));
        }
        let event = if bind {
            self.state = ClientState::SecondReply;
            Socks4ClientEvent::Bound(reply.addr)
        } else {
            self.state = ClientState::Done;
            Socks4ClientEvent::Connected(reply.addr)
        };
        Ok(Step { consumed, event })
    }

    fn fail(&mut self, e: HandshakeError) -> HandshakeError {
        self.state = ClientState::Failed;
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DecodeError, Domain, Socks4Target};

    const CONNECT_4A: &[u8] = b"\x04\x01\x00\x50\x00\x00\x00\x01bob\x00example.com\x00";

    #[test]
    fn server_waits_for_the_whole_request_then_takes_it() {
        for cut in 0..CONNECT_4A.len() {
            let mut hs = Socks4ServerHandshake::new();
            let step = hs.advance(&CONNECT_4A[..cut]).unwrap();
            assert!(
                matches!(step.event, Socks4ServerEvent::NeedMore(n) if n >= 1),
                "{cut}"
            );
            assert_eq!(step.consumed, 0);
        }
        let mut hs = Socks4ServerHandshake::new();
        let step = hs.advance(CONNECT_4A).unwrap();
        assert_eq!(step.consumed, CONNECT_4A.len());
        let Socks4ServerEvent::Request(req) = step.event else {
            panic!("{step:?}")
        };
        assert_eq!(req.user_id, b"bob");
        assert!(
            matches!(&req.target, Socks4Target::Domain(d) if d.as_str() == Some("example.com"))
        );
    }

    #[test]
    fn server_refusal_ends_the_handshake_and_bind_gets_two_replies() {
        let mut hs = Socks4ServerHandshake::new();
        let _ = hs.advance(CONNECT_4A).unwrap();
        let mut out = Vec::new();
        hs.reply(Socks4ReplyCode::IdentdMismatch, None, &mut out)
            .unwrap();
        assert_eq!(out, [0, 0x5d, 0, 0, 0, 0, 0, 0]);
        assert!(hs.is_done());
        assert!(matches!(
            hs.reply(Socks4ReplyCode::Granted, None, &mut out),
            Err(HandshakeError::OutOfOrder(_))
        ));

        let mut bind = CONNECT_4A.to_vec();
        bind[1] = 2;
        let mut hs = Socks4ServerHandshake::new();
        let _ = hs.advance(&bind).unwrap();
        let mut out = Vec::new();
        let listen = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 4000);
        let peer = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 5000);
        hs.reply(Socks4ReplyCode::Granted, Some(listen), &mut out)
            .unwrap();
        assert!(!hs.is_done());
        hs.reply(Socks4ReplyCode::Granted, Some(peer), &mut out)
            .unwrap();
        assert!(hs.is_done());
        assert_eq!(
            out,
            [
                0, 0x5a, 0x0f, 0xa0, 127, 0, 0, 1, 0, 0x5a, 0x13, 0x88, 127, 0, 0, 2
            ]
        );
    }

    #[test]
    fn server_errors_are_final() {
        let mut hs = Socks4ServerHandshake::new();
        assert_eq!(
            hs.advance(b"\x05\x01\x00"),
            Err(HandshakeError::Decode(DecodeError::Socks4Version(5)))
        );
        assert!(matches!(
            hs.advance(CONNECT_4A),
            Err(HandshakeError::OutOfOrder(_))
        ));
        let mut hs = Socks4ServerHandshake::new();
        let mut out = Vec::new();
        assert!(matches!(
            hs.reply(Socks4ReplyCode::Granted, None, &mut out),
            Err(HandshakeError::OutOfOrder(_))
        ));
        assert!(out.is_empty());
    }

    fn client(command: Socks4Command) -> (Socks4ClientHandshake, Vec<u8>) {
        let mut req = Socks4Request::connect(
            Socks4Target::Domain(Domain::try_from("example.com").unwrap()),
            80,
        );
        req.command = command;
        req.user_id = b"bob".to_vec();
        let mut hs = Socks4ClientHandshake::new(req);
        let mut out = Vec::new();
        let step = hs.advance(&[], &mut out).unwrap();
        assert_eq!(step.event, Socks4ClientEvent::NeedMore(8));
        (hs, out)
    }

    #[test]
    fn client_sends_the_request_once_and_reads_the_reply() {
        let (mut hs, out) = client(Socks4Command::Connect);
        assert_eq!(out, CONNECT_4A);
        let mut more = Vec::new();
        let step = hs.advance(&[0, 0x5a, 0, 0], &mut more).unwrap();
        assert_eq!(step.event, Socks4ClientEvent::NeedMore(4));
        assert!(more.is_empty(), "the request was sent twice");
        let step = hs
            .advance(&[0, 0x5a, 0, 0, 0, 0, 0, 0, b'h', b'i'], &mut more)
            .unwrap();
        assert_eq!(step.consumed, 8);
        assert_eq!(
            step.event,
            Socks4ClientEvent::Connected(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
        );
        assert!(matches!(
            hs.advance(&[], &mut more),
            Err(HandshakeError::OutOfOrder(_))
        ));
    }

    #[test]
    fn client_bind_reads_two_replies_and_refusals_are_errors() {
        let (mut hs, _) = client(Socks4Command::Bind);
        let mut out = Vec::new();
        let step = hs
            .advance(&[0, 0x5a, 0x0f, 0xa0, 127, 0, 0, 1], &mut out)
            .unwrap();
        assert_eq!(
            step.event,
            Socks4ClientEvent::Bound(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 4000))
        );
        let step = hs
            .advance(&[0, 0x5a, 0x13, 0x88, 127, 0, 0, 2], &mut out)
            .unwrap();
        assert_eq!(
            step.event,
            Socks4ClientEvent::Connected(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 5000))
        );

        let (mut hs, _) = client(Socks4Command::Connect);
        assert_eq!(
            hs.advance(&[0, 0x5b, 0, 0, 0, 0, 0, 0], &mut out),
            Err(HandshakeError::Socks4Refused(Socks4ReplyCode::Rejected))
        );
        let (mut hs, _) = client(Socks4Command::Connect);
        assert_eq!(
            hs.advance(&[4, 0x5a, 0, 0, 0, 0, 0, 0], &mut out),
            Err(HandshakeError::Decode(DecodeError::Socks4ReplyVersion(4)))
        );
    }

    #[test]
    fn client_with_an_unencodable_request_fails_without_writing() {
        let mut req = Socks4Request::connect(Socks4Target::Ip(Ipv4Addr::new(0, 0, 0, 7)), 80);
        req.user_id = b"x".to_vec();
        let mut hs = Socks4ClientHandshake::new(req);
        let mut out = Vec::new();
        assert!(matches!(
            hs.advance(&[], &mut out),
            Err(HandshakeError::Encode(_))
        ));
        assert!(out.is_empty());
    }
}
