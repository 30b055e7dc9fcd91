//! ws and wss listeners and dialers: bulk transfer, concurrency, half-close, and what a user sees when the
//! upgrade is rejected.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{Bytes, Message};

use common::*;
use gost_test_support::http_exchange;
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
) -> (WsListener, WsDialer, socks_wire::Address) {
    let tls = secure.then(|| ServerTls::self_signed().unwrap());
    let l = WsListener::bind("127.0.0.1:0", TcpOptions::default(), server, tls)
        .await
        .unwrap();
    let d = WsDialer::new(
        TcpDialer::default(),
        client,
        secure.then(ClientTls::insecure),
    );
    let addr = socks_wire::Address::from(l.local_addr());
    (l, d, addr)
}

async fn default_setup(secure: bool) -> (WsListener, WsDialer, socks_wire::Address) {
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
    let (l, _d, _) = default_setup(false).await;
    let resp = http_exchange(l.local_addr(), "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(resp.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{resp}");
    drop(l);
}

#[tokio::test]
async fn server_that_is_not_websocket_is_reported() {
    // A TCP server answering like a plain web server.
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = socks_wire::Address::from(tcp.local_addr().unwrap());
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

/// A ws dialer with client pings every `interval`.
fn pinging_dialer(interval: Duration) -> WsDialer {
    let opts = WsOptions {
        keepalive: Some(interval),
        ..WsOptions::default()
    };
    WsDialer::new(TcpDialer::default(), opts, None)
}

#[tokio::test]
async fn keepalive_pings_keep_a_quiet_connection_alive() {
    // The server is tungstenite (answers pings like gorilla) and says something only after 3 pings.
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = socks_wire::Address::from(tcp.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (s, _) = tcp.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(s).await.unwrap();
        let mut pings = 0;
        // Ends with an error when the client closes the TCP connection without a Close frame.
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Ping(p) = msg {
                assert!(p.is_empty());
                pings += 1;
                if pings == 3 {
                    ws.send(Message::binary(&b"still here"[..])).await.unwrap();
                }
            }
        }
        pings
    });
    // Generous against a loaded machine: a pong later than two intervals would fail the test.
    let interval = Duration::from_millis(250);
    let mut c = pinging_dialer(interval).dial(&addr).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 10];
    c.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"still here");
    // Three intervals passed in silence but for pongs: the pongs kept the connection up.
    assert!(started.elapsed() >= 3 * interval, "{:?}", started.elapsed());
    drop(c);
    assert!(server.await.unwrap() >= 3);
}

#[tokio::test]
async fn keepalive_detects_a_silent_peer() {
    // A server that upgrades and then neither reads nor writes anything.
    let (l, _d, addr) = default_setup(false).await;
    let accept = tokio::spawn(async move { l.accept().await.unwrap().0 });
    let interval = Duration::from_millis(100);
    let mut c = pinging_dialer(interval).dial(&addr).await.unwrap();
    let _server_stream = accept.await.unwrap();
    let started = Instant::now();
    let e = c.read(&mut [0u8; 16]).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
    assert!(
        e.to_string().starts_with("ws keepalive: nothing received"),
        "{e}"
    );
    assert!(
        took >= 2 * interval && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[tokio::test]
async fn pings_are_answered_and_a_close_frame_is_eof() {
    let (l, _d, addr) = default_setup(false).await;
    let tcp = tokio::net::TcpStream::connect(addr.to_string())
        .await
        .unwrap();
    let url = format!("ws://{addr}/ws");
    let (client, accepted) = tokio::join!(tokio_tungstenite::client_async(url, tcp), l.accept());
    let (mut peer, _) = client.unwrap();
    let (mut ours, _) = accepted.unwrap();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        ours.read_to_end(&mut got).await.unwrap();
        got
    });
    peer.send(Message::Ping(Bytes::from_static(b"are you there")))
        .await
        .unwrap();
    assert_eq!(
        peer.next().await.unwrap().unwrap(),
        Message::Pong(Bytes::from_static(b"are you there"))
    );
    peer.send(Message::binary(&b"bye"[..])).await.unwrap();
    peer.close(None).await.unwrap();
    // Our side answers the Close and reports a clean end of stream after the data.
    match peer.next().await {
        Some(Ok(Message::Close(_))) | None => {}
        Some(Ok(other)) => panic!("unexpected {other:?}"),
        Some(Err(e)) => panic!("{e}"),
    }
    assert_eq!(reader.await.unwrap(), b"bye");
}

#[tokio::test]
async fn every_upgrade_has_a_deadline() {
    let timeout = Duration::from_millis(200);
    let opts = WsOptions {
        handshake_timeout: timeout,
        ..WsOptions::default()
    };
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = socks_wire::Address::from(tcp.local_addr().unwrap());

    // Client side: the server accepts the TCP connection and never answers the upgrade.
    let d = WsDialer::new(TcpDialer::default(), opts.clone(), None);
    let (dialed, accepted) = tokio::join!(d.dial(&addr), tcp.accept());
    expect_handshake_timeout(&dialed.unwrap_err(), "ws");
    drop(accepted);

    // Server side: a client that connects and sends half a request.
    let (client, accepted) = tokio::join!(
        tokio::net::TcpStream::connect(addr.to_string()),
        tcp.accept()
    );
    let mut client = client.unwrap();
    client.write_all(b"GET /ws HTTP/1.1\r\n").await.unwrap();
    let s = gost_transport::Stream::from_tcp(accepted.unwrap().0);
    let started = Instant::now();
    let e = gost_transport::ws::accept(s, &opts).await.unwrap_err();
    expect_handshake_timeout(&e, "ws");
    assert!(started.elapsed() >= timeout);
    assert_eq!(e.io_kind(), Some(std::io::ErrorKind::TimedOut));
}
