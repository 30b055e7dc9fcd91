//! No way in without credentials: a server with RFC 1929 users (and in-band TLS on offer) never
//! dials for a client that skipped, mangled or downgraded authentication: offering only "no auth",
//! only 0x80 (TLS without auth), sending the request where the credentials belong, a wrong
//! sub-negotiation version, near-miss credentials, a retry after a failure, SOCKS4 with the
//! username as userid, and method 0x82 (TLS + auth) with the RFC 1929 step left out or sent in the
//! clear. The same connection flow with the right credentials does dial, proving the tripwire.

mod adversarial_support;
mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use adversarial_support::{Fenced, fenced_servers};
use gost_service::{Socks5Options, Users};
use gost_test_support::echo_server;
use gost_transport::Stream;
use gost_transport::tls::{ClientTls, ServerTls};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

fn auth(ver: u8, user: &[u8], pass: &[u8]) -> Vec<u8> {
    let mut v = vec![ver, user.len() as u8];
    v.extend_from_slice(user);
    v.push(pass.len() as u8);
    v.extend_from_slice(pass);
    v
}

fn connect_request(target: SocketAddr) -> Vec<u8> {
    let SocketAddr::V4(t) = target else {
        unreachable!()
    };
    [
        &[5u8, 1, 0, 1][..],
        &t.ip().octets(),
        &t.port().to_be_bytes(),
    ]
    .concat()
}

/// Everything the server sends until it closes (or 5 s pass).
async fn rest_of<S: AsyncRead + Unpin>(s: &mut S) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 256];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    out
}

/// Writes `bytes` (ignoring a server that already hung up) and returns all it answers.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, bytes: &[u8]) -> Vec<u8> {
    let _ = s.write_all(bytes).await;
    let _ = s.flush().await;
    rest_of(s).await
}

struct Setup {
    s5: common::Running,
    s4: common::Running,
    fence: Arc<Fenced>,
    echo: SocketAddr,
}

async fn setup() -> Setup {
    let echo = echo_server().await;
    let fence = Fenced::new([echo]);
    let s5 = Socks5Options {
        users: Users::new([("alice", "s3cret")]),
        tls: Some(ServerTls::self_signed().unwrap()),
        ..Default::default()
    };
    // SOCKS4 has no passwords: a user with one can never log in through it.
    let s4_users = Users::new([("alice", "s3cret")]);
    let (s5, s4) = fenced_servers(&fence, Duration::from_secs(2), s5, s4_users).await;
    Setup {
        s5,
        s4,
        fence,
        echo,
    }
}

/// Greets with `methods`, expects the server to pick `picked`, and (for a TLS method) wraps the
/// connection in TLS.
async fn greet(addr: SocketAddr, methods: &[u8], picked: u8) -> Stream {
    let mut c = TcpStream::connect(addr).await.unwrap();
    let mut greeting = vec![5, methods.len() as u8];
    greeting.extend_from_slice(methods);
    c.write_all(&greeting).await.unwrap();
    let mut m = [0u8; 2];
    c.read_exact(&mut m).await.unwrap();
    assert_eq!(m, [5, picked], "method chosen for offer {methods:02x?}");
    let stream = Stream::from_tcp(c);
    if picked & 0x80 != 0 {
        ClientTls::insecure()
            .connect(stream, "gost.run")
            .await
            .unwrap()
    } else {
        stream
    }
}

#[tokio::test]
async fn no_path_around_rfc_1929() {
    let Setup {
        s5,
        s4,
        fence,
        echo,
    } = setup().await;
    let req = connect_request(echo);
    let good = auth(1, b"alice", b"s3cret");

    // Methods that carry no credentials are never chosen when users are configured.
    for offer in [&[0u8][..], &[0x80], &[0, 0x80], &[0x03, 0x81, 0xFF]] {
        let mut c = TcpStream::connect(s5.addr).await.unwrap();
        let mut greeting = vec![5, offer.len() as u8];
        greeting.extend_from_slice(offer);
        greeting.extend_from_slice(&req);
        assert_eq!(
            exchange(&mut c, &greeting).await,
            [5, 0xFF],
            "offer {offer:02x?}"
        );
    }

    // 0x02 chosen: the request where the credentials belong, a wrong sub-negotiation version,
    // near misses, and a retry after a refusal.
    let near_misses: [&[u8]; 10] = [
        &req,
        &auth(5, b"alice", b"s3cret"),
        &auth(0, b"alice", b"s3cret"),
        &auth(1, b"alice", b""),
        &auth(1, b"alice", b"s3cre"),
        &auth(1, b"alice", b"s3cret\0"),
        &auth(1, b"Alice", b"s3cret"),
        &auth(1, b"", b""),
        &auth(1, b"alice", b"S3CRET"),
        &[auth(1, b"alice", b"nope"), good.clone(), req.clone()].concat(),
    ];
    for attempt in near_misses {
        let mut c = greet(s5.addr, &[0, 2], 2).await;
        let answer = exchange(&mut c, &[attempt, &req[..]].concat()).await;
        assert!(
            answer.is_empty() || answer == [1, 1],
            "attempt {attempt:02x?} got {answer:02x?}"
        );
    }

    // 0x82 (TLS, then RFC 1929 inside it): leaving the credentials out or wrong is refused.
    for attempt in [&req[..], &auth(1, b"alice", b"wrong")] {
        let mut c = greet(s5.addr, &[0x82], 0x82).await;
        let answer = exchange(&mut c, &[attempt, &req[..]].concat()).await;
        assert!(
            answer.is_empty() || answer == [1, 1],
            "0x82 {attempt:02x?}: {answer:02x?}"
        );
    }
    // 0x82 chosen but the client carries on in the clear: the TLS handshake fails, nothing else.
    let mut c = TcpStream::connect(s5.addr).await.unwrap();
    let answer = exchange(&mut c, &[&[5u8, 1, 0x82][..], &good, &req].concat()).await;
    assert!(answer.starts_with(&[5, 0x82]), "{answer:02x?}");

    // Another protocol version: SOCKS4 to the SOCKS5 server, and to a SOCKS4 server whose only
    // user has a password (SOCKS4 cannot carry it).
    let SocketAddr::V4(t) = echo else {
        unreachable!()
    };
    let s4_req = [
        &[4u8, 1][..],
        &t.port().to_be_bytes(),
        &t.ip().octets(),
        b"alice\0",
    ]
    .concat();
    let mut c = TcpStream::connect(s5.addr).await.unwrap();
    assert!(exchange(&mut c, &s4_req).await.is_empty());
    let mut c = TcpStream::connect(s4.addr).await.unwrap();
    let answer = exchange(&mut c, &s4_req).await;
    assert_eq!(answer.get(..2), Some(&[0, 0x5D][..]), "{answer:02x?}");

    assert_eq!(
        fence.dials.load(Ordering::Relaxed),
        0,
        "a bypass attempt was dialled"
    );
    assert_eq!(fence.refused.load(Ordering::Relaxed), 0);

    // The tripwire works: the right credentials, by 0x02 and by 0x82, do dial.
    for (methods, picked) in [(&[0u8, 2][..], 2u8), (&[0x82], 0x82)] {
        let mut c = greet(s5.addr, methods, picked).await;
        c.write_all(&[&good[..], &req, b"ping"].concat())
            .await
            .unwrap();
        c.flush().await.unwrap();
        let mut got = [0u8; 2 + 10 + 4];
        c.read_exact(&mut got).await.unwrap();
        assert_eq!(&got[..4], &[1, 0, 5, 0]);
        assert_eq!(&got[12..], b"ping");
    }
    assert_eq!(fence.dials.load(Ordering::Relaxed), 2);
}
