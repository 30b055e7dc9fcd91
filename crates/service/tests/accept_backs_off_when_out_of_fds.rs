//! When the process runs out of file descriptors, accept(2) keeps failing with EMFILE while the client
//! waits in the backlog. The runner must back off (not spin) and serve the client once descriptors free up.
//! The failures are logged at a limited rate, not once per attempt.
//! This file is its own test binary because it lowers the process-wide descriptor limit.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gost_service::relay::Transferred;
use gost_service::{Conn, Handler, Report, Service, ServiceOptions};
use gost_test_support::OutOfFds;
use gost_transport::tcp::{TcpListener, TcpOptions};
use gost_transport::{BoxFuture, Error, Listener, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// A real TCP listener that counts accept attempts.
struct Counting {
    inner: TcpListener,
    attempts: Arc<AtomicUsize>,
}

impl Listener for Counting {
    fn accept(&self) -> BoxFuture<'_, Result<(Stream, SocketAddr), Error>> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        self.inner.accept()
    }
    fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr()
    }
}

/// Writes one greeting and closes.
struct Hello;

impl Handler for Hello {
    fn handle<'a>(&'a self, mut conn: Stream, _ctx: &'a Conn) -> BoxFuture<'a, Report> {
        Box::pin(async move {
            let result = conn.write_all(b"hello").await.map_err(Into::into);
            Report {
                target: None,
                transferred: Transferred::default(),
                result,
                relay: None,
            }
        })
    }
}

#[tokio::test(flavor = "current_thread")]
async fn emfile_backs_off_then_recovers() {
    let (logs, _guard) = gost_test_support::Logs::capture();
    let attempts = Arc::new(AtomicUsize::new(0));
    let inner = TcpListener::bind("127.0.0.1:0", TcpOptions::default())
        .await
        .unwrap();
    let addr = inner.local_addr();
    let svc = Service::new(
        Counting {
            inner,
            attempts: attempts.clone(),
        },
        Hello,
        ServiceOptions::default(),
    );
    let token = CancellationToken::new();
    let task = tokio::spawn(svc.run(token.clone()));
    // The client socket exists before the limit is hit; connecting it needs no new descriptor.
    let client = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let out_of_fds = OutOfFds::now();
    client.connect(&addr.into()).unwrap();
    let before = attempts.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let during = attempts.load(Ordering::SeqCst) - before;
    // A hot loop makes thousands of attempts in 600 ms; 5 ms doubling up to 1 s makes about 7.
    assert!(
        during >= 2,
        "accept not retried while out of descriptors ({during} attempts)"
    );
    assert!(
        during <= 20,
        "accept loop spins while out of descriptors ({during} attempts in 600 ms)"
    );
    // The first failure is logged; the following ones are counted, not logged (at most one line per 5 s).
    let warned = logs.matching(&["WARN", "accept failed"]);
    assert_eq!(warned.len(), 1, "accept failures logged: {warned:?}");
    drop(out_of_fds);
    client.set_nonblocking(true).unwrap();
    let mut stream = tokio::net::TcpStream::from_std(client.into()).unwrap();
    let mut buf = [0u8; 5];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"hello");
    token.cancel();
    task.await.unwrap();
}
