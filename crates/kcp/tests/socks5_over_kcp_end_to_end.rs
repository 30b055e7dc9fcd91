//! SOCKS5 over KCP end to end: gost-service's SOCKS5 handler behind our kcp listener
//! (`gost_transport::kcp`), reached by our kcp dialer, with and without datagram loss (a
//! `-F socks5+kcp://…` chain built from flags is tested by bins/gost). Dropping the listener and the dialer
//! frees every task, silent clients' sessions expire, and the dialer reconnects when its session
//! dies.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use gost_service::{Service, ServiceOptions, Socks5Handler, Socks5Options};
use gost_test_support::echo_server;
use gost_transport::kcp::{KcpConfig, KcpDialer, KcpListener, ListenerLimits, SessionLimits};
use gost_transport::{Dialer, Stream};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use support::{lossy_relay, wait_until};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const KIB: usize = 1024;

/// A running SOCKS5 service; cancel `token` and await `task` to stop it.
struct Running {
    addr: SocketAddr,
    token: CancellationToken,
    task: JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        self.token.cancel();
        self.task.await.unwrap();
    }
}

fn serve(listener: impl gost_transport::Listener + 'static, handler: Socks5Handler) -> Running {
    let opts = ServiceOptions {
        drain_timeout: Duration::from_millis(100),
        ..ServiceOptions::default()
    };
    let svc = Service::new(listener, handler, opts);
    let addr = svc.local_addr();
    let token = CancellationToken::new();
    let task = tokio::spawn(svc.run(token.clone()));
    Running { addr, token, task }
}

/// `socks5+kcp://127.0.0.1:0`: the SOCKS5 handler (direct outbound) on our kcp listener.
async fn kcp_socks5_server(cfg: KcpConfig, limits: ListenerLimits) -> Running {
    let l = KcpListener::bind_with_limits("127.0.0.1:0", cfg, limits)
        .await
        .unwrap();
    serve(l, Socks5Handler::new(Socks5Options::default()))
}

/// SOCKS5 greeting (no auth) and CONNECT to `target`; asserts success.
async fn socks5_connect<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, target: SocketAddr) {
    let SocketAddr::V4(t) = target else {
        panic!("IPv4 target expected")
    };
    let mut req = vec![5, 1, 0, 5, 1, 0, 1];
    req.extend_from_slice(&t.ip().octets());
    req.extend_from_slice(&t.port().to_be_bytes());
    s.write_all(&req).await.unwrap();
    s.flush().await.unwrap();
    let mut reply = [0u8; 12];
    s.read_exact(&mut reply).await.unwrap();
    assert_eq!(reply[..2], [5, 0], "method selection");
    assert_eq!(reply[2..5], [5, 0, 0], "CONNECT reply");
}

/// Sends `len` pseudo-random bytes through `s` (to an echo server) and checks they come back intact.
async fn echo_roundtrip<S>(s: S, len: usize, seed: u64)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let mut data = vec![0u8; len];
    StdRng::seed_from_u64(seed).fill_bytes(&mut data);
    let (mut rd, mut wr) = tokio::io::split(s);
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        wr.write_all(&sent).await.unwrap();
        wr.flush().await.unwrap();
        wr
    });
    let mut got = vec![0u8; len];
    rd.read_exact(&mut got).await.unwrap();
    assert!(got == data, "echoed bytes differ");
    drop(writer.await.unwrap());
}

/// A dialer with default settings whose sessions end after 1 s without a word from the server.
fn short_lived_dialer() -> KcpDialer {
    let limits = SessionLimits {
        idle_timeout: Duration::from_secs(1),
    };
    KcpDialer::with_limits(KcpConfig::default(), limits).unwrap()
}

async fn dial_socks5(dialer: &KcpDialer, server: SocketAddr, target: SocketAddr) -> Stream {
    let mut s = dialer.dial(&server.into()).await.unwrap();
    socks5_connect(&mut s, target).await;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_connect_over_kcp_with_upstream_default_settings() {
    let echo = echo_server().await;
    let server = kcp_socks5_server(KcpConfig::default(), ListenerLimits::default()).await;
    let dialer = KcpDialer::new(KcpConfig::default()).unwrap();
    let mut conns = Vec::new();
    for i in 0..3 {
        let s = dial_socks5(&dialer, server.addr, echo).await;
        conns.push(tokio::spawn(echo_roundtrip(s, 256 * KIB, i)));
    }
    for c in conns {
        c.await.unwrap();
    }
    assert_eq!(
        dialer.session_count(),
        1,
        "one KCP session carries every stream"
    );
    server.stop().await;
}

/// Settings a user would pick for a lossy link: larger windows, the `fast3` preset.
fn lossy_link_config() -> KcpConfig {
    KcpConfig {
        mode: "fast3".into(),
        sndwnd: 256,
        rcvwnd: 256,
        ..KcpConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_over_kcp_stays_intact_with_ten_percent_loss() {
    let echo = echo_server().await;
    for (cfg, len, what) in [
        (KcpConfig::default(), 32 * KIB, "default settings"),
        (lossy_link_config(), 1024 * KIB, "fast3, windows 256"),
    ] {
        let server = kcp_socks5_server(cfg.clone(), ListenerLimits::default()).await;
        let (relay, stats, relay_task) = lossy_relay(server.addr, 0.10, 11).await;
        let dialer = KcpDialer::new(cfg).unwrap();
        let started = std::time::Instant::now();
        let s = dial_socks5(&dialer, relay, echo).await;
        echo_roundtrip(s, len, 3).await;
        eprintln!(
            "{what}: {} KiB echoed through 10% loss in {:?}",
            len / KIB,
            started.elapsed()
        );
        stats.assert_loss_near(0.10);
        relay_task.abort();
        server.stop().await;
    }
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Waits (up to 10 s) for the runtime's live tasks to fall back to `count`, as counted `when`.
async fn assert_tasks_return_to(count: usize, when: &str) {
    assert!(
        wait_until(Duration::from_secs(10), || alive_tasks() == count).await,
        "{} tasks alive, expected {count} ({when})",
        alive_tasks()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_and_dropping_everything_frees_every_task() {
    let echo = echo_server().await;
    let before_server = alive_tasks();
    let limits = ListenerLimits {
        session: SessionLimits {
            idle_timeout: Duration::from_secs(1),
        },
        ..ListenerLimits::default()
    };
    let server = kcp_socks5_server(KcpConfig::default(), limits).await;
    // Spawned by now: the service, the kcp demultiplexer and the smux accept loop.
    assert!(alive_tasks() >= before_server + 3);
    let idle_server = alive_tasks();

    let dialer = KcpDialer::new(KcpConfig::default()).unwrap();
    for i in 0..3 {
        let s = dial_socks5(&dialer, server.addr, echo).await;
        echo_roundtrip(s, 32 * KIB, 20 + i).await;
    }
    assert!(alive_tasks() > idle_server);
    // The client vanishes (KCP has no FIN): the server's session expires after its idle timeout
    // and takes its KCP driver, smux driver and stream tasks with it.
    drop(dialer);
    assert_tasks_return_to(idle_server, "with the server idle").await;
    server.stop().await;
    assert_tasks_return_to(before_server, "before the server started").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_listener_ends_its_live_sessions() {
    let echo = echo_server().await;
    let before_server = alive_tasks();
    let server = kcp_socks5_server(KcpConfig::default(), ListenerLimits::default()).await;
    // A client that keeps its session (and a stream) open while the server goes away.
    let dialer = short_lived_dialer();
    let s = dial_socks5(&dialer, server.addr, echo).await;
    server.stop().await;
    drop(s);
    drop(dialer);
    assert_tasks_return_to(before_server, "before the server started").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialer_opens_a_new_session_when_the_old_one_died() {
    let echo = echo_server().await;
    let first = kcp_socks5_server(KcpConfig::default(), ListenerLimits::default()).await;
    let addr = first.addr;
    let dialer = short_lived_dialer();
    echo_roundtrip(dial_socks5(&dialer, addr, echo).await, 16 * KIB, 30).await;
    assert_eq!(dialer.session_count(), 1);
    // The server restarts: the old session goes silent and ends on the client's idle timeout.
    first.stop().await;
    assert!(wait_until(Duration::from_secs(10), || dialer.session_count() == 0).await);
    let mut second = None;
    for _ in 0..100 {
        match KcpListener::bind(&addr.to_string(), KcpConfig::default()).await {
            Ok(l) => {
                second = Some(serve(l, Socks5Handler::new(Socks5Options::default())));
                break;
            }
            // The old socket closes once its last session driver has stopped.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let second = second.expect("port free again");
    echo_roundtrip(dial_socks5(&dialer, addr, echo).await, 16 * KIB, 31).await;
    assert_eq!(dialer.session_count(), 1);
    second.stop().await;
}
