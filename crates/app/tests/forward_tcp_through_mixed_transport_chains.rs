//! `tcp://:L/target` forwards 16 MiB intact directly and through chains of 1, 2 and 3 hops mixing tcp,
//! tls, ws and wss transports and SOCKS5's in-band TLS; several targets are used round-robin; our SOCKS5
//! server is reached with credentials over methods 0x82 and 0x02, our SOCKS4 server with a user id in 4A
//! and plain form.

mod fwd;

use std::sync::atomic::Ordering::SeqCst;

use fwd::{Transport, echo_through, forward, socks4, socks5, tcp_forward_through_each};
use gost_service::{Socks4Options, Socks5Options, Users};
use gost_test_support::{counting_echo_server, echo_server};
use gost_transport::tls::ServerTls;

const SIXTEEN_MIB: usize = 16 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_mib_through_one_two_and_three_hops() {
    let echo = echo_server().await;
    let in_band_tls = Socks5Options {
        tls: Some(ServerTls::self_signed().unwrap()),
        ..Default::default()
    };
    let tcp = socks5(Transport::Tcp, in_band_tls).await;
    let tls = socks5(Transport::Tls, Socks5Options::default()).await;
    let ws = socks5(Transport::Ws, Socks5Options::default()).await;
    let wss = socks5(Transport::Wss, Socks5Options::default()).await;
    let node = |t: Transport, addr: std::net::SocketAddr| format!("{}://{addr}", t.scheme());
    let chains = [
        vec![],
        vec![node(Transport::Tcp, tcp.addr)],
        vec![node(Transport::Tls, tls.addr), node(Transport::Ws, ws.addr)],
        vec![
            node(Transport::Wss, wss.addr),
            node(Transport::Tcp, tcp.addr),
            node(Transport::Tls, tls.addr),
        ],
    ];
    for (i, chain) in chains.iter().enumerate() {
        let fwd = forward(&format!("tcp://127.0.0.1:0/{echo}"), chain).await;
        echo_through(fwd.addr, SIXTEEN_MIB, i as u8).await;
    }
}

#[tokio::test]
async fn empty_target_host_is_the_servers_loopback_and_targets_rotate() {
    let ((a, a_count), (b, b_count)) = (counting_echo_server().await, counting_echo_server().await);
    let hop = socks5(Transport::Tcp, Socks5Options::default()).await;
    // `:port` means the last hop's own 127.0.0.1, as with upstream.
    let fwd = forward(
        &format!("tcp://127.0.0.1:0/:{},127.0.0.1:{}", a.port(), b.port()),
        &[format!("socks5://{}?notls=true", hop.addr)],
    )
    .await;
    for seed in 0..4 {
        echo_through(fwd.addr, 4096, seed).await;
    }
    assert_eq!((a_count.load(SeqCst), b_count.load(SeqCst)), (2, 2));
}

#[tokio::test]
async fn credentials_with_and_without_in_band_tls_and_socks4_user_ids() {
    let echo = echo_server().await;
    let users = || Users::new([("alice", "s3cret")]);
    // Offer 00 02 80 82: our server with TLS picks 0x82 (TLS, then RFC 1929 inside it).
    let tls_auth = socks5(
        Transport::Tcp,
        Socks5Options {
            users: users(),
            tls: Some(ServerTls::self_signed().unwrap()),
            ..Default::default()
        },
    )
    .await;
    // notls: offer 00 02, the server picks 0x02.
    let plain_auth = socks5(
        Transport::Tcp,
        Socks5Options {
            users: users(),
            ..Default::default()
        },
    )
    .await;
    let s4 = socks4(Socks4Options {
        users: Users::new([("alice", "")]),
        ..Default::default()
    })
    .await;
    let nodes = [
        format!("socks5://alice:s3cret@{}", tls_auth.addr),
        format!("socks5://alice:s3cret@{}?notls=true", plain_auth.addr),
        format!("socks4://alice@{}", s4.addr),
        format!("socks4://alice@{}?disable4a=true", s4.addr),
    ];
    tcp_forward_through_each(echo, &nodes, 1 << 20).await;
    // A wrong password is a clear handshake error, not a hang.
    let (config, _) = gost_config::from_cli(
        &["tcp://:0/:1"],
        &[format!(
            "socks5://alice:wrong@{}?notls=true",
            plain_auth.addr
        )],
    )
    .unwrap();
    let router = gost_app::chain::router(&config, config.services[0].chain()).unwrap();
    let e = router.dial(&echo.into()).await.unwrap_err();
    assert!(matches!(e, gost_chain::Error::Handshake { .. }), "{e}");
}
