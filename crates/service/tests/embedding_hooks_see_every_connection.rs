//! The embedding hooks on real connections: observers see accepted → authenticated → target → closed
//! with byte counts (and a `closed` for connections cut at shutdown), authenticators see the method and
//! the client address, and routing refusals reach SOCKS4 and SOCKS5 clients as reply codes.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gost_service::socks_wire::{Address, ReplyCode};
use gost_service::{
    AuthMethod, AuthRequest, Authenticator, BoxFuture, Closed, Conn, Observer, Outcome, Route,
    RouteRequest, Routing, ServiceBuilder, Users,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_socks::tcp::Socks5Stream;
use tokio_util::sync::CancellationToken;

/// Sends every event, as text, to a channel the test waits on.
struct Events(mpsc::UnboundedSender<String>);

impl Observer for Events {
    fn service_stopped(&self, service: &str) {
        let _ = self.0.send(format!("stopped {service}"));
    }
    fn accepted(&self, conn: &Conn) {
        let _ = self
            .0
            .send(format!("{} accepted {}", conn.id(), conn.service()));
    }
    fn authenticated(&self, conn: &Conn, user: &str, ok: bool) {
        let _ = self.0.send(format!("{} auth {user} {ok}", conn.id()));
    }
    fn target(&self, conn: &Conn, command: &str, target: &Address) {
        let _ = self.0.send(format!("{} {command} {target}", conn.id()));
    }
    fn closed(&self, conn: &Conn, c: &Closed<'_>) {
        let outcome = match c.outcome {
            Outcome::Ok => "ok".to_owned(),
            Outcome::Failed(e) => format!("failed: {e}"),
            Outcome::Cut => "cut".to_owned(),
        };
        let (i, o) = (c.transferred.a_to_b, c.transferred.b_to_a);
        let user = conn.user().unwrap_or("-");
        let target = c.target.unwrap_or("-");
        let _ = self.0.send(format!(
            "{} closed {outcome} in={i} out={o} user={user} target={target}",
            conn.id()
        ));
    }
}

async fn next(rx: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an event within 10 s")
        .expect("the observer is alive")
}

#[tokio::test]
async fn observer_sees_the_whole_life_of_a_connection() {
    let echo = gost_test_support::echo_server().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    let service = ServiceBuilder::socks5()
        .name("observed")
        .bind("127.0.0.1:0")
        .users(Users::new([("alice", "s3cret")]))
        .observer(Events(tx))
        .drain_timeout(Duration::from_millis(50))
        .build()
        .await
        .unwrap();
    let proxy = service.local_addr();
    let runner = tokio::spawn(service.run(shutdown.clone()));

    let mut s = Socks5Stream::connect_with_password(proxy, echo, "alice", "s3cret")
        .await
        .unwrap();
    s.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).await.unwrap();
    drop(s);
    let first = next(&mut rx).await;
    let (id, rest) = first.split_once(' ').unwrap();
    assert_eq!(rest, "accepted observed");
    assert_eq!(next(&mut rx).await, format!("{id} auth alice true"));
    assert_eq!(next(&mut rx).await, format!("{id} connect {echo}"));
    assert_eq!(
        next(&mut rx).await,
        format!("{id} closed ok in=5 out=5 user=alice target=connect {echo}")
    );

    // A connection still relaying at shutdown is cut after the drain deadline, and still reported with
    // the bytes its relay moved.
    let mut held = Socks5Stream::connect_with_password(proxy, echo, "alice", "s3cret")
        .await
        .unwrap();
    held.write_all(b"x").await.unwrap();
    held.read_exact(&mut [0u8; 1]).await.unwrap();
    let id = next(&mut rx).await.split_once(' ').unwrap().0.to_owned();
    assert_eq!(next(&mut rx).await, format!("{id} auth alice true"));
    assert_eq!(next(&mut rx).await, format!("{id} connect {echo}"));
    shutdown.cancel();
    assert_eq!(next(&mut rx).await, "stopped observed");
    assert_eq!(
        next(&mut rx).await,
        format!("{id} closed cut in=1 out=1 user=alice target=connect {echo}")
    );
    runner.await.unwrap();
}

/// Lets in `alice` only, and records what it was shown.
struct Recording(Mutex<Vec<(AuthMethod, SocketAddr, bool)>>);

impl Authenticator for Recording {
    fn authenticate<'a>(&'a self, req: &'a AuthRequest<'a>) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            self.0
                .lock()
                .unwrap()
                .push((req.method, req.client, req.tls));
            req.user == b"alice"
        })
    }
}

fn socks4_connect(target: SocketAddr, user: &str) -> Vec<u8> {
    let SocketAddr::V4(t) = target else {
        panic!("IPv4 target")
    };
    let mut v = vec![4, 1];
    v.extend_from_slice(&t.port().to_be_bytes());
    v.extend_from_slice(&t.ip().octets());
    v.extend_from_slice(user.as_bytes());
    v.push(0);
    v
}

async fn socks4_reply(proxy: SocketAddr, req: &[u8]) -> u8 {
    let mut c = TcpStream::connect(proxy).await.unwrap();
    c.write_all(req).await.unwrap();
    let mut reply = [0u8; 8];
    c.read_exact(&mut reply).await.unwrap();
    reply[1]
}

#[tokio::test]
async fn authenticators_see_method_and_client_for_both_protocols() {
    let echo = gost_test_support::echo_server().await;
    let auth = Arc::new(Recording(Mutex::default()));
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let v5 = ServiceBuilder::socks5()
        .bind("127.0.0.1:0")
        .auth(auth.clone());
    let v5 = v5.build().await.unwrap();
    let v4 = ServiceBuilder::socks4()
        .bind("127.0.0.1:0")
        .auth(auth.clone());
    let v4 = v4.build().await.unwrap();
    let (p5, p4) = (v5.local_addr(), v4.local_addr());
    tokio::spawn(v5.run(shutdown.clone()));
    tokio::spawn(v4.run(shutdown.clone()));

    let ok = Socks5Stream::connect_with_password(p5, echo, "alice", "any").await;
    assert!(ok.is_ok(), "{ok:?}");
    let denied = Socks5Stream::connect_with_password(p5, echo, "bob", "any").await;
    assert!(matches!(
        denied,
        Err(tokio_socks::Error::PasswordAuthFailure(_))
    ));
    // A SOCKS5 client offering no credentials is refused: the authenticator makes them mandatory.
    let none = Socks5Stream::connect(p5, echo).await;
    assert!(
        matches!(none, Err(tokio_socks::Error::NoAcceptableAuthMethods)),
        "{none:?}"
    );

    assert_eq!(socks4_reply(p4, &socks4_connect(echo, "alice")).await, 0x5A);
    assert_eq!(socks4_reply(p4, &socks4_connect(echo, "bob")).await, 0x5D);

    let seen = auth.0.lock().unwrap().clone();
    let methods: Vec<AuthMethod> = seen.iter().map(|s| s.0).collect();
    use AuthMethod::*;
    assert_eq!(
        methods,
        [Socks5Password, Socks5Password, Socks4UserId, Socks4UserId]
    );
    assert!(
        seen.iter()
            .all(|(_, client, tls)| client.ip().is_loopback() && !tls)
    );
}

/// Refuses port 1 with "host unreachable", sends everything else the default way.
struct RefusePortOne;

impl Routing for RefusePortOne {
    fn route<'a>(&'a self, req: &'a RouteRequest<'a>) -> BoxFuture<'a, Route> {
        let route = if req.target.port() == 1 {
            Route::Refuse(ReplyCode::HostUnreachable)
        } else {
            Route::Default
        };
        Box::pin(std::future::ready(route))
    }
}

#[tokio::test]
async fn routing_refusals_become_reply_codes() {
    let echo = gost_test_support::echo_server().await;
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let v5 = ServiceBuilder::socks5()
        .bind("127.0.0.1:0")
        .routing(RefusePortOne);
    let v5 = v5.build().await.unwrap();
    let v4 = ServiceBuilder::socks4()
        .bind("127.0.0.1:0")
        .routing(RefusePortOne);
    let v4 = v4.build().await.unwrap();
    let (p5, p4) = (v5.local_addr(), v4.local_addr());
    tokio::spawn(v5.run(shutdown.clone()));
    tokio::spawn(v4.run(shutdown.clone()));

    let blocked = SocketAddr::from(([127, 0, 0, 1], 1));
    let mut c = common::socks5_noauth(p5).await;
    c.write_all(&common::request(1, blocked)).await.unwrap();
    assert_eq!(common::read_reply(&mut c).await.0, 0x04);
    let mut c = common::socks5_noauth(p5).await;
    c.write_all(&common::request(1, echo)).await.unwrap();
    assert_eq!(common::read_reply(&mut c).await.0, 0x00);

    assert_eq!(socks4_reply(p4, &socks4_connect(blocked, "")).await, 0x5B);
    assert_eq!(socks4_reply(p4, &socks4_connect(echo, "")).await, 0x5A);
}
