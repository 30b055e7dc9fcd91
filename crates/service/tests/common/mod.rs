//! Fixtures of the handler tests: a handler served on loopback, and a raw SOCKS5 client's greeting,
//! request and reply. Servers, vectors, program checks and log capture come from `gost-test-support`.
#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::time::Duration;

use gost_service::{Handler, Service, ServiceOptions};
use gost_transport::tcp::{TcpListener, TcpOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub(crate) use gost_test_support::Running;

/// Runs `handler` on a TCP listener on 127.0.0.1:0.
pub(crate) async fn serve(handler: impl Handler) -> Running {
    let l = TcpListener::bind("127.0.0.1:0", TcpOptions::default())
        .await
        .unwrap();
    serve_on(l, handler).await
}

/// Runs `handler` on the given listener.
pub(crate) async fn serve_on(
    l: impl gost_transport::Listener + 'static,
    handler: impl Handler,
) -> Running {
    let opts = ServiceOptions {
        drain_timeout: Duration::from_millis(100),
        ..Default::default()
    };
    let svc = Service::new(l, handler, opts);
    Running::spawn(svc.local_addr(), |token| svc.run(token))
}

/// SOCKS5 greeting + no-auth negotiation on a raw connection.
pub(crate) async fn socks5_noauth(addr: SocketAddr) -> TcpStream {
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(&[5, 1, 0]).await.unwrap();
    let mut m = [0u8; 2];
    c.read_exact(&mut m).await.unwrap();
    assert_eq!(m, [5, 0]);
    c
}

/// Encodes a SOCKS5 request for an IP target.
pub(crate) fn request(cmd: u8, target: SocketAddr) -> Vec<u8> {
    let mut v = vec![5, cmd, 0];
    match target {
        SocketAddr::V4(a) => {
            v.push(1);
            v.extend_from_slice(&a.ip().octets());
        }
        SocketAddr::V6(a) => {
            v.push(4);
            v.extend_from_slice(&a.ip().octets());
        }
    }
    v.extend_from_slice(&target.port().to_be_bytes());
    v
}

/// Reads one SOCKS5 reply exactly; returns REP and the bound address.
pub(crate) async fn read_reply(c: &mut TcpStream) -> (u8, SocketAddr) {
    let mut head = [0u8; 4];
    c.read_exact(&mut head).await.unwrap();
    assert_eq!(head[0], 5, "reply version");
    let addr = match head[3] {
        1 => {
            let mut b = [0u8; 6];
            c.read_exact(&mut b).await.unwrap();
            SocketAddr::from(([b[0], b[1], b[2], b[3]], u16::from_be_bytes([b[4], b[5]])))
        }
        4 => {
            let mut b = [0u8; 18];
            c.read_exact(&mut b).await.unwrap();
            let ip: [u8; 16] = b[..16].try_into().unwrap();
            SocketAddr::from((ip, u16::from_be_bytes([b[16], b[17]])))
        }
        t => panic!("unexpected ATYP {t} in reply"),
    };
    (head[1], addr)
}

/// Waits for EOF (or reset) on `c` within 5 s.
pub(crate) async fn expect_closed(c: &mut TcpStream) {
    let mut buf = [0u8; 64];
    let r = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf)).await;
    match r {
        Ok(Ok(0)) | Ok(Err(_)) => {}
        Ok(Ok(n)) => panic!("expected close, got {:?}", &buf[..n]),
        Err(_) => panic!("connection still open after 5 s"),
    }
}
