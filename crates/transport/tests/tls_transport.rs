//! TLS listener and dialer: bulk transfer, concurrency, half-close, verification modes and the errors a
//! user sees when the handshake fails.

mod common;

use std::sync::Arc;

use common::*;
use gost_transport::tcp::{TcpDialer, TcpOptions};
use gost_transport::tls::{
    ClientTls, ServerTls, TlsClientOptions, TlsDialer, TlsListener, TlsServerOptions,
};
use gost_transport::{Dialer, Error, Listener, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn listener(tls: ServerTls) -> (TlsListener, socks_wire::Address) {
    let l = TlsListener::bind("127.0.0.1:0", TcpOptions::default(), tls)
        .await
        .unwrap();
    let addr = socks_wire::Address::from(l.local_addr());
    (l, addr)
}

fn dialer(opts: TlsClientOptions) -> TlsDialer {
    TlsDialer::new(TcpDialer::default(), ClientTls::new(&opts).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_mib_each_way_arrive_intact() {
    let (l, addr) = listener(ServerTls::self_signed().unwrap()).await;
    let (c, s) = connect_pair(&l, &dialer(TlsClientOptions::default()), &addr).await;
    assert!(!c.is_tcp());
    assert_eq!(c.peer_addr(), Some(l.local_addr()));
    bulk_both_ways(c, s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_connections() {
    let (l, addr) = listener(ServerTls::self_signed().unwrap()).await;
    let d = dialer(TlsClientOptions::default());
    concurrent_echo(Arc::new(l), Arc::new(d), addr, 100).await;
}

#[tokio::test]
async fn half_close_propagates() {
    let (l, addr) = listener(ServerTls::self_signed().unwrap()).await;
    let (c, s) = connect_pair(&l, &dialer(TlsClientOptions::default()), &addr).await;
    half_close(c, s).await;
    let (c, s) = connect_pair(&l, &dialer(TlsClientOptions::default()), &addr).await;
    half_close(s, c).await;
}

/// TLS inside TLS, as SOCKS5 method 0x80 over a `tls` transport: the inner layer reads the outer
/// one's plaintext, the outer one reads TCP ahead of rustls.
async fn nested_pair() -> (Stream, Stream) {
    let (l, addr) = listener(ServerTls::self_signed().unwrap()).await;
    let (c, s) = connect_pair(&l, &dialer(TlsClientOptions::default()), &addr).await;
    let (server, client) = (ServerTls::self_signed().unwrap(), ClientTls::insecure());
    let (c, s) = tokio::join!(client.connect(c, "gost.run"), server.accept(s));
    (c.unwrap(), s.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_mib_each_way_through_tls_in_tls_arrive_intact() {
    let (c, s) = nested_pair().await;
    bulk_both_ways(c, s).await;
}

#[tokio::test]
async fn half_close_propagates_through_tls_in_tls() {
    let (c, s) = nested_pair().await;
    half_close(c, s).await;
    let (c, s) = nested_pair().await;
    half_close(s, c).await;
}

/// A peer that stops without close_notify after sending data: the reader gets every byte, then an
/// `UnexpectedEof` error (a truncation is never reported as a clean end).
#[tokio::test]
async fn data_then_tcp_eof_without_close_notify_is_an_error_after_the_data() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (c, a) = tokio::join!(tokio::net::TcpStream::connect(addr), l.accept());
    let (c, a) = (Stream::from_tcp(c.unwrap()), Stream::from_tcp(a.unwrap().0));
    let (server, client) = (ServerTls::self_signed().unwrap(), ClientTls::insecure());
    let (c, a) = tokio::join!(client.connect(c, "gost.run"), server.accept(a));
    // The server writes (the client has nothing unread that would turn its close into a reset).
    let (mut c, mut a) = (c.unwrap(), a.unwrap());
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    a.write_all(&data).await.unwrap();
    a.flush().await.unwrap();
    // Drop the TLS session without a shutdown: no close_notify, just the socket's FIN.
    drop(a);
    let mut got = Vec::new();
    let mut chunk = vec![0u8; 7000];
    let err = loop {
        match c.read(&mut chunk).await {
            Ok(0) => panic!("a truncated stream ended cleanly after {} bytes", got.len()),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
    assert_eq!(got, data);
}

#[tokio::test]
async fn secure_client_verifies_chain_and_name() {
    let pki = pki("server");
    let (l, addr) = listener(ServerTls::from_files(&pki.cert, &pki.key, None).unwrap()).await;
    let opts = TlsClientOptions {
        secure: true,
        ca_file: Some(pki.ca.clone()),
        ..TlsClientOptions::default()
    };
    let (c, s) = connect_pair(&l, &dialer(opts.clone()), &addr).await;
    half_close(c, s).await;

    // The certificate is for 127.0.0.1/localhost, not for this name.
    let wrong_name = TlsClientOptions {
        server_name: Some("example.com".into()),
        ..opts.clone()
    };
    let e = dialer(wrong_name.clone()).dial(&addr).await.unwrap_err();
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("TLS handshake failed: invalid peer certificate"),
        "{e}"
    );

    // Not `secure`, but a CA given: the chain is checked, the name is not (as upstream).
    let chain_only = TlsClientOptions {
        secure: false,
        ..wrong_name
    };
    let (c, s) = connect_pair(&l, &dialer(chain_only), &addr).await;
    half_close(c, s).await;
}

#[tokio::test]
async fn wrong_ca_fails_with_a_clear_error() {
    let server = pki("server");
    let other = pki("other");
    let (l, addr) = listener(ServerTls::from_files(&server.cert, &server.key, None).unwrap()).await;
    for secure in [true, false] {
        let opts = TlsClientOptions {
            secure,
            ca_file: Some(other.ca.clone()),
            ..TlsClientOptions::default()
        };
        let e = dialer(opts).dial(&addr).await.unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("TLS handshake failed: invalid peer certificate"),
            "{msg}"
        );
        assert!(
            msg.contains("UnknownIssuer") || msg.contains("unknown issuer"),
            "{msg}"
        );
    }
    // The rejected handshake never reaches the accept queue; a good one still does.
    let (c, _s) = connect_pair(&l, &dialer(TlsClientOptions::default()), &addr).await;
    drop(c);
}

#[tokio::test]
async fn pin_is_enforced() {
    let pki = pki("server");
    let (l, addr) = listener(ServerTls::from_files(&pki.cert, &pki.key, None).unwrap()).await;
    let good = TlsClientOptions {
        pin_sha256: Some(pki.leaf_sha256.clone()),
        ..TlsClientOptions::default()
    };
    let (c, s) = connect_pair(&l, &dialer(good), &addr).await;
    half_close(c, s).await;

    let wrong = "ab".repeat(32);
    let bad = TlsClientOptions {
        pin_sha256: Some(wrong.clone()),
        ..TlsClientOptions::default()
    };
    let e = dialer(bad).dial(&addr).await.unwrap_err();
    match &e {
        Error::PinMismatch { expected, actual } => {
            assert_eq!(expected, &wrong);
            assert_eq!(actual, &pki.leaf_sha256);
        }
        other => panic!("expected a pin mismatch, got {other:?}"),
    }
    assert!(e.to_string().contains("does not match the pinned"), "{e}");
}

#[tokio::test]
async fn client_certificates_required_when_server_has_a_ca() {
    let server = pki("server");
    let client = pki("client");
    let tls = ServerTls::from_files(&server.cert, &server.key, Some(&client.ca)).unwrap();
    let (l, addr) = listener(tls).await;

    // TLS 1.3: the client finishes its side first and learns of the rejection on its first read.
    let msg = match dialer(TlsClientOptions::default()).dial(&addr).await {
        Ok(mut s) => {
            use tokio::io::AsyncReadExt;
            let r = s.read(&mut [0u8; 1]).await;
            r.expect_err("server must reject a client without certificate")
                .to_string()
        }
        Err(e) => e.to_string(),
    };
    assert!(msg.contains("CertificateRequired"), "{msg}");

    let with_cert = TlsClientOptions {
        cert_file: Some(client.cert.clone()),
        key_file: Some(client.key.clone()),
        ..TlsClientOptions::default()
    };
    let (c, s) = connect_pair(&l, &dialer(with_cert), &addr).await;
    half_close(c, s).await;
}

#[tokio::test]
async fn server_handshake_times_out() {
    let tls = ServerTls::self_signed()
        .unwrap()
        .with_handshake_timeout(std::time::Duration::from_millis(200));
    let (tcp, addr) = tcp_listener().await;
    // A client that connects and never speaks.
    let dialer = TcpDialer::default();
    let (_silent, accepted) = tokio::join!(dialer.dial(&addr), tcp.accept());
    let e = tls.accept(accepted.unwrap().0).await.unwrap_err();
    expect_handshake_timeout(&e, "TLS");
    assert_eq!(e.io_kind(), Some(std::io::ErrorKind::TimedOut));
}

#[tokio::test]
async fn client_handshake_times_out() {
    let (tcp, addr) = tcp_listener().await;
    let opts = TlsClientOptions {
        handshake_timeout: std::time::Duration::from_millis(200),
        ..TlsClientOptions::default()
    };
    // The server accepts the connection and never answers the ClientHello.
    let d = dialer(opts);
    let (dialed, accepted) = tokio::join!(d.dial(&addr), tcp.accept());
    expect_handshake_timeout(&dialed.unwrap_err(), "TLS");
    drop(accepted);
}

#[tokio::test]
async fn missing_files_are_named() {
    let e = ServerTls::new(&TlsServerOptions {
        cert_file: Some("/nonexistent/cert.pem".into()),
        key_file: Some("/nonexistent/key.pem".into()),
        ..TlsServerOptions::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/cert.pem"), "{e}");
    let e = ClientTls::new(&TlsClientOptions {
        ca_file: Some("/nonexistent/ca.pem".into()),
        ..TlsClientOptions::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
}

#[tokio::test]
async fn no_sni_for_ip_literals_and_no_alpn() {
    let server = ServerTls::self_signed().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(server.config().clone());
    let (tcp, addr) = tcp_listener().await;
    for (name, expected_sni) in [("127.0.0.1", None), ("localhost", Some("localhost"))] {
        let dialer = TcpDialer::default();
        let client = async {
            let s = dialer.dial(&addr).await.unwrap();
            ClientTls::insecure().connect(s, name).await.unwrap()
        };
        let accept = async {
            let (s, _) = tcp.accept_tcp().await.unwrap();
            acceptor.accept(s).await.unwrap()
        };
        let (_c, s) = tokio::join!(client, accept);
        let conn = s.get_ref().1;
        assert_eq!(conn.server_name(), expected_sni, "{name}");
        assert_eq!(conn.alpn_protocol(), None);
    }
}

#[tokio::test]
async fn silent_client_does_not_block_others() {
    let (l, addr) = listener(ServerTls::self_signed().unwrap()).await;
    // Connected but never starts the handshake.
    let _silent = tokio::net::TcpStream::connect(addr.to_string())
        .await
        .unwrap();
    let (c, s) = connect_pair(&l, &dialer(TlsClientOptions::default()), &addr).await;
    half_close(c, s).await;
}

#[tokio::test]
async fn dropping_the_listener_closes_the_port() {
    let (l, addr) = listener(ServerTls::self_signed().unwrap()).await;
    drop(l);
    // The accept task is aborted asynchronously; poll a bounded number of times.
    for _ in 0..100 {
        match tokio::net::TcpStream::connect(addr.to_string()).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return,
            _ => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
    panic!("listener port still open after drop");
}
