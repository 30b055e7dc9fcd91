//! `Dialer::handshake`: one transport layered over a stream another one opened (hop N+1 over hop N).

mod common;

use common::*;
use gost_transport::tcp::{TcpDialer, TcpOptions};
use gost_transport::tls::{ClientTls, ServerTls, TlsDialer};
use gost_transport::ws::{self, WsDialer, WsListener, WsOptions};
use gost_transport::{Dialer, Listener};

/// A ws listener on a free loopback port (wss with a self-signed certificate when `tls`) and its
/// address.
async fn ws_listener(tls: bool) -> (WsListener, socks_wire::Address) {
    let tls = tls.then(|| ServerTls::self_signed().unwrap());
    let l = WsListener::bind(
        "127.0.0.1:0",
        TcpOptions::default(),
        WsOptions::default(),
        tls,
    )
    .await
    .unwrap();
    let addr = socks_wire::Address::from(l.local_addr());
    (l, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_over_an_existing_tcp_stream() {
    let (l, addr) = tcp_listener().await;
    let (tcp, accepted) = connect_pair(&l, &TcpDialer::default(), &addr).await;
    let server = ServerTls::self_signed().unwrap();
    let tls = TlsDialer::new(TcpDialer::default(), ClientTls::insecure());
    let (c, s) = tokio::join!(tls.handshake(tcp, &addr), server.accept(accepted));
    let (c, s) = (c.unwrap(), s.unwrap());
    assert!(!c.is_tcp());
    assert_eq!(
        c.peer_addr(),
        Some(l.local_addr()),
        "addresses survive layering"
    );
    bulk_both_ways(c, s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_over_tls_is_wss() {
    // A wss listener, reached by a tls dialer followed by a plain ws handshake over its stream.
    let (l, addr) = ws_listener(true).await;
    let tls = TlsDialer::new(TcpDialer::default(), ClientTls::insecure());
    let ws = WsDialer::new(TcpDialer::default(), WsOptions::default(), None);
    let dial = async {
        let hop = tls.dial(&addr).await?;
        ws.handshake(hop, &addr).await
    };
    let (c, a) = tokio::join!(dial, l.accept());
    bulk_both_ways(c.unwrap(), a.unwrap().0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_over_ws() {
    // TLS inside a WebSocket: the server side runs ServerTls::accept over what the ws listener yields.
    let (l, addr) = ws_listener(false).await;
    let ws = WsDialer::new(TcpDialer::default(), WsOptions::default(), None);
    let tls = TlsDialer::new(TcpDialer::default(), ClientTls::insecure());
    let server = ServerTls::self_signed().unwrap();
    let dial = async {
        let hop = ws.dial(&addr).await?;
        tls.handshake(hop, &addr).await
    };
    let accept = async {
        let (s, _) = l.accept().await?;
        server.accept(s).await
    };
    let (c, s) = tokio::join!(dial, accept);
    let (c, s) = (c.unwrap(), s.unwrap());
    half_close(c, s).await;
}

#[tokio::test]
async fn ws_over_ws() {
    // Nested upgrades over a ws stream, using the free functions.
    let (l, addr) = ws_listener(false).await;
    let outer = WsDialer::new(TcpDialer::default(), WsOptions::default(), None);
    let inner_opts = WsOptions {
        path: "/inner".into(),
        ..WsOptions::default()
    };
    let dial = async {
        let hop = outer.dial(&addr).await?;
        ws::connect(hop, "inner.example:80", &inner_opts).await
    };
    let accept = async {
        let (s, _) = l.accept().await?;
        ws::accept(s, &inner_opts).await
    };
    let (c, s) = tokio::join!(dial, accept);
    half_close(c.unwrap(), s.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_over_ws_over_tls_over_tcp() {
    // Three layers over TCP, each added by `handshake` on what the previous hop returned: the shape
    // of a chain `-F tls://… -F ws://…` whose last node then starts TLS end to end.
    let (l, addr) = ws_listener(true).await;
    let hops: [Box<dyn Dialer>; 3] = [
        Box::new(TlsDialer::new(TcpDialer::default(), ClientTls::insecure())),
        Box::new(WsDialer::new(
            TcpDialer::default(),
            WsOptions::default(),
            None,
        )),
        Box::new(TlsDialer::new(TcpDialer::default(), ClientTls::insecure())),
    ];
    let dial = async {
        let mut s = TcpDialer::default().dial(&addr).await?;
        for hop in &hops {
            s = hop.handshake(s, &addr).await?;
        }
        Ok::<_, gost_transport::Error>(s)
    };
    let innermost = ServerTls::self_signed().unwrap();
    let accept = async {
        let (s, _) = l.accept().await?;
        innermost.accept(s).await
    };
    let (c, s) = tokio::join!(dial, accept);
    let (c, s) = (c.unwrap(), s.unwrap());
    assert_eq!(c.peer_addr(), Some(l.local_addr()));
    bulk_both_ways(c, s).await;
}
