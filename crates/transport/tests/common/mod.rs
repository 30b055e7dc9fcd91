//! Shared checks run against every listener/dialer pair: bulk transfer, concurrency, half-close.
#![allow(dead_code)] // each test binary uses a different subset

use std::sync::Arc;
use std::time::Duration;

use gost_test_support::{Checksum, pattern};
use gost_transport::tcp::{TcpListener, TcpOptions};
use gost_transport::{Dialer, Error, Listener, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(crate) const BULK: usize = 16 << 20;

/// A TCP listener on 127.0.0.1:0 and its address.
pub(crate) async fn tcp_listener() -> (TcpListener, socks_wire::Address) {
    let l = TcpListener::bind("127.0.0.1:0", TcpOptions::default())
        .await
        .unwrap();
    let addr = socks_wire::Address::from(l.local_addr());
    (l, addr)
}

/// `e` is `what`'s handshake timeout (`TLS` or `ws`), the 200 ms the tests configure.
pub(crate) fn expect_handshake_timeout(e: &Error, what: &str) {
    assert!(
        matches!(e, Error::HandshakeTimeout { what: w, .. } if *w == what),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!("{what} handshake timed out after 200ms")
    );
}

/// Accepts one connection while dialing `addr`.
pub(crate) async fn connect_pair(
    l: &dyn Listener,
    d: &dyn Dialer,
    addr: &socks_wire::Address,
) -> (Stream, Stream) {
    let (c, a) = tokio::join!(d.dial(addr), l.accept());
    (c.expect("dial"), a.expect("accept").0)
}

/// Sends `BULK` bytes each way at the same time, writing in odd-sized chunks, and checks both sides.
pub(crate) async fn bulk_both_ways(a: Stream, b: Stream) {
    let (ta, tb) = tokio::join!(
        tokio::spawn(send_and_receive(a, 1)),
        tokio::spawn(send_and_receive(b, 2))
    );
    let (sent_a, got_a) = ta.unwrap();
    let (sent_b, got_b) = tb.unwrap();
    assert_eq!(got_b, sent_a, "a -> b corrupted");
    assert_eq!(got_a, sent_b, "b -> a corrupted");
}

async fn send_and_receive(s: Stream, seed: u64) -> (Checksum, Checksum) {
    let data = pattern(seed, BULK);
    let sent = Checksum::of(&data);
    let (mut r, mut w) = tokio::io::split(s);
    let writer = async move {
        for chunk in data.chunks(65_519) {
            w.write_all(chunk).await.unwrap();
        }
        w.shutdown().await.unwrap();
        w
    };
    let reader = async move {
        let mut got = Vec::with_capacity(BULK);
        r.read_to_end(&mut got).await.unwrap();
        assert_eq!(got.len(), BULK, "length");
        Checksum::of(&got)
    };
    let (_w, got) = tokio::join!(writer, reader);
    (sent, got)
}

/// Runs an echo server on `l` and `n` clients through `d` at once, each checking its own echo.
pub(crate) async fn concurrent_echo(
    l: Arc<dyn Listener>,
    d: Arc<dyn Dialer>,
    addr: socks_wire::Address,
    n: usize,
) {
    let server = tokio::spawn({
        let l = l.clone();
        async move {
            loop {
                let (mut s, _) = l.accept().await.expect("accept");
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    loop {
                        let k = s.read(&mut buf).await.unwrap();
                        if k == 0 {
                            s.shutdown().await.unwrap();
                            return;
                        }
                        s.write_all(&buf[..k]).await.unwrap();
                    }
                });
            }
        }
    });
    let mut clients = tokio::task::JoinSet::new();
    for i in 0..n {
        let (d, addr) = (d.clone(), addr.clone());
        clients.spawn(async move {
            let mut s = d.dial(&addr).await.expect("dial");
            let msg = pattern(i as u64 + 7, 20_000 + i);
            s.write_all(&msg).await.unwrap();
            s.shutdown().await.unwrap();
            let mut back = Vec::new();
            s.read_to_end(&mut back).await.unwrap();
            assert_eq!(back, msg, "client {i}");
        });
    }
    let all = async {
        while let Some(r) = clients.join_next().await {
            r.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("clients finished");
    server.abort();
}

/// `a` sends and shuts down its write side; `b` sees EOF, then still answers, and `a` reads the answer.
pub(crate) async fn half_close(mut a: Stream, mut b: Stream) {
    send_then_eof(&mut a, &mut b, b"request").await;
    send_then_eof(&mut b, &mut a, b"response after EOF").await;
}

/// `from` writes `msg` and shuts down its write side; `to` reads exactly `msg`, then EOF.
async fn send_then_eof(from: &mut Stream, to: &mut Stream, msg: &[u8]) {
    from.write_all(msg).await.unwrap();
    from.shutdown().await.unwrap();
    let mut got = Vec::new();
    to.read_to_end(&mut got).await.unwrap();
    let what = String::from_utf8_lossy(msg);
    assert_eq!(got, msg, "{what:?} arrived whole before EOF");
}

/// A CA, a leaf it signed for `127.0.0.1`/`localhost`, all written as PEM files into a temporary directory.
pub(crate) struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: std::path::PathBuf,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
    /// SHA-256 of the leaf certificate's DER, lowercase hex.
    pub leaf_sha256: String,
}

pub(crate) fn pki(name: &str) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("{name} test CA"));
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let write = |file: &str, pem: String| {
        let p = dir.path().join(file);
        std::fs::write(&p, pem).unwrap();
        p
    };
    let leaf_sha256 = Sha256::digest(leaf.der().as_ref())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Pki {
        ca: write("ca.pem", ca_cert.pem()),
        cert: write("cert.pem", leaf.pem()),
        key: write("key.pem", leaf_key.serialize_pem()),
        leaf_sha256,
        dir,
    }
}
