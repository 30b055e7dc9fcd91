//! `gost-bench run`: start the servers, then repeat every measurement over all of them in turn
//! (interleaved, so drift in machine load hits every server alike), and render the results.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::RunArgs;
use crate::bulk::{self, Dir, Route};
use crate::report::Table;
use crate::servers::{Bins, Chain, Kind, Server};
use crate::targets::{Targets, UdpSink};
use crate::{idle, procfs, setup, socks, udp, verdict};

/// Knobs derived from the command line.
pub struct Plan {
    pub runs: usize,
    pub warmup: Duration,
    pub window: Duration,
    pub concurrency: Vec<usize>,
    pub session_steps: Vec<usize>,
    pub udp_probe: Duration,
    pub udp_steps: usize,
    pub udp_sizes: Vec<usize>,
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
        }
    }
}

/// A server under test with its own targets (separate ports keep TIME_WAIT 4-tuples apart).
pub struct Entry {
    pub server: Server,
    pub targets: Targets,
}

/// Row indices of the main table.
pub struct Rows {
    pub bulk: Vec<(usize, Dir, usize)>,
    pub cpu_per_gb: usize,
    pub setup: Vec<(usize, usize)>,
    pub latency: Vec<(usize, usize, usize)>,
    pub rss: usize,
    pub pss: usize,
    pub fds: usize,
    pub udp: Vec<(usize, usize)>,
}

/// Failures seen per (column, measurement): count and the first error.
#[derive(Default)]
pub struct Failures(BTreeMap<(String, String), (usize, String)>);

impl Failures {
    fn add(&mut self, who: &str, what: &str, err: &anyhow::Error) {
        eprintln!("  ! {who} / {what}: {err:#}");
        let e = self
            .0
            .entry((who.to_string(), what.to_string()))
            .or_insert((0, format!("{err:#}")));
        e.0 += 1;
    }

    pub fn notes(&self) -> Vec<String> {
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

fn add_rows(t: &mut Table, plan: &Plan) -> Rows {
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
    let cpu_per_gb = t.row("server CPU s per GB relayed (all TCP bulk runs)", false, 3);
    let setup = plan
        .concurrency
        .iter()
        .map(|&c| {
            (
                t.row(format!("setup rate, {c} concurrent, conn/s"), false, 0),
                c,
            )
        })
        .collect();
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
    let udp = plan
        .udp_sizes
        .iter()
        .map(|&s| {
            (
                t.row(format!("UDP relay {s} B, kpps at <1% loss"), true, 1),
                s,
            )
        })
        .collect();
    Rows {
        bulk,
        cpu_per_gb,
        setup,
        latency,
        rss,
        pss,
        fds,
        udp,
    }
}

/// Everything a run produced, for rendering.
pub struct Outcome {
    pub main: Table,
    pub rows: Rows,
    pub kinds: Vec<Option<Kind>>,
    pub chain: Option<Table>,
    pub notes: Vec<String>,
    pub plan: Plan,
    pub load_before: String,
    pub load_after: String,
}

pub async fn run(a: RunArgs) -> Result<()> {
    let fd_limit = procfs::raise_fd_limit().context("raising the open-file limit")?;
    let plan = Plan::from(&a);
    let need = plan.session_steps.last().copied().unwrap_or(0) * 2 + 512;
    if a.only.iter().any(|g| g == "idle") && (fd_limit as usize) < need {
        bail!("open-file limit {fd_limit} is below the {need} the idle-session measurement needs");
    }
    let bins = Bins {
        gost: a.gost.clone(),
        peers: a.peers.clone(),
    };
    let load_before = procfs::loadavg();
    let mut notes = Vec::new();
    let entries = start_servers(&a, &bins, &mut notes).await?;
    let mut columns = vec!["direct loopback".to_string()];
    columns.extend(entries.iter().map(|e| e.server.kind.label().to_string()));
    let mut kinds = vec![None];
    kinds.extend(entries.iter().map(|e| Some(e.server.kind)));
    let mut table = Table::new(columns);
    let rows = add_rows(&mut table, &plan);
    let want = |g: &str| a.only.iter().any(|x| x == g);
    let direct_targets = Targets::start().await?;
    let sink = UdpSink::start()?;
    let mut failures = Failures::default();

    let ours = entries.iter().any(|e| e.server.kind == Kind::Ours);
    let mut chain = None;
    let mut chains = Vec::new();
    let chain_targets = Targets::start().await?;
    if want("chain") && ours {
        for tls in [false, true] {
            match Chain::start(tls, &bins, chain_targets.discard, chain_targets.source) {
                Ok(c) => chains.push(c),
                Err(e) => notes.push(format!(
                    "chain over {}: not run: {e:#}",
                    if tls { "tls" } else { "tcp" }
                )),
            }
        }
        if !chains.is_empty() {
            let mut cols = vec!["direct loopback".to_string()];
            cols.extend(chains.iter().map(|c| c.label.to_string()));
            let mut t = Table::new(cols);
            t.row("TCP 1 stream upload, Gbit/s", true, 2);
            t.row("TCP 1 stream download, Gbit/s", true, 2);
            chain = Some(t);
        }
    }

    for run in 0..plan.runs {
        eprintln!(
            "== run {}/{} (load {})",
            run + 1,
            plan.runs,
            procfs::loadavg()
        );
        if want("bulk") {
            let mut cpu = vec![0.0; entries.len()];
            let mut bytes = vec![0u64; entries.len()];
            for &(row, dir, streams) in &rows.bulk {
                for col in 0..=entries.len() {
                    let (route, targets, pid) = match col {
                        0 => (Route::Direct, &direct_targets, None),
                        _ => {
                            let e = &entries[col - 1];
                            (
                                Route::Socks(e.server.addr),
                                &e.targets,
                                Some(e.server.proc.pid),
                            )
                        }
                    };
                    let r =
                        bulk::measure(route, targets, dir, streams, plan.warmup, plan.window, pid)
                            .await;
                    match r {
                        Ok(b) => {
                            eprintln!(
                                "  {} / {}: {:.2} Gbit/s",
                                table.columns[col], table.rows[row].title, b.gbit_per_s
                            );
                            table.push(row, col, b.gbit_per_s);
                            if col > 0 {
                                cpu[col - 1] += b.cpu_secs;
                                bytes[col - 1] += b.bytes;
                            }
                        }
                        Err(e) => failures.add(&table.columns[col], &table.rows[row].title, &e),
                    }
                }
            }
            for (i, (c, b)) in cpu.iter().zip(&bytes).enumerate() {
                if *b > 0 {
                    table.push(rows.cpu_per_gb, i + 1, c / (*b as f64 / 1e9));
                }
            }
        }
        if want("setup") {
            for &(row, c) in &rows.setup {
                for (i, e) in entries.iter().enumerate() {
                    let s = setup::measure(e.server.addr, &e.targets.hold, c, plan.window).await;
                    eprintln!(
                        "  {} / setup c={c}: {:.0}/s p50 {:?} p99 {:?} µs, {} errors",
                        e.server.kind.name(),
                        s.per_sec,
                        s.latency.quantile(0.5),
                        s.latency.quantile(0.99),
                        s.errors
                    );
                    if s.errors > 0 {
                        let err = anyhow::anyhow!(
                            "{} of {} handshakes failed",
                            s.errors,
                            s.errors + s.latency.count()
                        );
                        failures.add(&table.columns[i + 1], &table.rows[row].title, &err);
                    }
                    if s.latency.count() > 0 {
                        table.push(row, i + 1, s.per_sec);
                    }
                    for &(p50, p99, lc) in &rows.latency {
                        if lc == c
                            && let (Some(a), Some(b)) =
                                (s.latency.quantile(0.5), s.latency.quantile(0.99))
                        {
                            table.push(p50, i + 1, a as f64);
                            table.push(p99, i + 1, b as f64);
                        }
                    }
                }
            }
        }
        if want("udp") {
            for &(row, size) in &rows.udp {
                for col in 0..=entries.len() {
                    let server = match col {
                        0 => None,
                        _ if !entries[col - 1].server.kind.udp() => continue,
                        _ => Some(entries[col - 1].server.addr),
                    };
                    match udp::measure(server, &sink, size, plan.udp_probe, plan.udp_steps).await {
                        Ok(pps) => {
                            eprintln!("  {} / UDP {size} B: {:.0} pps", table.columns[col], pps);
                            table.push(row, col, pps / 1e3);
                        }
                        Err(e) => failures.add(&table.columns[col], &table.rows[row].title, &e),
                    }
                }
            }
        }
        if let Some(t) = chain.as_mut() {
            for (row, dir) in [(0, Dir::Upload), (1, Dir::Download)] {
                for col in 0..=chains.len() {
                    let route = match col {
                        0 => Route::Direct,
                        _ => Route::Forward {
                            upload: chains[col - 1].upload,
                            download: chains[col - 1].download,
                        },
                    };
                    match bulk::measure(
                        route,
                        &chain_targets,
                        dir,
                        1,
                        plan.warmup,
                        plan.window,
                        None,
                    )
                    .await
                    {
                        Ok(b) => {
                            eprintln!(
                                "  {} / {}: {:.2} Gbit/s",
                                t.columns[col], t.rows[row].title, b.gbit_per_s
                            );
                            t.push(row, col, b.gbit_per_s);
                        }
                        Err(e) => failures.add(&t.columns[col], &t.rows[row].title, &e),
                    }
                }
            }
        }
        if want("idle") {
            for (i, e) in entries.iter().enumerate() {
                match idle::measure(
                    e.server.addr,
                    e.server.proc.pid,
                    &e.targets.hold,
                    &plan.session_steps,
                )
                .await
                {
                    Ok(m) => {
                        eprintln!(
                            "  {} / idle: RSS {:.0} PSS {:.0} B/session, {:.2} fds/session ({} sessions)",
                            e.server.kind.name(),
                            m.rss_per_session,
                            m.pss_per_session,
                            m.fds_per_session,
                            m.reached
                        );
                        table.push(rows.rss, i + 1, m.rss_per_session);
                        table.push(rows.pss, i + 1, m.pss_per_session);
                        table.push(rows.fds, i + 1, m.fds_per_session);
                    }
                    Err(e) => failures.add(&table.columns[i + 1], "idle sessions", &e),
                }
            }
        }
    }
    notes.extend(failures.notes());
    let load_after = procfs::loadavg();
    drop(chains);
    drop(entries);
    let outcome = Outcome {
        main: table,
        rows,
        kinds,
        chain,
        notes,
        plan,
        load_before,
        load_after,
    };
    verdict::render(&a, &outcome)
}
