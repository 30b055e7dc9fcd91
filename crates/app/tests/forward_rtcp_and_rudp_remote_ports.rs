//! `rtcp://:R/target` opens R on the SOCKS5 server with MBIND: 50 concurrent peers each echo intact; when
//! the control connection is killed, the port is re-opened automatically. `rudp://:R/target` does the
//! same for UDP with UDP-TUN bind mode.

mod fwd;

use std::net::SocketAddr;
use std::time::Duration;

use fwd::{
    Cutter, Transport, concurrent_peers, echo_exchange, forward, rtcp_forward, socks5,
    wait_for_echo,
};
use gost_service::Socks5Options;
use gost_test_support::{echo_server, free_port, udp_echo};
use tokio::net::UdpSocket;

fn bind_enabled() -> Socks5Options {
    Socks5Options {
        bind: true,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_peers_then_the_control_connection_is_rebuilt() {
    let echo = echo_server().await;
    let server = socks5(Transport::Tcp, bind_enabled()).await;
    let cutter = Cutter::start(server.addr).await;
    let (_rtcp, remote) = rtcp_forward(echo, &[format!("socks5://{}", cutter.addr)]).await;
    concurrent_peers(remote, 50, 256 * 1024).await;

    assert!(
        cutter.cut() >= 1,
        "the control connection went through the cutter"
    );
    // Back-off starts at 1 s; the port must come back on its own.
    wait_for_echo(remote, Duration::from_secs(8)).await;
    echo_exchange(remote, 64 * 1024, 99).await;
}

#[tokio::test]
async fn rtcp_reports_a_server_without_bind_and_keeps_retrying() {
    let echo = echo_server().await;
    let server = socks5(Transport::Tcp, Socks5Options::default()).await;
    // Counts the rtcp client's connections to the server: MBIND refused, plain BIND refused, then a retry.
    let front = Cutter::start(server.addr).await;
    let port = free_port();
    let _rtcp = forward(
        &format!("rtcp://127.0.0.1:{port}/{echo}"),
        &[format!("socks5://{}", front.addr)],
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while front.relayed() < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "rtcp did not retry after the refusals ({} connections)",
            front.relayed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
    assert!(
        refused.is_err(),
        "nothing may listen on {port} without bind=true"
    );
}

#[tokio::test]
async fn rudp_tunnels_each_remote_peer_to_the_target() {
    let echo = udp_echo().await;
    let server = socks5(Transport::Tcp, bind_enabled()).await;
    let port = free_port();
    let _rudp = forward(
        &format!("rudp://127.0.0.1:{port}/{echo}"),
        &[format!("socks5://{}", server.addr)],
    )
    .await;
    let remote = SocketAddr::from(([127, 0, 0, 1], port));
    let peers = [
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
    ];
    let mut buf = [0u8; 2048];
    let mut delivered = 0;
    // The remote port opens asynchronously: poll with the first datagram, then exchange in lock-step.
    for round in 0..200u32 {
        for (i, p) in peers.iter().enumerate() {
            let msg = format!("peer {i} round {round}");
            p.send_to(msg.as_bytes(), remote).await.unwrap();
            match tokio::time::timeout(Duration::from_millis(200), p.recv_from(&mut buf)).await {
                Ok(Ok((n, from))) => {
                    assert_eq!(from, remote);
                    assert_eq!(&buf[..n], msg.as_bytes());
                    delivered += 1;
                }
                _ => assert_eq!(delivered, 0, "a datagram was lost after the tunnel was up"),
            }
        }
        if delivered >= 100 {
            return;
        }
    }
    panic!("only {delivered} datagrams came back through rudp");
}
