//! Bulk TCP throughput: N streams pumping through a route for a fixed window, counted by the
//! receiver, with the server's CPU time over the same window.

use std::net::SocketAddrV4;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::procfs;
use crate::socks;
use crate::targets::{BULK_BUF, Targets};

/// Which way the bytes flow, seen from the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    Upload,
    Download,
}

/// How a client stream reaches the sink or source.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Route {
    /// Straight to the target: the loopback baseline.
    Direct,
    /// Through a SOCKS5 server (CONNECT).
    Socks(SocketAddrV4),
    /// Through port forwards that already point at the discard sink and the source.
    Forward {
        upload: SocketAddrV4,
        download: SocketAddrV4,
    },
}

/// One bulk measurement.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bulk {
    /// Relayed bytes per second in the window, as Gbit/s.
    pub gbit_per_s: f64,
    /// Bytes counted in the window.
    pub bytes: u64,
    /// CPU seconds the server process tree used in the window (0 for `Direct`).
    pub cpu_secs: f64,
}

async fn open(route: Route, targets: &Targets, dir: Dir) -> Result<TcpStream> {
    let target = match dir {
        Dir::Upload => targets.discard,
        Dir::Download => targets.source,
    };
    let s = match route {
        Route::Direct => TcpStream::connect(target).await?,
        Route::Socks(server) => {
            let mut s = TcpStream::connect(server).await?;
            socks::connect(&mut s, target).await?;
            s
        }
        Route::Forward { upload, download } => {
            TcpStream::connect(if dir == Dir::Upload { upload } else { download }).await?
        }
    };
    Ok(s)
}

/// How long opening one stream (connect and SOCKS handshake) may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `streams` streams in direction `dir` over `route`; discards `warmup`, then measures `window`.
pub(crate) async fn measure(
    route: Route,
    targets: &Targets,
    dir: Dir,
    streams: usize,
    warmup: Duration,
    window: Duration,
    server_pid: Option<u32>,
) -> Result<Bulk> {
    let received = match dir {
        Dir::Upload => targets.discarded.clone(),
        Dir::Download => Arc::new(AtomicU64::new(0)),
    };
    let mut tasks = Vec::with_capacity(streams);
    for _ in 0..streams {
        // A server that stopped answering (one left spinning by its descriptor limit after the idle
        // round) must cost this measurement, not hang the whole run.
        let mut s = tokio::time::timeout(OPEN_TIMEOUT, open(route, targets, dir))
            .await
            .context("opening a bulk stream timed out")?
            .context("opening a bulk stream")?;
        let counter = received.clone();
        tasks.push(tokio::spawn(async move {
            match dir {
                Dir::Upload => {
                    let buf = vec![0xa5u8; BULK_BUF];
                    while s.write_all(&buf).await.is_ok() {}
                }
                Dir::Download => {
                    let mut buf = vec![0u8; BULK_BUF];
                    while let Ok(n @ 1..) = s.read(&mut buf).await {
                        counter.fetch_add(n as u64, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(warmup).await;
    let cpu0 = server_pid.map(procfs::cpu_secs).unwrap_or(0.0);
    let (b0, t0) = (received.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(window).await;
    let (b1, t1) = (received.load(Ordering::Relaxed), Instant::now());
    let cpu1 = server_pid.map(procfs::cpu_secs).unwrap_or(0.0);
    let finished_early = tasks.iter().any(|t| t.is_finished());
    for t in &tasks {
        t.abort();
    }
    // Let the server tear the streams down before the next measurement starts.
    tokio::time::sleep(Duration::from_millis(150)).await;
    anyhow::ensure!(!finished_early, "a stream broke during the measurement");
    let bytes = b1 - b0;
    Ok(Bulk {
        gbit_per_s: bytes as f64 * 8.0 / (t1 - t0).as_secs_f64() / 1e9,
        bytes,
        cpu_secs: cpu1 - cpu0,
    })
}
