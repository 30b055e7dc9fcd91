//! `tls://` (DNS over TLS) and `https://` (DNS over HTTPS) nameservers: dnsmasq on loopback behind a
//! TLS front made here — for DoT a relay of each message to dnsmasq's TCP port (DoT is DNS over TCP
//! inside TLS), for DoH an HTTP/2 server passing each POSTed query there. The front's certificate is
//! for 127.0.0.1 (rcgen) and the resolver's TLS configuration trusts it alone, so a resolved name also
//! proves the certificate was verified; with the default roots the same server is refused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gost_resolve::{Dns, NameserverSpec};
use gost_test_support::Running;
use gost_test_support::dns::Dnsmasq;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A server configuration for 127.0.0.1 offering `alpn`, and a client configuration trusting it.
fn tls_pair(alpn: &[&[u8]]) -> (Arc<ServerConfig>, ClientConfig) {
    let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert: CertificateDer<'static> = key.cert.der().clone();
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], der)
        .unwrap();
    server.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), client)
}

type Tls = tokio_rustls::server::TlsStream<TcpStream>;

/// A TLS server on a loopback port handing each client that completes the handshake to `serve`.
async fn tls_front<F, Fut>(tls: Arc<ServerConfig>, serve: F) -> Running
where
    F: Fn(Tls) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(tls);
    Running::spawn(addr, |stop| async move {
        loop {
            let (tcp, _) = tokio::select! {
                _ = stop.cancelled() => return,
                r = listener.accept() => r.unwrap(),
            };
            let acceptor = acceptor.clone();
            let Ok(client) = acceptor.accept(tcp).await else {
                continue;
            };
            tokio::spawn(serve(client));
        }
    })
}

/// DNS over TLS in front of `dns`'s TCP port.
async fn dot_front(tls: Arc<ServerConfig>, dns: SocketAddr) -> Running {
    tls_front(tls, move |client| async move {
        let _ = relay_messages(client, dns).await;
    })
    .await
}

/// Passes each length-prefixed message of a DoT client to `dns`, one TCP connection per message:
/// dnsmasq run with `--no-daemon` serves one TCP connection at a time, so none is held open.
async fn relay_messages(mut client: Tls, dns: SocketAddr) -> std::io::Result<()> {
    loop {
        let len = usize::from(client.read_u16().await?);
        let mut query = vec![0u8; len];
        client.read_exact(&mut query).await?;
        let answer = ask(dns, &query).await;
        client.write_u16(answer.len() as u16).await?;
        client.write_all(&answer).await?;
    }
}

/// `query` asked of `dns` over TCP: a 2-byte length, then the message, each way.
async fn ask(dns: SocketAddr, query: &[u8]) -> Vec<u8> {
    let mut tcp = TcpStream::connect(dns).await.unwrap();
    tcp.write_u16(query.len() as u16).await.unwrap();
    tcp.write_all(query).await.unwrap();
    let n = usize::from(tcp.read_u16().await.unwrap());
    let mut answer = vec![0u8; n];
    tcp.read_exact(&mut answer).await.unwrap();
    answer
}

/// DNS over HTTPS (HTTP/2 POST of the wire message, RFC 8484) in front of `dns`'s TCP port.
async fn doh_front(tls: Arc<ServerConfig>, dns: SocketAddr) -> Running {
    tls_front(tls, move |client| async move {
        let mut conn = h2::server::handshake(client).await.unwrap();
        while let Some(Ok((request, respond))) = conn.accept().await {
            tokio::spawn(answer(request, respond, dns));
        }
    })
    .await
}

async fn answer(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    dns: SocketAddr,
) {
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(request.uri().path(), "/q");
    let len: usize = request.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut body = request.into_body();
    let mut query = Vec::new();
    // Up to its length: hickory need not end the stream after the message.
    while query.len() < len
        && let Some(chunk) = body.data().await
    {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        query.extend_from_slice(&chunk);
    }
    let answer = ask(dns, &query).await;
    let head = http::Response::builder()
        .status(200)
        .header("content-type", "application/dns-message")
        .header("content-length", answer.len())
        .body(())
        .unwrap();
    let mut send = respond.send_response(head, false).unwrap();
    send.send_data(Bytes::from(answer), true).unwrap();
}

fn spec(addr: &str) -> NameserverSpec {
    let mut spec = NameserverSpec::new(addr).unwrap();
    spec.timeout = Some(Duration::from_secs(3));
    spec
}

#[tokio::test]
async fn dot_and_doh_nameservers_answer_through_a_verified_tls_front() {
    let Some(server) = Dnsmasq::start(&[("dns-only.test", "127.0.0.7")]) else {
        return;
    };
    let want = vec!["127.0.0.7".parse::<std::net::IpAddr>().unwrap()];

    let (tls, trusting) = tls_pair(&[]);
    let dot = dot_front(tls, server.addr).await;
    let dns = Dns::new(
        "dot",
        &[spec(&format!("tls://{}", dot.addr))],
        Some(&trusting),
    )
    .unwrap();
    assert_eq!(dns.resolve("dns-only.test").await.unwrap(), want, "DoT");

    let (tls, trusting) = tls_pair(&[b"h2"]);
    let doh = doh_front(tls, server.addr).await;
    let addr = format!("https://{}/q", doh.addr);
    let dns = Dns::new("doh", &[spec(&addr)], Some(&trusting)).unwrap();
    assert_eq!(dns.resolve("dns-only.test").await.unwrap(), want, "DoH");

    // The default roots (Mozilla's) do not know the test's certificate: no answer, an error.
    let dns = Dns::new("untrusted", &[spec(&addr)], None).unwrap();
    let e = dns.resolve("dns-only.test").await.unwrap_err().to_string();
    assert!(e.contains("resolver untrusted"), "{e}");
}
