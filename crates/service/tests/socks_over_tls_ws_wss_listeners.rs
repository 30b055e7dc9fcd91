//! The handlers run unchanged on every transport listener: socks5+tls, socks5+ws, socks5+wss, socks4+tls,
//! with the relay falling back from splice(2) to the buffered copy for layered streams; UDP ASSOCIATE and
//! BIND announce reachable addresses taken from the layered connection.

mod common;

use std::net::SocketAddr;

use common::{Running, request, serve_on, tls_listener};
use gost_service::{Handler, Socks4Handler, Socks4Options, Socks5Handler, Socks5Options};
use gost_test_support::echo_server;
use gost_transport::tcp::{TcpDialer, TcpOptions};
use gost_transport::tls::{ClientTls, ServerTls, TlsDialer};
use gost_transport::ws::{WsDialer, WsListener, WsOptions};
use gost_transport::{Dialer, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// SOCKS5 CONNECT to `target` over `s`, then 1 MiB echoed back intact.
async fn socks5_session(mut s: Stream, target: SocketAddr) {
    greet_noauth(&mut s).await;
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

/// `handler` on a TLS listener (self-signed) on 127.0.0.1:0, and a TLS connection to it.
async fn over_tls(handler: impl Handler) -> (Running, Stream) {
    let proxy = serve_on(tls_listener().await, handler).await;
    let dialer = TlsDialer::new(tcp_dialer(), ClientTls::insecure());
    let conn = dialer.dial(&proxy.addr.into()).await.unwrap();
    (proxy, conn)
}

/// `handler` on a ws (or, `secure`, a self-signed wss) listener on 127.0.0.1:0, and a connection.
async fn over_ws(handler: impl Handler, secure: bool) -> (Running, Stream) {
    let tls = secure.then(|| ServerTls::self_signed().unwrap());
    let opts = WsOptions::default();
    let l = WsListener::bind("127.0.0.1:0", TcpOptions::default(), opts.clone(), tls);
    let proxy = serve_on(l.await.unwrap(), handler).await;
    let client_tls = secure.then(ClientTls::insecure);
    let dialer = WsDialer::new(tcp_dialer(), opts, client_tls);
    let conn = dialer.dial(&proxy.addr.into()).await.unwrap();
    (proxy, conn)
}

#[tokio::test]
async fn socks5_over_tls() {
    let echo = echo_server().await;
    let (_proxy, s) = over_tls(Socks5Handler::new(Socks5Options::default())).await;
    socks5_session(s, echo).await;
}

#[tokio::test]
async fn socks5_over_ws_and_wss() {
    let echo = echo_server().await;
    for secure in [false, true] {
        let (_proxy, s) = over_ws(Socks5Handler::new(Socks5Options::default()), secure).await;
        socks5_session(s, echo).await;
    }
}

#[tokio::test]
async fn socks4_over_tls() {
    let echo = echo_server().await;
    let (_proxy, mut s) = over_tls(Socks4Handler::new(Socks4Options::default())).await;
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

/// Reads one IPv4 SOCKS5 reply from `s`: REP and the address.
async fn reply_v4(s: &mut Stream) -> (u8, SocketAddr) {
    let mut r = [0u8; 10];
    s.read_exact(&mut r).await.unwrap();
    assert_eq!((r[0], r[3]), (5, 1), "reply header {r:?}");
    let addr = SocketAddr::from(([r[4], r[5], r[6], r[7]], u16::from_be_bytes([r[8], r[9]])));
    (r[1], addr)
}

async fn greet_noauth(s: &mut Stream) {
    s.write_all(&[5, 1, 0]).await.unwrap();
    s.flush().await.unwrap();
    let mut m = [0u8; 2];
    s.read_exact(&mut m).await.unwrap();
    assert_eq!(m, [5, 0]);
}

/// Greets, sends command `cmd` for 0.0.0.0:0 and checks the reply grants it on 127.0.0.1, the
/// layered connection's local IP; returns the address announced.
async fn granted_on_loopback(s: &mut Stream, cmd: u8) -> SocketAddr {
    greet_noauth(s).await;
    s.write_all(&request(cmd, "0.0.0.0:0".parse().unwrap()))
        .await
        .unwrap();
    s.flush().await.unwrap();
    let (rep, addr) = reply_v4(s).await;
    assert_eq!(
        (rep, addr.ip()),
        (0, std::net::IpAddr::from([127, 0, 0, 1]))
    );
    addr
}

#[tokio::test]
async fn udp_associate_over_wss_and_bind_over_tls() {
    let opts = || Socks5Options {
        udp: true,
        bind: true,
        ..Default::default()
    };
    // UDP ASSOCIATE on a wss control connection: the relay sits on the connection's local IP.
    let (_wss_proxy, mut ctl) = over_ws(Socks5Handler::new(opts()), true).await;
    let relay = granted_on_loopback(&mut ctl, 3).await;
    let echo = gost_test_support::udp_echo().await;
    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut datagram = request(0, echo);
    datagram[..3].copy_from_slice(&[0, 0, 0]);
    datagram.extend_from_slice(b"over wss");
    client.send_to(&datagram, relay).await.unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        client.recv_from(&mut buf),
    )
    .await
    .expect("no UDP answer through the wss association")
    .unwrap();
    assert_eq!(&buf[..n], &datagram[..]);

    // BIND on a tls control connection: a reachable address, then the peer, then data.
    let (_tls_proxy, mut c) = over_tls(Socks5Handler::new(opts())).await;
    let listen = granted_on_loopback(&mut c, 2).await;
    let mut peer = tokio::net::TcpStream::connect(listen).await.unwrap();
    assert_eq!(reply_v4(&mut c).await, (0, peer.local_addr().unwrap()));
    peer.write_all(b"peer over tls").await.unwrap();
    let mut got = [0u8; 13];
    c.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"peer over tls");
}
