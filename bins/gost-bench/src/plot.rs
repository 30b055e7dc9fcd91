//! docs/performance.png: clustered bar charts of the table's medians, drawn by gnuplot (Debian
//! `gnuplot-nox`) from a data file and script written next to the image's scratch directory.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, ensure};

use crate::report::Table;

/// One panel: a cluster per row, a bar per column.
pub(crate) struct Panel {
    pub title: String,
    pub ylabel: String,
    /// (row index, cluster label)
    pub rows: Vec<(usize, String)>,
    pub columns: Vec<usize>,
    /// Values are multiplied by this (unit change) or divided by column 0 when `vs_direct`.
    pub scale: f64,
    pub vs_direct: bool,
    /// Logarithmic y axis (for values spanning orders of magnitude).
    pub log: bool,
}

/// Fill colours by table column (0 is direct loopback).
const PALETTE: [&str; 8] = [
    "#808080", "#9400d3", "#009e73", "#56b4e9", "#e69f00", "#f0e442", "#0072b2", "#d55e00",
];

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "'"))
}

fn data(table: &Table, names: &[String], p: &Panel) -> String {
    let mut out = String::from("group");
    for &c in &p.columns {
        let _ = write!(out, " {}", quote(&names[c]));
    }
    out.push('\n');
    for (r, label) in &p.rows {
        out.push_str(&quote(label));
        for &c in &p.columns {
            let v = table.median(*r, c).and_then(|m| {
                if p.vs_direct {
                    table.median(*r, 0).filter(|d| *d > 0.0).map(|d| m / d)
                } else {
                    Some(m * p.scale)
                }
            });
            match v {
                Some(v) => {
                    let _ = write!(out, " {v}");
                }
                None => out.push_str(" -"),
            }
        }
        out.push('\n');
    }
    out
}

/// Renders `panels` (2 per row) into `png`; `names` are the (short) legend names of the columns.
pub(crate) fn render(
    table: &Table,
    names: &[String],
    panels: &[Panel],
    png: &Path,
    scratch: &Path,
) -> Result<()> {
    std::fs::create_dir_all(scratch)?;
    let rows = panels.len().div_ceil(2);
    let mut script = format!(
        "set terminal pngcairo size 1600,{} font 'Sans,10'\nset output {}\n\
         set datafile missing '-'\nset style data histograms\nset style histogram clustered gap 1\n\
         set style fill solid 0.85 border -1\nset boxwidth 0.9\nset key below font ',9'\n\
         set grid ytics\nset xtics nomirror\nset multiplot layout {rows},2\n",
        520 * rows,
        quote(&png.display().to_string())
    );
    for (i, p) in panels.iter().enumerate() {
        // A group left out with --only has no values; gnuplot rejects an empty plot.
        let empty = p
            .rows
            .iter()
            .all(|(r, _)| p.columns.iter().all(|&c| table.median(*r, c).is_none()));
        if empty {
            script.push_str("set multiplot next\n");
            continue;
        }
        let file = scratch.join(format!("panel{i}.dat"));
        std::fs::write(&file, data(table, names, p))?;
        let f = quote(&file.display().to_string());
        script.push_str(if p.log {
            "set logscale y\nset yrange [*:*]\n"
        } else {
            "unset logscale y\nset yrange [0:*]\n"
        });
        // One colour per table column in every panel, so a server looks the same everywhere.
        let clauses: Vec<String> = p
            .columns
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let src = if i == 0 { f.as_str() } else { "''" };
                format!(
                    "{src} using {}{} title columnheader({}) lc rgb '{}'",
                    i + 2,
                    if i == 0 { ":xtic(1)" } else { "" },
                    i + 2,
                    PALETTE[c % PALETTE.len()]
                )
            })
            .collect();
        let _ = writeln!(
            script,
            "set title {}\nset ylabel {}\nplot {}",
            quote(&p.title),
            quote(&p.ylabel),
            clauses.join(", ")
        );
    }
    script.push_str("unset multiplot\n");
    let script_file = scratch.join("plot.gp");
    std::fs::write(&script_file, script)?;
    let out = Command::new("gnuplot")
        .arg(&script_file)
        .output()
        .context("running gnuplot (apt-get install gnuplot-nox)")?;
    ensure!(
        out.status.success(),
        "gnuplot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
