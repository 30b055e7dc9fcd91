//! UDP and remote listeners through chains of several hops over mixed transports: the association or the
//! listener is opened on the last hop, reached through the others (tls, ws, wss), for `udp://` with both
//! UDP-TUN and `relay=udp`, `rtcp://` (MBIND) and `rudp://` (UDP-TUN bind mode). A refusal by the last
//! hop says which server option to turn on.

mod fwd;

use std::net::SocketAddr;
use std::time::Duration;

use fwd::{Transport, concurrent_peers, forward, rtcp_forward, socks5, udp_and_bind, udp_echoes};
use gost_service::Socks5Options;
use gost_test_support::{echo_server, free_port, udp_echo};
use tokio::net::UdpSocket;

fn node(t: Transport, addr: SocketAddr, query: &str) -> String {
    format!("{}://{addr}{query}", t.scheme())
}

/// Sends `count` datagrams of mixed sizes to `to` one at a time and checks every echo.
async fn udp_round_trips(to: SocketAddr, count: usize) {
    let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    c.connect(to).await.unwrap();
    let datagrams = (0..count).map(|i| {
        let len = [3, 700, 1400, 9000, 30000][i % 5];
        (0..len).map(|j| (i * 31 + j) as u8).collect()
    });
    udp_echoes(&c, datagrams).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_forward_through_tls_then_ws_hops_with_udp_tun_and_relay() {
    let echo = udp_echo().await;
    let first = socks5(Transport::Tls, Socks5Options::default()).await;
    let last = socks5(Transport::Ws, udp_and_bind()).await;
    for query in ["", "?relay=udp&udpBufferSize=65535"] {
        let fwd = forward(
            &format!("udp://127.0.0.1:0/{echo}?keepalive=true&readBufferSize=65535"),
            &[
                node(Transport::Tls, first.addr, ""),
                node(Transport::Ws, last.addr, query),
            ],
        )
        .await;
        udp_round_trips(fwd.addr, 100).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtcp_and_rudp_open_their_port_on_the_last_of_three_hops() {
    let first = socks5(Transport::Wss, Socks5Options::default()).await;
    let middle = socks5(Transport::Tcp, Socks5Options::default()).await;
    let last = socks5(Transport::Tls, udp_and_bind()).await;
    let chain = [
        node(Transport::Wss, first.addr, ""),
        node(Transport::Tcp, middle.addr, ""),
        node(Transport::Tls, last.addr, ""),
    ];

    let (_rtcp, remote) = rtcp_forward(echo_server().await, &chain).await;
    concurrent_peers(remote, 10, 128 * 1024).await;

    let uecho = udp_echo().await;
    let uport = free_port();
    let _rudp = forward(&format!("rudp://127.0.0.1:{uport}/{uecho}"), &chain).await;
    let remote = SocketAddr::from(([127, 0, 0, 1], uport));
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut buf = [0u8; 256];
    let mut delivered = 0;
    for round in 0..100u32 {
        let msg = format!("rudp round {round}");
        peer.send_to(msg.as_bytes(), remote).await.unwrap();
        match tokio::time::timeout(Duration::from_millis(200), peer.recv_from(&mut buf)).await {
            Ok(Ok((n, from))) => {
                assert_eq!((from, &buf[..n]), (remote, msg.as_bytes()));
                delivered += 1;
                if delivered == 20 {
                    return;
                }
            }
            // The remote port opens asynchronously; once it works, nothing may be lost on loopback.
            _ => assert_eq!(delivered, 0, "a datagram was lost after the tunnel was up"),
        }
    }
    panic!("only {delivered} datagrams came back through rudp");
}

#[tokio::test]
async fn a_last_hop_without_udp_or_bind_says_what_to_enable() {
    let first = socks5(Transport::Ws, Socks5Options::default()).await;
    let last = socks5(Transport::Tcp, Socks5Options::default()).await;
    for (query, expect) in [
        ("?relay=udp", "start it with udp=true"),
        ("", "start it with udp=true"),
    ] {
        let (config, _) = gost_config::from_cli(
            &["udp://:0/:53"],
            &[
                node(Transport::Ws, first.addr, ""),
                node(Transport::Tcp, last.addr, query),
            ],
        )
        .unwrap();
        let router = gost_app::chain::router(&config, config.services[0].chain()).unwrap();
        let e = router.udp().await.unwrap_err().to_string();
        assert!(e.contains(expect), "{query}: {e}");
        let e = router
            .mux_bind(&":0".parse().unwrap())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("start it with bind=true"), "{e}");
    }
}
