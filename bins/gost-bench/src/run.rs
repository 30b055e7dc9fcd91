//! `gost-bench run`: start the servers, then repeat every measurement over all of them in turn
//! (interleaved, so drift in machine load hits every server alike), and render the results.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::RunArgs;
use crate::bulk::{self, Dir, Route};
use crate::hops::Hops;
use crate::iperf::{Iperf, Via};
use crate::report::Table;
use crate::servers::{Bins, Chain, Kind, Server};
use crate::targets::{Targets, UdpSink};
use crate::{idle, procfs, setup, socks, udp, verdict};

/// Knobs derived from the command line.
pub(crate) struct Plan {
    pub runs: usize,
    pub warmup: Duration,
    pub window: Duration,
    pub concurrency: Vec<usize>,
    pub session_steps: Vec<usize>,
    pub udp_probe: Duration,
    pub udp_steps: usize,
    pub udp_sizes: Vec<usize>,
    /// Seconds of every iperf3 run.
    pub iperf_secs: u32,
}

impl Plan {
    fn from(a: &RunArgs) -> Plan {
        let (runs, secs, sessions) = if a.quick {
            (1, 0.3, 1000)
        } else {
            (a.runs, a.secs, a.sessions)
        };
        Plan {
            runs,
            warmup: Duration::from_secs_f64((secs / 4.0).max(0.1)),
            window: Duration::from_secs_f64(secs),
            concurrency: vec![1, 16, 64],
            session_steps: vec![sessions / 8, sessions / 4, sessions / 2, sessions],
            udp_probe: Duration::from_secs_f64((secs / 2.0).max(0.2)),
            udp_steps: if a.quick { 3 } else { 6 },
            udp_sizes: vec![64, 1200],
            iperf_secs: if a.quick { 1 } else { a.iperf_secs.max(1) },
        }
    }
}

/// A server under test with its own targets (separate ports keep TIME_WAIT 4-tuples apart).
pub(crate) struct Entry {
    pub server: Server,
    pub targets: Targets,
}

/// Row indices of the main table.
#[derive(Clone)]
pub(crate) struct Rows {
    pub bulk: Vec<(usize, Dir, usize)>,
    pub cpu_per_gb: usize,
    pub setup: Vec<(usize, usize)>,
    pub latency: Vec<(usize, usize, usize)>,
    pub rss: usize,
    pub pss: usize,
    pub fds: usize,
    pub udp: Vec<(usize, usize)>,
    /// iperf3 single stream through proxychains4 (when the `iperf` group runs).
    pub iperf: Option<usize>,
}

/// Failures seen per (column, measurement): count and the first error.
#[derive(Default)]
pub(crate) struct Failures(BTreeMap<(String, String), (usize, String)>);

impl Failures {
    pub(crate) fn add(&mut self, who: &str, what: &str, err: &anyhow::Error) {
        eprintln!("  ! {who} / {what}: {err:#}");
        let e = self
            .0
            .entry((who.to_string(), what.to_string()))
            .or_insert((0, format!("{err:#}")));
        e.0 += 1;
    }

    pub(crate) fn notes(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|((who, what), (n, first))| {
                format!("{who}: {what} failed {n}× (first error: {first})")
            })
            .collect()
    }
}

async fn start_servers(a: &RunArgs, bins: &Bins, notes: &mut Vec<String>) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for name in &a.servers {
        let kind = Kind::parse(name).with_context(|| format!("unknown server {name:?}"))?;
        let server = match Server::start(kind, bins) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{}: not run: {e:#}", kind.label());
                notes.push(format!("{}: not run: {e:#}", kind.label()));
                continue;
            }
        };
        let targets = Targets::start().await?;
        let check = tokio::time::timeout(Duration::from_secs(5), async {
            let mut s = socks::connect_from(Ipv4Addr::LOCALHOST, server.addr).await?;
            socks::connect(&mut s, targets.hold[0]).await
        })
        .await;
        match check {
            Ok(Ok(())) => entries.push(Entry { server, targets }),
            Ok(Err(e)) => notes.push(format!(
                "{}: not run: CONNECT check failed: {e}",
                kind.label()
            )),
            Err(_) => notes.push(format!(
                "{}: not run: CONNECT check timed out",
                kind.label()
            )),
        }
    }
    if entries.is_empty() {
        bail!("no server could be started: {notes:?}");
    }
    Ok(entries)
}

/// One row per value (a concurrency, a datagram size), each paired with its value.
fn rows_per(values: &[usize], mut row: impl FnMut(usize) -> usize) -> Vec<(usize, usize)> {
    values.iter().map(|&v| (row(v), v)).collect()
}

fn add_rows(t: &mut Table, plan: &Plan, iperf: bool) -> Rows {
    let mut bulk = Vec::new();
    for (streams, dir) in [
        (1, Dir::Upload),
        (1, Dir::Download),
        (4, Dir::Upload),
        (4, Dir::Download),
    ] {
        let name = if streams == 1 {
            "1 stream"
        } else {
            "4 streams"
        };
        let d = if dir == Dir::Upload {
            "upload"
        } else {
            "download"
        };
        bulk.push((
            t.row(format!("TCP {name} {d}, Gbit/s"), true, 2),
            dir,
            streams,
        ));
    }
    let iperf = iperf.then(|| t.row("iperf3 1 stream via proxychains4, Gbit/s", true, 2));
    let cpu_per_gb = t.row("server CPU s per GB relayed (all TCP bulk runs)", false, 3);
    let setup = rows_per(&plan.concurrency, |c| {
        t.row(format!("setup rate, {c} concurrent, conn/s"), false, 0)
    });
    let latency = [1, 64]
        .iter()
        .map(|&c| {
            (
                t.row(format!("handshake p50 at {c} concurrent, µs"), false, 0),
                t.row(format!("handshake p99 at {c} concurrent, µs"), false, 0),
                c,
            )
        })
        .collect();
    let rss = t.row("idle session RSS, bytes/session", false, 0);
    let pss = t.row("idle session PSS, bytes/session", false, 0);
    let fds = t.row("fds per idle session", false, 2);
    let udp = rows_per(&plan.udp_sizes, |s| {
        t.row(format!("UDP relay {s} B, kpps at <1% loss"), true, 1)
    });
    Rows {
        bulk,
        cpu_per_gb,
        setup,
        latency,
        rss,
        pss,
        fds,
        udp,
        iperf,
    }
}

/// Everything a run produced, for rendering.
pub(crate) struct Outcome {
    pub main: Table,
    pub rows: Rows,
    pub kinds: Vec<Option<Kind>>,
    pub chain: Option<Table>,
    pub hops: Option<Table>,
    pub notes: Vec<String>,
    pub plan: Plan,
    pub load_before: String,
    pub load_after: String,
}

/// The state of one benchmark session: servers, targets, and the tables being filled.
struct Bench {
    plan: Plan,
    entries: Vec<Entry>,
    table: Table,
    rows: Rows,
    direct_targets: Targets,
    sink: UdpSink,
    chains: Vec<Chain>,
    chain_targets: Targets,
    chain_table: Option<Table>,
    iperf: Option<Iperf>,
    hops: Option<Hops>,
    failures: Failures,
}

impl Bench {
    /// Route, targets and server pid of main-table column `col` (0 is direct loopback).
    fn column(&self, col: usize) -> (Route, &Targets, Option<u32>) {
        match col {
            0 => (Route::Direct, &self.direct_targets, None),
            _ => {
                let e = &self.entries[col - 1];
                (
                    Route::Socks(e.server.addr),
                    &e.targets,
                    Some(e.server.proc.pid),
                )
            }
        }
    }

    async fn bulk_round(&mut self) {
        let mut cpu = vec![0.0; self.entries.len()];
        let mut bytes = vec![0u64; self.entries.len()];
        for (row, dir, streams) in self.rows.bulk.clone() {
            for col in 0..=self.entries.len() {
                let (route, targets, pid) = self.column(col);
                let p = &self.plan;
                match bulk::measure(route, targets, dir, streams, p.warmup, p.window, pid).await {
                    Ok(b) => {
                        eprintln!(
                            "  {} / {}: {:.2} Gbit/s",
                            self.table.columns[col], self.table.rows[row].title, b.gbit_per_s
                        );
                        self.table.push(row, col, b.gbit_per_s);
                        if col > 0 {
                            cpu[col - 1] += b.cpu_secs;
                            bytes[col - 1] += b.bytes;
                        }
                    }
                    Err(e) => {
                        self.failures
                            .add(&self.table.columns[col], &self.table.rows[row].title, &e)
                    }
                }
            }
        }
        for (i, (c, b)) in cpu.iter().zip(&bytes).enumerate() {
            if *b > 0 {
                self.table
                    .push(self.rows.cpu_per_gb, i + 1, c / (*b as f64 / 1e9));
            }
        }
    }

    /// iperf3 through proxychains4 at every server (column 0: straight to the iperf3 server).
    fn iperf_round(&mut self) {
        let (Some(iperf), Some(row)) = (&self.iperf, self.rows.iperf) else {
            return;
        };
        for col in 0..=self.entries.len() {
            let via = match col {
                0 => Via::Direct,
                _ => Via::Socks(self.entries[col - 1].server.addr),
            };
            let who = &self.table.columns[col];
            match iperf.measure(via, self.plan.iperf_secs) {
                Ok(g) => {
                    eprintln!("  {who} / iperf3 via proxychains4: {g:.2} Gbit/s");
                    self.table.push(row, col, g);
                }
                Err(e) => self.failures.add(who, &self.table.rows[row].title, &e),
            }
        }
    }

    async fn setup_round(&mut self) {
        for (row, c) in self.rows.setup.clone() {
            for i in 0..self.entries.len() {
                let e = &self.entries[i];
                let s = setup::measure(e.server.addr, &e.targets.hold, c, self.plan.window).await;
                eprintln!(
                    "  {} / setup c={c}: {:.0}/s p50 {:?} p99 {:?} µs, {} errors",
                    e.server.kind.name(),
                    s.per_sec,
                    s.latency.quantile(0.5),
                    s.latency.quantile(0.99),
                    s.errors
                );
                if s.errors > 0 {
                    let total = s.errors + s.latency.count();
                    let err = anyhow::anyhow!("{} of {total} handshakes failed", s.errors);
                    self.failures.add(
                        &self.table.columns[i + 1],
                        &self.table.rows[row].title,
                        &err,
                    );
                }
                if s.latency.count() > 0 {
                    self.table.push(row, i + 1, s.per_sec);
                }
                for &(p50, p99, lc) in &self.rows.latency {
                    if lc == c
                        && let (Some(a), Some(b)) =
                            (s.latency.quantile(0.5), s.latency.quantile(0.99))
                    {
                        self.table.push(p50, i + 1, a as f64);
                        self.table.push(p99, i + 1, b as f64);
                    }
                }
            }
        }
    }

    async fn udp_round(&mut self) {
        for (row, size) in self.rows.udp.clone() {
            for col in 0..=self.entries.len() {
                let server = match col {
                    0 => None,
                    _ if !self.entries[col - 1].server.kind.udp() => continue,
                    _ => Some(self.entries[col - 1].server.addr),
                };
                let p = &self.plan;
                match udp::measure(server, &self.sink, size, p.udp_probe, p.udp_steps).await {
                    Ok(pps) => {
                        eprintln!("  {} / UDP {size} B: {pps:.0} pps", self.table.columns[col]);
                        self.table.push(row, col, pps / 1e3);
                    }
                    Err(e) => {
                        self.failures
                            .add(&self.table.columns[col], &self.table.rows[row].title, &e)
                    }
                }
            }
        }
    }

    async fn chain_round(&mut self) {
        let Some(t) = self.chain_table.as_mut() else {
            return;
        };
        for (row, dir) in [(0, Dir::Upload), (1, Dir::Download)] {
            for col in 0..=self.chains.len() {
                let route = match col {
                    0 => Route::Direct,
                    _ => Route::Forward {
                        upload: self.chains[col - 1].upload,
                        download: self.chains[col - 1].download,
                    },
                };
                let p = &self.plan;
                match bulk::measure(route, &self.chain_targets, dir, 1, p.warmup, p.window, None)
                    .await
                {
                    Ok(b) => {
                        eprintln!(
                            "  {} / {}: {:.2} Gbit/s",
                            t.columns[col], t.rows[row].title, b.gbit_per_s
                        );
                        t.push(row, col, b.gbit_per_s);
                    }
                    Err(e) => self.failures.add(&t.columns[col], &t.rows[row].title, &e),
                }
            }
        }
    }

    /// Restarts every server before measuring its idle sessions: an allocator keeps the memory freed by
    /// earlier rounds (a previous run's 8k sessions) and would hand it out again without growing RSS, so
    /// only a fresh process shows the real cost per session.
    ///
    /// Every server is restarted after the round as well: one that ran into its descriptor limit may be
    /// left unable to serve (hev-socks5-server spins at 100 % CPU and never answers again), which must
    /// not spoil the measurements that follow.
    async fn idle_round(&mut self, bins: &Bins) {
        self.restart_servers(bins);
        self.measure_idle().await;
        self.restart_servers(bins);
    }

    fn restart_servers(&mut self, bins: &Bins) {
        for e in &mut self.entries {
            match Server::start(e.server.kind, bins) {
                Ok(fresh) => e.server = fresh,
                Err(err) => eprintln!("  ! restarting {}: {err:#}", e.server.kind.name()),
            }
        }
    }

    async fn measure_idle(&mut self) {
        for (i, e) in self.entries.iter().enumerate() {
            let steps = &self.plan.session_steps;
            match idle::measure(e.server.addr, e.server.proc.pid, &e.targets.hold, steps).await {
                Ok(m) => {
                    eprintln!(
                        "  {} / idle: RSS {:.0} PSS {:.0} B/session, {:.2} fds/session ({} sessions)",
                        e.server.kind.name(),
                        m.rss_per_session,
                        m.pss_per_session,
                        m.fds_per_session,
                        m.reached
                    );
                    self.table.push(self.rows.rss, i + 1, m.rss_per_session);
                    self.table.push(self.rows.pss, i + 1, m.pss_per_session);
                    self.table.push(self.rows.fds, i + 1, m.fds_per_session);
                    if let Some(why) = m.stopped {
                        let err = anyhow::anyhow!(
                            "stopped at {} sessions, slope over the steps reached: {why}",
                            m.reached
                        );
                        self.failures
                            .add(&self.table.columns[i + 1], "idle sessions", &err);
                    }
                }
                Err(err) => self
                    .failures
                    .add(&self.table.columns[i + 1], "idle sessions", &err),
            }
        }
    }
}

/// Starts our chain (plain and TLS) when our server is part of the run.
async fn start_chains(
    bins: &Bins,
    targets: &Targets,
    runs: usize,
    notes: &mut Vec<String>,
) -> (Vec<Chain>, Option<Table>) {
    let mut chains = Vec::new();
    for tls in [false, true] {
        match Chain::start(tls, bins, targets.discard, targets.source) {
            Ok(c) => chains.push(c),
            Err(e) => notes.push(format!(
                "chain over {}: not run: {e:#}",
                if tls { "tls" } else { "tcp" }
            )),
        }
    }
    if chains.is_empty() {
        return (chains, None);
    }
    let mut cols = vec!["direct loopback".to_string()];
    cols.extend(chains.iter().map(|c| c.label.to_string()));
    let mut t = Table::new(cols, runs);
    t.row("TCP 1 stream upload, Gbit/s", true, 2);
    t.row("TCP 1 stream download, Gbit/s", true, 2);
    (chains, Some(t))
}

pub(crate) async fn run(a: RunArgs) -> Result<()> {
    let fd_limit = procfs::raise_fd_limit().context("raising the open-file limit")?;
    let plan = Plan::from(&a);
    let want = |g: &str| a.only.iter().any(|x| x == g);
    let need = plan.session_steps.last().copied().unwrap_or(0) * 2 + 512;
    if want("idle") && (fd_limit as usize) < need {
        bail!("open-file limit {fd_limit} is below the {need} the idle-session measurement needs");
    }
    let bins = Bins {
        gost: a.gost.clone(),
        baseline: a.baseline.clone(),
        peers: a.peers.clone(),
    };
    let load_before = procfs::loadavg();
    let mut notes = Vec::new();
    let entries = start_servers(&a, &bins, &mut notes).await?;
    let mut columns = vec!["direct loopback".to_string()];
    columns.extend(entries.iter().map(|e| e.server.kind.label().to_string()));
    let mut kinds = vec![None];
    kinds.extend(entries.iter().map(|e| Some(e.server.kind)));
    let iperf = if want("iperf") || want("hops") {
        Iperf::start()
            .map_err(|e| notes.push(format!("iperf3 rows: not run: {e:#}")))
            .ok()
    } else {
        None
    };
    let mut table = Table::new(columns, plan.runs);
    let rows = add_rows(&mut table, &plan, want("iperf") && iperf.is_some());
    let hops = match &iperf {
        Some(i) if want("hops") => {
            // The baseline build gets its own chains only when it is one of the servers asked for.
            let baseline = bins
                .baseline
                .as_deref()
                .filter(|_| a.servers.iter().any(|s| s == "baseline"));
            let hops = Hops::start(&bins.gost, baseline, &a.hops, i, plan.runs, &mut notes);
            Some(hops)
        }
        _ => None,
    };
    let chain_targets = Targets::start().await?;
    let ours = entries.iter().any(|e| e.server.kind == Kind::Ours);
    let (chains, chain_table) = if want("chain") && ours {
        start_chains(&bins, &chain_targets, plan.runs, &mut notes).await
    } else {
        (Vec::new(), None)
    };
    let mut b = Bench {
        plan,
        entries,
        table,
        rows,
        direct_targets: Targets::start().await?,
        sink: UdpSink::start()?,
        chains,
        chain_targets,
        chain_table,
        iperf,
        hops,
        failures: Failures::default(),
    };
    for run in 0..b.plan.runs {
        eprintln!(
            "== run {}/{} (load {})",
            run + 1,
            b.plan.runs,
            procfs::loadavg()
        );
        if want("bulk") {
            b.bulk_round().await;
        }
        if want("setup") {
            b.setup_round().await;
        }
        if want("udp") {
            b.udp_round().await;
        }
        b.chain_round().await;
        // The iperf3 client is a child process waited for on this thread: tell tokio, so the
        // in-process targets keep running on the other worker.
        tokio::task::block_in_place(|| {
            b.iperf_round();
            if let (Some(h), Some(i)) = (b.hops.as_mut(), b.iperf.as_ref()) {
                h.round(i, b.plan.iperf_secs, &mut b.failures);
            }
        });
        if want("idle") {
            b.idle_round(&bins).await;
        }
    }
    notes.extend(b.failures.notes());
    for e in &mut b.entries {
        if let Some(status) = e.server.proc.exited() {
            notes.push(format!(
                "{}: the server exited during the run ({status})",
                e.server.kind.label()
            ));
        }
    }
    let load_after = procfs::loadavg();
    let outcome = Outcome {
        main: b.table,
        rows: b.rows,
        kinds,
        chain: b.chain_table,
        hops: b.hops.take().map(|h| h.table),
        notes,
        plan: b.plan,
        load_before,
        load_after,
    };
    drop(b.chains);
    drop(b.entries);
    verdict::render(&a, &outcome)
}
