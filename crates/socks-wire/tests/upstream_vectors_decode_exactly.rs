//! Every SOCKS message in the recorded upstream GOST 3.2.6 sessions decodes to the expected value,
//! re-encodes to the same bytes, and needs more on every prefix. Streams are the concatenated
//! recv() chunks of one connection and direction, as the vectors README prescribes.

mod common;

use std::net::{Ipv4Addr, SocketAddr};

use common::Cursor;
use gost_test_support::Vector;
use socks_wire::{
    Address, Command, Decode, DecodeError, Decoded, Method, MethodReply, MethodRequest, Reply,
    ReplyCode, Request, Socks4Command, Socks4Reply, Socks4ReplyCode, Socks4Request, Socks4Target,
    UdpHeader, UserPassRequest, UserPassResponse,
};

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

fn greeting(c: &mut Cursor, methods: &[Method]) {
    assert_eq!(c.next::<MethodRequest>().methods, methods);
}

fn method_reply(c: &mut Cursor, method: Method) {
    assert_eq!(c.next::<MethodReply>().method, method);
}

#[test]
fn socks5_connect_plain() {
    let v = Vector::load("socks5_connect_plain");
    let payload = v.header_hex("payload_hex");
    let mut c2s = Cursor::new(v.stream(1, "c2s"));
    greeting(&mut c2s, &[Method::NoAuth]);
    let req = c2s.next::<Request>();
    assert_eq!(req, Request::new(Command::Connect, addr("127.0.0.1:32001")));
    assert_eq!(c2s.rest(), payload);

    let mut s2c = Cursor::new(v.stream(1, "s2c"));
    method_reply(&mut s2c, Method::NoAuth);
    assert_eq!(s2c.next::<Reply>(), Reply::failure(ReplyCode::Succeeded));
    assert_eq!(s2c.rest(), payload);
}

#[test]
fn socks5_connect_auth_plain() {
    let v = Vector::load("socks5_connect_auth_plain");
    let mut c2s = Cursor::new(v.stream(1, "c2s"));
    greeting(&mut c2s, &[Method::NoAuth, Method::UserPass]);
    assert_eq!(
        c2s.next::<UserPassRequest>(),
        UserPassRequest::new("alice", "s3cret")
    );
    assert_eq!(c2s.next::<Request>().addr, addr("127.0.0.1:32001"));
    assert_eq!(c2s.rest(), v.header_hex("payload_hex"));

    let mut s2c = Cursor::new(v.stream(1, "s2c"));
    method_reply(&mut s2c, Method::UserPass);
    assert!(s2c.next::<UserPassResponse>().is_success());
    assert_eq!(s2c.next::<Reply>(), Reply::success(Address::UNSPECIFIED));
    assert_eq!(s2c.rest(), v.header_hex("payload_hex"));
}

#[test]
fn socks5_greeting_tls_and_tls_auth() {
    for (name, offer, choice) in [
        (
            "socks5_greeting_tls",
            &[Method::NoAuth, Method::Tls][..],
            Method::Tls,
        ),
        (
            "socks5_greeting_tls_auth",
            &[
                Method::NoAuth,
                Method::UserPass,
                Method::Tls,
                Method::TlsAuth,
            ][..],
            Method::TlsAuth,
        ),
    ] {
        let v = Vector::load(name);
        let mut c2s = Cursor::new(v.stream(1, "c2s"));
        greeting(&mut c2s, offer);
        // The TLS ClientHello (record type 0x16, version 3.1) follows the greeting directly.
        assert_eq!(&c2s.rest()[..3], [0x16, 0x03, 0x01], "{name}");
        let mut s2c = Cursor::new(v.stream(1, "s2c"));
        method_reply(&mut s2c, choice);
        assert!(s2c.rest().is_empty());
    }
}

/// The control part of a UDP-TUN session: greeting, 0xF3 request, reply.
fn udp_tun_control(v: &Vector, conn: u64, request: &str, bound_v6: bool) -> (Cursor, Cursor) {
    let mut c2s = Cursor::new(v.stream(conn, "c2s"));
    greeting(&mut c2s, &[Method::NoAuth]);
    assert_eq!(
        c2s.next::<Request>(),
        Request::new(Command::UdpTun, addr(request))
    );
    let mut s2c = Cursor::new(v.stream(conn, "s2c"));
    method_reply(&mut s2c, Method::NoAuth);
    let reply = s2c.next::<Reply>();
    assert_eq!(reply.code, ReplyCode::Succeeded);
    if bound_v6 {
        // Relay mode: the server reports its wildcard socket, [::]:<ephemeral>, as ATYP 4.
        let Address::Ip(SocketAddr::V6(bound)) = reply.addr else {
            panic!("{reply:?}")
        };
        assert!(bound.ip().is_unspecified() && bound.port() != 0);
    } else {
        assert_eq!(reply.addr, addr(request));
    }
    (c2s, s2c)
}

#[test]
fn socks5_udp_tun_one_connection_per_datagram() {
    let v = Vector::load("socks5_udp_tun");
    let payloads = v.header_hex_list("payloads_hex");
    assert_eq!(v.conns(), [1, 2, 3]);
    for (conn, payload) in (1..=3).zip(&payloads) {
        let (c2s, s2c) = udp_tun_control(&v, conn, "0.0.0.0:0", true);
        expect_frames_to_the_echo([c2s, s2c], std::slice::from_ref(payload));
    }
}

#[test]
fn socks5_udp_tun_keepalive_frames_split_across_chunks() {
    let v = Vector::load("socks5_udp_tun_keepalive");
    let payloads = v.header_hex_list("payloads_hex");
    let (c2s, s2c) = udp_tun_control(&v, 1, "0.0.0.0:0", true);
    expect_frames_to_the_echo([c2s, s2c], &payloads);
}

/// Both directions of a UDP-TUN session hold exactly `payloads`, each framed with the recorded echo
/// target, and nothing after them.
fn expect_frames_to_the_echo(cursors: [Cursor; 2], payloads: &[Vec<u8>]) {
    for mut cursor in cursors {
        for payload in payloads {
            let (target, data) = cursor.next_tun_frame();
            assert_eq!(target, addr("127.0.0.1:32002"));
            assert_eq!(&data, payload);
        }
        assert!(cursor.rest().is_empty());
    }
}

#[test]
fn socks5_udp_bind_rudp_frames_carry_the_peer() {
    let v = Vector::load("socks5_udp_bind_rudp");
    let (mut c2s, mut s2c) = udp_tun_control(&v, 1, "127.0.0.1:32323", false);
    let peer = addr(v.header["peer"]["addr"].as_str().expect("peer address"));
    for cursor in [&mut s2c, &mut c2s] {
        let mut sizes = Vec::new();
        while !cursor.rest().is_empty() {
            let (from, data) = cursor.next_tun_frame();
            assert_eq!(from, peer);
            sizes.push(data.len());
        }
        assert_eq!(sizes, [5, 100, 1400]);
    }
}

fn udp_relay_control(v: &Vector, conn: u64) -> Address {
    let mut c2s = Cursor::new(v.stream(conn, "c2s"));
    greeting(&mut c2s, &[Method::NoAuth]);
    assert_eq!(
        c2s.next::<Request>(),
        Request::new(Command::UdpAssociate, Address::UNSPECIFIED)
    );
    assert!(c2s.rest().is_empty());
    let mut s2c = Cursor::new(v.stream(conn, "s2c"));
    method_reply(&mut s2c, Method::NoAuth);
    let reply = s2c.next::<Reply>();
    assert_eq!(reply.code, ReplyCode::Succeeded);
    assert_eq!(reply.addr.ip(), Some(Ipv4Addr::LOCALHOST.into()));
    reply.addr
}

fn check_udp_datagram(datagram: &[u8], expected_payload: &[u8]) {
    let (header, payload) = UdpHeader::split_datagram(datagram).unwrap();
    assert_eq!(header, UdpHeader::new(addr("127.0.0.1:32002")));
    assert_eq!(payload, expected_payload);
    let mut again = Vec::new();
    socks_wire::Encode::encode(&header, &mut again).unwrap();
    again.extend_from_slice(payload);
    assert_eq!(again, datagram);
    common::assert_prefixes_need_more::<UdpHeader>(&datagram[..datagram.len() - payload.len()]);
}

#[test]
fn socks5_udp_relay_headers() {
    let v = Vector::load("socks5_udp_relay");
    let payloads = v.header_hex_list("payloads_hex");
    for (conn, payload) in (1..=3).zip(&payloads) {
        let relay = udp_relay_control(&v, conn);
        for dir in ["c2s", "s2c"] {
            let datagrams = v.datagrams(conn, dir);
            assert_eq!(datagrams.len(), 1, "conn {conn} {dir}");
            check_udp_datagram(&datagrams[0], payload);
        }
        assert_ne!(relay.port(), 0);
    }
}

#[test]
fn socks5_udp_relay_keepalive_headers() {
    let v = Vector::load("socks5_udp_relay_keepalive");
    let payloads = v.header_hex_list("payloads_hex");
    udp_relay_control(&v, 1);
    for dir in ["c2s", "s2c"] {
        let datagrams = v.datagrams(1, dir);
        assert_eq!(datagrams.len(), payloads.len());
        for (d, p) in datagrams.iter().zip(&payloads) {
            check_udp_datagram(d, p);
        }
    }
}

#[test]
fn socks5_bind_classic_two_replies() {
    let v = Vector::load("socks5_bind_classic");
    let mut c2s = Cursor::new(v.stream(1, "c2s"));
    greeting(&mut c2s, &[Method::NoAuth]);
    assert_eq!(
        c2s.next::<Request>(),
        Request::new(Command::Bind, addr("127.0.0.1:0"))
    );
    assert_eq!(c2s.rest(), b"bind-client-reply");
    let mut s2c = Cursor::new(v.stream(1, "s2c"));
    method_reply(&mut s2c, Method::NoAuth);
    let listening = s2c.next::<Reply>();
    assert_eq!(listening.code, ReplyCode::Succeeded);
    assert_eq!(listening.addr.ip(), Some(Ipv4Addr::LOCALHOST.into()));
    let peer = s2c.next::<Reply>();
    assert_eq!(peer.code, ReplyCode::Succeeded);
    assert_eq!(
        peer.addr,
        addr(v.header["peer"]["addr"].as_str().expect("peer"))
    );
    assert_eq!(s2c.rest(), b"bind-peer-hello");
}

/// Splits an smux v1 byte stream into (cmd, stream id, payload) frames.
fn smux_frames(mut bytes: &[u8]) -> Vec<(u8, u32, Vec<u8>)> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        assert_eq!(bytes[0], 1, "smux version");
        let len = usize::from(u16::from_le_bytes([bytes[2], bytes[3]]));
        let sid = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        frames.push((bytes[1], sid, bytes[8..8 + len].to_vec()));
        bytes = &bytes[8 + len..];
    }
    frames
}

#[test]
fn socks5_mbind_reply_and_per_stream_peer_replies() {
    let v = Vector::load("socks5_mbind_rtcp");
    let mut c2s = Cursor::new(v.stream(1, "c2s"));
    greeting(&mut c2s, &[Method::NoAuth]);
    let bind_at = addr("127.0.0.1:32123");
    assert_eq!(
        c2s.next::<Request>(),
        Request::new(Command::MuxBind, bind_at.clone())
    );
    let mut s2c = Cursor::new(v.stream(1, "s2c"));
    method_reply(&mut s2c, Method::NoAuth);
    assert_eq!(s2c.next::<Reply>(), Reply::success(bind_at));

    // Each stream's first PSH payload is a whole SOCKS5 reply naming the peer.
    let mut first_psh_seen = Vec::new();
    for (cmd, sid, payload) in smux_frames(s2c.rest()) {
        if cmd == 2 && !first_psh_seen.contains(&sid) {
            first_psh_seen.push(sid);
            let mut p = Cursor::new(payload);
            let reply = p.next::<Reply>();
            assert_eq!(reply.code, ReplyCode::Succeeded);
            assert_eq!(reply.addr.ip(), Some(Ipv4Addr::LOCALHOST.into()));
            assert!(p.rest().is_empty(), "the reply is its own frame");
        }
    }
    assert_eq!(first_psh_seen, [3, 5]);
}

#[test]
fn socks4_connect_4a_form_and_plain_form() {
    for (name, target) in [
        (
            "socks4_connect",
            Socks4Target::Domain("127.0.0.1".try_into().unwrap()),
        ),
        (
            "socks4_connect_disable4a",
            Socks4Target::Ip(Ipv4Addr::LOCALHOST),
        ),
    ] {
        let v = Vector::load(name);
        let payload = v.header_hex("payload_hex");
        let mut c2s = Cursor::new(v.stream(1, "c2s"));
        assert_eq!(
            c2s.next::<Socks4Request>(),
            Socks4Request::connect(target, 32001)
        );
        assert_eq!(c2s.rest(), payload);
        let mut s2c = Cursor::new(v.stream(1, "s2c"));
        assert_eq!(
            s2c.next::<Socks4Reply>(),
            Socks4Reply::new(Socks4ReplyCode::Granted)
        );
        assert_eq!(s2c.rest(), payload);
    }
}

#[test]
fn negative_cases_decode_as_upstream_saw_them() {
    let v = Vector::load("negative");
    let unspecified_reply = |code| Reply::failure(code);

    // 1: NMETHODS = 0.
    assert_eq!(
        MethodRequest::decode(&v.stream(1, "c2s")),
        Err(DecodeError::NoMethods)
    );
    // 2: only 0x80 offered; 3.2.6 answered 00 anyway.
    let mut c = Cursor::new(v.stream(2, "c2s"));
    greeting(&mut c, &[Method::Tls]);
    let mut s = Cursor::new(v.stream(2, "s2c"));
    method_reply(&mut s, Method::NoAuth);
    assert_eq!(s.next::<Reply>(), unspecified_reply(ReplyCode::Succeeded));
    // 3: ATYP 0x05.
    let mut c = Cursor::new(v.stream(3, "c2s"));
    greeting(&mut c, &[Method::NoAuth]);
    assert_eq!(Request::decode(c.rest()), Err(DecodeError::AddressType(5)));
    // 4..=10: commands and their refusals.
    let cases = [
        (
            4,
            Command::Other(0x09),
            "127.0.0.1:32001",
            ReplyCode::CommandNotSupported,
        ),
        (5, Command::UdpAssociate, "0.0.0.0:0", ReplyCode::NotAllowed),
        (6, Command::MuxBind, "127.0.0.1:0", ReplyCode::NotAllowed),
        (7, Command::Bind, "127.0.0.1:0", ReplyCode::NotAllowed),
        (8, Command::UdpTun, "0.0.0.0:0", ReplyCode::NotAllowed),
        (9, Command::UdpTun, "127.0.0.1:32002", ReplyCode::NotAllowed),
        (
            10,
            Command::Connect,
            "127.0.0.1:32998",
            ReplyCode::NetworkUnreachable,
        ),
    ];
    for (conn, command, target, code) in cases {
        let mut c = Cursor::new(v.stream(conn, "c2s"));
        greeting(&mut c, &[Method::NoAuth]);
        assert_eq!(
            c.next::<Request>(),
            Request::new(command, addr(target)),
            "conn {conn}"
        );
        let mut s = Cursor::new(v.stream(conn, "s2c"));
        method_reply(&mut s, Method::NoAuth);
        assert_eq!(s.next::<Reply>(), unspecified_reply(code), "conn {conn}");
        assert!(s.rest().is_empty());
    }
    // 11: a SOCKS4 request sent to a SOCKS5 server.
    let socks4 = v.stream(11, "c2s");
    assert_eq!(
        MethodRequest::decode(&socks4),
        Err(DecodeError::Socks5Version(4))
    );
    assert!(matches!(
        Socks4Request::decode(&socks4),
        Ok(Decoded::Complete(_, 9))
    ));
    // 12..=14: SOCKS4 BIND, refused CONNECT, unknown CD.
    let mut c = Cursor::new(v.stream(12, "c2s"));
    assert_eq!(c.next::<Socks4Request>().command, Socks4Command::Bind);
    let mut c = Cursor::new(v.stream(13, "c2s"));
    assert_eq!(c.next::<Socks4Request>().port, 32998);
    let mut s = Cursor::new(v.stream(13, "s2c"));
    assert_eq!(
        s.next::<Socks4Reply>(),
        Socks4Reply::new(Socks4ReplyCode::Rejected)
    );
    let mut c = Cursor::new(v.stream(14, "c2s"));
    assert_eq!(c.next::<Socks4Request>().command, Socks4Command::Other(3));
    // 15, 16: username/password, accepted and rejected.
    let sessions = [
        (
            15,
            &[Method::NoAuth][..],
            "s3cret",
            UserPassResponse::SUCCESS,
        ),
        (
            16,
            &[Method::NoAuth, Method::UserPass][..],
            "wr0ng",
            UserPassResponse::FAILURE,
        ),
    ];
    for (conn, offered, password, response) in sessions {
        let mut c = Cursor::new(v.stream(conn, "c2s"));
        greeting(&mut c, offered);
        assert_eq!(
            c.next::<UserPassRequest>(),
            UserPassRequest::new("alice", password),
            "connection {conn}"
        );
        let mut s = Cursor::new(v.stream(conn, "s2c"));
        method_reply(&mut s, Method::UserPass);
        assert_eq!(s.next::<UserPassResponse>(), response, "connection {conn}");
    }
}
