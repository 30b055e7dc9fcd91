//! UDP-TUN (GOST 0xF3) byte for byte against the recorded upstream sessions: relay mode (port 0) and bind
//! mode (port ≠ 0, used by `rudp`), plus the rules that a zero-length datagram is never framed, an oversize one
//! is dropped and logged (never truncated), and an idle relay ends.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Running, serve, socks5_noauth};
use gost_service::{Socks5Handler, Socks5Options};
use gost_test_support::Vector;
use gost_test_support::socks5::ask;
use gost_test_support::udp_echo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Splits a stream of UDP-TUN frames (the header's LEN counts only the payload).
fn frames(mut s: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !s.is_empty() {
        let len = u16::from_be_bytes([s[0], s[1]]) as usize;
        let addr_len = match s[3] {
            1 => 4,
            4 => 16,
            3 => 1 + s[4] as usize,
            t => panic!("bad ATYP {t}"),
        };
        let total = 4 + addr_len + 2 + len;
        out.push(s[..total].to_vec());
        s = &s[total..];
    }
    out
}

/// Replaces the port of an IPv4 frame header (bytes 8..10).
fn with_port(frame: &[u8], port: u16) -> Vec<u8> {
    let mut f = frame.to_vec();
    f[8..10].copy_from_slice(&port.to_be_bytes());
    f
}

async fn read_frame<S: AsyncReadExt + Unpin>(s: &mut S) -> Vec<u8> {
    let mut head = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut head))
        .await
        .unwrap()
        .unwrap();
    let len = u16::from_be_bytes([head[0], head[1]]) as usize;
    let addr_len = if head[3] == 1 { 4 } else { 16 };
    let mut rest = vec![0u8; addr_len + 2 + len];
    s.read_exact(&mut rest).await.unwrap();
    [head.to_vec(), rest].concat()
}

#[tokio::test]
async fn relay_mode_matches_upstream_frames() {
    let rec = Vector::load("socks5_udp_tun");
    let echo = udp_echo().await;
    let proxy = serve(Socks5Handler::new(Socks5Options {
        udp: true,
        ..Default::default()
    }))
    .await;
    let mut c = socks5_noauth(proxy.addr).await;
    let c2s = rec.stream(1, "c2s");
    let s2c = rec.stream(1, "s2c");
    // Upstream client's request: 05 f3 00 01 0.0.0.0:0 (after its 3-byte greeting).
    let request = &c2s[3..13];
    assert_eq!(request, [5, 0xF3, 0, 1, 0, 0, 0, 0, 0, 0]);
    c.write_all(request).await.unwrap();
    let mut reply = [0u8; 22];
    c.read_exact(&mut reply[..4]).await.unwrap();
    let atyp_len = if reply[3] == 4 { 18 } else { 6 };
    c.read_exact(&mut reply[4..4 + atyp_len]).await.unwrap();
    // Upstream answers with the wildcard of its socket: ATYP 4 [::]:port on a dual-stack host.
    assert_eq!(
        &reply[..20],
        &s2c[2..22],
        "reply layout as upstream (05 00 00 04 + ::)"
    );
    // The three recorded datagrams (one per recorded connection), re-aimed at our echo server.
    for conn in 1..=3 {
        let sent = frames(&rec.stream(conn, "c2s")[13..]);
        let answered = frames(&rec.stream(conn, "s2c")[2 + 22..]);
        assert_eq!(sent.len(), 1);
        let frame = with_port(&sent[0], echo.port());
        c.write_all(&frame).await.unwrap();
        let back = read_frame(&mut c).await;
        assert_eq!(back, with_port(&answered[0], echo.port()), "conn {conn}");
    }
}

/// A SOCKS5 server with `opts`, a UDP-TUN relay opened on it (0xF3 to 0.0.0.0:0) and one "hi"
/// datagram sent through it to `target`: returns the server, the tunnel's connection and the
/// relay's outbound address, as `target` saw it.
async fn relay_that_said_hi(
    opts: Socks5Options,
    target: &UdpSocket,
) -> (Running, TcpStream, SocketAddr) {
    let proxy = serve(Socks5Handler::new(opts)).await;
    let mut c = socks5_noauth(proxy.addr).await;
    assert_eq!(ask(&mut c, 0xF3, "0.0.0.0:0".parse().unwrap()).await.0, 0);
    let t = target.local_addr().unwrap();
    let mut frame = vec![0, 2, 0xFF, 1, 127, 0, 0, 1];
    frame.extend_from_slice(&t.port().to_be_bytes());
    frame.extend_from_slice(b"hi");
    c.write_all(&frame).await.unwrap();
    let mut buf = [0u8; 16];
    let (n, outbound) = target.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"hi");
    (proxy, c, outbound)
}

#[tokio::test]
async fn relay_mode_drops_unsolicited_and_empty_datagrams() {
    let target = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let opts = Socks5Options {
        udp: true,
        ..Default::default()
    };
    let (_proxy, mut c, outbound) = relay_that_said_hi(opts, &target).await;
    let t = target.local_addr().unwrap();
    stranger.send_to(b"unsolicited", outbound).await.unwrap();
    target.send_to(b"", outbound).await.unwrap();
    target.send_to(b"answer", outbound).await.unwrap();
    let back = read_frame(&mut c).await;
    let mut want = vec![0, 6, 0xFF, 1, 127, 0, 0, 1];
    want.extend_from_slice(&t.port().to_be_bytes());
    want.extend_from_slice(b"answer");
    assert_eq!(
        back, want,
        "first frame must be the target's non-empty answer"
    );
}

#[tokio::test]
async fn bind_mode_matches_upstream_frames() {
    let rec = Vector::load("socks5_udp_bind_rudp");
    let c2s = rec.stream(1, "c2s");
    let s2c = rec.stream(1, "s2c");
    let port = gost_test_support::free_tcp_and_udp_port();
    let listen: SocketAddr = ([127, 0, 0, 1], port).into();
    let proxy = serve(Socks5Handler::new(Socks5Options {
        bind: true,
        ..Default::default()
    }))
    .await;
    let mut c = socks5_noauth(proxy.addr).await;
    // Upstream's rudp client: 05 f3 00 01 127.0.0.1:<port>; the reply repeats the bound address.
    let request = with_port_at(&c2s[3..13], 8, port);
    c.write_all(&request).await.unwrap();
    let mut reply = [0u8; 10];
    c.read_exact(&mut reply).await.unwrap();
    assert_eq!(reply.to_vec(), with_port_at(&s2c[2..12], 8, port));
    // A peer's datagrams arrive framed with the peer's address, exactly as upstream frames them.
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer_port = peer.local_addr().unwrap().port();
    let recorded = frames(&s2c[12..]);
    assert_eq!(recorded.len(), 3);
    for f in &recorded {
        let payload = &f[10..];
        peer.send_to(payload, listen).await.unwrap();
        let got = read_frame(&mut c).await;
        assert_eq!(got, with_port(f, peer_port));
    }
    // Frames from the client go out of the bound socket to the address they name.
    let answers = frames(&c2s[13..]);
    for f in &answers {
        c.write_all(&with_port(f, peer_port)).await.unwrap();
        let mut buf = vec![0u8; 2048];
        let (n, from) = peer.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &f[10..]);
        assert_eq!(from, listen);
    }
}

fn with_port_at(b: &[u8], at: usize, port: u16) -> Vec<u8> {
    let mut v = b.to_vec();
    v[at..at + 2].copy_from_slice(&port.to_be_bytes());
    v
}

#[tokio::test]
async fn oversize_datagrams_are_dropped_and_idle_relays_end() {
    let (logs, _guard) = gost_test_support::Logs::capture();
    let target = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let opts = Socks5Options {
        udp: true,
        udp_buffer_size: 1024,
        udp_idle_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let (_proxy, mut c, outbound) = relay_that_said_hi(opts, &target).await;
    // 1500 bytes do not fit udpBufferSize = 1024: dropped whole and logged with their real length
    // (not udpBufferSize + 1), never truncated.
    target.send_to(&[9u8; 1500], outbound).await.unwrap();
    target.send_to(&[7u8; 1024], outbound).await.unwrap();
    let back = read_frame(&mut c).await;
    assert_eq!(back.len(), 10 + 1024);
    assert!(
        back[10..].iter().all(|b| *b == 7),
        "first frame must be the fitting datagram"
    );
    let warned = logs.matching(&[
        "WARN",
        "udpBufferSize",
        "from=\"target\"",
        "len=1500",
        "max=1024",
    ]);
    assert_eq!(warned.len(), 1, "oversize warning: {warned:?}");
    // The other way too: a client frame of 5000 B is not sent (it was), the fitting one after it is.
    let t = target.local_addr().unwrap();
    for payload in [&[5u8; 5000][..], &[6u8; 1024][..]] {
        let mut frame = (payload.len() as u16).to_be_bytes().to_vec();
        frame.extend_from_slice(&[0xFF, 1, 127, 0, 0, 1]);
        frame.extend_from_slice(&t.port().to_be_bytes());
        frame.extend_from_slice(payload);
        c.write_all(&frame).await.unwrap();
    }
    let mut buf = vec![0u8; 8192];
    let (n, _) = target.recv_from(&mut buf).await.unwrap();
    assert_eq!(
        &buf[..n],
        &[6u8; 1024][..],
        "the oversize datagram went out"
    );
    let warned = logs.matching(&[
        "WARN",
        "udpBufferSize",
        "from=\"client\"",
        "len=5000",
        "max=1024",
    ]);
    assert_eq!(warned.len(), 1, "client oversize warning: {warned:?}");
    // No datagram either way for udp_idle_timeout: the tunnel and its connection end.
    common::expect_closed(&mut c).await;
}
