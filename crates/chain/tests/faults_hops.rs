//! Faults on the client side of a chain: a dead node in a multi-node hop (the selector moves on and
//! retries it only after `failTimeout`), a hop that black-holes the handshake (the dial times out),
//! a hop that answers garbage, and a hop that dies in the middle of a transfer (the caller sees the
//! stream end). No panic, and every descriptor is released.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gost_chain::{
    Chain, Connector, Node, Router, Selector, Socks4Connector, Socks5Connector,
    Socks5ConnectorOptions, Strategy,
};
use gost_test_support::resources::{fd_count, fd_targets, serial};
use gost_transport::tcp::{TcpDialer, TcpOptions};
use gost_transport::tls::ClientTls;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Polls until the descriptor count is back to `baseline` (at most 5 s).
async fn fds_back_to(baseline: usize, what: &str) {
    let start = Instant::now();
    while fd_count() > baseline {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{what}: {} descriptors open, {baseline} before: {:?}",
            fd_count(),
            fd_targets()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How a test hop behaves after accepting a connection.
#[derive(Clone, Copy)]
enum Hop {
    /// SOCKS5 without auth; after a successful CONNECT reply it echoes, at most `limit` bytes, then
    /// drops the connection.
    Echo { limit: usize },
    /// Accepts and never says anything.
    Silent,
    /// Answers the greeting with garbage.
    Garbage,
}

/// Serves `hop` on 127.0.0.1; returns its address.
async fn hop(kind: Hop) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(serve_one(s, kind));
        }
    });
    addr
}

async fn serve_one(mut s: TcpStream, kind: Hop) {
    let limit = match kind {
        Hop::Silent => {
            let mut sink = [0u8; 256];
            while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
            return;
        }
        Hop::Garbage => {
            let _ = s.write_all(&[0xFF; 16]).await;
            return;
        }
        Hop::Echo { limit } => limit,
    };
    let mut head = [0u8; 2];
    if s.read_exact(&mut head).await.is_err() {
        return;
    }
    let mut methods = vec![0u8; usize::from(head[1])];
    if s.read_exact(&mut methods).await.is_err() || s.write_all(&[5, 0]).await.is_err() {
        return;
    }
    // CONNECT request: VER CMD RSV ATYP, then the address.
    let mut req = [0u8; 4];
    if s.read_exact(&mut req).await.is_err() {
        return;
    }
    let addr_len = match req[3] {
        1 => 4,
        4 => 16,
        _ => match s.read_u8().await {
            Ok(n) => usize::from(n),
            Err(_) => return,
        },
    };
    let mut rest = vec![0u8; addr_len + 2];
    if s.read_exact(&mut rest).await.is_err() {
        return;
    }
    if s.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 80])
        .await
        .is_err()
    {
        return;
    }
    let mut echoed = 0;
    let mut buf = [0u8; 4096];
    while echoed < limit {
        let n = match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n.min(limit - echoed),
        };
        if s.write_all(&buf[..n]).await.is_err() {
            return;
        }
        echoed += n;
    }
    // Dies: the connection is dropped with whatever the client still sends unread.
}

/// A SOCKS5 node at `addr` (upstream `-F socks5://addr`, `?notls=true` with `notls`, `?timeout=`).
fn socks5(addr: SocketAddr, notls: bool, timeout: Option<Duration>) -> Node {
    let opts = Socks5ConnectorOptions {
        notls,
        timeout,
        ..Default::default()
    };
    let connector = Socks5Connector::new(opts, None, ClientTls::insecure());
    node(addr, Connector::Socks5(connector))
}

/// A SOCKS4 node at `addr` (`-F socks4://addr`).
fn socks4(addr: SocketAddr) -> Node {
    node(
        addr,
        Connector::Socks4(Socks4Connector::new(Default::default(), "")),
    )
}

fn node(addr: SocketAddr, connector: Connector) -> Node {
    let tcp = Arc::new(TcpDialer::new(TcpOptions::default()));
    Node::new(addr.to_string(), addr.into(), connector, tcp)
}

/// A one-hop chain of `nodes` picked by `selector`.
fn router(nodes: Vec<Node>, selector: Selector, timeout: Duration) -> Router {
    let hop = gost_chain::Hop::new("hop-0", nodes, selector).unwrap();
    Router::new(Some(Chain::new("chain-0", vec![hop]).unwrap())).with_timeout(timeout)
}

async fn echo_once(router: &Router) -> Result<(), gost_chain::Error> {
    let mut s = router.dial(&"127.0.0.1:9".parse().unwrap()).await?;
    s.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    Ok(())
}

#[test]
fn dead_node_is_skipped_until_its_fail_timeout() {
    serial(1, async {
        let live = hop(Hop::Echo { limit: usize::MAX }).await;
        let dead = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        let fail_timeout = Duration::from_millis(400);
        // -F "socks5://{dead},{live}?notls=true&strategy=round&maxFails=1&failTimeout=400ms"
        let r = router(
            vec![socks5(dead, true, None), socks5(live, true, None)],
            Selector::new(Strategy::RoundRobin, 1, fail_timeout),
            Duration::from_secs(2),
        );
        let baseline = fd_count();
        let before_failure = tokio::time::Instant::now();
        let mut failures = 0;
        for _ in 0..20 {
            if echo_once(&r).await.is_err() {
                failures += 1;
            }
        }
        assert_eq!(failures, 1, "the dead node is tried once, then skipped");
        // Once failTimeout has passed the node is given another chance (and fails once more): dial until
        // that happens, which must not be before failTimeout.
        while echo_once(&r).await.is_ok() {
            assert!(
                before_failure.elapsed() < Duration::from_secs(5),
                "the dead node was never tried again"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            before_failure.elapsed() >= fail_timeout,
            "the dead node was tried again before failTimeout"
        );
        let mut failures = 0;
        for _ in 0..20 {
            if echo_once(&r).await.is_err() {
                failures += 1;
            }
        }
        assert_eq!(
            failures, 0,
            "retried once after failTimeout, then skipped again"
        );
        fds_back_to(baseline, "dead node").await;
    });
}

#[test]
fn black_holed_hop_times_out() {
    serial(1, async {
        let silent = hop(Hop::Silent).await;
        // The node's `timeout` bounds its handshake (the router's bounds each dial).
        let timeout = Duration::from_millis(300);
        let r = router(
            vec![socks5(silent, true, Some(timeout))],
            Selector::default(),
            timeout,
        );
        let baseline = fd_count();
        for _ in 0..5 {
            let started = Instant::now();
            let err = r
                .dial(&"127.0.0.1:9".parse().unwrap())
                .await
                .expect_err("nothing answers");
            assert!(started.elapsed() < Duration::from_secs(3), "{err}");
            assert!(!err.to_string().is_empty());
        }
        fds_back_to(baseline, "black-holed hop").await;
    });
}

#[test]
fn garbage_from_a_hop_is_an_error() {
    serial(1, async {
        let bad = hop(Hop::Garbage).await;
        for (flag, node) in [
            ("socks5 notls", socks5(bad, true, None)),
            ("socks5", socks5(bad, false, None)),
            ("socks4", socks4(bad)),
        ] {
            let r = router(vec![node], Selector::default(), Duration::from_secs(2));
            let baseline = fd_count();
            let err = r
                .dial(&"127.0.0.1:9".parse().unwrap())
                .await
                .expect_err("garbage reply");
            assert!(!err.to_string().is_empty());
            fds_back_to(baseline, flag).await;
        }
    });
}

#[test]
fn hop_dying_mid_transfer_ends_the_stream() {
    serial(1, async {
        let dying = hop(Hop::Echo { limit: 10_000 }).await;
        let r = router(
            vec![socks5(dying, true, None)],
            Selector::default(),
            Duration::from_secs(2),
        );
        let baseline = fd_count();
        for _ in 0..10 {
            let s = r.dial(&"127.0.0.1:9".parse().unwrap()).await.unwrap();
            let (mut rd, mut wr) = tokio::io::split(s);
            let writer = tokio::spawn(async move {
                // Keeps sending past the point where the hop dies; the write side must fail, not hang.
                for _ in 0..100 {
                    if wr.write_all(&[3; 1000]).await.is_err() {
                        return;
                    }
                }
            });
            let mut got = Vec::new();
            let end = tokio::time::timeout(Duration::from_secs(5), rd.read_to_end(&mut got)).await;
            assert!(end.is_ok(), "the stream did not end when the hop died");
            assert!(got.len() <= 10_000 && got.iter().all(|&b| b == 3));
            tokio::time::timeout(Duration::from_secs(5), writer)
                .await
                .expect("writer hung")
                .unwrap();
        }
        fds_back_to(baseline, "dying hop").await;
    });
}
