//! Connection setup rate: closed-loop clients doing connect + greeting + CONNECT + reply + close,
//! with per-handshake latency in a histogram per client task (merged at the end).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use crate::histogram::Histogram;
use crate::socks;
use crate::targets::HOLD_ADDRS;

/// Outcome of one setup-rate measurement.
pub(crate) struct Setup {
    /// Completed setups per second.
    pub per_sec: f64,
    /// Handshake latency (connect until the CONNECT reply is read), µs.
    pub latency: Histogram,
    pub errors: u64,
}

/// A handshake that takes longer than this counts as an error.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `concurrency` closed-loop clients against `server` for `window`, connecting to the hold
/// targets in turn from rotating loopback source addresses (to spread TIME_WAIT 4-tuples).
pub(crate) async fn measure(
    server: SocketAddrV4,
    hold: &[SocketAddrV4],
    concurrency: usize,
    window: Duration,
) -> Setup {
    let start = Instant::now();
    let deadline = start + window;
    let mut tasks = Vec::with_capacity(concurrency);
    for i in 0..concurrency {
        let hold = hold.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::default();
            let (mut done, mut errors) = (0u64, 0u64);
            let mut k = i;
            while Instant::now() < deadline {
                k += 1;
                let src = Ipv4Addr::new(127, 0, 0, 1 + (k % HOLD_ADDRS as usize) as u8);
                let target = hold[k % hold.len()];
                let t0 = Instant::now();
                let attempt = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
                    let mut s = socks::connect_from(src, server).await?;
                    socks::connect(&mut s, target).await?;
                    Ok::<_, std::io::Error>(s)
                })
                .await;
                match attempt {
                    Ok(Ok(s)) => {
                        hist.record(t0.elapsed().as_micros() as u64);
                        drop(s);
                        done += 1;
                    }
                    _ => {
                        errors += 1;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
            (hist, done, errors)
        }));
    }
    let mut latency = Histogram::default();
    let (mut done, mut errors) = (0, 0);
    for t in tasks {
        if let Ok((h, d, e)) = t.await {
            latency.merge(&h);
            done += d;
            errors += e;
        }
    }
    Setup {
        per_sec: done as f64 / start.elapsed().as_secs_f64(),
        latency,
        errors,
    }
}
