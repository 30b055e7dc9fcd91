//! A peer that stops reading the connection: our writers are held back by a bounded outgoing queue
//! instead of buffering without limit, and the keepalive timeout finally releases them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gost_smux::{CloseReason, Config, Session};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

const PIPE: usize = 64 * 1024;

#[tokio::test(start_paused = true)]
async fn writes_stall_with_bounded_memory_until_the_keepalive_timeout() {
    for version in [1u8, 2] {
        let cfg = Config {
            version,
            ..Config::default()
        };
        // `_raw` is the peer's end: it never reads and never writes.
        let (ours, _raw) = tokio::io::duplex(PIPE);
        let session = Session::client(ours, cfg.clone()).unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let mut writers = Vec::new();
        for _ in 0..8 {
            let mut s = session.open_stream().await.unwrap();
            let accepted = accepted.clone();
            writers.push(tokio::spawn(async move {
                let chunk = vec![0x5a; 16 * 1024];
                loop {
                    match s.write(&chunk).await {
                        Ok(n) => accepted.fetch_add(n, Ordering::Relaxed),
                        Err(e) => return e,
                    };
                }
            }));
        }
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs(10)).await;
        let stalled_at = accepted.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(
            accepted.load(Ordering::Relaxed),
            stalled_at,
            "v{version}: writers are blocked"
        );
        // The pipe, the session's queue (256 KiB plus one 64 KiB write) and the batch the driver is
        // writing (at most as much again): nothing grows with the amount the writers try to send.
        let bound = PIPE + 2 * (256 + 64) * 1024 + 64 * 1024;
        assert!(
            stalled_at <= bound,
            "v{version}: {stalled_at} bytes accepted, bound {bound}"
        );
        assert!(!session.is_closed(), "v{version}: not yet timed out");

        assert_eq!(session.closed().await, CloseReason::KeepAliveTimeout);
        assert_eq!(start.elapsed(), cfg.keep_alive_timeout);
        for w in writers {
            let e = w.await.unwrap();
            assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "v{version}: {e}");
        }
    }
}
