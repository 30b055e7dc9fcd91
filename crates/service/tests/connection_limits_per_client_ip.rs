//! Upstream's `climiter` in the service runner: a client IP over its limit has its extra connection
//! closed at once while other IPs are still served, its place frees when one of its connections ends,
//! the service-wide limit counts everyone, and nothing (fd, task, report) leaks.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gost_service::relay::Transferred;
use gost_service::{
    Closed, Conn, ConnLimits, Handler, HostLimit, Observer, Report, Service, ServiceOptions,
};
use gost_test_support::exchange::until;
use gost_test_support::fd_count;
use gost_transport::tcp::{TcpListener, TcpOptions};
use gost_transport::{BoxFuture, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

/// fd counts are per process: the tests of this file take turns, each on its own runtime created
/// after its turn starts (a runtime holds fds too).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// In this file's turn, runs `test` against a service with `limits` (its address and the runner's
/// counts), then stops the service and waits for the descriptors to be back where they were. Returns
/// the counts for the caller's final checks. The test drops its connections when it returns.
fn in_turn(limits: ConnLimits, test: impl AsyncFnOnce(SocketAddr, Arc<Counts>)) -> Arc<Counts> {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let fds_before = fd_count();
        let counts = Arc::new(Counts::default());
        let (addr, token, task) = start(limits, counts.clone()).await;
        test(addr, counts.clone()).await;
        token.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        until("fds back to the start", Duration::from_secs(5), || {
            fd_count() <= fds_before
        })
        .await;
        counts
    })
}

/// Echoes until the client closes.
struct Echo;

impl Handler for Echo {
    fn handle<'a>(&'a self, mut conn: Stream, _ctx: &'a Conn) -> BoxFuture<'a, Report> {
        Box::pin(async move {
            let (mut r, mut w) = tokio::io::split(&mut conn);
            let result = tokio::io::copy(&mut r, &mut w)
                .await
                .map(drop)
                .map_err(Into::into);
            Report {
                target: None,
                transferred: Transferred::default(),
                result,
                relay: None,
            }
        })
    }
}

/// Counts the events of the runner.
#[derive(Default)]
struct Counts {
    accepted: AtomicUsize,
    closed: AtomicUsize,
    refused: AtomicUsize,
}

impl Observer for Counts {
    fn accepted(&self, _: &Conn) {
        self.accepted.fetch_add(1, Ordering::SeqCst);
    }
    fn closed(&self, _: &Conn, _: &Closed<'_>) {
        self.closed.fetch_add(1, Ordering::SeqCst);
    }
    fn refused(&self, _: &str, _: SocketAddr) {
        self.refused.fetch_add(1, Ordering::SeqCst);
    }
}

async fn start(
    limits: ConnLimits,
    counts: Arc<Counts>,
) -> (SocketAddr, CancellationToken, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0", TcpOptions::default())
        .await
        .unwrap();
    let opts = ServiceOptions {
        conn_limits: limits.into(),
        drain_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let svc = Service::new(l, Echo, opts).with_observer(counts);
    let addr = svc.local_addr();
    let token = CancellationToken::new();
    (addr, token.clone(), tokio::spawn(svc.run(token)))
}

/// Connects to `server` from the loopback address `from` (127.0.0.2 is loopback too).
async fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    s.connect(server).await.unwrap()
}

/// Whether the service serves `c`: an echo comes back (true) or the connection is closed (false).
async fn served(c: &mut TcpStream) -> bool {
    let msg = b"ping";
    if c.write_all(msg).await.is_err() {
        return false;
    }
    let mut got = [0u8; 4];
    let read = tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut got)).await;
    match read.expect("neither served nor closed within 5 s") {
        Ok(_) => {
            assert_eq!(&got, msg);
            true
        }
        Err(_) => false,
    }
}

/// Waits (bounded) for the runner to report a closed connection.
async fn one_closed(counts: &Counts) {
    until(
        "the closed connection's report",
        Duration::from_secs(5),
        || counts.closed.load(Ordering::SeqCst) >= 1,
    )
    .await;
}

#[test]
fn one_ip_over_its_limit_is_closed_while_others_are_served() {
    // climiter `$$ 2`
    let limits = ConnLimits {
        per_ip: Some(2),
        ..ConnLimits::default()
    };
    let counts = in_turn(limits, async |addr, counts| {
        let mut a1 = connect_from("127.0.0.1", addr).await;
        let mut a2 = connect_from("127.0.0.1", addr).await;
        assert!(served(&mut a1).await && served(&mut a2).await);
        let mut a3 = connect_from("127.0.0.1", addr).await;
        assert!(
            !served(&mut a3).await,
            "the third connection of one IP is closed"
        );
        assert_eq!(counts.refused.load(Ordering::SeqCst), 1);

        // Another client IP has its own count.
        let mut b1 = connect_from("127.0.0.2", addr).await;
        let mut b2 = connect_from("127.0.0.2", addr).await;
        assert!(served(&mut b1).await && served(&mut b2).await);
        // The first IP's live connections were never disturbed.
        assert!(served(&mut a1).await && served(&mut a2).await);

        // Its place frees when one of its connections ends.
        drop(a1);
        one_closed(&counts).await;
        let mut a4 = connect_from("127.0.0.1", addr).await;
        assert!(served(&mut a4).await, "a freed place is usable again");
        let mut a5 = connect_from("127.0.0.1", addr).await;
        assert!(!served(&mut a5).await);
        assert_eq!(counts.refused.load(Ordering::SeqCst), 2);
    });
    // Refused connections produce no accepted/closed pair; every accepted one was closed.
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 5);
    assert_eq!(counts.closed.load(Ordering::SeqCst), 5);
}

#[test]
fn the_service_limit_counts_every_client_and_ip_lines_override_per_ip() {
    // 127.0.0.2 may hold 3 (its own line), everyone else 1, the service 4 in all.
    // climiter `$ 4`, `$$ 1`, `127.0.0.2 3`
    let mut limits = ConnLimits {
        service: Some(4),
        per_ip: Some(1),
        ..ConnLimits::default()
    };
    limits.set_host(HostLimit {
        addr: "127.0.0.2".parse().unwrap(),
        prefix: 32,
        limit: Some(3),
    });
    let counts = in_turn(limits, async |addr, counts| {
        let mut held = Vec::new();
        for from in ["127.0.0.1", "127.0.0.2", "127.0.0.2", "127.0.0.2"] {
            let mut c = connect_from(from, addr).await;
            assert!(served(&mut c).await, "{from}");
            held.push(c);
        }
        let mut extra = connect_from("127.0.0.3", addr).await;
        assert!(!served(&mut extra).await, "the service holds 4");
        drop(held.pop());
        one_closed(&counts).await;
        let mut c = connect_from("127.0.0.3", addr).await;
        assert!(served(&mut c).await, "a place freed in the service");
        let mut again = connect_from("127.0.0.1", addr).await;
        assert!(!served(&mut again).await, "127.0.0.1 holds its 1");
    });
    assert_eq!(counts.refused.load(Ordering::SeqCst), 2);
    assert_eq!(
        counts.accepted.load(Ordering::SeqCst),
        counts.closed.load(Ordering::SeqCst)
    );
}
