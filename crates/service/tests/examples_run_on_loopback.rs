//! Runs the core of every embedding example (crates/service/examples, crates/chain/examples,
//! crates/socks-wire/examples) against loopback servers: each example file is compiled in here as a
//! module and its public functions are called exactly as its `main` calls them.

// Each server example includes examples/shared/ctrl_c.rs as a module of its own, as its `main` needs.
#![allow(clippy::duplicate_mod)]

mod common;

#[allow(dead_code)] // `main` is the example's entry point, not used here
#[path = "../examples/socks5_minimal.rs"]
mod socks5_minimal;

#[allow(dead_code)]
#[path = "../examples/file_authenticator.rs"]
mod file_authenticator;

#[allow(dead_code)]
#[path = "../examples/domain_routing.rs"]
mod domain_routing;

#[allow(dead_code)]
#[path = "../../chain/examples/two_hop_client.rs"]
mod two_hop_client;

#[allow(dead_code)]
#[path = "../../socks-wire/examples/blocking_client.rs"]
mod blocking_client;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gost_service::socks_wire::Address;
use gost_service::{Conn, Observer, Service, ServiceBuilder, Users};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_socks::tcp::Socks5Stream;
use tokio_util::sync::CancellationToken;

/// Runs `service` until the returned token is dropped.
fn spawn(service: Service) -> (SocketAddr, tokio_util::sync::DropGuard) {
    let addr = service.local_addr();
    let token = CancellationToken::new();
    tokio::spawn(service.run(token.clone()));
    (addr, token.drop_guard())
}

/// Records the targets a service was asked for.
#[derive(Default)]
struct Targets(Mutex<Vec<String>>);

impl Observer for Targets {
    fn target(&self, _conn: &Conn, command: &str, target: &Address) {
        self.0.lock().unwrap().push(format!("{command} {target}"));
    }
}

impl Targets {
    fn seen(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// A plain SOCKS5 hop on loopback that records its targets.
async fn hop() -> (SocketAddr, Arc<Targets>, tokio_util::sync::DropGuard) {
    let targets = Arc::new(Targets::default());
    let service = ServiceBuilder::socks5()
        .bind("127.0.0.1:0")
        .observer(targets.clone())
        .drain_timeout(Duration::from_millis(100))
        .build()
        .await
        .unwrap();
    let (addr, guard) = spawn(service);
    (addr, targets, guard)
}

/// `GET /` through a SOCKS5 proxy with tokio-socks; the response, or the client's error.
async fn get_via(
    proxy: SocketAddr,
    target: (&str, u16),
    creds: Option<(&str, &str)>,
) -> Result<String, tokio_socks::Error> {
    let mut s = match creds {
        Some((u, p)) => Socks5Stream::connect_with_password(proxy, target, u, p).await?,
        None => Socks5Stream::connect(proxy, target).await?,
    };
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).await.unwrap();
    Ok(body)
}

#[tokio::test]
async fn minimal_server_relays_a_request() {
    let http = gost_test_support::http_server().await;
    let (proxy, _guard) = spawn(socks5_minimal::server("127.0.0.1:0").await.unwrap());
    let body = get_via(proxy, ("127.0.0.1", http.port()), None)
        .await
        .unwrap();
    assert!(body.ends_with(gost_test_support::BODY), "{body:?}");
}

#[tokio::test]
async fn file_authenticator_reads_the_file_at_each_login() {
    let http = gost_test_support::http_server().await;
    let target = ("127.0.0.1", http.port());
    let dir = std::env::temp_dir().join(format!("gost-file-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("users.txt");
    std::fs::write(&file, "# users\nalice:s3cret\n").unwrap();
    let service = file_authenticator::server("127.0.0.1:0", &file)
        .await
        .unwrap();
    let (proxy, _guard) = spawn(service);

    let body = get_via(proxy, target, Some(("alice", "s3cret")))
        .await
        .unwrap();
    assert!(body.ends_with(gost_test_support::BODY));
    let wrong = get_via(proxy, target, Some(("alice", "guess"))).await;
    assert!(
        matches!(wrong, Err(tokio_socks::Error::PasswordAuthFailure(_))),
        "{wrong:?}"
    );
    let unknown = get_via(proxy, target, Some(("bob", "hunter2"))).await;
    assert!(
        matches!(unknown, Err(tokio_socks::Error::PasswordAuthFailure(_))),
        "{unknown:?}"
    );

    // Edits apply to the next login, without a restart.
    std::fs::write(&file, "alice:s3cret\nbob:hunter2\n").unwrap();
    let body = get_via(proxy, target, Some(("bob", "hunter2")))
        .await
        .unwrap();
    assert!(body.ends_with(gost_test_support::BODY));

    // An emptied file locks everyone out instead of turning authentication off.
    std::fs::write(&file, "").unwrap();
    let locked = get_via(proxy, target, Some(("alice", "s3cret"))).await;
    assert!(locked.is_err(), "{locked:?}");
    let no_creds = get_via(proxy, target, None).await;
    assert!(no_creds.is_err(), "{no_creds:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn domain_routing_sends_refuses_and_dials_directly() {
    let http = gost_test_support::http_server().await;
    let (upstream, upstream_seen, _up) = hop().await;
    let routing = domain_routing::DomainRouting::new(
        &upstream.to_string(),
        &["localhost"],
        &["ads.example.net"],
    )
    .unwrap();
    let service = domain_routing::server("127.0.0.1:0", routing)
        .await
        .unwrap();
    let (proxy, _guard) = spawn(service);

    // A routed domain goes through the upstream proxy, which resolves it.
    let body = get_via(proxy, ("localhost", http.port()), None)
        .await
        .unwrap();
    assert!(body.ends_with(gost_test_support::BODY));
    assert_eq!(
        upstream_seen.seen(),
        [format!("connect localhost:{}", http.port())]
    );

    // An IP target is dialed directly: the upstream sees nothing new.
    let body = get_via(proxy, ("127.0.0.1", http.port()), None)
        .await
        .unwrap();
    assert!(body.ends_with(gost_test_support::BODY));
    assert_eq!(upstream_seen.seen().len(), 1);

    // A refused domain gets reply 0x02 without any lookup or dial.
    let refused = get_via(proxy, ("ads.example.net", 80), None).await;
    assert!(
        matches!(
            refused,
            Err(tokio_socks::Error::ConnectionNotAllowedByRuleset)
        ),
        "{refused:?}"
    );
    let refused_sub = get_via(proxy, ("cdn.ADS.example.net", 80), None).await;
    assert!(matches!(
        refused_sub,
        Err(tokio_socks::Error::ConnectionNotAllowedByRuleset)
    ));
    assert_eq!(upstream_seen.seen().len(), 1);
}

#[tokio::test]
async fn two_hop_client_goes_through_both_hops_in_order() {
    let http = gost_test_support::http_server().await;
    let (first, first_seen, _g1) = hop().await;
    let (second, second_seen, _g2) = hop().await;
    let router = two_hop_client::two_hop_router(&first.to_string(), &second.to_string()).unwrap();
    let target = format!("127.0.0.1:{}", http.port());
    let response = two_hop_client::fetch(&router, &target).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response:?}");
    assert!(response.ends_with(gost_test_support::BODY));
    assert_eq!(first_seen.seen(), [format!("connect {second}")]);
    assert_eq!(second_seen.seen(), [format!("connect {target}")]);
}

#[tokio::test]
async fn blocking_socks_wire_client_connects_with_credentials() {
    let http = gost_test_support::http_server().await;
    let service = ServiceBuilder::socks5()
        .bind("127.0.0.1:0")
        .users(Users::new([("alice", "s3cret")]))
        .build()
        .await
        .unwrap();
    let (proxy, _guard) = spawn(service);
    let (proxy, target) = (proxy.to_string(), format!("127.0.0.1:{}", http.port()));
    let (ok, refused) = tokio::task::spawn_blocking(move || {
        let ok = blocking_client::fetch(&proxy, &target, Some(("alice", "s3cret")));
        let refused = blocking_client::fetch(&proxy, &target, Some(("alice", "nope")));
        (
            ok.map_err(|e| e.to_string()),
            refused.map_err(|e| e.to_string()),
        )
    })
    .await
    .unwrap();
    let ok = String::from_utf8(ok.unwrap()).unwrap();
    assert!(ok.ends_with(gost_test_support::BODY), "{ok:?}");
    assert!(refused.is_err());
}
