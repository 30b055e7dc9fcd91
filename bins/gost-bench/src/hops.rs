//! Encrypted chains, ours against upstream GOST: `gost -L tcp://127.0.0.1:A/IPERF -F
//! socks5+T://127.0.0.1:B` in front of a second `gost -L socks5+T://127.0.0.1:B`, for T in tls, wss
//! and kcp, each measured with a single iperf3 stream through the forward port A. Both programs get
//! the same command lines (their defaults), so the table's ratio is ours / upstream. With `--baseline`
//! (and `baseline` in `--servers`) a third column runs that other build of ours, interleaved, for
//! before/after comparisons of a change to an encrypted transport.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::iperf::{Iperf, Via};
use crate::procfs;
use crate::report::Table;
use crate::servers::{Proc, free_port, upstream_gost};

/// The hop transports under `socks5+` that `--hops` may name.
pub(crate) const TRANSPORTS: [&str; 3] = ["tls", "wss", "kcp"];

/// One chain: the hop server and the forwarder in front of it.
struct Hop {
    forward: SocketAddrV4,
    _server: Proc,
    _forwarder: Proc,
}

/// A free loopback UDP port (bound and released), for the KCP listener.
fn free_udp_port() -> Result<u16> {
    Ok(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Waits until a UDP socket is bound to `port` (KCP has no TCP port to connect to).
fn wait_udp_bound(server: &mut Proc, port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !procfs::udp_port_bound(port) {
        if let Some(status) = server.exited() {
            bail!("exited during start-up with {status}");
        }
        if Instant::now() > deadline {
            bail!("UDP port {port} not bound after 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

impl Hop {
    fn start(gost: &Path, transport: &str, target: SocketAddrV4) -> Result<Hop> {
        let scheme = format!("socks5+{transport}");
        let kcp = transport == "kcp";
        let port = if kcp { free_udp_port()? } else { free_port()? };
        let mut server = Command::new(gost);
        server.arg("-L").arg(format!("{scheme}://127.0.0.1:{port}"));
        let mut server = Proc::spawn(server, None)?;
        if kcp {
            wait_udp_bound(&mut server, port)
        } else {
            server.wait_ready(port)
        }
        .context("hop server")?;
        let fport = free_port()?;
        let mut fwd = Command::new(gost);
        fwd.arg("-L")
            .arg(format!("tcp://127.0.0.1:{fport}/{target}"))
            .arg("-F")
            .arg(format!("{scheme}://127.0.0.1:{port}"));
        let mut forwarder = Proc::spawn(fwd, None)?;
        forwarder.wait_ready(fport).context("forwarder")?;
        Ok(Hop {
            forward: SocketAddrV4::new(Ipv4Addr::LOCALHOST, fport),
            _server: server,
            _forwarder: forwarder,
        })
    }
}

/// The chain table: one row per transport, columns upstream (the reference), ours and the optional baseline.
pub(crate) struct Hops {
    pub table: Table,
    /// `hops[row][col]`, `None` where that chain could not start.
    hops: Vec<Vec<Option<Hop>>>,
}

impl Hops {
    /// Starts every chain of every program; a chain that cannot start is noted and left out.
    pub(crate) fn start(
        ours: &Path,
        baseline: Option<&Path>,
        transports: &[String],
        iperf: &Iperf,
        runs: usize,
        notes: &mut Vec<String>,
    ) -> Hops {
        let mut programs: Vec<(&str, Result<PathBuf>)> = vec![
            ("upstream GOST 3.2.6", upstream_gost()),
            ("gost-rs (ours)", Ok(ours.to_path_buf())),
        ];
        if let Some(b) = baseline {
            programs.push(("gost-rs baseline", Ok(b.to_path_buf())));
        }
        let mut table = Table::new(programs.iter().map(|p| p.0.to_string()).collect(), runs);
        let mut hops = Vec::new();
        for t in transports {
            table.row(
                format!("tcp:// → socks5+{t} hop, iperf3 1 stream, Gbit/s"),
                true,
                3,
            );
            let mut row = Vec::new();
            for (label, gost) in &programs {
                let hop = gost
                    .as_ref()
                    .map_err(|e| anyhow::anyhow!("{e:#}"))
                    .and_then(|g| Hop::start(g, t, iperf.addr));
                row.push(match hop {
                    Ok(h) => Some(h),
                    Err(e) => {
                        eprintln!("{label} socks5+{t} chain: not run: {e:#}");
                        notes.push(format!("{label} socks5+{t} chain: not run: {e:#}"));
                        None
                    }
                });
            }
            hops.push(row);
        }
        Hops { table, hops }
    }

    /// One iperf3 run through every chain, in turn.
    pub(crate) fn round(&mut self, iperf: &Iperf, secs: u32, failures: &mut crate::run::Failures) {
        for (row, chains) in self.hops.iter().enumerate() {
            for (col, hop) in chains.iter().enumerate() {
                let Some(hop) = hop else { continue };
                let (who, what) = (&self.table.columns[col], &self.table.rows[row].title);
                match iperf.measure(Via::Forward(hop.forward), secs) {
                    Ok(g) => {
                        eprintln!("  {who} / {what}: {g:.3} Gbit/s");
                        self.table.push(row, col, g);
                    }
                    Err(e) => failures.add(who, what, &e),
                }
            }
        }
    }
}
