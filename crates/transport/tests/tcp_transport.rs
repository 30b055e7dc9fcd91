//! TCP listener and dialer: bulk transfer, concurrency, half-close, the refused-connection error, the
//! connect timeout and the fallback across the several addresses of one name.

mod common;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use gost_transport::tcp::{Resolver, TcpDialer, TcpListener, TcpOptions};
use gost_transport::{BoxFuture, Dialer, Error, Listener};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_mib_each_way_arrive_intact() {
    let (l, addr) = tcp_listener().await;
    let (c, s) = connect_pair(&l, &TcpDialer::default(), &addr).await;
    assert!(c.is_tcp() && s.is_tcp(), "plain tcp stays unboxed");
    bulk_both_ways(c, s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_connections() {
    let (l, addr) = tcp_listener().await;
    concurrent_echo(Arc::new(l), Arc::new(TcpDialer::default()), addr, 100).await;
}

#[tokio::test]
async fn half_close_propagates() {
    let (l, addr) = tcp_listener().await;
    let (c, s) = connect_pair(&l, &TcpDialer::default(), &addr).await;
    half_close(c, s).await;
}

#[tokio::test]
async fn refused_connection_names_the_address() {
    let (l, addr) = tcp_listener().await;
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
async fn bad_listen_address_is_rejected_before_any_io() {
    // Dialers take a parsed `socks_wire::Address`, so only listen addresses are still text.
    let e = TcpListener::bind("::1:80", TcpOptions::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("brackets"), "{e}");
}

/// A resolver that knows one name, `multi.test`, with a fixed list of addresses.
#[derive(Debug)]
struct Names(Vec<SocketAddr>);

type Answer<'a> = BoxFuture<'a, io::Result<Vec<SocketAddr>>>;

impl Resolver for Names {
    fn resolve<'a>(&'a self, host: &'a str, _port: u16) -> Answer<'a> {
        let answer = match host {
            "multi.test" => Ok(self.0.clone()),
            _ => Err(io::Error::new(io::ErrorKind::NotFound, "unknown name")),
        };
        Box::pin(std::future::ready(answer))
    }
}

fn dialer_for(addrs: Vec<SocketAddr>, opts: TcpOptions) -> TcpDialer {
    TcpDialer::new(opts).with_resolver(Arc::new(Names(addrs)))
}

/// An address whose connection attempts hang: a listener on `ip` with a full accept queue (the kernel
/// drops further SYNs instead of refusing them). The returned sockets must stay alive while it is used.
async fn black_hole(ip: &str) -> (SocketAddr, Vec<tokio::net::TcpStream>, socket2::Socket) {
    use socket2::{Domain, Socket, Type};
    let addr: SocketAddr = format!("{ip}:0").parse().unwrap();
    let l = Socket::new(Domain::for_address(addr), Type::STREAM, None).unwrap();
    l.bind(&addr.into()).unwrap();
    l.listen(0).unwrap();
    let addr = l.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..64 {
        match tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            Ok(Ok(s)) => fillers.push(s),
            Ok(Err(e)) => panic!("filling the accept queue of {addr}: {e}"),
            Err(_) => return (addr, fillers, l),
        }
    }
    panic!("the accept queue of {addr} never filled up");
}

#[tokio::test]
async fn refused_first_address_falls_back_to_the_next() {
    let (l, addr) = tcp_listener().await;
    let port = l.local_addr().port();
    // `multi.test` resolves to ::1 first, where nothing listens on that port, then to 127.0.0.1.
    let v6: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    let opts = TcpOptions {
        fallback_delay: Duration::from_secs(30),
        ..TcpOptions::default()
    };
    let d = dialer_for(vec![v6, l.local_addr()], opts);
    let started = Instant::now();
    let (c, s) = connect_pair(&l, &d, &format!("multi.test:{port}").parse().unwrap()).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the refusal started the next attempt at once, not after the fallback delay"
    );
    assert_eq!(c.peer_addr(), Some(l.local_addr()));
    half_close(c, s).await;
    drop(addr);
}

#[tokio::test]
async fn localhost_reaches_a_listener_on_either_family() {
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host("localhost:1")
        .await
        .unwrap()
        .collect();
    println!("localhost resolves to {resolved:?} here");
    for bind in ["127.0.0.1:0", "[::1]:0"] {
        let l = TcpListener::bind(bind, TcpOptions::default())
            .await
            .unwrap();
        if !resolved.iter().any(|a| a.ip() == l.local_addr().ip()) {
            continue;
        }
        let target = format!("localhost:{}", l.local_addr().port())
            .parse()
            .unwrap();
        let (c, s) = connect_pair(&l, &TcpDialer::default(), &target).await;
        half_close(c, s).await;
    }
}

#[tokio::test]
async fn hanging_first_address_is_overtaken_after_the_fallback_delay() {
    let (hole, _fillers, _hole_listener) = black_hole("127.0.0.2").await;
    let (l, _) = tcp_listener().await;
    let delay = Duration::from_millis(100);
    let opts = TcpOptions {
        fallback_delay: delay,
        ..TcpOptions::default()
    };
    let d = dialer_for(vec![hole, l.local_addr()], opts);
    let started = Instant::now();
    let (c, s) = connect_pair(&l, &d, &"multi.test:1".parse().unwrap()).await;
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    assert_eq!(c.peer_addr(), Some(l.local_addr()));
    half_close(c, s).await;
}

#[tokio::test]
async fn connect_timeout_covers_every_attempt() {
    let (a, _fa, _la) = black_hole("127.0.0.2").await;
    let (b, _fb, _lb) = black_hole("127.0.0.3").await;
    let timeout = Duration::from_millis(300);
    let opts = TcpOptions {
        connect_timeout: timeout,
        fallback_delay: Duration::from_millis(50),
        ..TcpOptions::default()
    };
    let started = Instant::now();
    let e = dialer_for(vec![a, b], opts)
        .dial(&"multi.test:9".parse().unwrap())
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(e, Error::ConnectTimeout { .. }), "{e:?}");
    assert_eq!(e.io_kind(), Some(io::ErrorKind::TimedOut));
    assert_eq!(
        e.to_string(),
        "connect to multi.test:9 timed out after 300ms"
    );
    assert!(took >= timeout && took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn unknown_name_is_a_resolve_error() {
    let d = dialer_for(Vec::new(), TcpOptions::default());
    let e = d
        .dial(&"nowhere.test:80".parse().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Resolve { .. }), "{e:?}");
    assert_eq!(e.io_kind(), Some(io::ErrorKind::NotFound));
    assert!(
        e.to_string().starts_with("cannot resolve \"nowhere.test\""),
        "{e}"
    );
    let e = d.dial(&"multi.test:80".parse().unwrap()).await.unwrap_err();
    assert!(e.to_string().contains("no addresses"), "{e}");
}

#[tokio::test]
async fn dropping_the_listener_closes_the_port() {
    let (l, addr) = tcp_listener().await;
    drop(l);
    let e = tokio::net::TcpStream::connect(addr.to_string())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
}
