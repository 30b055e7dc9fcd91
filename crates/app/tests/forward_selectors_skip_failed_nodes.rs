//! A hop of several nodes picks one per connection with upstream's strategies (`round`, `random`,
//! `fifo`), and failure marking skips a node that failed `maxFails` times until `failTimeout` has passed.
//! Every selector here comes from `-F` query parameters, as on upstream's command line.

mod fwd;

use std::net::SocketAddr;
use std::time::Duration;

use fwd::{Cutter, Transport, socks5};
use gost_chain::Router;
use gost_service::Socks5Options;
use gost_test_support::{echo_server, free_port};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A router through one hop of `nodes` with the selector `query`.
fn router(nodes: &[SocketAddr], query: &str) -> Router {
    let list: Vec<String> = nodes.iter().map(ToString::to_string).collect();
    let node = format!("socks5://{}?notls=true&{query}", list.join(","));
    let (config, _) = gost_config::from_cli(&["tcp://127.0.0.1:0/:1"], &[node]).unwrap();
    gost_app::chain::router(&config, config.services[0].chain()).unwrap()
}

/// Dials `echo` through `router` and checks a short echo; false when the dial failed.
async fn dial_ok(router: &Router, echo: SocketAddr) -> bool {
    let Ok(mut s) = router.dial(&echo.into()).await else {
        return false;
    };
    s.write_all(b"sel").await.unwrap();
    let mut buf = [0u8; 3];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"sel");
    true
}

/// Three of our servers, each behind a counting relay.
async fn three_nodes() -> (Vec<fwd::Running>, Vec<Cutter>) {
    let mut servers = Vec::new();
    let mut counters = Vec::new();
    for _ in 0..3 {
        let s = socks5(Transport::Tcp, Socks5Options::default()).await;
        counters.push(Cutter::start(s.addr).await);
        servers.push(s);
    }
    (servers, counters)
}

fn counts(counters: &[Cutter]) -> Vec<usize> {
    counters.iter().map(Cutter::relayed).collect()
}

/// A loopback address where nothing listens: dials to it are refused.
fn dead_node() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

#[tokio::test]
async fn round_robin_spreads_and_random_uses_every_node() {
    let echo = echo_server().await;
    let (_servers, counters) = three_nodes().await;
    let addrs: Vec<SocketAddr> = counters.iter().map(|c| c.addr).collect();
    let rr = router(&addrs, "strategy=round");
    for _ in 0..6 {
        assert!(dial_ok(&rr, echo).await);
    }
    assert_eq!(counts(&counters), [2, 2, 2]);

    let (_servers, counters) = three_nodes().await;
    let addrs: Vec<SocketAddr> = counters.iter().map(|c| c.addr).collect();
    let random = router(&addrs, "strategy=random");
    for _ in 0..60 {
        assert!(dial_ok(&random, echo).await);
    }
    let c = counts(&counters);
    assert_eq!(c.iter().sum::<usize>(), 60);
    assert!(
        c.iter().all(|&n| n > 0),
        "random never picked a node: {c:?}"
    );
}

#[tokio::test]
async fn a_failed_node_is_skipped_after_max_fails_until_fail_timeout() {
    let echo = echo_server().await;
    let (_servers, counters) = three_nodes().await;
    let live = [counters[0].addr, counters[1].addr];
    // maxFails=2: the dead node is tried twice (round robin alternates), then skipped.
    let rr = router(
        &[dead_node(), live[0], live[1]],
        "strategy=round&maxFails=2&failTimeout=60s",
    );
    let mut failed = 0;
    for _ in 0..12 {
        if !dial_ok(&rr, echo).await {
            failed += 1;
        }
    }
    assert_eq!(failed, 2, "the dead node is tried exactly maxFails times");

    // fifo always takes the first available node; after failTimeout the failed one is tried again.
    let fifo = router(
        &[dead_node(), counters[2].addr],
        "strategy=fifo&maxFails=1&failTimeout=300ms",
    );
    let before_failure = tokio::time::Instant::now();
    assert!(
        !dial_ok(&fifo, echo).await,
        "first pick is the (dead) first node"
    );
    for _ in 0..5 {
        assert!(
            dial_ok(&fifo, echo).await,
            "the failed first node is skipped"
        );
    }
    assert_eq!(counters[2].relayed(), 5);
    // Dial until the first node is tried (and fails) again: never before failTimeout, soon after it.
    while dial_ok(&fifo, echo).await {
        assert!(
            before_failure.elapsed() < Duration::from_secs(5),
            "the failed first node was never tried again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        before_failure.elapsed() >= Duration::from_millis(300),
        "the failed first node was tried again before failTimeout"
    );
    assert!(dial_ok(&fifo, echo).await);
}
