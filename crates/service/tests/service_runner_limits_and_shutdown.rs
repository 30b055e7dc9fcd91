//! The service runner: connection limit, graceful shutdown with a drain deadline, per-connection reports
//! and their log line.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use std::sync::Arc;

use gost_service::metrics::Metrics;
use gost_service::relay::{Relay, Transferred};
use gost_service::{Conn, Handler, Report, Service, ServiceOptions};
use gost_transport::tcp::{TcpListener, TcpOptions};
use gost_transport::{BoxFuture, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Echoes until the client closes.
struct Echo;

impl Handler for Echo {
    fn handle<'a>(&'a self, mut conn: Stream, _ctx: &'a Conn) -> BoxFuture<'a, Report> {
        Box::pin(async move {
            let mut buf = [0u8; 1024];
            let mut n_total = 0u64;
            let result = loop {
                match conn.read(&mut buf).await {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        if let Err(e) = conn.write_all(&buf[..n]).await {
                            break Err(e.into());
                        }
                        n_total += n as u64;
                    }
                    Err(e) => break Err(e.into()),
                }
            };
            Report {
                target: Some("echo".into()),
                transferred: Transferred {
                    a_to_b: n_total,
                    b_to_a: n_total,
                },
                result,
                relay: None,
            }
        })
    }
}

/// Ends every session in a relay to `0` (a CONNECT without the handshake).
struct RelayTo(SocketAddr);

impl Handler for RelayTo {
    fn handle<'a>(&'a self, conn: Stream, _ctx: &'a Conn) -> BoxFuture<'a, Report> {
        Box::pin(async move {
            let mut report = Report {
                target: Some("connect echo".into()),
                ..Report::default()
            };
            match TcpStream::connect(self.0).await {
                Ok(t) => report.relay = Some(Relay::new(conn, Stream::from_tcp(t))),
                Err(e) => report.result = Err(e.into()),
            }
            report
        })
    }
}

fn named(name: &str) -> ServiceOptions {
    ServiceOptions {
        name: name.into(),
        ..Default::default()
    }
}

async fn start(
    opts: ServiceOptions,
) -> (SocketAddr, CancellationToken, tokio::task::JoinHandle<()>) {
    serve(Echo, opts, None).await
}

async fn serve(
    handler: impl Handler,
    opts: ServiceOptions,
    metrics: Option<Arc<Metrics>>,
) -> (SocketAddr, CancellationToken, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0", TcpOptions::default())
        .await
        .unwrap();
    let mut svc = Service::new(l, handler, opts);
    if let Some(m) = metrics {
        svc = svc.with_observer(m);
    }
    let addr = svc.local_addr();
    let token = CancellationToken::new();
    let task = tokio::spawn(svc.run(token.clone()));
    (addr, token, task)
}

/// Waits (at most 5 s) for the service task to return after its token was cancelled.
async fn stopped(task: tokio::task::JoinHandle<()>) {
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the service stopped within 5 s")
        .unwrap();
}

async fn echo_once(c: &mut TcpStream, msg: &[u8]) {
    c.write_all(msg).await.unwrap();
    let mut got = vec![0u8; msg.len()];
    c.read_exact(&mut got).await.unwrap();
    assert_eq!(got, msg);
}

#[tokio::test]
async fn shutdown_stops_accepting_and_lets_live_connections_finish() {
    let (addr, token, task) = start(ServiceOptions::default()).await;
    let mut live = TcpStream::connect(addr).await.unwrap();
    echo_once(&mut live, b"before").await;
    token.cancel();
    // The listener is closed once the loop saw the signal: new clients are refused.
    let mut refused = false;
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(refused, "listener still accepting after shutdown");
    echo_once(&mut live, b"during drain").await;
    assert!(!task.is_finished());
    drop(live);
    stopped(task).await;
}

#[tokio::test]
async fn drain_deadline_cuts_connections_that_never_end() {
    let opts = ServiceOptions {
        drain_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let (addr, token, task) = start(opts).await;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    echo_once(&mut idle, b"x").await;
    token.cancel();
    stopped(task).await;
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf))
        .await
        .unwrap();
    assert!(
        matches!(n, Ok(0) | Err(_)),
        "connection not closed after the drain deadline"
    );
}

/// Sends `len` bytes through an echoing relay and reads them all back.
async fn round_trip(c: &mut TcpStream, len: usize) {
    let data = gost_test_support::pattern(7, len);
    let (mut r, mut w) = c.split();
    let send = async {
        w.write_all(&data).await.unwrap();
    };
    let mut back = vec![0u8; len];
    let recv = async {
        r.read_exact(&mut back).await.unwrap();
    };
    tokio::join!(send, recv);
    assert_eq!(
        gost_test_support::Checksum::of(&back),
        gost_test_support::Checksum::of(&data)
    );
}

/// Polls `logs` for a line holding every part, up to 5 s.
async fn wait_for_line(logs: &gost_test_support::Logs, parts: &[&str]) -> Vec<String> {
    for _ in 0..250 {
        let lines = logs.matching(parts);
        if !lines.is_empty() {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "no log line with {parts:?}; all lines: {:?}",
        logs.matching(&[])
    );
}

/// A connection cut at the drain deadline reports the bytes its relay moved (it reported zero), and
/// the metrics count them while it still runs (they grew only at close).
#[tokio::test(flavor = "current_thread")]
async fn connections_cut_by_the_drain_report_what_they_relayed() {
    let (logs, _guard) = gost_test_support::Logs::capture();
    let echo = gost_test_support::echo_server().await;
    let metrics = Arc::new(Metrics::with_host("h"));
    let opts = ServiceOptions {
        name: "svc-cut".into(),
        drain_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let (addr, token, task) = serve(RelayTo(echo), opts, Some(metrics.clone())).await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    const LEN: usize = 3 << 20;
    round_trip(&mut c, LEN).await;
    let text = metrics.render();
    let counted = |name: &str| -> u64 {
        let prefix = format!("{name}{{host=\"h\",service=\"svc-cut\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    // All but the last step's worth is counted while the connection is open.
    let step = gost_service::PROGRESS_STEP;
    let input = counted("gost_service_transfer_input_bytes_total");
    let output = counted("gost_service_transfer_output_bytes_total");
    assert!(input + step >= LEN as u64, "input counted live: {input}");
    assert!(output + step >= LEN as u64, "output counted live: {output}");
    token.cancel();
    stopped(task).await;
    let bytes = format!("bytes_in={LEN}");
    let lines = wait_for_line(
        &logs,
        &[
            "message=connection",
            "service=\"svc-cut\"",
            &bytes,
            "outcome=\"cut\"",
        ],
    )
    .await;
    assert!(lines[0].contains(&format!("bytes_out={LEN}")), "{lines:?}");
    // At close the metrics hold the whole count, each byte once.
    let text = metrics.render();
    for name in [
        "gost_service_transfer_input_bytes_total",
        "gost_service_transfer_output_bytes_total",
    ] {
        let line = format!("{name}{{host=\"h\",service=\"svc-cut\"}} {LEN}");
        assert!(text.contains(&line), "{line} not in {text}");
    }
}

/// The drain's `live=N` counts only connections still open: finished ones are reaped before counting.
#[tokio::test(flavor = "current_thread")]
async fn drain_counts_only_live_connections() {
    let (logs, _guard) = gost_test_support::Logs::capture();
    let (addr, token, task) = start(named("svc-live")).await;
    let mut stays = TcpStream::connect(addr).await.unwrap();
    echo_once(&mut stays, b"x").await;
    let mut leaves = TcpStream::connect(addr).await.unwrap();
    echo_once(&mut leaves, b"y").await;
    drop(leaves);
    wait_for_line(
        &logs,
        &[
            "message=connection",
            "service=\"svc-live\"",
            "bytes_in=1",
            "outcome=\"ok\"",
        ],
    )
    .await;
    token.cancel();
    let draining = wait_for_line(&logs, &["draining", "service=svc-live"]).await;
    assert!(draining[0].contains("live=1"), "{draining:?}");
    drop(stays);
    stopped(task).await;
}

/// Over the cap of live connections a client is closed at once and the refusal logged (it used to wait
/// silently in the listen backlog); the place frees when a served client leaves.
#[tokio::test(flavor = "current_thread")]
async fn connection_cap_refuses_extra_clients_promptly_until_a_slot_frees() {
    let (logs, _guard) = gost_test_support::Logs::capture();
    let opts = ServiceOptions {
        name: "svc-cap".into(),
        max_connections: 2,
        ..Default::default()
    };
    let (addr, token, task) = start(opts).await;
    let mut a = TcpStream::connect(addr).await.unwrap();
    let mut b = TcpStream::connect(addr).await.unwrap();
    echo_once(&mut a, b"a").await;
    echo_once(&mut b, b"b").await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf))
        .await
        .expect("third client neither served nor closed within 2 s");
    assert!(
        matches!(closed, Ok(0) | Err(_)),
        "third client served beyond the cap of 2"
    );
    let refusal = logs.matching(&[
        "WARN",
        "connection limit reached",
        "service=svc-cap",
        "scope=\"connections\"",
        "limit=2",
    ]);
    assert_eq!(
        refusal.len(),
        1,
        "refusal log; all lines: {:?}",
        logs.matching(&[])
    );
    drop(a);
    // The freed place serves the next client (the server may see `a` leave a moment later).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut d = loop {
        let mut d = TcpStream::connect(addr).await.unwrap();
        if d.write_all(b"d").await.is_ok()
            && let Ok(Ok(1)) = tokio::time::timeout(Duration::from_secs(1), d.read(&mut buf)).await
        {
            break d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no place freed after a client left"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(&buf, b"d");
    echo_once(&mut d, b"e").await;
    token.cancel();
    drop((b, c, d));
    stopped(task).await;
}

#[tokio::test(flavor = "current_thread")]
async fn each_connection_ends_with_one_log_line() {
    let (logs, _guard) = gost_test_support::Logs::capture();
    let (addr, token, task) = start(named("svc-log")).await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    let client = c.local_addr().unwrap();
    echo_once(&mut c, b"twelve bytes").await;
    drop(c);
    let client_field = format!("client={client}");
    let parts = [
        "INFO",
        "message=connection",
        "service=\"svc-log\"",
        client_field.as_str(),
        "target=\"echo\"",
        "bytes_in=12",
        "bytes_out=12",
        "duration_ms=",
        "outcome=\"ok\"",
    ];
    let lines = wait_for_line(&logs, &parts).await;
    assert_eq!(
        lines.len(),
        1,
        "per-connection line; all lines: {:?}",
        logs.matching(&[])
    );
    token.cancel();
    task.await.unwrap();
}

/// A UDP ASSOCIATE and a UDP-TUN session cut at the drain deadline report the datagram bytes they
/// relayed (they reported zero: only a TCP relay kept running totals).
#[tokio::test(flavor = "current_thread")]
async fn udp_sessions_cut_by_the_drain_report_what_they_relayed() {
    use common::{read_reply, request, socks5_noauth};
    use gost_service::{Socks5Handler, Socks5Options};
    use tokio::net::UdpSocket;

    let (logs, _guard) = gost_test_support::Logs::capture();
    let echo = gost_test_support::udp_echo().await;
    let SocketAddr::V4(echo_v4) = echo else {
        panic!("udp echo on IPv4 loopback")
    };
    let handler = Socks5Handler::new(Socks5Options {
        udp: true,
        ..Default::default()
    });
    let opts = ServiceOptions {
        name: "svc-udp-cut".into(),
        drain_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let (addr, token, task) = serve(handler, opts, None).await;
    const ROUNDS: usize = 3;
    const LEN: usize = 1000;
    let payload = gost_test_support::pattern(3, LEN);

    // UDP ASSOCIATE: the datagram header is 10 bytes (IPv4), the payload is what counts.
    let mut assoc = socks5_noauth(addr).await;
    assoc
        .write_all(&request(3, "0.0.0.0:0".parse().unwrap()))
        .await
        .unwrap();
    let (rep, relay) = read_reply(&mut assoc).await;
    assert_eq!(rep, 0);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut datagram = request(0, echo);
    datagram[..3].copy_from_slice(&[0, 0, 0]);
    datagram.extend_from_slice(&payload);
    let mut buf = vec![0u8; 2048];
    for _ in 0..ROUNDS {
        client.send_to(&datagram, relay).await.unwrap();
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
            .await
            .expect("answer through the association")
            .unwrap();
        assert_eq!(&buf[..n], &datagram[..]);
    }

    // UDP-TUN (0xF3, port 0): frames LEN(2) FRAG(1) ATYP(1) ADDR PORT(2) DATA over the stream.
    let mut tun = socks5_noauth(addr).await;
    tun.write_all(&request(0xF3, "0.0.0.0:0".parse().unwrap()))
        .await
        .unwrap();
    let (rep, _) = read_reply(&mut tun).await;
    assert_eq!(rep, 0);
    let mut frame = (LEN as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(&[0, 1]);
    frame.extend_from_slice(&echo_v4.ip().octets());
    frame.extend_from_slice(&echo_v4.port().to_be_bytes());
    frame.extend_from_slice(&payload);
    for _ in 0..ROUNDS {
        tun.write_all(&frame).await.unwrap();
        let mut back = vec![0u8; frame.len()];
        tokio::time::timeout(Duration::from_secs(5), tun.read_exact(&mut back))
            .await
            .expect("answer through the tunnel")
            .unwrap();
        // Byte 2 of an answer is 0xff in upstream's frames; the rest echoes what was sent.
        assert_eq!((&back[..2], &back[3..]), (&frame[..2], &frame[3..]));
    }

    token.cancel();
    stopped(task).await;
    let bytes = format!("bytes_in={}", ROUNDS * LEN);
    for kind in ["udp-associate", "udp-tun"] {
        let lines = wait_for_line(
            &logs,
            &["service=\"svc-udp-cut\"", kind, &bytes, "outcome=\"cut\""],
        )
        .await;
        let out = format!("bytes_out={}", ROUNDS * LEN);
        assert!(lines[0].contains(&out), "{lines:?}");
    }
}
