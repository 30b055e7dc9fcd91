//! `secure=true` without a CA file verifies against the system's roots, found through `SSL_CERT_FILE`
//! as Go does. In its own test binary because it sets a process-wide environment variable.

mod common;

use common::*;
use gost_transport::tcp::{TcpDialer, TcpOptions};
use gost_transport::tls::{ClientTls, ServerTls, TlsClientOptions, TlsDialer, TlsListener};
use gost_transport::{Dialer, Error, Listener};

#[tokio::test]
async fn secure_without_ca_uses_the_system_bundle() {
    let pki = pki("system");
    let l = TlsListener::bind(
        "127.0.0.1:0",
        TcpOptions::default(),
        ServerTls::from_files(&pki.cert, &pki.key, None).unwrap(),
    )
    .await
    .unwrap();
    let addr = socks_wire::Address::from(l.local_addr());
    let secure = TlsClientOptions {
        secure: true,
        ..TlsClientOptions::default()
    };

    // Without our CA among the system roots the certificate is refused...
    let plain = TlsDialer::new(TcpDialer::default(), ClientTls::new(&secure).unwrap());
    let e = plain.dial(&addr).await.unwrap_err();
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");

    // ...and accepted once the system bundle is ours. SAFETY: no other test in this binary reads the
    // environment, and the roots are read here, before any other thread could.
    unsafe { std::env::set_var("SSL_CERT_FILE", &pki.ca) };
    let trusting = TlsDialer::new(TcpDialer::default(), ClientTls::new(&secure).unwrap());
    unsafe { std::env::remove_var("SSL_CERT_FILE") };
    let (c, s) = connect_pair(&l, &trusting, &addr).await;
    half_close(c, s).await;
}
