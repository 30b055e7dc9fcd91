//! UDP ASSOCIATE on raw sockets: the upstream datagram layout, source filtering (foreign IP, other port),
//! fragments, oversize datagrams, unsolicited answers, and the association's lifetime.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{expect_closed, read_reply, request, serve, socks5_noauth};
use gost_service::{Socks5Handler, Socks5Options};
use gost_test_support::Vector;
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

fn datagram(frag: u8, target: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut d = request(0, target);
    d[0] = 0;
    d[1] = 0;
    d[2] = frag;
    d.extend_from_slice(payload);
    d
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
    let proxy = udp_proxy(Socks5Options::default()).await;
    let (_ctl, relay) = associate(proxy.addr, "0.0.0.0:0".parse().unwrap()).await;
    assert_eq!(relay.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
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
    foreign
        .send_to(&datagram(0, target.local_addr().unwrap(), b"hijack"), relay)
        .await
        .unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client
        .send_to(&datagram(0, target.local_addr().unwrap(), b"legit"), relay)
        .await
        .unwrap();
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
    other
        .send_to(&datagram(0, t, b"other port"), relay)
        .await
        .unwrap();
    named
        .send_to(&datagram(0, t, b"named port"), relay)
        .await
        .unwrap();
    assert_eq!(recv_within(&target, 5000).await.unwrap(), b"named port");
    // Port 0 in the request: the first source port seen is locked in.
    let (_ctl2, relay2) = associate(proxy.addr, "0.0.0.0:0".parse().unwrap()).await;
    named
        .send_to(&datagram(0, t, b"first"), relay2)
        .await
        .unwrap();
    assert_eq!(recv_within(&target, 5000).await.unwrap(), b"first");
    other
        .send_to(&datagram(0, t, b"second port"), relay2)
        .await
        .unwrap();
    named
        .send_to(&datagram(0, t, b"first again"), relay2)
        .await
        .unwrap();
    assert_eq!(recv_within(&target, 5000).await.unwrap(), b"first again");
}

#[tokio::test]
async fn fragments_and_oversize_datagrams_are_dropped() {
    let (logs, _guard) = gost_test_support::Logs::capture();
    let target = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let t = target.local_addr().unwrap();
    let proxy = udp_proxy(Socks5Options {
        udp_buffer_size: 100,
        ..Default::default()
    })
    .await;
    let (_ctl, relay) = associate(proxy.addr, "0.0.0.0:0".parse().unwrap()).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client
        .send_to(&datagram(1, t, b"fragment 1"), relay)
        .await
        .unwrap();
    client
        .send_to(&datagram(0, t, &[7u8; 91]), relay)
        .await
        .unwrap(); // 101 bytes > 100
    client
        .send_to(&datagram(0, t, &[8u8; 90]), relay)
        .await
        .unwrap(); // exactly 100
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
    let proxy = udp_proxy(Socks5Options {
        udp_buffer_size: 100,
        ..Default::default()
    })
    .await;
    let (_ctl, relay) = associate(proxy.addr, "0.0.0.0:0".parse().unwrap()).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client
        .send_to(&datagram(0, target.local_addr().unwrap(), b"hi"), relay)
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let (_, outbound) = timeout(Duration::from_secs(5), target.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
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
    let proxy = udp_proxy(Socks5Options::default()).await;
    let (ctl, relay) = associate(proxy.addr, "0.0.0.0:0".parse().unwrap()).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client
        .send_to(&datagram(0, echo, b"alive"), relay)
        .await
        .unwrap();
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
    let proxy = udp_proxy(Socks5Options {
        udp_idle_timeout: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let (mut ctl, _relay) = associate(proxy.addr, "0.0.0.0:0".parse().unwrap()).await;
    expect_closed(&mut ctl).await;
}

#[tokio::test]
async fn targets_beyond_the_cap_push_out_the_least_recently_used() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let proxy = udp_proxy(Socks5Options {
        udp_max_targets: 1,
        ..Default::default()
    })
    .await;
    let (_ctl, relay) = associate(proxy.addr, "0.0.0.0:0".parse().unwrap()).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut buf = [0u8; 64];
    let mut outbound = None;
    for t in [&a, &b] {
        let to = t.local_addr().unwrap();
        client
            .send_to(&datagram(0, to, b"hello"), relay)
            .await
            .unwrap();
        let (_, from) = timeout(Duration::from_secs(5), t.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        outbound = Some(from);
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
