//! The server side of the SOCKS5 handshake as a sans-io state machine: method choice (with GOST's
//! in-band TLS methods), RFC 1929 credentials handed to the caller for checking, then the request.

use bytes::BufMut;

use crate::handshake::{HandshakeError, Step, after_method};
use crate::{
    Decode, DecodeError, Decoded, Encode, Method, MethodReply, MethodRequest, Reply, ReplyCode,
    Request, UserPassRequest, UserPassResponse,
};

/// What the server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerConfig {
    /// Require username/password (method 0x02, or 0x82 inside TLS).
    pub auth: bool,
    /// Offer GOST's in-band TLS (0x80, or 0x82 with `auth`) to clients that list it. Only set this
    /// when the caller can run a TLS server handshake on the connection.
    pub tls: bool,
}

/// Picks the method for a client's offer, following RFC 1928 and upstream GOST HEAD: never a
/// method the client did not offer.
///
/// * with `auth`: 0x82 if offered and `tls`, else 0x02 if offered, else 0xFF;
/// * without: 0x80 if offered and `tls`, else 0x00 if offered, else 0xFF.
///
/// (Upstream release 3.2.6 instead answers 0x00/0x02 even when not offered.)
///
/// ```
/// use socks_wire::{Method::*, ServerConfig, choose_method};
/// let tls_auth = ServerConfig { auth: true, tls: true };
/// assert_eq!(choose_method(&[NoAuth, UserPass, Tls, TlsAuth], tls_auth), TlsAuth);
/// assert_eq!(choose_method(&[NoAuth], tls_auth), NoAcceptable);
/// assert_eq!(choose_method(&[NoAuth, Tls], ServerConfig::default()), NoAuth);
/// ```
pub fn choose_method(offered: &[Method], config: ServerConfig) -> Method {
    let (with_tls, plain) = if config.auth {
        (Method::TlsAuth, Method::UserPass)
    } else {
        (Method::Tls, Method::NoAuth)
    };
    if config.tls && offered.contains(&with_tls) {
        with_tls
    } else if offered.contains(&plain) {
        plain
    } else {
        Method::NoAcceptable
    }
}

/// What a [`ServerHandshake`] needs from the caller next. In every case, first write out
/// whatever the call put into `out`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// Read more from the client (at least this many bytes) and call `advance` again with the
    /// unconsumed bytes followed by the new ones.
    NeedMore(usize),
    /// Flush `out` to the plain connection, then run a TLS server handshake over it (the
    /// unconsumed input bytes are the start of the client's TLS data). From now on feed the
    /// decrypted bytes to `advance` and write `out` through TLS.
    StartTls,
    /// Check these credentials (in constant time), report the verdict with
    /// [`ServerHandshake::set_authenticated`], then call `advance` again.
    Authenticate(UserPassRequest),
    /// The handshake is done: here is the client's request. Answer it with a [`Reply`] in its own
    /// write (upstream clients drop bytes that arrive together with the reply). Unconsumed input
    /// is application data the client sent early.
    Request(Request),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Greeting,
    Credentials,
    Verdict(Option<bool>),
    Request,
    Done,
    Failed,
}

/// Server side of a SOCKS5 handshake, fed with bytes and told what to write.
///
/// Drive it with [`advance`](ServerHandshake::advance) until it yields
/// [`ServerEvent::Request`] or an error. See the crate docs for a complete server loop.
#[derive(Debug, Clone)]
pub struct ServerHandshake {
    config: ServerConfig,
    state: State,
    method: Option<Method>,
}

impl ServerHandshake {
    /// A handshake waiting for the client's method selection request.
    pub fn new(config: ServerConfig) -> ServerHandshake {
        ServerHandshake {
            config,
            state: State::Greeting,
            method: None,
        }
    }

    /// The method chosen, once the greeting has been answered.
    pub fn method(&self) -> Option<Method> {
        self.method
    }

    /// Reports whether the credentials from [`ServerEvent::Authenticate`] are valid. The next
    /// `advance` writes the RFC 1929 status (and fails with [`HandshakeError::AuthFailed`] when
    /// they were not).
    pub fn set_authenticated(&mut self, valid: bool) -> Result<(), HandshakeError> {
        match self.state {
            State::Verdict(None) => {
                self.state = State::Verdict(Some(valid));
                Ok(())
            }
            _ => Err(HandshakeError::OutOfOrder(
                "no credentials are waiting for a verdict",
            )),
        }
    }

    /// Feeds the bytes received so far (not yet consumed) and writes any reply into `out`.
    ///
    /// Errors are final (see [`HandshakeError`]); `out` must have room for 12 bytes.
    pub fn advance<B: BufMut>(
        &mut self,
        input: &[u8],
        out: &mut B,
    ) -> Result<Step<ServerEvent>, HandshakeError> {
        let result = self.run(input, out);
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    fn run<B: BufMut>(
        &mut self,
        input: &[u8],
        out: &mut B,
    ) -> Result<Step<ServerEvent>, HandshakeError> {
        let mut consumed = 0;
        loop {
            let rest = &input[consumed..];
            let need = |n| {
                Ok(Step {
                    consumed,
                    event: ServerEvent::NeedMore(n),
                })
            };
            match self.state {
                State::Greeting => {
                    let (greeting, len) = match MethodRequest::decode(rest)? {
                        Decoded::Complete(g, len) => (g, len),
                        Decoded::NeedMore(n) => return need(n),
                    };
                    consumed += len;
                    let method = choose_method(&greeting.methods, self.config);
                    MethodReply { method }.encode(out)?;
                    self.method = Some(method);
                    let (next, tls) = after_method(
                        method,
                        State::Credentials,
                        State::Request,
                        ServerEvent::StartTls,
                    )?;
                    self.state = next;
                    if let Some(event) = tls {
                        return Ok(Step { consumed, event });
                    }
                }
                State::Credentials => {
                    let (creds, len) = match UserPassRequest::decode(rest)? {
                        Decoded::Complete(c, len) => (c, len),
                        Decoded::NeedMore(n) => return need(n),
                    };
                    self.state = State::Verdict(None);
                    return Ok(Step {
                        consumed: consumed + len,
                        event: ServerEvent::Authenticate(creds),
                    });
                }
                State::Verdict(None) => {
                    return Err(HandshakeError::OutOfOrder(
                        "advance called before set_authenticated",
                    ));
                }
                State::Verdict(Some(valid)) => {
                    let response = if valid {
                        UserPassResponse::SUCCESS
                    } else {
                        UserPassResponse::FAILURE
                    };
                    response.encode(out)?;
                    if !valid {
                        return Err(HandshakeError::AuthFailed);
                    }
                    self.state = State::Request;
                }
                State::Request => {
                    let (request, len) = match Request::decode(rest) {
                        Ok(Decoded::Complete(r, len)) => (r, len),
                        Ok(Decoded::NeedMore(n)) => return need(n),
                        Err(e @ DecodeError::AddressType(_)) => {
                            Reply::failure(ReplyCode::AddressTypeNotSupported).encode(out)?;
                            return Err(e.into());
                        }
                        Err(e) => return Err(e.into()),
                    };
                    self.state = State::Done;
                    return Ok(Step {
                        consumed: consumed + len,
                        event: ServerEvent::Request(request),
                    });
                }
                State::Done | State::Failed => {
                    return Err(HandshakeError::OutOfOrder("handshake already ended"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Address, Command};
    use Method::*;

    fn connect_bytes() -> Vec<u8> {
        vec![5, 1, 0, 1, 127, 0, 0, 1, 0x7d, 0x01]
    }

    #[test]
    fn method_choice_table() {
        let none = ServerConfig::default();
        let tls = ServerConfig {
            auth: false,
            tls: true,
        };
        let auth = ServerConfig {
            auth: true,
            tls: false,
        };
        let both = ServerConfig {
            auth: true,
            tls: true,
        };
        let cases: &[(&[Method], ServerConfig, Method)] = &[
            (&[NoAuth, Tls], tls, Tls),
            (&[NoAuth, Tls], none, NoAuth),
            (&[Tls], none, NoAcceptable),
            (&[UserPass], none, NoAcceptable),
            (&[NoAuth, UserPass, Tls, TlsAuth], both, TlsAuth),
            (&[NoAuth, UserPass, Tls, TlsAuth], auth, UserPass),
            (&[NoAuth, Tls], both, NoAcceptable),
            (&[NoAuth], auth, NoAcceptable),
            (&[TlsAuth], auth, NoAcceptable),
            (&[Other(0x88), NoAuth], none, NoAuth),
        ];
        for (offer, config, expected) in cases {
            assert_eq!(
                choose_method(offer, *config),
                *expected,
                "{offer:?} {config:?}"
            );
        }
    }

    #[test]
    fn pipelined_no_auth_handshake_completes_in_one_call() {
        let mut input = vec![5, 1, 0];
        input.extend(connect_bytes());
        input.extend(b"early");
        let mut hs = ServerHandshake::new(ServerConfig::default());
        let mut out = Vec::new();
        let step = hs.advance(&input, &mut out).unwrap();
        assert_eq!(out, [5, 0]);
        assert_eq!(step.consumed, input.len() - 5);
        let ServerEvent::Request(req) = step.event else {
            panic!("{step:?}")
        };
        assert_eq!(req.command, Command::Connect);
        assert_eq!(hs.method(), Some(NoAuth));
    }

    #[test]
    fn byte_by_byte_feeding_needs_more_until_complete() {
        let mut input = vec![5, 2, 0, 2];
        input.extend(b"\x01\x01u\x01p");
        input.extend(connect_bytes());
        let mut hs = ServerHandshake::new(ServerConfig {
            auth: true,
            tls: false,
        });
        let mut out = Vec::new();
        let mut buf = Vec::new();
        let mut request = None;
        for &b in &input {
            buf.push(b);
            let step = hs.advance(&buf, &mut out).unwrap();
            buf.drain(..step.consumed);
            match step.event {
                ServerEvent::NeedMore(n) => assert!(n >= 1),
                ServerEvent::Authenticate(c) => {
                    assert_eq!(c, UserPassRequest::new("u", "p"));
                    hs.set_authenticated(true).unwrap();
                }
                ServerEvent::Request(r) => request = Some(r),
                ServerEvent::StartTls => panic!("no TLS configured"),
            }
        }
        assert_eq!(out, [5, 2, 1, 0]);
        assert_eq!(
            request.unwrap().addr,
            "127.0.0.1:32001".parse::<Address>().unwrap()
        );
    }

    #[test]
    fn tls_auth_stops_for_tls_then_authenticates_inside() {
        let mut hs = ServerHandshake::new(ServerConfig {
            auth: true,
            tls: true,
        });
        let mut out = Vec::new();
        let hello = [5, 4, 0, 2, 0x80, 0x82, 0x16, 0x03];
        let step = hs.advance(&hello, &mut out).unwrap();
        assert_eq!((step.consumed, &step.event), (6, &ServerEvent::StartTls));
        assert_eq!(out, [5, 0x82]);
        out.clear();
        let step = hs.advance(b"\x01\x05alice\x06s3cret", &mut out).unwrap();
        assert!(matches!(step.event, ServerEvent::Authenticate(_)));
        hs.set_authenticated(false).unwrap();
        assert_eq!(hs.advance(&[], &mut out), Err(HandshakeError::AuthFailed));
        assert_eq!(out, [1, 1]);
        assert!(matches!(
            hs.advance(&[], &mut out),
            Err(HandshakeError::OutOfOrder(_))
        ));
    }

    #[test]
    fn refusals_are_written_before_the_error() {
        let mut out = Vec::new();
        let mut hs = ServerHandshake::new(ServerConfig {
            auth: true,
            tls: false,
        });
        assert_eq!(
            hs.advance(&[5, 1, 0], &mut out),
            Err(HandshakeError::NoAcceptableMethod)
        );
        assert_eq!(out, [5, 0xff]);

        out.clear();
        let mut hs = ServerHandshake::new(ServerConfig::default());
        let err = hs.advance(&[5, 1, 0, 5, 1, 0, 5], &mut out);
        assert_eq!(
            err,
            Err(HandshakeError::Decode(DecodeError::AddressType(5)))
        );
        assert_eq!(out, [5, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0]);

        out.clear();
        let mut hs = ServerHandshake::new(ServerConfig::default());
        let err = hs.advance(&[5, 0], &mut out);
        assert_eq!(err, Err(HandshakeError::Decode(DecodeError::NoMethods)));
        assert!(out.is_empty());
    }

    #[test]
    fn verdict_order_is_enforced() {
        let mut hs = ServerHandshake::new(ServerConfig {
            auth: true,
            tls: false,
        });
        assert!(hs.set_authenticated(true).is_err());
        let mut out = Vec::new();
        let step = hs.advance(&[5, 1, 2, 1, 0, 0], &mut out).unwrap();
        assert!(matches!(step.event, ServerEvent::Authenticate(_)));
        assert!(matches!(
            hs.advance(&[], &mut out),
            Err(HandshakeError::OutOfOrder(_))
        ));
    }

    #[test]
    fn small_output_buffer_fails_cleanly() {
        let mut space = [0u8; 1];
        let mut out = &mut space[..];
        let mut hs = ServerHandshake::new(ServerConfig::default());
        assert!(matches!(
            hs.advance(&[5, 1, 0], &mut out),
            Err(HandshakeError::Encode(_))
        ));
    }
}
