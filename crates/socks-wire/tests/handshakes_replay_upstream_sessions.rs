//! The handshake state machines, fed the recorded upstream sessions chunk by chunk as recv()
//! returned them, write exactly what the upstream peer wrote and yield the recorded request or
//! reply. Where our server follows RFC 1928 instead of 3.2.6 (method choice), the difference is
//! asserted explicitly.

mod common;

use gost_test_support::Vector;
use socks_wire::{
    Address, ClientConfig, ClientEvent, ClientHandshake, Command, DecodeError, Encode,
    HandshakeError, Method, Reply, ReplyCode, Request, ServerConfig, ServerEvent, ServerHandshake,
    Step, UserPassRequest,
};

#[derive(Debug, PartialEq)]
enum Outcome<T> {
    Done(T),
    StartTls,
    Failed(HandshakeError),
    /// The recorded session ended while the machine still needed bytes.
    Incomplete,
}

/// What the driver does after a machine's event.
enum Next<T> {
    /// Feed the next recorded chunk.
    Feed,
    /// Advance again with the same input.
    Again,
    /// Stop; `true` appends the chunks not fed yet to the unconsumed input.
    End(Outcome<T>, bool),
}

/// A machine's `advance`: reads input, writes output, returns the step it took.
type Advance<H, E> = fn(&mut H, &[u8], &mut Vec<u8>) -> Result<Step<E>, HandshakeError>;

/// Feeds `chunks` one at a time; returns what the machine wrote, how it ended, and the input it
/// left unconsumed.
fn drive<H, E, T>(
    hs: &mut H,
    chunks: &[Vec<u8>],
    advance: Advance<H, E>,
    mut on_event: impl FnMut(&mut H, E) -> Next<T>,
) -> (Vec<u8>, Outcome<T>, Vec<u8>) {
    let (mut input, mut out) = (Vec::new(), Vec::new());
    let mut chunks = chunks.iter();
    loop {
        let step = match advance(hs, &input, &mut out) {
            Ok(step) => step,
            Err(e) => return (out, Outcome::Failed(e), input),
        };
        input.drain(..step.consumed);
        match on_event(hs, step.event) {
            Next::Feed => match chunks.next() {
                Some(chunk) => input.extend_from_slice(chunk),
                None => return (out, Outcome::Incomplete, input),
            },
            Next::Again => {}
            Next::End(outcome, rest) => {
                if rest {
                    input.extend(chunks.flatten());
                }
                return (out, outcome, input);
            }
        }
    }
}

fn drive_server(config: ServerConfig, chunks: &[Vec<u8>]) -> (Vec<u8>, Outcome<Request>, Vec<u8>) {
    let mut hs = ServerHandshake::new(config);
    drive(
        &mut hs,
        chunks,
        ServerHandshake::advance,
        |hs, event| match event {
            ServerEvent::NeedMore(_) => Next::Feed,
            ServerEvent::StartTls => Next::End(Outcome::StartTls, true),
            ServerEvent::Authenticate(creds) => {
                hs.set_authenticated(creds == UserPassRequest::new("alice", "s3cret"))
                    .unwrap();
                Next::Again
            }
            ServerEvent::Request(req) => Next::End(Outcome::Done(req), true),
        },
    )
}

fn drive_client(
    config: ClientConfig,
    request: Request,
    chunks: &[Vec<u8>],
) -> (Vec<u8>, Outcome<Reply>, Vec<u8>) {
    let mut hs = ClientHandshake::new(config, request);
    drive(
        &mut hs,
        chunks,
        ClientHandshake::advance,
        |_, event| match event {
            ClientEvent::NeedMore(_) => Next::Feed,
            ClientEvent::StartTls => Next::End(Outcome::StartTls, false),
            ClientEvent::Reply(reply) => Next::End(Outcome::Done(reply), true),
        },
    )
}

fn creds() -> Option<UserPassRequest> {
    Some(UserPassRequest::new("alice", "s3cret"))
}

/// Replays connection `conn` of `name` on both sides and checks every byte.
fn replay(name: &str, conn: u64, auth: bool, request: Request) {
    let v = Vector::load(name);
    let c2s = v.chunks(conn, "c2s");
    let s2c = v.chunks(conn, "s2c");
    let c2s_stream = c2s.concat();
    let s2c_stream = s2c.concat();

    // Server side: its output plus the reply the caller sends must be the upstream server's bytes.
    let (mut out, outcome, _) = drive_server(ServerConfig { auth, tls: false }, &c2s);
    let Outcome::Done(req) = outcome else {
        panic!("{name}: {outcome:?}")
    };
    assert_eq!(req, request, "{name}");
    let mut s = Vec::new();
    let reply = socks_wire::Decode::decode(&s2c_stream[out.len()..]).unwrap();
    let (reply, _): (Reply, usize) = reply.complete().expect("a whole reply");
    reply.encode(&mut s).unwrap();
    out.extend(s);
    assert_eq!(out, s2c_stream[..out.len()], "{name}: server bytes");

    // Client side: its output must be the upstream client's bytes, up to the first payload.
    let config = ClientConfig {
        credentials: if auth { creds() } else { None },
        tls: false,
    };
    let (out, outcome, rest) = drive_client(config, request, &s2c);
    assert_eq!(outcome, Outcome::Done(reply), "{name}");
    assert_eq!(out, c2s_stream[..out.len()], "{name}: client bytes");
    assert_eq!(rest, s2c_stream[s2c_stream.len() - rest.len()..]);
}

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

#[test]
fn connect_plain() {
    let req = Request::new(Command::Connect, addr("127.0.0.1:32001"));
    replay("socks5_connect_plain", 1, false, req);
}

#[test]
fn connect_with_username_password() {
    let req = Request::new(Command::Connect, addr("127.0.0.1:32001"));
    replay("socks5_connect_auth_plain", 1, true, req);
}

#[test]
fn udp_tun_and_udp_associate_and_mbind_requests() {
    for conn in 1..=3 {
        let req = Request::new(Command::UdpTun, Address::UNSPECIFIED);
        replay("socks5_udp_tun", conn, false, req);
        let req = Request::new(Command::UdpAssociate, Address::UNSPECIFIED);
        replay("socks5_udp_relay", conn, false, req);
    }
    let req = Request::new(Command::UdpTun, Address::UNSPECIFIED);
    replay("socks5_udp_tun_keepalive", 1, false, req);
    let req = Request::new(Command::UdpTun, addr("127.0.0.1:32323"));
    replay("socks5_udp_bind_rudp", 1, false, req);
    let req = Request::new(Command::MuxBind, addr("127.0.0.1:32123"));
    replay("socks5_mbind_rtcp", 1, false, req);
    let req = Request::new(Command::Bind, addr("127.0.0.1:0"));
    replay("socks5_bind_classic", 1, false, req);
}

#[test]
fn tls_methods_hand_over_to_tls_right_after_the_method_reply() {
    for (name, auth) in [
        ("socks5_greeting_tls", false),
        ("socks5_greeting_tls_auth", true),
    ] {
        let v = Vector::load(name);
        let c2s = v.chunks(1, "c2s");
        let (out, outcome, rest) = drive_server(ServerConfig { auth, tls: true }, &c2s);
        assert_eq!(outcome, Outcome::StartTls, "{name}");
        assert_eq!(out, v.stream(1, "s2c"), "{name}");
        assert_eq!(rest, c2s[1], "{name}: the ClientHello is left for TLS");

        let config = ClientConfig {
            credentials: if auth { creds() } else { None },
            tls: true,
        };
        let request = Request::new(Command::Connect, addr("127.0.0.1:32001"));
        let (out, outcome, _) = drive_client(config, request, &v.chunks(1, "s2c"));
        assert_eq!(outcome, Outcome::StartTls, "{name}");
        assert_eq!(out, c2s[0], "{name}: greeting");
    }
}

#[test]
fn negative_sessions_against_our_server() {
    let v = Vector::load("negative");
    let plain = ServerConfig::default();
    let auth = ServerConfig {
        auth: true,
        tls: false,
    };

    // 1: NMETHODS = 0: nothing written, like upstream.
    let (out, outcome, _) = drive_server(plain, &v.chunks(1, "c2s"));
    assert_eq!(
        outcome,
        Outcome::Failed(HandshakeError::Decode(DecodeError::NoMethods))
    );
    assert!(out.is_empty());

    // 2: only 0x80 offered to a server without TLS: we answer 05 FF where 3.2.6 picked 00.
    let (out, outcome, _) = drive_server(plain, &v.chunks(2, "c2s"));
    assert_eq!(outcome, Outcome::Failed(HandshakeError::NoAcceptableMethod));
    assert_eq!(out, [5, 0xff]);
    assert_eq!(v.stream(2, "s2c")[..2], [5, 0]);

    // 3: ATYP 5: we send REP 0x08 (RFC 1928) where upstream closes silently.
    let (out, outcome, _) = drive_server(plain, &v.chunks(3, "c2s"));
    assert_eq!(
        outcome,
        Outcome::Failed(HandshakeError::Decode(DecodeError::AddressType(5)))
    );
    assert_eq!(out[..2], v.stream(3, "s2c"));
    assert_eq!(
        out[2..],
        Reply::failure(ReplyCode::AddressTypeNotSupported)
            .to_vec()
            .unwrap()
    );

    // 4: unknown command reaches the caller, whose 0x07 reply matches upstream's bytes.
    let (mut out, outcome, _) = drive_server(plain, &v.chunks(4, "c2s"));
    assert_eq!(
        outcome,
        Outcome::Done(Request::new(Command::Other(9), addr("127.0.0.1:32001")))
    );
    Reply::failure(ReplyCode::CommandNotSupported)
        .encode(&mut out)
        .unwrap();
    assert_eq!(out, v.stream(4, "s2c"));

    // 11: a SOCKS4 request to a SOCKS5 server: nothing written, like upstream.
    let (out, outcome, _) = drive_server(plain, &v.chunks(11, "c2s"));
    assert_eq!(
        outcome,
        Outcome::Failed(HandshakeError::Decode(DecodeError::Socks5Version(4)))
    );
    assert!(out.is_empty());

    // 15: only 00 offered to an auth server: we answer 05 FF where 3.2.6 picked 02.
    let (out, outcome, _) = drive_server(auth, &v.chunks(15, "c2s"));
    assert_eq!(outcome, Outcome::Failed(HandshakeError::NoAcceptableMethod));
    assert_eq!(out, [5, 0xff]);

    // 16: wrong password: 05 02, then 01 01, exactly as upstream.
    let (out, outcome, _) = drive_server(auth, &v.chunks(16, "c2s"));
    assert_eq!(outcome, Outcome::Failed(HandshakeError::AuthFailed));
    assert_eq!(out, v.stream(16, "s2c"));
}

#[test]
fn negative_sessions_against_our_client() {
    let v = Vector::load("negative");
    let connect = Request::new(Command::Connect, addr("127.0.0.1:32001"));
    let with_creds = ClientConfig {
        credentials: creds(),
        tls: false,
    };

    // 15: the auth server accepts alice:s3cret; our client then sends its request.
    let (out, outcome, _) = drive_client(with_creds.clone(), connect.clone(), &v.chunks(15, "s2c"));
    assert_eq!(outcome, Outcome::Incomplete);
    let greeting = [5, 2, 0, 2];
    let auth = v.stream(15, "c2s")[3..].to_vec();
    let request = connect.to_vec().unwrap();
    assert_eq!(out, [&greeting[..], &auth, &request].concat());

    // 16: the server rejects the password with status 1.
    let (_, outcome, _) = drive_client(with_creds, connect.clone(), &v.chunks(16, "s2c"));
    assert_eq!(outcome, Outcome::Failed(HandshakeError::AuthRejected(1)));

    // 15 again without credentials: 3.2.6's unoffered 02 is a method this client cannot use.
    let (_, outcome, _) = drive_client(ClientConfig::default(), connect, &v.chunks(15, "s2c"));
    assert_eq!(
        outcome,
        Outcome::Failed(HandshakeError::UnexpectedMethod(Method::UserPass))
    );
}
