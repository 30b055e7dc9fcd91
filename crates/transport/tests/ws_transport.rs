//! ws and wss listeners and dialers: bulk transfer, concurrency, half-close, and what a user sees when the
//! upgrade is rejected.

mod common;

use std::sync::Arc;

use common::*;
use gost_transport::tcp::{TcpDialer, TcpOptions};
use gost_transport::tls::{ClientTls, ServerTls};
use gost_transport::ws::{WsDialer, WsListener, WsOptions};
use gost_transport::{Dialer, Error, Listener};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A listener and a matching dialer; `secure` makes them wss.
async fn setup(
    secure: bool,
    server: WsOptions,
    client: WsOptions,
) -> (WsListener, WsDialer, String) {
    let tls = secure.then(|| ServerTls::self_signed().unwrap());
    let l = WsListener::bind("127.0.0.1:0", TcpOptions::default(), server, tls)
        .await
        .unwrap();
    let d = WsDialer::new(
        TcpDialer::default(),
        client,
        secure.then(ClientTls::insecure),
    );
    let addr = l.local_addr().to_string();
    (l, d, addr)
}

async fn default_setup(secure: bool) -> (WsListener, WsDialer, String) {
    setup(secure, WsOptions::default(), WsOptions::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_sixteen_mib_each_way_arrive_intact() {
    let (l, d, addr) = default_setup(false).await;
    let (c, s) = connect_pair(&l, &d, &addr).await;
    assert_eq!(c.peer_addr(), Some(l.local_addr()));
    assert_eq!(s.local_addr(), Some(l.local_addr()));
    bulk_both_ways(c, s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_sixteen_mib_each_way_arrive_intact() {
    let (l, d, addr) = default_setup(true).await;
    let (c, s) = connect_pair(&l, &d, &addr).await;
    bulk_both_ways(c, s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_hundred_concurrent_connections() {
    let (l, d, addr) = default_setup(false).await;
    concurrent_echo(Arc::new(l), Arc::new(d), addr, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_hundred_concurrent_connections() {
    let (l, d, addr) = default_setup(true).await;
    concurrent_echo(Arc::new(l), Arc::new(d), addr, 100).await;
}

#[tokio::test]
async fn half_close_propagates_both_ways() {
    for secure in [false, true] {
        let (l, d, addr) = default_setup(secure).await;
        let (c, s) = connect_pair(&l, &d, &addr).await;
        half_close(c, s).await;
        let (c, s) = connect_pair(&l, &d, &addr).await;
        half_close(s, c).await;
    }
}

#[tokio::test]
async fn wrong_path_is_rejected_with_404() {
    for secure in [false, true] {
        let client = WsOptions {
            path: "/other".into(),
            ..WsOptions::default()
        };
        let (l, d, addr) = setup(secure, WsOptions::default(), client).await;
        let e = d.dial(&addr).await.unwrap_err();
        assert!(matches!(e, Error::WsRejected { status: 404 }), "{e:?}");
        assert_eq!(e.to_string(), "ws upgrade rejected: HTTP 404");
        // The listener keeps serving the right path.
        let (c, s) = connect_pair(&l, &default_setup(secure).await.1, &addr).await;
        half_close(c, s).await;
    }
}

#[tokio::test]
async fn custom_path_host_and_headers() {
    let server = WsOptions {
        path: "/tunnel".into(),
        headers: vec![("X-Served-By".into(), "gost-rs".into())],
        ..WsOptions::default()
    };
    let client = WsOptions {
        path: "/tunnel".into(),
        host: Some("front.example:443".into()),
        headers: vec![("x-token".into(), "t".into())],
        ..WsOptions::default()
    };
    let (l, d, addr) = setup(false, server, client).await;
    let (c, s) = connect_pair(&l, &d, &addr).await;
    half_close(c, s).await;
}

#[tokio::test]
async fn plain_http_request_gets_an_http_error() {
    let (l, _d, addr) = default_setup(false).await;
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{resp}");
    drop(l);
}

#[tokio::test]
async fn server_that_is_not_websocket_is_reported() {
    // A TCP server answering like a plain web server.
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let (mut s, _) = tcp.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf).await.unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
    });
    let d = WsDialer::new(TcpDialer::default(), WsOptions::default(), None);
    let e = d.dial(&addr).await.unwrap_err();
    assert_eq!(e.to_string(), "ws upgrade rejected: HTTP 200");
    server.await.unwrap();
}
