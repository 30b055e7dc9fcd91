//! Our client against third-party SOCKS servers (Debian's dante-server and microsocks): tcp forwarding
//! through each (with upstream's default method offer, which includes GOST's TLS methods they ignore),
//! SOCKS4 through dante, udp forwarding with `relay=udp` through dante, rtcp falling back to plain BIND
//! when dante answers MBIND with "command not supported", and a clear error for UDP-TUN.

mod fwd;

use std::net::SocketAddr;
use std::time::Duration;

use fwd::external::{dante, microsocks};
use fwd::{
    Transport, echo_on, echo_through, forward, socks5, tcp_forward_through_each, udp_echoes,
    udp_forward,
};
use gost_service::Socks5Options;
use gost_test_support::{echo_server, free_port};

const FOUR_MIB: usize = 4 << 20;

#[tokio::test]
async fn tcp_forward_through_microsocks() {
    let Some(ms) = microsocks().await else { return };
    let echo = echo_server().await;
    let fwd = forward(
        &format!("tcp://127.0.0.1:0/{echo}"),
        &[format!("socks5://{}", ms.addr)],
    )
    .await;
    // microsocks closes both directions when one side ends: no half-close.
    let peer = tokio::net::TcpStream::connect(fwd.addr).await.unwrap();
    echo_on(peer, FOUR_MIB, 1, false).await;
}

#[tokio::test]
async fn tcp_forward_through_dante_with_socks5_and_socks4() {
    let Some(d) = dante().await else { return };
    let echo = echo_server().await;
    let nodes = [
        format!("socks5://{}", d.addr),
        format!("socks4://{}?disable4a=true", d.addr),
    ];
    tcp_forward_through_each(echo, &nodes, FOUR_MIB).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hops_ours_over_tls_then_dante() {
    let Some(d) = dante().await else { return };
    let echo = echo_server().await;
    let ours = socks5(Transport::Tls, Socks5Options::default()).await;
    let fwd = forward(
        &format!("tcp://127.0.0.1:0/{echo}"),
        &[
            format!("socks5+tls://{}", ours.addr),
            format!("socks5://{}", d.addr),
        ],
    )
    .await;
    echo_through(fwd.addr, FOUR_MIB, 7).await;
}

#[tokio::test]
async fn udp_forward_with_relay_udp_through_dante() {
    let Some(d) = dante().await else { return };
    let echo = gost_test_support::udp_echo().await;
    let (_fwd, c) = udp_forward(
        &format!("udp://127.0.0.1:0/{echo}?keepalive=true&readBufferSize=65535"),
        &[format!("socks5://{}?relay=udp&udpBufferSize=65535", d.addr)],
    )
    .await;
    let datagrams = (0..300).map(|i| {
        let len = [1, 64, 512, 1400, 4096, 30000][i % 6];
        (0..len).map(|j| (i * 13 + j) as u8).collect()
    });
    udp_echoes(&c, datagrams).await;
}

#[tokio::test]
async fn udp_tun_against_dante_says_to_use_relay_udp() {
    let Some(d) = dante().await else { return };
    let (config, _) =
        gost_config::from_cli(&["udp://:0/:53"], &[format!("socks5://{}", d.addr)]).unwrap();
    let router = gost_app::chain::router(&config, config.services[0].chain()).unwrap();
    let e = router.udp().await.unwrap_err();
    assert!(
        matches!(e, gost_chain::Error::HungUp { .. }) && e.to_string().contains("set relay=udp"),
        "{e}"
    );
}

#[tokio::test]
async fn rtcp_over_plain_bind_through_dante() {
    let Some(d) = dante().await else { return };
    let echo = echo_server().await;
    let port = free_port();
    let service = format!("rtcp://127.0.0.1:{port}/{echo}");
    let _rtcp = forward(&service, &[format!("socks5://{}", d.addr)]).await;
    let remote = SocketAddr::from(([127, 0, 0, 1], port));
    // One BIND serves one peer and the next BIND is issued right after it arrives: the port is open to one
    // peer at a time, so each peer retries until it gets through.
    for seed in 0..3 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let peer = loop {
            match tokio::net::TcpStream::connect(remote).await {
                Ok(s) => break s,
                Err(e) => assert!(
                    tokio::time::Instant::now() < deadline,
                    "dante never listened on {remote} for peer {seed}: {e}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        echo_on(peer, 256 * 1024, seed, false).await;
    }
}
