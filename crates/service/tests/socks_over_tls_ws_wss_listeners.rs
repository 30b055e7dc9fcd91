//! The handlers run unchanged on every transport listener: socks5+tls, socks5+ws, socks5+wss, socks4+tls,
//! with the relay falling back from splice(2) to the buffered copy for layered streams.

mod common;

use std::net::SocketAddr;

use common::{echo_server, request, serve_on};
use gost_service::{Socks4Handler, Socks4Options, Socks5Handler, Socks5Options};
use gost_transport::tcp::{TcpDialer, TcpOptions};
use gost_transport::tls::{ClientTls, ServerTls, TlsDialer, TlsListener};
use gost_transport::ws::{WsDialer, WsListener, WsOptions};
use gost_transport::{Dialer, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// SOCKS5 CONNECT to `target` over `s`, then 1 MiB echoed back intact.
async fn socks5_session(mut s: Stream, target: SocketAddr) {
    s.write_all(&[5, 1, 0]).await.unwrap();
    s.flush().await.unwrap();
    let mut m = [0u8; 2];
    s.read_exact(&mut m).await.unwrap();
    assert_eq!(m, [5, 0]);
    s.write_all(&request(1, target)).await.unwrap();
    s.flush().await.unwrap();
    let mut r = [0u8; 10];
    s.read_exact(&mut r).await.unwrap();
    assert_eq!(r[1], 0, "CONNECT reply");
    echo_mib(s).await;
}

async fn echo_mib(s: Stream) {
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 253) as u8).collect();
    let (mut rd, mut wr) = tokio::io::split(s);
    let expected = data.clone();
    let writer = tokio::spawn(async move {
        wr.write_all(&data).await.unwrap();
        wr.flush().await.unwrap();
        wr
    });
    let mut got = vec![0u8; expected.len()];
    rd.read_exact(&mut got).await.unwrap();
    assert!(
        got == expected,
        "echo through the layered transport differs"
    );
    drop(writer.await.unwrap());
}

fn tcp_dialer() -> TcpDialer {
    TcpDialer::new(TcpOptions::default())
}

#[tokio::test]
async fn socks5_over_tls() {
    let echo = echo_server().await;
    let l = TlsListener::bind(
        "127.0.0.1:0",
        TcpOptions::default(),
        ServerTls::self_signed().unwrap(),
    )
    .await
    .unwrap();
    let proxy = serve_on(l, Socks5Handler::new(Socks5Options::default())).await;
    let dialer = TlsDialer::new(tcp_dialer(), ClientTls::insecure());
    let s = dialer.dial(&proxy.addr.to_string()).await.unwrap();
    socks5_session(s, echo).await;
}

#[tokio::test]
async fn socks5_over_ws_and_wss() {
    let echo = echo_server().await;
    for tls in [None, Some(ServerTls::self_signed().unwrap())] {
        let secure = tls.is_some();
        let l = WsListener::bind(
            "127.0.0.1:0",
            TcpOptions::default(),
            WsOptions::default(),
            tls,
        )
        .await
        .unwrap();
        let proxy = serve_on(l, Socks5Handler::new(Socks5Options::default())).await;
        let client_tls = secure.then(ClientTls::insecure);
        let dialer = WsDialer::new(tcp_dialer(), WsOptions::default(), client_tls);
        let s = dialer.dial(&proxy.addr.to_string()).await.unwrap();
        socks5_session(s, echo).await;
    }
}

#[tokio::test]
async fn socks4_over_tls() {
    let echo = echo_server().await;
    let l = TlsListener::bind(
        "127.0.0.1:0",
        TcpOptions::default(),
        ServerTls::self_signed().unwrap(),
    )
    .await
    .unwrap();
    let proxy = serve_on(l, Socks4Handler::new(Socks4Options::default())).await;
    let dialer = TlsDialer::new(tcp_dialer(), ClientTls::insecure());
    let mut s = dialer.dial(&proxy.addr.to_string()).await.unwrap();
    let mut req = vec![4, 1];
    req.extend_from_slice(&echo.port().to_be_bytes());
    req.extend_from_slice(&[127, 0, 0, 1, 0]);
    s.write_all(&req).await.unwrap();
    s.flush().await.unwrap();
    let mut r = [0u8; 8];
    s.read_exact(&mut r).await.unwrap();
    assert_eq!(r, [0, 0x5A, 0, 0, 0, 0, 0, 0]);
    echo_mib(s).await;
}
