//! gost-bench: starts gost-rs and its peers (dante, microsocks, a Go SOCKS5 server, Rust servers
//! from crates.io) on loopback and measures them side by side in one run: bulk throughput, setup
//! rate and handshake latency, memory and fds per idle session, UDP relay rate, CPU per GB, and
//! our own `tcp://` → socks5 chain; and the number users quote, iperf3 single stream through
//! `proxychains4`, per server and through encrypted chains (tls, wss, kcp hop) of ours and upstream GOST. It prints a markdown table and can write it, with a plot, into
//! docs/performance.md. It is a benchmark, not a test: nothing here asserts timings.

mod bulk;
mod histogram;
mod hops;
mod idle;
mod iperf;
mod load;
mod mmsg;
mod plot;
mod procfs;
mod report;
mod run;
mod servers;
mod setup;
mod socks;
mod stats;
mod targets;
mod udp;
mod verdict;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(version, about = "Side-by-side SOCKS5 proxy benchmark on loopback")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start every server, measure all of them interleaved, print the table.
    Run(RunArgs),
    /// Drive one kind of load at a server that is already running (for profiling it).
    Load(load::LoadArgs),
}

/// Options of `gost-bench run`.
#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    /// Smoke run: one short repetition with few sessions (numbers are not meaningful).
    #[arg(long)]
    pub quick: bool,
    /// Repetitions of every measurement (the table shows median and min–max).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Measurement window in seconds for throughput and setup rate (after a short warm-up).
    #[arg(long, default_value_t = 1.0)]
    pub secs: f64,
    /// Servers to run: ours, baseline (needs --baseline), dante, microsocks, go, merino, fast-socks5,
    /// hev, microsocks-head, upstream (the last three found on PATH; a missing one is skipped).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ours,dante,microsocks,go,merino,fast-socks5,hev,microsocks-head,upstream"
    )]
    pub servers: Vec<String>,
    /// Measurement groups: bulk, setup, idle, udp, chain (our chain, in-process generator), iperf
    /// (iperf3 through proxychains4 per server), hops (tls/wss/kcp chains, ours vs upstream and the
    /// baseline build when it is among the servers, iperf3).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "bulk,setup,idle,udp,chain,iperf,hops"
    )]
    pub only: Vec<String>,
    /// Transports of the hops group's chains: tls, wss, kcp.
    #[arg(long, value_delimiter = ',', default_value = "tls,wss,kcp", value_parser = clap::builder::PossibleValuesParser::new(hops::TRANSPORTS))]
    pub hops: Vec<String>,
    /// Length of every iperf3 run in seconds (`-t`; one run per repetition).
    #[arg(long, default_value_t = 4)]
    pub iperf_secs: u32,
    /// Idle sessions at the last step of the memory measurement (steps at 1/8, 1/4, 1/2, 1).
    #[arg(long, default_value_t = 8000)]
    pub sessions: usize,
    /// Our `gost` binary.
    #[arg(long, default_value = "target/release/gost")]
    pub gost: PathBuf,
    /// Another build of our `gost` (e.g. before a change), measured as the `baseline` column,
    /// interleaved with everything else.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Directory holding the peers built by bench/run.sh (go-socks5, merino, fast-socks5-server).
    #[arg(long, default_value = "bench/.peers/bin")]
    pub peers: PathBuf,
    /// Write the table into DOCS/performance.md (between markers) and the plot to DOCS/performance.png.
    #[arg(long)]
    pub write_docs: bool,
    /// The docs folder `--write-docs` writes into.
    #[arg(long, default_value = "docs")]
    pub docs: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match cli.cmd {
        Cmd::Run(args) => rt.block_on(run::run(args)),
        Cmd::Load(args) => rt.block_on(load::load(args)),
    }
}
