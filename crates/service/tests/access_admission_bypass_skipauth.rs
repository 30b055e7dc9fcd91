//! Access policies enforced by a running service on loopback: admission closes a refused client before
//! a byte is read (also on a TLS listener: no handshake byte is sent), bypass answers SOCKS5 0x02 /
//! SOCKS4 0x5B without dialling, several authers (any one passes) and skipauth, each refusal counted
//! per service and reason in the metrics.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{expect_closed, read_reply, request, socks5_noauth};
use gost_access::{
    Admission as Adm, AdmissionSpec, Auther, AutherSpec, Bypass, BypassGroup, BypassSpec, SkipAuth,
};
use gost_service::metrics::Metrics;
use gost_service::{AccessAuth, ServiceBuilder, Socks4Options};
use gost_test_support::echo_server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

/// A TCP connection from `from` (a loopback address) to `to`.
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::from((from, 0))).unwrap();
    s.connect(to).await.unwrap()
}

/// Builds the service (drain 100 ms, reporting to `metrics`), runs it until `shutdown`; its address.
async fn start(
    b: ServiceBuilder,
    metrics: &Arc<Metrics>,
    shutdown: &CancellationToken,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let svc = b
        .drain_timeout(Duration::from_millis(100))
        .observer(metrics.clone())
        .build()
        .await
        .unwrap();
    (svc.local_addr(), tokio::spawn(svc.run(shutdown.clone())))
}

fn denied(m: &Metrics, service: &str, reason: &str) -> u64 {
    let prefix = format!(
        "gost_service_denied_total{{host=\"h\",service=\"{service}\",reason=\"{reason}\"}} "
    );
    m.render()
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(|n| n.parse().unwrap()))
        .unwrap_or(0)
}

async fn blacklist(entry: &str) -> Arc<Adm> {
    Adm::start(AdmissionSpec {
        name: "adm".into(),
        matchers: vec![entry.into()],
        ..AdmissionSpec::default()
    })
    .await
}

#[tokio::test]
async fn admission_closes_refused_clients_before_any_handshake() {
    let metrics = Arc::new(Metrics::with_host("h"));
    let shutdown = CancellationToken::new();
    // TLS listener: a refused client must not even get a ServerHello.
    let tls = common::tls_listener().await;
    let (addr, running) = start(
        ServiceBuilder::socks5()
            .name("adm-tls")
            .listener(tls)
            .admission(vec![blacklist("127.0.0.2").await]),
        &metrics,
        &shutdown,
    )
    .await;
    let mut refused = connect_from([127, 0, 0, 2], addr).await;
    // A TLS ClientHello's first bytes; a served client would get a handshake reply.
    refused
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 0, 0, 1, 0])
        .await
        .ok();
    expect_closed(&mut refused).await;
    assert_eq!(denied(&metrics, "adm-tls", "admission"), 1);

    // Plain TCP: refused from 127.0.0.2, served from 127.0.0.1.
    let (addr, running2) = start(
        ServiceBuilder::socks5()
            .name("adm-tcp")
            .bind("127.0.0.1:0")
            .admission(vec![blacklist("127.0.0.2/32").await]),
        &metrics,
        &shutdown,
    )
    .await;
    let mut refused = connect_from([127, 0, 0, 2], addr).await;
    refused.write_all(&[5, 1, 0]).await.ok();
    expect_closed(&mut refused).await;
    let mut served = connect_from([127, 0, 0, 1], addr).await;
    served.write_all(&[5, 1, 0]).await.unwrap();
    let mut m = [0u8; 2];
    served.read_exact(&mut m).await.unwrap();
    assert_eq!(m, [5, 0]);
    assert_eq!(denied(&metrics, "adm-tcp", "admission"), 1);
    drop(served);
    shutdown.cancel();
    let _ = (running.await, running2.await);
}

#[tokio::test]
async fn bypass_refuses_targets_without_dialling() {
    let metrics = Arc::new(Metrics::with_host("h"));
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let blocked = target.local_addr().unwrap();
    let allowed = echo_server().await;
    let bypass = BypassGroup::new(vec![
        Bypass::start(BypassSpec {
            name: "bp".into(),
            matchers: vec![blocked.to_string(), "*.blocked.test".into()],
            ..BypassSpec::default()
        })
        .await,
    ]);
    let shutdown = CancellationToken::new();
    let (addr5, r1) = start(
        ServiceBuilder::socks5()
            .name("bp5")
            .bind("127.0.0.1:0")
            .bypass(bypass.clone()),
        &metrics,
        &shutdown,
    )
    .await;
    let mut c = socks5_noauth(addr5).await;
    c.write_all(&request(1, blocked)).await.unwrap();
    assert_eq!(read_reply(&mut c).await.0, 0x02, "REP 0x02 not allowed");
    let mut c = socks5_noauth(addr5).await;
    c.write_all(&request(1, allowed)).await.unwrap();
    assert_eq!(read_reply(&mut c).await.0, 0x00, "other targets served");
    assert_eq!(denied(&metrics, "bp5", "bypass"), 1);

    let (addr4, r2) = start(
        ServiceBuilder::socks4_with(Socks4Options::default())
            .name("bp4")
            .bind("127.0.0.1:0")
            .bypass(bypass),
        &metrics,
        &shutdown,
    )
    .await;
    let mut c = TcpStream::connect(addr4).await.unwrap();
    let SocketAddr::V4(b) = blocked else {
        unreachable!()
    };
    let mut req = vec![4, 1];
    req.extend_from_slice(&b.port().to_be_bytes());
    req.extend_from_slice(&b.ip().octets());
    req.push(0);
    c.write_all(&req).await.unwrap();
    let mut reply = [0u8; 8];
    c.read_exact(&mut reply).await.unwrap();
    assert_eq!(reply[1], 0x5B);
    // Nothing connected to the blocked target: a dial would have happened before the reply, so its
    // connection would be in the accept queue by now (one poll, no waiting).
    let accepted = tokio::time::timeout(Duration::ZERO, target.accept()).await;
    assert!(accepted.is_err(), "the bypassed target was dialled");
    shutdown.cancel();
    let _ = (r1.await, r2.await);
}

#[tokio::test]
async fn any_auther_passes_and_skipauth_networks_pass_any_credentials() {
    let a1 = Auther::start(AutherSpec {
        name: "a1".into(),
        auths: vec![("alice".into(), "s3cret".into())],
        ..AutherSpec::default()
    })
    .await;
    let a2 = Auther::start(AutherSpec {
        name: "a2".into(),
        auths: vec![("bob".into(), "hunter2".into())],
        ..AutherSpec::default()
    })
    .await;
    let metrics = Arc::new(Metrics::with_host("h"));
    let auth = AccessAuth {
        authers: vec![a1, a2],
        skip: SkipAuth::parse(&["127.0.0.2"]).unwrap(),
        ..AccessAuth::default()
    };
    let shutdown = CancellationToken::new();
    let (addr, running) = start(
        ServiceBuilder::socks5()
            .name("auth")
            .bind("127.0.0.1:0")
            .auth(auth),
        &metrics,
        &shutdown,
    )
    .await;
    async fn login(from: [u8; 4], addr: SocketAddr, user: &str, pass: &str) -> u8 {
        let mut c = connect_from(from, addr).await;
        c.write_all(&[5, 1, 2]).await.unwrap();
        let mut m = [0u8; 2];
        c.read_exact(&mut m).await.unwrap();
        assert_eq!(
            m,
            [5, 2],
            "username/password required, also from skipauth networks (upstream)"
        );
        let mut msg = vec![1, user.len() as u8];
        msg.extend_from_slice(user.as_bytes());
        msg.push(pass.len() as u8);
        msg.extend_from_slice(pass.as_bytes());
        c.write_all(&msg).await.unwrap();
        c.read_exact(&mut m).await.unwrap();
        m[1]
    }
    assert_eq!(login([127, 0, 0, 1], addr, "alice", "s3cret").await, 0);
    assert_eq!(login([127, 0, 0, 1], addr, "bob", "hunter2").await, 0);
    assert_eq!(login([127, 0, 0, 1], addr, "alice", "hunter2").await, 1);
    assert_eq!(
        login([127, 0, 0, 2], addr, "anyone", "x").await,
        0,
        "skipauth"
    );
    assert_eq!(denied(&metrics, "auth", "auth"), 1);
    shutdown.cancel();
    running.await.unwrap();
}
