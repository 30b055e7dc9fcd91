//! UDP ASSOCIATE on raw sockets: the upstream datagram layout, source filtering (foreign IP, other port),
//! fragments, oversize datagrams, unsolicited answers, and the association's lifetime.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{expect_closed, read_reply, request, serve, socks5_noauth};
use gost_service::{Socks5Handler, Socks5Options};
use gost_test_support::Vector;
use gost_test_support::socks5::udp_datagram as datagram;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

async fn udp_proxy(opts: Socks5Options) -> common::Running {
    serve(Socks5Handler::new(Socks5Options { udp: true, ..opts })).await
}

/// Opens an association announcing `from` (0.0.0.0:0 = "not known"); returns control conn and relay address.
async fn associate(proxy: SocketAddr, from: SocketAddr) -> (TcpStream, SocketAddr) {
    let mut c = socks5_noauth(proxy).await;
    c.write_all(&request(3, from)).await.unwrap();
    let (rep, relay) = read_reply(&mut c).await;
    assert_eq!(rep, 0);
    (c, relay)
}

/// `from` sends `payload` for `to` through the association's `relay` (FRAG `frag`).
async fn send(from: &UdpSocket, relay: SocketAddr, frag: u8, to: SocketAddr, payload: &[u8]) {
    from.send_to(&datagram(frag, to, payload), relay)
        .await
        .unwrap();
}

/// A proxy with `opts`, an association that names no client address, and the client's socket.
async fn associated_client(
    opts: Socks5Options,
) -> (common::Running, TcpStream, SocketAddr, UdpSocket) {
    let proxy = udp_proxy(opts).await;
    let (ctl, relay) = associate(proxy.addr, "0.0.0.0:0".parse().unwrap()).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    (proxy, ctl, relay, client)
}

/// The source address of the next datagram `s` receives (within 5 s).
async fn next_sender(s: &UdpSocket) -> SocketAddr {
    let mut buf = [0u8; 64];
    let (_, from) = timeout(Duration::from_secs(5), s.recv_from(&mut buf))
        .await
        .expect("a datagram within 5 s")
        .unwrap();
    from
}

async fn recv_within(s: &UdpSocket, ms: u64) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 70000];
    match timeout(Duration::from_millis(ms), s.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

#[tokio::test]
async fn round_trip_has_upstreams_layout() {
    let rec = Vector::load("socks5_udp_relay");
    let upstream_reply = rec.stream(1, "s2c");
    // Upstream's reply: 05 00 00 01 7f000001 <relay port>: ATYP 1 and the control connection's IP.
    assert_eq!(&upstream_reply[2..8], &[5, 0, 0, 1, 127, 0]);
    let echo = gost_test_support::udp_echo().await;
    let (_proxy, _ctl, relay, client) = associated_client(Socks5Options::default()).await;
    assert_eq!(relay.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
    let payloads: [&[u8]; 3] = [
        b"ping!",
        &[0x41; 100],
        &(0..1400).map(|i| i as u8).collect::<Vec<_>>(),
    ];
    for p in payloads {
        let d = datagram(0, echo, p);
        client.send_to(&d, relay).await.unwrap();
        let back = recv_within(&client, 5000).await.expect("answer");
        // The answer carries the target's address in the same header layout.
        assert_eq!(back, d);
    }
}

#[tokio::test]
async fn datagrams_from_a_foreign_ip_are_dropped() {
    let target = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let proxy = udp_proxy(Socks5Options::default()).await;
    let (_ctl, relay) = associate(proxy.addr, "0.0.0.0:0".parse().unwrap()).await;
    let foreign = UdpSocket::bind("127.0.0.2:0")
        .await
        .expect("127.0.0.2 is loopback on Linux");
    send(&foreign, relay, 0, target.local_addr().unwrap(), b"hijack").await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    send(&client, relay, 0, target.local_addr().unwrap(), b"legit").await;
    // Datagrams on loopback keep their order: the first the target sees must be the client's.
    let got = recv_within(&target, 5000).await.unwrap();
    assert_eq!(got, b"legit");
    assert!(recv_within(&target, 200).await.is_none());
}

#[tokio::test]
async fn only_the_named_port_or_the_first_one_seen_is_accepted() {
    let target = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let t = target.local_addr().unwrap();
    let proxy = udp_proxy(Socks5Options::default()).await;
    let named = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let other = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (_ctl, relay) = associate(proxy.addr, named.local_addr().unwrap()).await;
    send(&other, relay, 0, t, b"other port").await;
    send(&named, relay, 0, t, b"named port").await;
    assert_eq!(recv_within(&target, 5000).await.unwrap(), b"named port");
    // Port 0 in the request: the first source port seen is locked in.
    let (_ctl2, relay2) = associate(proxy.addr, "0.0.0.0:0".parse().unwrap()).await;
    send(&named, relay2, 0, t, b"first").await;
    assert_eq!(recv_within(&target, 5000).await.unwrap(), b"first");
    send(&other, relay2, 0, t, b"second port").await;
    send(&named, relay2, 0, t, b"first again").await;
    assert_eq!(recv_within(&target, 5000).await.unwrap(), b"first again");
}

#[tokio::test]
async fn fragments_and_oversize_datagrams_are_dropped() {
    let (logs, _guard) = gost_test_support::Logs::capture();
    let target = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let t = target.local_addr().unwrap();
    let small = Socks5Options {
        udp_buffer_size: 100,
        ..Default::default()
    };
    let (_proxy, _ctl, relay, client) = associated_client(small).await;
    send(&client, relay, 1, t, b"fragment 1").await;
    send(&client, relay, 0, t, &[7u8; 91]).await; // 101 bytes > 100
    send(&client, relay, 0, t, &[8u8; 90]).await; // exactly 100
    assert_eq!(recv_within(&target, 5000).await.unwrap(), vec![8u8; 90]);
    assert!(
        recv_within(&target, 200).await.is_none(),
        "fragment or oversize datagram forwarded"
    );
    // The oversize datagram is reported with its size and the limit, not silently truncated.
    let warned = logs.matching(&["WARN", "udpBufferSize", "len=101", "max=100"]);
    assert_eq!(warned.len(), 1, "oversize warning: {warned:?}");
}

#[tokio::test]
async fn answers_only_from_contacted_targets_and_oversize_answers_dropped() {
    let target = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let small = Socks5Options {
        udp_buffer_size: 100,
        ..Default::default()
    };
    let (_proxy, _ctl, relay, client) = associated_client(small).await;
    send(&client, relay, 0, target.local_addr().unwrap(), b"hi").await;
    let outbound = next_sender(&target).await;
    stranger.send_to(b"unsolicited", outbound).await.unwrap();
    target.send_to(&[1u8; 91], outbound).await.unwrap(); // 91 > 100 - 10
    target.send_to(b"answer", outbound).await.unwrap();
    let got = recv_within(&client, 5000).await.unwrap();
    assert_eq!(got, datagram(0, target.local_addr().unwrap(), b"answer"));
    assert!(recv_within(&client, 200).await.is_none());
}

#[tokio::test]
async fn association_ends_with_the_tcp_connection() {
    let echo = gost_test_support::udp_echo().await;
    let (_proxy, ctl, relay, client) = associated_client(Socks5Options::default()).await;
    send(&client, relay, 0, echo, b"alive").await;
    assert!(recv_within(&client, 5000).await.is_some());
    drop(ctl);
    // Once the association is gone its port is free again and datagrams get no answer.
    let mut freed = false;
    for _ in 0..100 {
        if std::net::UdpSocket::bind(relay).is_ok() {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        freed,
        "relay socket still bound after the control connection closed"
    );
}

#[tokio::test]
async fn idle_association_expires_and_closes_the_control_connection() {
    let (_proxy, mut ctl, _, _) = associated_client(Socks5Options {
        udp_idle_timeout: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    expect_closed(&mut ctl).await;
}

#[tokio::test]
async fn targets_beyond_the_cap_push_out_the_least_recently_used() {
    let (_proxy, _ctl, relay, client) = associated_client(Socks5Options {
        udp_max_targets: 1,
        ..Default::default()
    })
    .await;
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut outbound = None;
    for t in [&a, &b] {
        let to = t.local_addr().unwrap();
        send(&client, relay, 0, to, b"hello").await;
        outbound = Some(next_sender(t).await);
    }
    let outbound = outbound.unwrap();
    // Only one target is remembered: the newest (b). a's answer is now unsolicited.
    a.send_to(b"from a", outbound).await.unwrap();
    b.send_to(b"from b", outbound).await.unwrap();
    let got = recv_within(&client, 5000).await.unwrap();
    assert_eq!(got, datagram(0, b.local_addr().unwrap(), b"from b"));
    assert!(
        recv_within(&client, 200).await.is_none(),
        "a forgotten target got through"
    );
}
