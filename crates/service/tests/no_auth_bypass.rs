//! No way around authentication: on a server with users, every method the client may offer (0x00, 0x02,
//! 0x80, 0x82, in any mix), every shortcut (skipping RFC 1929, skipping the TLS handshake, a SOCKS4 request
//! to the SOCKS5 service) and every SOCKS4 userid trick ends without a single connection to the target,
//! while the right credentials still get through.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{expect_closed, request, serve};
use gost_service::{Socks4Handler, Socks4Options, Socks5Handler, Socks5Options, Users};
use gost_test_support::counting_echo_server;
use gost_test_support::socks5::ask;
use gost_transport::Stream;
use gost_transport::tls::{ClientTls, ServerTls};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn userpass(user: &[u8], pass: &[u8]) -> Vec<u8> {
    let mut v = vec![1, user.len() as u8];
    v.extend_from_slice(user);
    v.push(pass.len() as u8);
    v.extend_from_slice(pass);
    v
}

fn socks4_connect(target: SocketAddr, userid: &[u8]) -> Vec<u8> {
    let SocketAddr::V4(t) = target else {
        unreachable!("targets are on 127.0.0.1")
    };
    let mut v = vec![4, 1];
    v.extend_from_slice(&t.port().to_be_bytes());
    v.extend_from_slice(&t.ip().octets());
    v.extend_from_slice(userid);
    v.push(0);
    v
}

/// Reads until EOF (or reset) within 5 s and returns what came.
async fn rest<S: AsyncRead + Unpin>(s: &mut S) -> Vec<u8> {
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(r.is_ok(), "connection still open after 5 s");
    buf
}

/// Sends `greeting` and returns the two-byte method reply.
async fn greet(proxy: SocketAddr, greeting: &[u8]) -> (TcpStream, [u8; 2]) {
    let mut c = TcpStream::connect(proxy).await.unwrap();
    c.write_all(greeting).await.unwrap();
    let mut m = [0u8; 2];
    c.read_exact(&mut m).await.unwrap();
    (c, m)
}

async fn tls_over(c: TcpStream) -> Stream {
    ClientTls::insecure()
        .connect(Stream::from_tcp(c), "gost.run")
        .await
        .unwrap()
}

#[tokio::test]
async fn no_method_or_protocol_mix_bypasses_authentication() {
    let (target, dialed) = counting_echo_server().await;
    let users = Users::new([("alice", "s3cret")]);
    let with_tls = serve(Socks5Handler::new(Socks5Options {
        users: users.clone(),
        tls: Some(ServerTls::self_signed().unwrap()),
        handshake_timeout: Duration::from_secs(2),
        ..Default::default()
    }))
    .await;
    let notls = serve(Socks5Handler::new(Socks5Options {
        users,
        handshake_timeout: Duration::from_secs(2),
        ..Default::default()
    }))
    .await;

    // Offers without a credential method get 05 FF on both servers, whatever else is listed.
    for proxy in [with_tls.addr, notls.addr] {
        for offer in [
            &[5u8, 1, 0][..],
            &[5, 1, 0x80],
            &[5, 2, 0, 0x80],
            &[5, 2, 0x80, 0],
        ] {
            let (mut c, m) = greet(proxy, offer).await;
            assert_eq!(m, [5, 0xFF], "offer {offer:?}");
            c.write_all(&request(1, target)).await.unwrap_or(());
            assert!(rest(&mut c).await.is_empty(), "offer {offer:?}");
        }
    }
    // 0x82 is never picked without TLS.
    let (mut c, m) = greet(notls.addr, &[5, 1, 0x82]).await;
    assert_eq!(m, [5, 0xFF]);
    expect_closed(&mut c).await;

    // 0x02 chosen, then the request sent in place of the credentials: not a valid RFC 1929 message.
    for proxy in [with_tls.addr, notls.addr] {
        let (mut c, m) = greet(proxy, &[5, 2, 0, 2]).await;
        assert_eq!(m, [5, 2]);
        c.write_all(&request(1, target)).await.unwrap();
        let got = rest(&mut c).await;
        assert!(got.is_empty() || got == [1, 1], "got {got:?}");
    }
    // Wrong password, empty password, unknown user, right password for another user's name.
    for (user, pass) in [
        (&b"alice"[..], &b"wrong"[..]),
        (b"alice", b""),
        (b"mallory", b"s3cret"),
        (b"Alice", b"s3cret"),
        (b"alice", b"s3cret\0"),
    ] {
        let (mut c, m) = greet(notls.addr, &[5, 1, 2]).await;
        assert_eq!(m, [5, 2]);
        // The request is pipelined behind the credentials: it must be ignored.
        let mut msg = userpass(user, pass);
        msg.extend_from_slice(&request(1, target));
        c.write_all(&msg).await.unwrap();
        assert_eq!(rest(&mut c).await, [1, 1], "{user:?}/{pass:?}");
    }
    // 0x82 chosen, but the client skips TLS and talks RFC 1929 in clear: the TLS handshake fails.
    let (mut c, m) = greet(with_tls.addr, &[5, 1, 0x82]).await;
    assert_eq!(m, [5, 0x82]);
    let mut msg = userpass(b"alice", b"wrong");
    msg.extend_from_slice(&request(1, target));
    c.write_all(&msg).await.unwrap();
    let got = rest(&mut c).await;
    assert!(!got.windows(2).any(|w| w == [5, 0]), "got {got:?}");
    // 0x82 with TLS, wrong password inside TLS.
    let (c, m) = greet(with_tls.addr, &[5, 2, 0x80, 0x82]).await;
    assert_eq!(m, [5, 0x82]);
    let mut tls = tls_over(c).await;
    let mut msg = userpass(b"alice", b"nope");
    msg.extend_from_slice(&request(1, target));
    tls.write_all(&msg).await.unwrap();
    tls.flush().await.unwrap();
    assert_eq!(rest(&mut tls).await, [1, 1]);
    // A SOCKS4 request on the SOCKS5 service is a malformed greeting.
    let mut c = TcpStream::connect(notls.addr).await.unwrap();
    c.write_all(&socks4_connect(target, b"alice"))
        .await
        .unwrap();
    let got = rest(&mut c).await;
    assert!(got.is_empty() || got == [5, 0xFF], "got {got:?}");

    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        dialed.load(Ordering::SeqCst),
        0,
        "a refused client reached the target"
    );

    // The right credentials get through, in clear and inside TLS.
    let (mut c, m) = greet(notls.addr, &[5, 2, 0, 2]).await;
    assert_eq!(m, [5, 2]);
    c.write_all(&userpass(b"alice", b"s3cret")).await.unwrap();
    let mut s = [0u8; 2];
    c.read_exact(&mut s).await.unwrap();
    assert_eq!(s, [1, 0]);
    assert_eq!(ask(&mut c, 1, target).await.0, 0);
    let (c, m) = greet(with_tls.addr, &[5, 1, 0x82]).await;
    assert_eq!(m, [5, 0x82]);
    let mut tls = tls_over(c).await;
    tls.write_all(&userpass(b"alice", b"s3cret")).await.unwrap();
    tls.flush().await.unwrap();
    tls.read_exact(&mut s).await.unwrap();
    assert_eq!(s, [1, 0]);
    assert_eq!(ask(&mut tls, 1, target).await.0, 0);
    assert_eq!(dialed.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn socks4_userid_is_checked_and_passwords_never_match() {
    let (target, dialed) = counting_echo_server().await;
    // carol has no password: SOCKS4 can name her. alice has one: SOCKS4 can never log in as her.
    let proxy = serve(Socks4Handler::new(Socks4Options {
        users: Users::new([("alice", "s3cret"), ("carol", "")]),
        ..Default::default()
    }))
    .await;
    for userid in [
        &b""[..],
        b"alice",
        b"alice:s3cret",
        b"s3cret",
        b"mallory",
        b"Carol",
    ] {
        let mut c = TcpStream::connect(proxy.addr).await.unwrap();
        c.write_all(&socks4_connect(target, userid)).await.unwrap();
        let mut r = [0u8; 8];
        c.read_exact(&mut r).await.unwrap();
        assert_eq!(r, [0, 0x5D, 0, 0, 0, 0, 0, 0], "userid {userid:?}");
        expect_closed(&mut c).await;
    }
    // A 4A request (DSTIP 0.0.0.1 + name) is checked the same way.
    let mut req = vec![4, 1];
    req.extend_from_slice(&target.port().to_be_bytes());
    req.extend_from_slice(&[0, 0, 0, 1]);
    req.extend_from_slice(b"alice\0localhost\0");
    let mut c = TcpStream::connect(proxy.addr).await.unwrap();
    c.write_all(&req).await.unwrap();
    let mut r = [0u8; 8];
    c.read_exact(&mut r).await.unwrap();
    assert_eq!(r[1], 0x5D);
    assert_eq!(
        dialed.load(Ordering::SeqCst),
        0,
        "a refused client reached the target"
    );

    let mut c = TcpStream::connect(proxy.addr).await.unwrap();
    c.write_all(&socks4_connect(target, b"carol"))
        .await
        .unwrap();
    c.read_exact(&mut r).await.unwrap();
    assert_eq!(r, [0, 0x5A, 0, 0, 0, 0, 0, 0]);
    c.write_all(b"carol's bytes").await.unwrap();
    let mut got = [0u8; 13];
    c.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"carol's bytes");
    assert_eq!(dialed.load(Ordering::SeqCst), 1);
}
