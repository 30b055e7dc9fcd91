//! Fixtures of the handler tests: a handler served on loopback, and a check that a connection was
//! closed. Servers, vectors, the raw SOCKS5 client, program checks and log capture come from
//! `gost-test-support`.
#![allow(dead_code)] // each test binary uses a different subset

use std::time::Duration;

use gost_service::{Handler, Service, ServiceOptions};
use gost_transport::tcp::{TcpListener, TcpOptions};
use gost_transport::tls::{ServerTls, TlsListener};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

pub(crate) use gost_test_support::Running;
#[allow(unused_imports)] // each test binary uses a different subset
pub(crate) use gost_test_support::socks5::{connect_noauth as socks5_noauth, read_reply, request};

/// Runs `handler` on a TCP listener on 127.0.0.1:0.
pub(crate) async fn serve(handler: impl Handler) -> Running {
    let l = TcpListener::bind("127.0.0.1:0", TcpOptions::default())
        .await
        .unwrap();
    serve_on(l, handler).await
}

/// A TLS listener (self-signed) on 127.0.0.1:0.
pub(crate) async fn tls_listener() -> TlsListener {
    let tls = ServerTls::self_signed().unwrap();
    let l = TlsListener::bind("127.0.0.1:0", TcpOptions::default(), tls);
    l.await.unwrap()
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
