//! GOST's in-band TLS methods (0x80 without, 0x82 with credentials) and classic BIND's two replies, on raw
//! sockets, checked against the recorded upstream sessions.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{expect_closed, read_reply, request, serve, socks5_noauth};
use gost_service::{Socks5Handler, Socks5Options, Users};
use gost_test_support::Vector;
use gost_transport::Stream;
use gost_transport::tls::{ClientTls, ServerTls};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

async fn read_reply_from<S: AsyncRead + Unpin>(s: &mut S) -> (u8, [u8; 4], u16) {
    let mut r = [0u8; 10];
    s.read_exact(&mut r).await.unwrap();
    assert_eq!(&r[..4], &[5, r[1], 0, 1]);
    (
        r[1],
        [r[4], r[5], r[6], r[7]],
        u16::from_be_bytes([r[8], r[9]]),
    )
}

async fn echo_through<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, msg: &[u8]) {
    s.write_all(msg).await.unwrap();
    s.flush().await.unwrap();
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).await.unwrap();
    assert_eq!(got, msg);
}

#[tokio::test]
async fn tls_method_0x80_then_request_inside_tls() {
    // The greeting and choice are upstream's (socks5_greeting_tls.jsonl): 05 02 00 80 -> 05 80.
    let rec = Vector::load("socks5_greeting_tls");
    let greeting = rec.stream(1, "c2s")[..4].to_vec();
    assert_eq!(greeting, [5, 2, 0, 0x80]);
    let echo = gost_test_support::echo_server().await;
    let opts = Socks5Options {
        tls: Some(ServerTls::self_signed().unwrap()),
        ..Default::default()
    };
    let proxy = serve(Socks5Handler::new(opts)).await;
    let mut c = TcpStream::connect(proxy.addr).await.unwrap();
    c.write_all(&greeting).await.unwrap();
    let mut m = [0u8; 2];
    c.read_exact(&mut m).await.unwrap();
    assert_eq!(&m[..], &rec.stream(1, "s2c")[..2]);
    let mut tls = ClientTls::insecure()
        .connect(Stream::from_tcp(c), "gost.run")
        .await
        .unwrap();
    tls.write_all(&request(1, echo)).await.unwrap();
    tls.flush().await.unwrap();
    let (rep, ip, _) = read_reply_from(&mut tls).await;
    assert_eq!((rep, ip), (0, [127, 0, 0, 1]));
    echo_through(&mut tls, b"inside TLS").await;
}

#[tokio::test]
async fn tls_auth_method_0x82_checks_credentials_inside_tls() {
    let rec = Vector::load("socks5_greeting_tls_auth");
    let greeting = rec.stream(1, "c2s")[..6].to_vec();
    assert_eq!(greeting, [5, 4, 0, 2, 0x80, 0x82]);
    let echo = gost_test_support::echo_server().await;
    let opts = Socks5Options {
        tls: Some(ServerTls::self_signed().unwrap()),
        users: Users::new([("alice", "s3cret")]),
        ..Default::default()
    };
    let proxy = serve(Socks5Handler::new(opts)).await;
    for (password, ok) in [(&b"s3cret"[..], true), (b"nope", false)] {
        let mut c = TcpStream::connect(proxy.addr).await.unwrap();
        c.write_all(&greeting).await.unwrap();
        let mut m = [0u8; 2];
        c.read_exact(&mut m).await.unwrap();
        assert_eq!(&m[..], &rec.stream(1, "s2c")[..2]);
        let mut tls = ClientTls::insecure()
            .connect(Stream::from_tcp(c), "gost.run")
            .await
            .unwrap();
        let mut auth = vec![1, 5];
        auth.extend_from_slice(b"alice");
        auth.push(password.len() as u8);
        auth.extend_from_slice(password);
        tls.write_all(&auth).await.unwrap();
        tls.flush().await.unwrap();
        tls.read_exact(&mut m).await.unwrap();
        if !ok {
            assert_eq!(m, [1, 1]);
            let mut rest = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut rest))
                .await
                .unwrap();
            assert!(rest.is_empty());
            continue;
        }
        assert_eq!(m, [1, 0]);
        tls.write_all(&request(1, echo)).await.unwrap();
        tls.flush().await.unwrap();
        assert_eq!(read_reply_from(&mut tls).await.0, 0);
        echo_through(&mut tls, b"auth inside TLS").await;
    }
}

#[tokio::test]
async fn no_tls_offered_when_not_configured() {
    // notls: 0x80 is never selected; a client offering 00 and 80 gets 00.
    let proxy = serve(Socks5Handler::new(Socks5Options::default())).await;
    let mut c = TcpStream::connect(proxy.addr).await.unwrap();
    c.write_all(&[5, 2, 0, 0x80]).await.unwrap();
    let mut m = [0u8; 2];
    c.read_exact(&mut m).await.unwrap();
    assert_eq!(m, [5, 0]);
}

#[tokio::test]
async fn bind_sends_two_replies_then_relays() {
    let rec = Vector::load("socks5_bind_classic");
    let up_c2s = rec.stream(1, "c2s");
    let up_s2c = rec.stream(1, "s2c");
    let opts = Socks5Options {
        bind: true,
        ..Default::default()
    };
    let proxy = serve(Socks5Handler::new(opts)).await;
    let mut c = socks5_noauth(proxy.addr).await;
    // Upstream's client bytes: BIND 127.0.0.1:0.
    assert_eq!(
        &up_c2s[3..13],
        &request(2, "127.0.0.1:0".parse().unwrap())[..]
    );
    c.write_all(&up_c2s[3..13]).await.unwrap();
    let (rep, listen) = read_reply(&mut c).await;
    assert_eq!(rep, 0);
    // Same layout as upstream's first reply: 05 00 00 01 7f000001 <port>.
    assert_eq!(&up_s2c[2..10], &[5, 0, 0, 1, 127, 0, 0, 1]);
    assert_eq!(listen.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
    assert_ne!(listen.port(), 0);
    let mut peer = TcpStream::connect(listen).await.unwrap();
    let (rep, announced) = read_reply(&mut c).await;
    assert_eq!(rep, 0);
    assert_eq!(
        announced,
        peer.local_addr().unwrap(),
        "second reply names the peer"
    );
    // Only one peer: the listener is gone.
    assert!(TcpStream::connect(listen).await.is_err());
    peer.write_all(b"bind-peer-hello").await.unwrap();
    let mut buf = [0u8; 15];
    c.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"bind-peer-hello");
    c.write_all(b"bind-client-reply").await.unwrap();
    let mut buf = [0u8; 17];
    peer.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"bind-client-reply");
    // The peer closing half-closes the client's side, as upstream does.
    drop(peer);
    expect_closed(&mut c).await;
}

#[tokio::test]
async fn bind_on_a_taken_port_fails_with_0x01() {
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let addr: SocketAddr = taken.local_addr().unwrap();
    let proxy = serve(Socks5Handler::new(Socks5Options {
        bind: true,
        ..Default::default()
    }))
    .await;
    let mut c = socks5_noauth(proxy.addr).await;
    // The unspecified address asks, as GOST's clients do, to listen on exactly that port.
    c.write_all(&request(2, addr)).await.unwrap();
    assert_eq!(read_reply(&mut c).await.0, 1);
    expect_closed(&mut c).await;
}

#[tokio::test]
async fn bind_gives_up_after_the_accept_timeout() {
    let opts = Socks5Options {
        bind: true,
        bind_accept_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let proxy = serve(Socks5Handler::new(opts)).await;
    let mut c = socks5_noauth(proxy.addr).await;
    c.write_all(&request(2, "127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let (rep, listen) = read_reply(&mut c).await;
    assert_eq!(rep, 0);
    assert_eq!(read_reply(&mut c).await.0, 0x06);
    expect_closed(&mut c).await;
    assert!(
        TcpStream::connect(listen).await.is_err(),
        "listener left open"
    );
}

#[tokio::test]
async fn bind_on_the_wildcard_announces_a_reachable_address_and_early_bytes_reach_the_peer() {
    let proxy = serve(Socks5Handler::new(Socks5Options {
        bind: true,
        ..Default::default()
    }))
    .await;
    let mut c = socks5_noauth(proxy.addr).await;
    c.write_all(&request(2, "0.0.0.0:0".parse().unwrap()))
        .await
        .unwrap();
    let (rep, listen) = read_reply(&mut c).await;
    assert_eq!(rep, 0);
    // Not 0.0.0.0: the control connection's local IP, which the client can reach.
    assert_eq!(listen.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
    // Bytes the client sends before the peer arrives are held, then delivered first.
    c.write_all(b"sent early").await.unwrap();
    let mut peer = TcpStream::connect(listen).await.unwrap();
    let (rep, announced) = read_reply(&mut c).await;
    assert_eq!((rep, announced), (0, peer.local_addr().unwrap()));
    let mut buf = [0u8; 10];
    peer.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"sent early");
    // The client closing ends the session for the peer.
    drop(c);
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), peer.read_to_end(&mut rest))
        .await
        .expect("peer not closed")
        .unwrap();
    assert!(rest.is_empty());
}
