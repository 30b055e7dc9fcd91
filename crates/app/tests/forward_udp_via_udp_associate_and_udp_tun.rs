//! `udp://:L/target` through a SOCKS5 hop, with standard UDP ASSOCIATE (`relay=udp`) and with GOST's
//! UDP-TUN: 1000 datagrams of mixed sizes arrive intact, the largest datagram IPv4 can carry passes with
//! 64 KiB buffers, and `keepalive=false` gives each exchange its own association, as upstream.

mod fwd;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use fwd::{Transport, forward, socks5};
use gost_service::Socks5Options;
use tokio::net::UdpSocket;

/// Largest UDP payload over IPv4 (65535 - 20 IP - 8 UDP).
const MAX_V4_PAYLOAD: usize = 65507;
/// The RFC 1928 header in front of each relayed datagram to an IPv4 target.
const RELAY_HEADER: usize = 10;

fn server_opts() -> Socks5Options {
    Socks5Options {
        udp: true,
        bind: true,
        udp_buffer_size: 65535,
        ..Default::default()
    }
}

/// A UDP echo that also records every source address it saw.
async fn recording_echo() -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<SocketAddr>) {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = s.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = s.recv_from(&mut buf).await {
            let _ = tx.send(from);
            let _ = s.send_to(&buf[..n], from).await;
        }
    });
    (addr, rx)
}

fn datagram(i: usize, len: usize) -> Vec<u8> {
    let mut d: Vec<u8> = (0..len).map(|j| (i * 7 + j) as u8).collect();
    d[..4].copy_from_slice(&(i as u32).to_be_bytes());
    d
}

/// Sends 1000 datagrams of sizes 4..=8192 in lock-step and checks every echo byte for byte, then one of
/// `max` bytes.
async fn exchange(fwd: SocketAddr, max: usize) {
    let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    c.connect(fwd).await.unwrap();
    let mut buf = vec![0u8; 65536];
    let sizes = (0..1000).map(|i| [4, 5, 100, 512, 1400, 1472, 4096, 8192][i % 8] + i % 13);
    for (i, len) in sizes.chain([max]).enumerate() {
        let d = datagram(i, len);
        c.send(&d).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(5), c.recv(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("datagram {i} ({len} bytes) was not echoed"))
            .unwrap();
        assert_eq!(n, len, "length of echo {i}");
        assert!(buf[..n] == d[..], "content of echo {i}");
    }
}

#[tokio::test]
async fn thousand_datagrams_and_a_maximal_one_via_udp_associate() {
    let hop = socks5(Transport::Tcp, server_opts()).await;
    let (echo, _) = recording_echo().await;
    let fwd = forward(
        &format!("udp://127.0.0.1:0/{echo}?keepalive=true&readBufferSize=65535"),
        &[format!(
            "socks5://{}?notls=true&relay=udp&udpBufferSize=65535",
            hop.addr
        )],
    )
    .await;
    exchange(fwd.addr, MAX_V4_PAYLOAD - RELAY_HEADER).await;
}

#[tokio::test]
async fn thousand_datagrams_and_a_maximal_one_via_udp_tun() {
    let hop = socks5(Transport::Tcp, server_opts()).await;
    let (echo, _) = recording_echo().await;
    let fwd = forward(
        &format!("udp://127.0.0.1:0/{echo}?keepalive=true&readBufferSize=65535"),
        &[format!("socks5://{}", hop.addr)],
    )
    .await;
    exchange(fwd.addr, MAX_V4_PAYLOAD).await;
}

#[tokio::test]
async fn without_keepalive_each_exchange_gets_its_own_association() {
    let hop = socks5(Transport::Tcp, server_opts()).await;
    for (keepalive, associations) in [(false, 3), (true, 1)] {
        let (echo, mut seen) = recording_echo().await;
        let fwd = forward(
            &format!("udp://127.0.0.1:0/{echo}?keepalive={keepalive}"),
            &[format!("socks5://{}?relay=udp", hop.addr)],
        )
        .await;
        let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        c.connect(fwd.addr).await.unwrap();
        let mut buf = [0u8; 64];
        for i in 0..3u8 {
            c.send(&[i; 8]).await.unwrap();
            let n = tokio::time::timeout(Duration::from_secs(5), c.recv(&mut buf))
                .await
                .expect("echo")
                .unwrap();
            assert_eq!(&buf[..n], &[i; 8]);
        }
        let mut sources = HashSet::new();
        while let Ok(a) = seen.try_recv() {
            sources.insert(a);
        }
        assert_eq!(sources.len(), associations, "keepalive={keepalive}");
    }
}

#[tokio::test]
async fn a_server_without_udp_lets_nothing_through() {
    let hop = socks5(Transport::Tcp, Socks5Options::default()).await;
    let (echo, _) = recording_echo().await;
    let fwd = forward(
        &format!("udp://127.0.0.1:0/{echo}"),
        &[format!("socks5://{}?relay=udp", hop.addr)],
    )
    .await;
    let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    c.connect(fwd.addr).await.unwrap();
    c.send(b"lost").await.unwrap();
    let mut buf = [0u8; 16];
    let r = tokio::time::timeout(Duration::from_millis(300), c.recv(&mut buf)).await;
    assert!(
        r.is_err(),
        "no reply can come back from a refused association"
    );
}

#[tokio::test]
async fn a_session_idle_for_ttl_ends_and_the_next_datagram_opens_another() {
    let hop = socks5(Transport::Tcp, server_opts()).await;
    let (echo, mut seen) = recording_echo().await;
    let fwd = forward(
        &format!("udp://127.0.0.1:0/{echo}?keepalive=true&ttl=200ms"),
        &[format!("socks5://{}", hop.addr)],
    )
    .await;
    let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    c.connect(fwd.addr).await.unwrap();
    let mut buf = [0u8; 64];
    for (i, pause) in [0, 50, 400].into_iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        c.send(&[i as u8; 4]).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(5), c.recv(&mut buf))
            .await
            .expect("echo")
            .unwrap();
        assert_eq!(&buf[..n], &[i as u8; 4]);
    }
    let mut sources = HashSet::new();
    while let Ok(a) = seen.try_recv() {
        sources.insert(a);
    }
    assert_eq!(
        sources.len(),
        2,
        "a 50 ms pause keeps the session, 400 ms > ttl ends it"
    );
}
