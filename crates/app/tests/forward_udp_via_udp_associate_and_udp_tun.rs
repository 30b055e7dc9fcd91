//! `udp://:L/target` through a SOCKS5 hop, with standard UDP ASSOCIATE (`relay=udp`) and with GOST's
//! UDP-TUN: 1000 datagrams of mixed sizes arrive intact, the largest datagram IPv4 can carry passes with
//! 64 KiB buffers, and `keepalive=false` gives each exchange its own association, as upstream.

mod fwd;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use fwd::{Transport, socks5, udp_and_bind, udp_echoes, udp_forward};
use gost_service::Socks5Options;
use tokio::net::UdpSocket;

/// Largest UDP payload over IPv4 (65535 - 20 IP - 8 UDP).
const MAX_V4_PAYLOAD: usize = 65507;
/// The RFC 1928 header in front of each relayed datagram to an IPv4 target.
const RELAY_HEADER: usize = 10;

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

/// Through a hop reached with `socks5://HOP{query}`: sends 1000 datagrams of sizes 4..=8192 in
/// lock-step and checks every echo byte for byte, then one of `max` bytes.
async fn thousand_and_a_maximal_one(query: &str, max: usize) {
    let hop = socks5(Transport::Tcp, udp_and_bind()).await;
    let (echo, _) = recording_echo().await;
    let (_fwd, c) = udp_forward(
        &format!("udp://127.0.0.1:0/{echo}?keepalive=true&readBufferSize=65535"),
        &[format!("socks5://{}{query}", hop.addr)],
    )
    .await;
    let sizes = (0..1000).map(|i| [4, 5, 100, 512, 1400, 1472, 4096, 8192][i % 8] + i % 13);
    let datagrams = sizes
        .chain([max])
        .enumerate()
        .map(|(i, len)| datagram(i, len));
    udp_echoes(&c, datagrams).await;
}

#[tokio::test]
async fn thousand_datagrams_and_a_maximal_one_via_udp_associate() {
    let query = "?notls=true&relay=udp&udpBufferSize=65535";
    thousand_and_a_maximal_one(query, MAX_V4_PAYLOAD - RELAY_HEADER).await;
}

#[tokio::test]
async fn thousand_datagrams_and_a_maximal_one_via_udp_tun() {
    thousand_and_a_maximal_one("", MAX_V4_PAYLOAD).await;
}

#[tokio::test]
async fn without_keepalive_each_exchange_gets_its_own_association() {
    let hop = socks5(Transport::Tcp, udp_and_bind()).await;
    for (keepalive, associations) in [(false, 3), (true, 1)] {
        let (echo, mut seen) = recording_echo().await;
        let service = format!("udp://127.0.0.1:0/{echo}?keepalive={keepalive}");
        let (_fwd, c) = udp_forward(&service, &[format!("socks5://{}?relay=udp", hop.addr)]).await;
        udp_echoes(&c, (0..3u8).map(|i| vec![i; 8])).await;
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
    let service = format!("udp://127.0.0.1:0/{echo}");
    let (_fwd, c) = udp_forward(&service, &[format!("socks5://{}?relay=udp", hop.addr)]).await;
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
    let hop = socks5(Transport::Tcp, udp_and_bind()).await;
    let (echo, mut seen) = recording_echo().await;
    let service = format!("udp://127.0.0.1:0/{echo}?keepalive=true&ttl=200ms");
    let (_fwd, c) = udp_forward(&service, &[format!("socks5://{}", hop.addr)]).await;
    for (i, pause) in [0, 50, 400].into_iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        udp_echoes(&c, [vec![i as u8; 4]]).await;
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
