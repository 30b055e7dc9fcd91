//! The client side of the SOCKS5 handshake as a sans-io state machine: upstream GOST's method
//! offer, in-band TLS, RFC 1929 credentials, then one request and its reply.

use bytes::BufMut;

use crate::handshake::{HandshakeError, Step, after_method};
use crate::{
    Decode, Decoded, Encode, Method, MethodReply, MethodRequest, Reply, Request, UserPassRequest,
    UserPassResponse,
};

/// What the client can do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientConfig {
    /// Username and password to offer (methods 0x02 and, with `tls`, 0x82).
    pub credentials: Option<UserPassRequest>,
    /// Offer GOST's in-band TLS (0x80, and 0x82 with credentials). Upstream's default is on; its
    /// `notls=true` turns it off. Only set this when the caller can run a TLS client handshake.
    pub tls: bool,
}

impl ClientConfig {
    /// The method offer upstream GOST's client sends: `00`, then `02` with credentials, then `80`
    /// with TLS, then `82` with both. So `05 02 00 80`, `05 04 00 02 80 82`, `05 01 00` or
    /// `05 02 00 02`.
    pub fn offer(&self) -> MethodRequest {
        let creds = self.credentials.is_some();
        let mut methods = vec![Method::NoAuth];
        if creds {
            methods.push(Method::UserPass);
        }
        if self.tls {
            methods.push(Method::Tls);
            if creds {
                methods.push(Method::TlsAuth);
            }
        }
        MethodRequest { methods }
    }

    /// True when this client can go on with the server's choice. That includes a method it did
    /// not offer but can serve (upstream 3.2.6 servers may answer 0x00 or 0x02 regardless of the
    /// offer).
    pub fn can_use(&self, method: Method) -> bool {
        let creds = self.credentials.is_some();
        match method {
            Method::NoAuth => true,
            Method::UserPass => creds,
            Method::Tls => self.tls,
            Method::TlsAuth => self.tls && creds,
            _ => false,
        }
    }
}

/// What a [`ClientHandshake`] needs from the caller next. In every case, first write out
/// whatever the call put into `out`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Read more from the server (at least this many bytes) and call `advance` again with the
    /// unconsumed bytes followed by the new ones.
    NeedMore(usize),
    /// The server chose 0x80 or 0x82: run a TLS client handshake on the connection, then call
    /// `advance` again (with decrypted input, possibly none) and write `out` through TLS.
    StartTls,
    /// The server's reply to the request; the handshake is done. Check its code. Unconsumed
    /// input is data the server sent after the reply (for BIND, possibly the second reply).
    Reply(Reply),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    MethodReply,
    SendCredentials,
    AuthResponse,
    SendRequest,
    Reply,
    Done,
    Failed,
}

/// Client side of a SOCKS5 handshake for one request.
///
/// The request is written only after the method (and credential) exchange, never pipelined, and
/// the caller must not send application data before [`ClientEvent::Reply`]: upstream servers
/// discard bytes that arrive in the same read as the request.
#[derive(Debug, Clone)]
pub struct ClientHandshake {
    config: ClientConfig,
    request: Request,
    state: State,
    method: Option<Method>,
}

impl ClientHandshake {
    /// A handshake that will send `request` with `config`'s offer.
    pub fn new(config: ClientConfig, request: Request) -> ClientHandshake {
        ClientHandshake {
            config,
            request,
            state: State::Start,
            method: None,
        }
    }

    /// The method the server chose, once known.
    pub fn method(&self) -> Option<Method> {
        self.method
    }

    /// Feeds the bytes received so far (not yet consumed; empty on the first call) and writes the
    /// next messages into `out`.
    ///
    /// Errors are final. `out` must have room for the largest message: 262 bytes for the request,
    /// 513 for credentials (`Vec<u8>` and `BytesMut` always have).
    pub fn advance<B: BufMut>(
        &mut self,
        input: &[u8],
        out: &mut B,
    ) -> Result<Step<ClientEvent>, HandshakeError> {
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
    ) -> Result<Step<ClientEvent>, HandshakeError> {
        let mut consumed = 0;
        loop {
            let rest = &input[consumed..];
            let need = |n| {
                Ok(Step {
                    consumed,
                    event: ClientEvent::NeedMore(n),
                })
            };
            match self.state {
                State::Start => {
                    self.config.offer().encode(out)?;
                    self.state = State::MethodReply;
                }
                State::MethodReply => {
                    let (reply, len) = match MethodReply::decode(rest)? {
                        Decoded::Complete(r, len) => (r, len),
                        Decoded::NeedMore(n) => return need(n),
                    };
                    consumed += len;
                    let method = reply.method;
                    self.method = Some(method);
                    let (next, tls) = after_method(
                        method,
                        State::SendCredentials,
                        State::SendRequest,
                        ClientEvent::StartTls,
                    )?;
                    if !self.config.can_use(method) {
                        return Err(HandshakeError::UnexpectedMethod(method));
                    }
                    self.state = next;
                    if let Some(event) = tls {
                        return Ok(Step { consumed, event });
                    }
                }
                State::SendCredentials => {
                    let creds =
                        self.config
                            .credentials
                            .as_ref()
                            .ok_or(HandshakeError::OutOfOrder(
                                "credentials requested without credentials",
                            ))?;
                    creds.encode(out)?;
                    self.state = State::AuthResponse;
                }
                State::AuthResponse => {
                    let (response, len) = match UserPassResponse::decode(rest)? {
                        Decoded::Complete(r, len) => (r, len),
                        Decoded::NeedMore(n) => return need(n),
                    };
                    consumed += len;
                    if !response.is_success() {
                        return Err(HandshakeError::AuthRejected(response.status));
                    }
                    self.state = State::SendRequest;
                }
                State::SendRequest => {
                    self.request.encode(out)?;
                    self.state = State::Reply;
                }
                State::Reply => {
                    let (reply, len) = match Reply::decode(rest)? {
                        Decoded::Complete(r, len) => (r, len),
                        Decoded::NeedMore(n) => return need(n),
                    };
                    self.state = State::Done;
                    return Ok(Step {
                        consumed: consumed + len,
                        event: ClientEvent::Reply(reply),
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
    use crate::{Address, Command, DecodeError, ReplyCode};

    fn creds() -> Option<UserPassRequest> {
        Some(UserPassRequest::new("alice", "s3cret"))
    }

    fn connect() -> Request {
        Request::new(
            Command::Connect,
            "127.0.0.1:32001".parse::<Address>().unwrap(),
        )
    }

    /// A CONNECT handshake offering TLS and user/pass, past its greeting (already written).
    fn tls_auth_started() -> (ClientHandshake, Vec<u8>) {
        let config = ClientConfig {
            credentials: creds(),
            tls: true,
        };
        let mut hs = ClientHandshake::new(config, connect());
        let mut out = Vec::new();
        let _ = hs.advance(&[], &mut out).unwrap();
        out.clear();
        (hs, out)
    }

    #[test]
    fn offers_match_upstream() {
        let offer = |credentials, tls| ClientConfig { credentials, tls }.offer().to_vec().unwrap();
        assert_eq!(offer(None, true), [5, 2, 0x00, 0x80]);
        assert_eq!(offer(creds(), true), [5, 4, 0x00, 0x02, 0x80, 0x82]);
        assert_eq!(offer(None, false), [5, 1, 0x00]);
        assert_eq!(offer(creds(), false), [5, 2, 0x00, 0x02]);
    }

    #[test]
    fn plain_handshake_writes_greeting_then_request() {
        let mut hs = ClientHandshake::new(ClientConfig::default(), connect());
        let mut out = Vec::new();
        let step = hs.advance(&[], &mut out).unwrap();
        assert_eq!((step.consumed, step.event), (0, ClientEvent::NeedMore(2)));
        assert_eq!(out, [5, 1, 0]);
        out.clear();
        let step = hs.advance(&[5, 0], &mut out).unwrap();
        assert_eq!((step.consumed, step.event), (2, ClientEvent::NeedMore(8)));
        assert_eq!(out, [5, 1, 0, 1, 127, 0, 0, 1, 0x7d, 0x01]);
        out.clear();
        let reply = [5, 0, 0, 1, 0, 0, 0, 0, 0, 0, b'x'];
        let step = hs.advance(&reply, &mut out).unwrap();
        assert_eq!(step.consumed, 10);
        assert_eq!(
            step.event,
            ClientEvent::Reply(Reply::failure(ReplyCode::Succeeded))
        );
        assert!(out.is_empty());
    }

    #[test]
    fn tls_auth_flow() {
        let (mut hs, mut out) = tls_auth_started();
        let step = hs.advance(&[5, 0x82], &mut out).unwrap();
        assert_eq!(step.event, ClientEvent::StartTls);
        assert!(out.is_empty(), "nothing may be written before TLS is up");
        let step = hs.advance(&[], &mut out).unwrap();
        assert_eq!(step.event, ClientEvent::NeedMore(2));
        assert_eq!(out, b"\x01\x05alice\x06s3cret");
        out.clear();
        let step = hs.advance(&[1, 0], &mut out).unwrap();
        assert_eq!(step.event, ClientEvent::NeedMore(8));
        assert_eq!(out.len(), 10);
    }

    #[test]
    fn copes_with_an_unoffered_but_usable_choice() {
        // A 3.2.6 server with auth and notls answers 02 to the offer 00 02 80 82.
        let (mut hs, mut out) = tls_auth_started();
        let step = hs.advance(&[5, 2], &mut out).unwrap();
        assert_eq!(step.event, ClientEvent::NeedMore(2));
        assert_eq!(hs.method(), Some(Method::UserPass));
    }

    #[test]
    fn refusals_and_unusable_choices_fail() {
        let mut out = Vec::new();
        let mut hs = ClientHandshake::new(ClientConfig::default(), connect());
        assert_eq!(
            hs.advance(&[5, 0xff], &mut out),
            Err(HandshakeError::NoAcceptableMethod)
        );
        let mut hs = ClientHandshake::new(ClientConfig::default(), connect());
        assert_eq!(
            hs.advance(&[5, 2], &mut out),
            Err(HandshakeError::UnexpectedMethod(Method::UserPass))
        );
        let mut hs = ClientHandshake::new(ClientConfig::default(), connect());
        assert_eq!(
            hs.advance(&[5, 0x80], &mut out),
            Err(HandshakeError::UnexpectedMethod(Method::Tls))
        );
        let config = ClientConfig {
            credentials: creds(),
            tls: false,
        };
        let mut hs = ClientHandshake::new(config, connect());
        assert_eq!(
            hs.advance(&[5, 2, 1, 1], &mut out),
            Err(HandshakeError::AuthRejected(1))
        );
        assert!(matches!(
            hs.advance(&[], &mut out),
            Err(HandshakeError::OutOfOrder(_))
        ));
        let mut hs = ClientHandshake::new(ClientConfig::default(), connect());
        assert_eq!(
            hs.advance(&[4, 0], &mut out),
            Err(HandshakeError::Decode(DecodeError::Socks5Version(4)))
        );
    }
}
