//! Faults behind a running SOCKS5 server: a target that refuses, one that resets mid-stream, one
//! that black-holes the connect (a listener with a full backlog), an upstream hop that dies in the
//! middle of a transfer, and a name that cannot resolve. Each gets the precise reply code or a clean
//! close, and afterwards descriptors and tokio tasks are back to their baseline.

mod adversarial_support;
mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adversarial_support::Fenced;
use common::{read_reply, request, serve, socks5_noauth};
use gost_chain::{
    Chain, Connector, Hop, Node, Router, Selector, Socks5Connector, Socks5ConnectorOptions,
};
use gost_service::ChainOutbound;
use gost_service::socks_wire::Address;
use gost_service::{Direct, Socks5Handler, Socks5Options};
use gost_test_support::echo_server;
use gost_test_support::exchange::echoes;
use gost_test_support::resources::{Footprint, serial};
use gost_transport::tcp::{TcpDialer, TcpOptions};
use gost_transport::tls::ClientTls;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A SOCKS5 server that may dial only `allowed`.
async fn proxy_to(allowed: impl IntoIterator<Item = SocketAddr>) -> common::Running {
    serve(Socks5Handler::with_outbound(
        Socks5Options::default(),
        Fenced::new(allowed),
    ))
    .await
}

/// Everything until the peer closes; a reset counts as a close. Panics after 5 s.
async fn until_closed(c: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = c.read(&mut buf).await {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the connection was not closed");
    out
}

/// `times` clients in turn send `req` to `proxy`: each must get the reply code `rep`, then a close
/// with nothing more; afterwards descriptors and tasks are back to where they were.
async fn refused_every_time(proxy: SocketAddr, req: &[u8], rep: u8, times: usize) {
    let before = Footprint::now();
    for i in 0..times {
        let mut c = socks5_noauth(proxy).await;
        c.write_all(req).await.unwrap();
        assert_eq!(read_reply(&mut c).await.0, rep, "client {i}");
        assert!(until_closed(&mut c).await.is_empty(), "client {i}");
    }
    let what = format!("{times} refusals with {rep:#04x}");
    before.wait_back(Duration::from_secs(5), &what).await;
}

#[test]
fn refused_target_gets_0x05() {
    serial(1, async {
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = closed.local_addr().unwrap();
        drop(closed);
        let proxy = proxy_to([target]).await;
        refused_every_time(proxy.addr, &request(1, target), 0x05, 20).await;
    });
}

#[test]
fn target_reset_mid_stream_closes_the_client_cleanly() {
    serial(1, async {
        // A target that sends a little, then aborts its connection (RST via SO_LINGER 0).
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 5];
                    if s.read_exact(&mut buf).await.is_ok() {
                        let _ = s.write_all(b"partial").await;
                        let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                    }
                });
            }
        });
        let proxy = proxy_to([target]).await;
        let before = Footprint::now();
        for _ in 0..20 {
            let mut c = socks5_noauth(proxy.addr).await;
            c.write_all(&request(1, target)).await.unwrap();
            assert_eq!(read_reply(&mut c).await.0, 0);
            c.write_all(b"hello").await.unwrap();
            let got = until_closed(&mut c).await;
            assert!(b"partial".starts_with(&got), "{got:02x?}");
            // Writing after the target vanished must fail or be discarded, never hang.
            let _ = tokio::time::timeout(Duration::from_secs(5), c.write_all(&[0; 65536]))
                .await
                .expect("write after the reset hung");
        }
        before
            .wait_back(Duration::from_secs(5), "reset targets")
            .await;
    });
}

/// A listener whose accept queue is full (it never accepts): further SYNs go unanswered, so a
/// connect to it times out, all on loopback.
fn black_hole() -> (socket2::Socket, Vec<std::net::TcpStream>, SocketAddr) {
    use socket2::{Domain, Socket, Type};
    let l = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    l.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    l.listen(0).unwrap();
    let addr = l.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    loop {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => fillers.push(s),
            Err(_) => break,
        }
        assert!(fillers.len() < 64, "the backlog never filled up");
    }
    (l, fillers, addr)
}

#[test]
fn black_holed_target_times_out_with_0x06() {
    serial(1, async {
        let (_listener, _fillers, target) = black_hole();
        // The fence's direct outbound gives up connecting after 500 ms.
        let proxy = proxy_to([target]).await;
        let before = Footprint::now();
        let started = Instant::now();
        let mut c = socks5_noauth(proxy.addr).await;
        c.write_all(&request(1, target)).await.unwrap();
        assert_eq!(
            read_reply(&mut c).await.0,
            0x06,
            "TTL expired = connect timeout"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(until_closed(&mut c).await.is_empty());
        drop(c);
        before
            .wait_back(Duration::from_secs(5), "black-holed target")
            .await;
    });
}

#[test]
fn unresolvable_name_gets_0x04_without_leaving_the_host() {
    serial(1, async {
        // A 64-byte label is invalid DNS: the C library rejects it before building a query, so this
        // exercises the real resolver path without a packet leaving the host (an `.invalid` name alone
        // would be sent to the configured name server).
        let name = format!("{}.invalid", "a".repeat(64));
        let proxy = serve(Socks5Handler::with_outbound(
            Socks5Options::default(),
            Arc::new(Direct::new(Duration::from_secs(2))),
        ))
        .await;
        let mut req = vec![5, 1, 0, 3, name.len() as u8];
        req.extend_from_slice(name.as_bytes());
        req.extend_from_slice(&80u16.to_be_bytes());
        // 0x04: host unreachable.
        refused_every_time(proxy.addr, &req, 0x04, 5).await;
    });
}

#[test]
fn upstream_hop_dying_mid_transfer_closes_the_client_and_frees_everything() {
    serial(2, async {
        let echo = echo_server().await;
        let hop = proxy_to([echo]).await;
        let outbound = Arc::new(ChainOutbound::new(one_hop_router(hop.addr)));
        let front = serve(Socks5Handler::with_outbound(
            Socks5Options::default(),
            outbound,
        ))
        .await;
        let before = Footprint::now();

        let mut clients = Vec::new();
        for _ in 0..8 {
            let mut c = socks5_noauth(front.addr).await;
            c.write_all(&request(1, echo)).await.unwrap();
            assert_eq!(read_reply(&mut c).await.0, 0);
            echoes(&mut c, &[7; 10_000]).await;
            clients.push(c);
        }
        // The hop goes away (its service is cancelled and its connections cut after 100 ms) while
        // every client is still sending.
        drop(hop);
        for mut c in clients {
            let _ = c.write_all(&[9; 10_000]).await;
            let rest = until_closed(&mut c).await;
            assert!(rest.iter().all(|&b| b == 9), "only echoed bytes arrive");
        }
        // The hop's own tasks and sockets are gone too, so the count may end below the baseline.
        before
            .wait_back(Duration::from_secs(5), "after the hop died")
            .await;
        drop(front);
    });
}

/// A router through one SOCKS5 node at `node` offering only "no authentication" (`-F
/// socks5://node?notls=true`), over plain TCP.
fn one_hop_router(node: SocketAddr) -> Router {
    let opts = Socks5ConnectorOptions {
        notls: true,
        ..Default::default()
    };
    let connector = Connector::Socks5(Socks5Connector::new(opts, None, ClientTls::insecure()));
    let dialer = Arc::new(TcpDialer::new(TcpOptions::default()));
    let node = Node::new("node-0", Address::from(node), connector, dialer);
    let hop = Hop::new("hop-0", vec![node], Selector::default()).unwrap();
    Router::new(Some(Chain::new("chain-0", vec![hop]).unwrap()))
}
