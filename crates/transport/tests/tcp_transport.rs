//! TCP listener and dialer: bulk transfer, concurrency, half-close and the refused-connection error.

mod common;

use std::io;
use std::sync::Arc;

use common::*;
use gost_transport::tcp::{TcpDialer, TcpListener, TcpOptions};
use gost_transport::{Dialer, Error, Listener};

async fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0", TcpOptions::default())
        .await
        .unwrap();
    let addr = l.local_addr().to_string();
    (l, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_mib_each_way_arrive_intact() {
    let (l, addr) = listener().await;
    let (c, s) = connect_pair(&l, &TcpDialer::default(), &addr).await;
    assert!(c.is_tcp() && s.is_tcp(), "plain tcp stays unboxed");
    bulk_both_ways(c, s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_connections() {
    let (l, addr) = listener().await;
    concurrent_echo(Arc::new(l), Arc::new(TcpDialer::default()), addr, 100).await;
}

#[tokio::test]
async fn half_close_propagates() {
    let (l, addr) = listener().await;
    let (c, s) = connect_pair(&l, &TcpDialer::default(), &addr).await;
    half_close(c, s).await;
}

#[tokio::test]
async fn refused_connection_names_the_address() {
    let (l, addr) = listener().await;
    drop(l);
    let e = TcpDialer::default().dial(&addr).await.unwrap_err();
    assert_eq!(e.io_kind(), Some(io::ErrorKind::ConnectionRefused), "{e:?}");
    assert!(matches!(e, Error::Connect { .. }));
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("connect to {addr} failed: ")),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
}

#[tokio::test]
async fn bad_address_is_rejected_before_any_io() {
    let e = TcpDialer::default().dial("127.0.0.1").await.unwrap_err();
    assert!(matches!(e, Error::InvalidAddress { .. }), "{e:?}");
    let e = TcpListener::bind("::1:80", TcpOptions::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("brackets"), "{e}");
}
