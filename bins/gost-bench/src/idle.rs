//! Memory and file descriptors per idle session: open established-but-silent CONNECT sessions in
//! steps, sample the server's process tree at each step, and fit a line.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::procfs::{self, Usage};
use crate::socks;
use crate::stats::slope;
use crate::targets::HOLD_ADDRS;

/// Per-session cost, from the least-squares slope over the sampled steps.
#[derive(Clone, Debug)]
pub(crate) struct Idle {
    pub rss_per_session: f64,
    pub pss_per_session: f64,
    pub fds_per_session: f64,
    /// Sessions open at the last step reached.
    pub reached: usize,
    /// Why fewer sessions than the last step were opened, if so.
    pub stopped: Option<String>,
}

/// Handshakes in flight while filling up to the next step.
const OPENERS: usize = 32;

async fn open_one(
    server: SocketAddrV4,
    target: SocketAddrV4,
    k: usize,
) -> std::io::Result<TcpStream> {
    let src = Ipv4Addr::new(127, 0, 0, 1 + (k % HOLD_ADDRS as usize) as u8);
    let mut s = socks::connect_from(src, server).await?;
    socks::connect(&mut s, target).await?;
    Ok(s)
}

/// Opens sessions up to each of `steps` (ascending) and samples `pid`'s tree at each.
pub(crate) async fn measure(
    server: SocketAddrV4,
    pid: u32,
    hold: &[SocketAddrV4],
    steps: &[usize],
) -> Result<Idle> {
    let base_fds = procfs::usage(pid).fds;
    let mut sessions: Vec<TcpStream> = Vec::with_capacity(*steps.last().unwrap_or(&0));
    let mut samples: Vec<(usize, Usage)> = Vec::new();
    let mut failure = None;
    'steps: for &step in steps {
        let mut opening = JoinSet::new();
        let mut next = sessions.len();
        while sessions.len() < step {
            while opening.len() < OPENERS && next < step {
                let target = hold[next % hold.len()];
                let k = next;
                opening.spawn(tokio::time::timeout(
                    Duration::from_secs(5),
                    open_one(server, target, k),
                ));
                next += 1;
            }
            match opening.join_next().await {
                Some(Ok(Ok(Ok(s)))) => sessions.push(s),
                Some(Ok(Ok(Err(e)))) => {
                    failure = Some(format!("session {} failed: {e}", sessions.len() + 1));
                    break 'steps;
                }
                Some(_) => {
                    failure = Some(format!("session {} timed out", sessions.len() + 1));
                    break 'steps;
                }
                None => break,
            }
        }
        // Let the server finish its per-session setup (relay tasks, buffers) before sampling.
        tokio::time::sleep(Duration::from_millis(300)).await;
        samples.push((sessions.len(), procfs::usage(pid)));
    }
    let reached = sessions.len();
    drop(sessions);
    // Wait (bounded) for the server to close its side, so the next measurement starts clean.
    let deadline = Instant::now() + Duration::from_secs(10);
    while procfs::usage(pid).fds > base_fds + 16 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if samples.len() < 2 {
        bail!(
            "only {reached} idle sessions could be opened: {}",
            failure.unwrap_or_default()
        );
    }
    let fit = |f: fn(&Usage) -> f64| {
        slope(
            &samples
                .iter()
                .map(|(n, u)| (*n as f64, f(u)))
                .collect::<Vec<_>>(),
        )
    };
    let idle = Idle {
        rss_per_session: fit(|u| u.rss as f64).unwrap_or(f64::NAN),
        pss_per_session: fit(|u| u.pss as f64).unwrap_or(f64::NAN),
        fds_per_session: fit(|u| u.fds as f64).unwrap_or(f64::NAN),
        reached,
        stopped: failure,
    };
    Ok(idle)
}
