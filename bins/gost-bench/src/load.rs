//! `gost-bench load`: drive one kind of load at an already-running SOCKS5 server, so it can be
//! profiled from outside (`perf record -p PID`, see bench/profile.sh).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};

use crate::bulk::{self, Dir, Route};
use crate::setup;
use crate::socks;
use crate::targets::{HOLD_ADDRS, Targets, UdpSink};
use crate::udp;

/// What load to generate.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum LoadKind {
    Upload,
    Download,
    Setup,
    Udp,
    /// Open `--sessions` CONNECT sessions, keep them silent for `--secs`, close them.
    Idle,
}

/// Options of `gost-bench load`.
#[derive(Args, Clone, Debug)]
pub(crate) struct LoadArgs {
    /// The SOCKS5 server to load.
    #[arg(long)]
    pub socks: SocketAddrV4,
    #[arg(long, value_enum, default_value = "upload")]
    pub kind: LoadKind,
    /// Bulk streams (upload/download).
    #[arg(long, default_value_t = 1)]
    pub streams: usize,
    /// Closed-loop clients (setup).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Datagram payload bytes (udp).
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Idle sessions to hold (idle).
    #[arg(long, default_value_t = 1000)]
    pub sessions: usize,
    #[arg(long, default_value_t = 5.0)]
    pub secs: f64,
}

pub(crate) async fn load(a: LoadArgs) -> Result<()> {
    let secs = Duration::from_secs_f64(a.secs);
    let targets = Targets::start().await?;
    let route = Route::Socks(a.socks);
    let warm = Duration::from_millis(200);
    match a.kind {
        LoadKind::Upload | LoadKind::Download => {
            let dir = if matches!(a.kind, LoadKind::Upload) {
                Dir::Upload
            } else {
                Dir::Download
            };
            let b = bulk::measure(route, &targets, dir, a.streams, warm, secs, None).await?;
            println!("{:.2} Gbit/s", b.gbit_per_s);
        }
        LoadKind::Setup => {
            let s = setup::measure(a.socks, &targets.hold, a.concurrency, secs).await;
            println!(
                "{:.0} conn/s, p50 {:?} µs, p99 {:?} µs, {} errors",
                s.per_sec,
                s.latency.quantile(0.5),
                s.latency.quantile(0.99),
                s.errors
            );
        }
        LoadKind::Idle => {
            let mut held = Vec::with_capacity(a.sessions);
            for k in 0..a.sessions {
                let src = Ipv4Addr::new(127, 0, 0, 1 + (k % HOLD_ADDRS as usize) as u8);
                let mut s = socks::connect_from(src, a.socks).await?;
                socks::connect(&mut s, targets.hold[k % targets.hold.len()]).await?;
                held.push(s);
            }
            println!("{} idle sessions open", held.len());
            tokio::time::sleep(secs).await;
        }
        LoadKind::Udp => {
            let sink = UdpSink::start()?;
            let pps = udp::measure(Some(a.socks), &sink, a.size, secs / 8, 6).await?;
            println!("{pps:.0} pps at <1% loss");
        }
    }
    Ok(())
}
