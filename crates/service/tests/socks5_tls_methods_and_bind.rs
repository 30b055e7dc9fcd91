//! GOST's in-band TLS methods (0x80 without, 0x82 with credentials) and classic BIND's two replies, on raw
//! sockets, checked against the recorded upstream sessions.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{expect_closed, read_reply, request, serve, socks5_noauth};
use gost_service::{Socks5Handler, Socks5Options, Users};
use gost_test_support::Vector;
use gost_test_support::exchange::{echoes, pass};
use gost_test_support::socks5::ask;
use gost_transport::Stream;
use gost_transport::tls::{ClientTls, ServerTls};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends upstream's `greeting` to `proxy`, expects upstream's method choice from `rec`, then starts
/// TLS on the connection as GOST's clients do.
async fn tls_after_greeting(
    proxy: SocketAddr,
    greeting: &[u8],
    rec: &Vector,
) -> impl AsyncRead + AsyncWrite + Unpin {
    let mut c = TcpStream::connect(proxy).await.unwrap();
    c.write_all(greeting).await.unwrap();
    let mut m = [0u8; 2];
    c.read_exact(&mut m).await.unwrap();
    assert_eq!(&m[..], &rec.stream(1, "s2c")[..2]);
    ClientTls::insecure()
        .connect(Stream::from_tcp(c), "gost.run")
        .await
        .unwrap()
}

/// A SOCKS5 server with BIND enabled.
async fn bind_proxy(opts: Socks5Options) -> common::Running {
    serve(Socks5Handler::new(Socks5Options { bind: true, ..opts })).await
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
    let mut tls = tls_after_greeting(proxy.addr, &greeting, &rec).await;
    let (rep, bound) = ask(&mut tls, 1, echo).await;
    assert_eq!((rep, bound.ip()), (0, [127, 0, 0, 1].into()));
    echoes(&mut tls, b"inside TLS").await;
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
        let mut tls = tls_after_greeting(proxy.addr, &greeting, &rec).await;
        let mut m = [0u8; 2];
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
        assert_eq!(ask(&mut tls, 1, echo).await.0, 0);
        echoes(&mut tls, b"auth inside TLS").await;
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
    let proxy = bind_proxy(Socks5Options::default()).await;
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
    pass(&mut peer, &mut c, b"bind-peer-hello").await;
    pass(&mut c, &mut peer, b"bind-client-reply").await;
    // The peer closing half-closes the client's side, as upstream does.
    drop(peer);
    expect_closed(&mut c).await;
}

#[tokio::test]
async fn bind_on_a_taken_port_fails_with_0x01() {
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let addr: SocketAddr = taken.local_addr().unwrap();
    let proxy = bind_proxy(Socks5Options::default()).await;
    let mut c = socks5_noauth(proxy.addr).await;
    // The unspecified address asks, as GOST's clients do, to listen on exactly that port.
    assert_eq!(ask(&mut c, 2, addr).await.0, 1);
    expect_closed(&mut c).await;
}

#[tokio::test]
async fn bind_gives_up_after_the_accept_timeout() {
    let proxy = bind_proxy(Socks5Options {
        bind_accept_timeout: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let mut c = socks5_noauth(proxy.addr).await;
    let (rep, listen) = ask(&mut c, 2, "127.0.0.1:0".parse().unwrap()).await;
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
    let proxy = bind_proxy(Socks5Options::default()).await;
    let mut c = socks5_noauth(proxy.addr).await;
    let (rep, listen) = ask(&mut c, 2, "0.0.0.0:0".parse().unwrap()).await;
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
