//! Idle sockets from one address cannot stop a TLS or WebSocket listener (issue 17, item 4): every check
//! that can refuse a client by its address acts before the handshake. One "attacker" address
//! (127.0.0.2) holds more idle sockets than the listener runs handshakes at once, while a real client
//! from 127.0.0.1 still completes a SOCKS5 CONNECT promptly; the attacker's sockets are closed, those
//! over its handshake slots at once and the others at the first-byte deadline; and the per-client-IP
//! connection limit (`climiter` `$$`) counts connections still in their handshake.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::Running;
use gost_service::socks_wire::Address;
use gost_service::{ConnLimits, Observer, Service, ServiceOptions, Socks5Handler, Socks5Options};
use gost_test_support::exchange::echoes;
use gost_test_support::socks5::{ask, greet_noauth};
use gost_test_support::{Logs, echo_server, raise_nofile};
use gost_transport::tcp::{TcpDialer, TcpOptions};
use gost_transport::tls::{ClientTls, ServerTls, TlsDialer, TlsListener};
use gost_transport::ws::{WsDialer, WsListener, WsOptions};
use gost_transport::{AnyListener, Dialer, Stream};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

/// More idle sockets than a listener runs handshakes at once (1024).
const IDLE: usize = 1100;

/// The first-byte deadline of the listeners under test.
const FIRST_BYTE: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug)]
enum Kind {
    Tls,
    Ws,
}

async fn listener(kind: Kind) -> AnyListener {
    let tcp = TcpOptions {
        first_byte_timeout: FIRST_BYTE,
        ..TcpOptions::default()
    };
    match kind {
        Kind::Tls => AnyListener::Tls(
            TlsListener::bind("127.0.0.1:0", tcp, ServerTls::self_signed().unwrap())
                .await
                .unwrap(),
        ),
        Kind::Ws => AnyListener::Ws(
            WsListener::bind("127.0.0.1:0", tcp, WsOptions::default(), None)
                .await
                .unwrap(),
        ),
    }
}

fn dialer(kind: Kind) -> Box<dyn Dialer> {
    let tcp = TcpDialer::new(TcpOptions::default());
    match kind {
        Kind::Tls => Box::new(TlsDialer::new(tcp, ClientTls::insecure())),
        Kind::Ws => Box::new(WsDialer::new(tcp, WsOptions::default(), None)),
    }
}

/// Counts connections closed at accept by the connection limits.
#[derive(Default)]
struct Refusals(AtomicUsize);

impl Observer for Refusals {
    fn refused(&self, _: &str, _: SocketAddr) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

async fn serve(kind: Kind, limits: ConnLimits, refusals: Arc<Refusals>) -> Running {
    let l = listener(kind).await;
    let opts = ServiceOptions {
        conn_limits: limits.into(),
        drain_timeout: Duration::from_millis(100),
        ..ServiceOptions::default()
    };
    let svc =
        Service::new(l, Socks5Handler::new(Socks5Options::default()), opts).with_observer(refusals);
    Running::spawn(svc.local_addr(), |token| svc.run(token))
}

/// `n` TCP connections to `server` from 127.0.0.2 that never send a byte.
async fn idle_sockets(server: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut socks = Vec::with_capacity(n);
    for _ in 0..n {
        let s = TcpSocket::new_v4().unwrap();
        s.bind(SocketAddr::new(IpAddr::from([127, 0, 0, 2]), 0))
            .unwrap();
        socks.push(s.connect(server).await.unwrap());
    }
    socks
}

/// A SOCKS5 CONNECT over the listener's transport from 127.0.0.1, with an echo through it.
async fn real_client(kind: Kind, proxy: SocketAddr, echo: SocketAddr) {
    let mut s: Stream = dialer(kind).dial(&Address::from(proxy)).await.unwrap();
    greet_noauth(&mut s).await;
    assert_eq!(ask(&mut s, 1, echo).await.0, 0, "CONNECT reply");
    echoes(&mut s, b"still served").await;
}

/// Whether `s` is closed by the server: EOF or reset.
async fn closed(mut s: TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.read(&mut b).await, Ok(0) | Err(_))
}

async fn idle_flood_leaves_real_clients_served(kind: Kind) {
    raise_nofile();
    let echo = echo_server().await;
    let proxy = serve(kind, ConnLimits::default(), Arc::default()).await;
    let flooded = Instant::now();
    let idle = idle_sockets(proxy.addr, IDLE).await;

    let start = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), real_client(kind, proxy.addr, echo))
        .await
        .unwrap_or_else(|_| panic!("{kind:?}: the real client was not served within 5 s"));
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "{kind:?}: the real client took {took:?} behind {IDLE} idle sockets"
    );

    // Every idle socket is closed: those over the address's handshake slots at once, the others at
    // the first-byte deadline.
    let mut reads: tokio::task::JoinSet<bool> = idle.into_iter().map(closed).collect();
    let all_closed = async {
        while let Some(closed) = reads.join_next().await {
            assert!(closed.unwrap(), "{kind:?}: an idle socket got data");
        }
    };
    tokio::time::timeout(FIRST_BYTE + Duration::from_secs(4), all_closed)
        .await
        .unwrap_or_else(|_| panic!("{kind:?}: idle sockets still open long after the deadline"));
    let after = flooded.elapsed();
    assert!(
        after >= FIRST_BYTE,
        "{kind:?}: idle sockets closed after {after:?}, before the first-byte deadline"
    );
}

#[tokio::test]
async fn tls_listener_serves_a_real_client_behind_1100_idle_sockets() {
    let (logs, _guard) = Logs::capture();
    idle_flood_leaves_real_clients_served(Kind::Tls).await;
    assert!(
        !logs
            .matching(&[
                "WARN",
                "handshakes of this client IP at their limit",
                "127.0.0.2"
            ])
            .is_empty(),
        "the closed sockets were not logged"
    );
}

#[tokio::test]
async fn ws_listener_serves_a_real_client_behind_1100_idle_sockets() {
    idle_flood_leaves_real_clients_served(Kind::Ws).await;
}

/// `$$ 8`: the ninth idle socket of 127.0.0.2 is refused at accept, before any TLS handshake (the idle
/// sockets never finish one), while 127.0.0.1 is served.
#[tokio::test]
async fn per_client_limit_counts_connections_before_their_tls_handshake() {
    let echo = echo_server().await;
    let refusals = Arc::new(Refusals::default());
    let limits = ConnLimits {
        per_ip: Some(8),
        ..ConnLimits::default()
    };
    let proxy = serve(Kind::Tls, limits, refusals.clone()).await;
    let idle = idle_sockets(proxy.addr, 20).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while refusals.0.load(Ordering::SeqCst) < 12 {
        assert!(
            Instant::now() < deadline,
            "refused {} of the 12 idle sockets over the limit",
            refusals.0.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(refusals.0.load(Ordering::SeqCst), 12);
    real_client(Kind::Tls, proxy.addr, echo).await;
    drop(idle);
}
