//! Rendering a finished run: the markdown section (conditions, tables, issue-8 targets with the
//! margin by which each is met or missed, notes), printed and optionally written to the docs
//! together with the plot.

use std::fmt::Write as _;

use anyhow::{Context, Result};

use crate::RunArgs;
use crate::plot::{self, Panel};
use crate::report::{self, Table};
use crate::run::Outcome;
use crate::servers::Kind;

fn col_of(o: &Outcome, kind: Kind) -> Option<usize> {
    o.kinds.iter().position(|k| *k == Some(kind))
}

fn verdict(ok: bool, ratio: f64, goal: f64) -> String {
    if ok {
        format!("**met** ({ratio:.2}× vs goal {goal}×)")
    } else {
        format!(
            "**missed** by {:.0} % ({ratio:.2}× vs goal {goal}×)",
            (1.0 - ratio / goal) * 100.0
        )
    }
}

/// Best median among the columns of `kinds` in `row`: (value, column).
fn best_of(o: &Outcome, row: usize, kinds: &[Kind]) -> Option<(f64, usize)> {
    kinds
        .iter()
        .filter_map(|k| col_of(o, *k))
        .filter_map(|c| o.main.median(row, c).map(|m| (m, c)))
        .max_by(|a, b| a.0.total_cmp(&b.0))
}

fn targets(o: &Outcome) -> Vec<String> {
    let mut out = Vec::new();
    let Some(ours) = col_of(o, Kind::Ours) else {
        out.push("Our server did not run, so no target could be checked.".into());
        return out;
    };
    let t = &o.main;
    let peers: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| !matches!(k, Kind::Ours | Kind::Baseline))
        .collect();
    for &(row, _, streams) in o.rows.bulk.iter().filter(|b| b.2 == 1) {
        let _ = streams;
        let (Some(m), Some((best, bc))) = (t.median(row, ours), best_of(o, row, &peers)) else {
            continue;
        };
        out.push(format!(
            "{}: ours {m:.2} vs best peer {} {best:.2}: {}",
            t.rows[row].title,
            t.columns[bc],
            verdict(m >= 1.1 * best, m / best, 1.1)
        ));
        if let Some(d) = t.median(row, 0) {
            out.push(format!(
                "{}: ours vs direct loopback {d:.2}: {}",
                t.rows[row].title,
                verdict(m >= 0.75 * d, m / d, 0.75)
            ));
        }
    }
    for &(row, _) in &o.rows.setup {
        let up = [
            Kind::Go,
            Kind::Dante,
            Kind::Microsocks,
            Kind::Hev,
            Kind::MicrosocksHead,
            Kind::Upstream,
        ];
        if let (Some(m), Some((best, bc))) = (t.median(row, ours), best_of(o, row, &up)) {
            out.push(format!(
                "{}: ours {m:.0} vs best Go/C peer {} {best:.0}: {}",
                t.rows[row].title,
                t.columns[bc],
                verdict(m >= 2.0 * best, m / best, 2.0)
            ));
        }
    }
    for row in [o.rows.rss, o.rows.pss] {
        if let Some(m) = t.median(row, ours) {
            let ok = m <= 3072.0;
            let how = if ok {
                format!("**met** ({m:.0} B ≤ 3072 B)")
            } else {
                format!("**missed** by {:.0} B ({m:.0} B vs 3072 B)", m - 3072.0)
            };
            out.push(format!("{}: {how}", t.rows[row].title));
        }
    }
    for &(row, _) in &o.rows.udp {
        if let (Some(m), Some(d)) = (
            t.median(row, ours),
            col_of(o, Kind::Dante).and_then(|c| t.median(row, c)),
        ) {
            out.push(format!(
                "{}: ours {m:.1} vs dante {d:.1}: {}",
                t.rows[row].title,
                verdict(m >= 1.5 * d, m / d, 1.5)
            ));
        }
    }
    out
}

/// Issue 19's goals for the iperf3 rows: single stream ≥ 1.1× the best peer; tls and wss chains
/// ≥ 1.5× upstream, a KCP hop ≥ 5× upstream.
fn iperf_targets(o: &Outcome) -> Vec<String> {
    let mut out = Vec::new();
    let peers: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| !matches!(k, Kind::Ours | Kind::Baseline))
        .collect();
    if let (Some(row), Some(ours)) = (o.rows.iperf, col_of(o, Kind::Ours))
        && let (Some(m), Some((best, bc))) = (o.main.median(row, ours), best_of(o, row, &peers))
    {
        out.push(format!(
            "{}: ours {m:.2} vs best peer {} {best:.2}: {}",
            o.main.rows[row].title,
            o.main.columns[bc],
            verdict(m >= 1.1 * best, m / best, 1.1)
        ));
    }
    if let Some(h) = &o.hops {
        // Column 0 is upstream, column 1 ours (hops.rs).
        for (r, row) in h.rows.iter().enumerate() {
            let goal = if row.title.contains("kcp") { 5.0 } else { 1.5 };
            if let (Some(up), Some(m)) = (h.median(r, 0), h.median(r, 1))
                && up > 0.0
            {
                out.push(format!(
                    "{}: ours {m:.3} vs upstream {up:.3}: {}",
                    row.title,
                    verdict(m >= goal * up, m / up, goal)
                ));
            }
        }
    }
    out
}

fn markdown(a: &RunArgs, o: &Outcome) -> String {
    let mut md = String::new();
    let argv: Vec<String> = std::env::args().collect();
    let _ = writeln!(
        md,
        "Produced by `bench/run.sh{}`, which ran `{}`.\n",
        if a.quick { " --quick" } else { "" },
        argv.join(" ")
    );
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let _ = writeln!(
        md,
        "Conditions: {} CPUs, Linux {}; {} runs of every measurement, {:.1} s windows after {:.2} s warm-up, \
         idle sessions up to {}; load average (1/5/15 min) {} before and {} after the run.\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernel.trim(),
        o.plan.runs,
        o.plan.window.as_secs_f64(),
        o.plan.warmup.as_secs_f64(),
        o.plan.session_steps.last().unwrap_or(&0),
        o.load_before,
        o.load_after
    );
    md.push_str(
        "Cells: median (min–max) over the runs; ×r = median relative to direct loopback.\n\n",
    );
    md.push_str(&o.main.markdown());
    if let Some(c) = &o.chain {
        md.push_str("\nOur chain: a `tcp://` port forward whose `-F` is our SOCKS5 server (plain, then TLS):\n\n");
        md.push_str(&c.markdown());
    }
    if let Some(h) = &o.hops {
        md.push_str(
            "\nEncrypted chains, iperf3 single stream through `-L tcp://127.0.0.1:A/IPERF -F socks5+T://127.0.0.1:B` \
             in front of `-L socks5+T://127.0.0.1:B`, the same command lines for both programs; \
             here ×r = ours relative to upstream GOST:\n\n",
        );
        md.push_str(&h.markdown());
    }
    md.push_str("\nIssue 8 targets, from this run:\n\n");
    for t in targets(o) {
        let _ = writeln!(md, "- {t}");
    }
    let iperf = iperf_targets(o);
    if !iperf.is_empty() {
        md.push_str("\nIssue 19 targets for the iperf3 rows, from this run:\n\n");
        for t in iperf {
            let _ = writeln!(md, "- {t}");
        }
    }
    if !o.notes.is_empty() {
        md.push_str("\nNotes from this run:\n\n");
        for n in &o.notes {
            let _ = writeln!(md, "- {n}");
        }
    }
    md.push_str("\n![benchmark plot](performance.png)\n");
    md
}

fn panels(t: &Table, o: &Outcome) -> Vec<Panel> {
    let servers: Vec<usize> = (1..t.columns.len()).collect();
    let with_udp: Vec<usize> = (0..t.columns.len())
        .filter(|&c| o.rows.udp.iter().any(|u| t.median(u.0, c).is_some()))
        .collect();
    let label = |r: usize| t.rows[r].title.split(',').next().unwrap_or("").to_string();
    vec![
        Panel {
            title: "TCP throughput through the proxy (relative to direct loopback)".into(),
            ylabel: "× direct loopback".into(),
            rows: o
                .rows
                .bulk
                .iter()
                .map(|b| (b.0, label(b.0).replace("TCP ", "")))
                .collect(),
            columns: servers.clone(),
            scale: 1.0,
            vs_direct: true,
            log: false,
        },
        Panel {
            title: "Connection setup rate (closed loop)".into(),
            ylabel: "connections/s".into(),
            rows: o
                .rows
                .setup
                .iter()
                .map(|s| (s.0, format!("{} concurrent", s.1)))
                .collect(),
            columns: servers.clone(),
            scale: 1.0,
            vs_direct: false,
            log: false,
        },
        Panel {
            title: "User-space memory per idle session (log scale)".into(),
            ylabel: "KiB per session".into(),
            rows: vec![(o.rows.rss, "RSS".into()), (o.rows.pss, "PSS".into())],
            columns: servers,
            scale: 1.0 / 1024.0,
            vs_direct: false,
            log: true,
        },
        Panel {
            title: "UDP ASSOCIATE relay, packets/s at <1% loss".into(),
            ylabel: "kpps".into(),
            rows: o
                .rows
                .udp
                .iter()
                .map(|u| (u.0, format!("{} B", u.1)))
                .collect(),
            columns: with_udp,
            scale: 1.0,
            vs_direct: false,
            log: false,
        },
    ]
}

pub(crate) fn render(a: &RunArgs, o: &Outcome) -> Result<()> {
    let md = markdown(a, o);
    println!("{md}");
    if a.write_docs {
        let doc_path = a.docs.join("performance.md");
        let doc = std::fs::read_to_string(&doc_path).unwrap_or_else(|_| "# Performance\n".into());
        std::fs::write(&doc_path, report::splice(&doc, &md))
            .with_context(|| doc_path.display().to_string())?;
        let scratch = std::env::temp_dir().join(format!("gost-bench-plot-{}", std::process::id()));
        let png = a.docs.join("performance.png");
        let names: Vec<String> = o
            .kinds
            .iter()
            .map(|k| k.map_or("direct loopback", |k| k.legend()).to_string())
            .collect();
        plot::render(&o.main, &names, &panels(&o.main, o), &png, &scratch)?;
        let _ = std::fs::remove_dir_all(&scratch);
        eprintln!("wrote {} and {}", doc_path.display(), png.display());
    }
    Ok(())
}
