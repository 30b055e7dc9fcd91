//! Shared test fixtures: services on loopback, a tiny HTTP responder, TCP and UDP echo servers, and the
//! rule for third-party programs (fail under CI, skip with a notice elsewhere).
#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::time::Duration;

use gost_service::{Handler, Service, ServiceOptions};
use gost_transport::tcp::{TcpListener, TcpOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;

/// A running service; dropping it cancels the service (its task ends and the listener closes).
pub struct Running {
    pub addr: SocketAddr,
    token: CancellationToken,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// Runs `handler` on a TCP listener on 127.0.0.1:0.
pub async fn serve(handler: impl Handler) -> Running {
    let l = TcpListener::bind("127.0.0.1:0", TcpOptions::default())
        .await
        .unwrap();
    serve_on(l, handler).await
}

/// Runs `handler` on the given listener.
pub async fn serve_on(
    l: impl gost_transport::Listener + 'static,
    handler: impl Handler,
) -> Running {
    let opts = ServiceOptions {
        drain_timeout: Duration::from_millis(100),
        ..Default::default()
    };
    let svc = Service::new(l, handler, opts);
    let addr = svc.local_addr();
    let token = CancellationToken::new();
    tokio::spawn(svc.run(token.clone()));
    Running { addr, token }
}

/// The body the HTTP responder sends.
pub const BODY: &str = "hello from the test server\n";

/// An HTTP/1.1 server answering every request with 200 and [`BODY`].
pub async fn http_server() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
                    BODY.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    addr
}

/// A TCP server echoing every connection until EOF, then closing.
pub async fn echo_server() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.into_split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// A UDP server echoing every datagram to its sender.
pub async fn udp_echo() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = s.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = s.recv_from(&mut buf).await {
            let _ = s.send_to(&buf[..n], from).await;
        }
    });
    addr
}

/// Whether `program` can run; when it cannot: panics under CI, else prints a skip notice and returns false.
pub fn have(program: &str, probe: &[&str]) -> bool {
    let ok = std::process::Command::new(program)
        .args(probe)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("{program} is required by this test (install it; .ci/run does)");
        }
        eprintln!("SKIPPED: {program} is not installed; this test needs it (CI fails instead)");
    }
    ok
}

/// SOCKS5 greeting + no-auth negotiation on a raw connection.
pub async fn socks5_noauth(addr: SocketAddr) -> TcpStream {
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(&[5, 1, 0]).await.unwrap();
    let mut m = [0u8; 2];
    c.read_exact(&mut m).await.unwrap();
    assert_eq!(m, [5, 0]);
    c
}

/// Encodes a SOCKS5 request for an IP target.
pub fn request(cmd: u8, target: SocketAddr) -> Vec<u8> {
    let mut v = vec![5, cmd, 0];
    match target {
        SocketAddr::V4(a) => {
            v.push(1);
            v.extend_from_slice(&a.ip().octets());
        }
        SocketAddr::V6(a) => {
            v.push(4);
            v.extend_from_slice(&a.ip().octets());
        }
    }
    v.extend_from_slice(&target.port().to_be_bytes());
    v
}

/// Reads one SOCKS5 reply exactly; returns REP and the bound address.
pub async fn read_reply(c: &mut TcpStream) -> (u8, SocketAddr) {
    let mut head = [0u8; 4];
    c.read_exact(&mut head).await.unwrap();
    assert_eq!(head[0], 5, "reply version");
    let addr = match head[3] {
        1 => {
            let mut b = [0u8; 6];
            c.read_exact(&mut b).await.unwrap();
            SocketAddr::from(([b[0], b[1], b[2], b[3]], u16::from_be_bytes([b[4], b[5]])))
        }
        4 => {
            let mut b = [0u8; 18];
            c.read_exact(&mut b).await.unwrap();
            let ip: [u8; 16] = b[..16].try_into().unwrap();
            SocketAddr::from((ip, u16::from_be_bytes([b[16], b[17]])))
        }
        t => panic!("unexpected ATYP {t} in reply"),
    };
    (head[1], addr)
}

/// Waits for EOF (or reset) on `c` within 5 s.
pub async fn expect_closed(c: &mut TcpStream) {
    let mut buf = [0u8; 64];
    let r = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf)).await;
    match r {
        Ok(Ok(0)) | Ok(Err(_)) => {}
        Ok(Ok(n)) => panic!("expected close, got {:?}", &buf[..n]),
        Err(_) => panic!("connection still open after 5 s"),
    }
}

/// One record of a recorded upstream session (`tests/data/*.jsonl`, copied from the shared vectors).
pub struct Record {
    pub dir: String,
    pub conn: u64,
    pub bytes: Vec<u8>,
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// Loads a vector file: its header and its records.
pub fn vector(name: &str) -> (serde_json::Value, Vec<Record>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(format!("{name}.jsonl"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read vector {}: {e}", path.display()));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = serde_json::from_str(lines.next().unwrap()).unwrap();
    let records = lines
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            Record {
                dir: v["dir"].as_str().unwrap().to_owned(),
                conn: v["conn"].as_u64().unwrap_or(0),
                bytes: unhex(v["hex"].as_str().unwrap()),
            }
        })
        .collect();
    (header, records)
}

/// All bytes of one direction of one connection, concatenated (chunk boundaries are not messages).
pub fn stream_of(records: &[Record], conn: u64, dir: &str) -> Vec<u8> {
    records
        .iter()
        .filter(|r| r.conn == conn && r.dir == dir)
        .flat_map(|r| r.bytes.iter().copied())
        .collect()
}

/// Log events captured on this thread: `LEVEL field=value …` per event, in order.
#[derive(Clone, Default)]
pub struct Logs(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Logs {
    /// Captures the events of this thread (a current-thread runtime runs every task on it) until the
    /// returned guard is dropped.
    pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        keep_callsites_asking();
        let logs = Logs::default();
        let guard = tracing::subscriber::set_default(logs.clone());
        (logs, guard)
    }

    /// The captured lines that contain every one of `parts`.
    pub fn matching(&self, parts: &[&str]) -> Vec<String> {
        let lines = self.0.lock().unwrap();
        lines
            .iter()
            .filter(|l| parts.iter().all(|p| l.contains(p)))
            .cloned()
            .collect()
    }
}

/// Registers, once per process, a second dispatcher that never records but answers "sometimes" for
/// every callsite. Why: with a single registered dispatcher, tracing-core caches a callsite's interest
/// from the subscriber of whichever thread hits it first; another test's thread (no subscriber) would
/// cache "never" for the log line a capturing test waits for (seen: 4 failures in 40 runs of
/// service_runner_limits_and_shutdown). With two dispatchers registered, interest is combined over
/// all of them, so each event asks the current thread's subscriber.
fn keep_callsites_asking() {
    static ASKING: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    ASKING.get_or_init(|| tracing::Dispatch::new(AlwaysAsk));
}

struct AlwaysAsk;

impl tracing::Subscriber for AlwaysAsk {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

/// A minimal subscriber: no spans, every event recorded as text.
impl tracing::Subscriber for Logs {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(event.metadata().level().to_string());
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The process out of file descriptors: the soft limit lowered to 512 and every free descriptor
/// taken. Dropping it frees them and restores the limit. The limit is process-wide: only for a test
/// binary of its own.
pub struct OutOfFds {
    hog: Vec<std::fs::File>,
    old_limit: u64,
}

impl OutOfFds {
    /// Lowers the limit and opens `/dev/null` until open(2) fails with EMFILE.
    pub fn now() -> OutOfFds {
        let old_limit = set_nofile(512);
        let mut hog = Vec::new();
        loop {
            match std::fs::File::open("/dev/null") {
                Ok(f) => hog.push(f),
                Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
                Err(e) => panic!("unexpected error filling the descriptor table: {e}"),
            }
        }
        OutOfFds { hog, old_limit }
    }
}

impl Drop for OutOfFds {
    fn drop(&mut self) {
        self.hog.clear();
        set_nofile(self.old_limit);
    }
}

/// Sets the soft limit of open file descriptors to `soft` (at most the hard limit); returns the old
/// soft limit.
fn set_nofile(soft: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a valid struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        let old = lim.rlim_cur;
        lim.rlim_cur = soft.min(lim.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        old
    }
}
