//! Starting and stopping the servers under test: each runs as its own process group on a free
//! loopback port with logging off, and is killed (whole group) when its handle drops.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use gost_sys::process::{self, Signal};

/// The SOCKS5 servers this benchmark knows how to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Ours,
    /// Our server from another build (`--baseline`), for before/after comparisons in one run.
    Baseline,
    Dante,
    Microsocks,
    Go,
    Merino,
    FastSocks5,
    /// hev-socks5-server (C, coroutines + splice), found on `PATH`.
    Hev,
    /// microsocks at a recent commit (16 KiB buffer), found on `PATH` as `microsocks-head`.
    MicrosocksHead,
    /// Upstream GOST 3.2.6, found on `PATH` as `gost-upstream` (or `GOST_UPSTREAM`).
    Upstream,
}

impl Kind {
    pub(crate) const ALL: [Kind; 10] = [
        Kind::Ours,
        Kind::Baseline,
        Kind::Dante,
        Kind::Microsocks,
        Kind::Go,
        Kind::Merino,
        Kind::FastSocks5,
        Kind::Hev,
        Kind::MicrosocksHead,
        Kind::Upstream,
    ];

    /// Short name used on the command line (`--servers`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Ours => "ours",
            Kind::Baseline => "baseline",
            Kind::Dante => "dante",
            Kind::Microsocks => "microsocks",
            Kind::Go => "go",
            Kind::Merino => "merino",
            Kind::FastSocks5 => "fast-socks5",
            Kind::Hev => "hev",
            Kind::MicrosocksHead => "microsocks-head",
            Kind::Upstream => "upstream",
        }
    }

    /// Column label in the report.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Ours => "gost-rs (ours)",
            Kind::Baseline => "gost-rs baseline build",
            Kind::Dante => "dante 1.4.2",
            Kind::Microsocks => "microsocks 1.0.3 (1 KiB buffer)",
            Kind::Go => "go (armon/go-socks5, like upstream GOST's io.Copy relay)",
            Kind::Merino => "merino 0.1.3 (Rust)",
            Kind::FastSocks5 => "fast-socks5 1.0.0 example server (Rust)",
            Kind::Hev => "hev-socks5-server 2.13.1 (C, coroutines + splice)",
            Kind::MicrosocksHead => "microsocks HEAD 96bf8a8 (16 KiB buffer)",
            Kind::Upstream => "upstream GOST 3.2.6",
        }
    }

    /// Short label for plot legends.
    pub(crate) fn legend(self) -> &'static str {
        match self {
            Kind::Ours => "gost-rs (ours)",
            Kind::Baseline => "gost-rs baseline",
            Kind::Microsocks => "microsocks 1.0.3 (1 KiB buffer)",
            Kind::Go => "go (armon/go-socks5)",
            Kind::Hev => "hev-socks5-server",
            Kind::MicrosocksHead => "microsocks HEAD",
            Kind::Upstream => "upstream GOST 3.2.6",
            k => k.name(),
        }
    }

    /// Whether the server relays UDP ASSOCIATE in the configuration we start it with.
    pub(crate) fn udp(self) -> bool {
        matches!(
            self,
            Kind::Ours
                | Kind::Baseline
                | Kind::Dante
                | Kind::FastSocks5
                | Kind::Hev
                | Kind::Upstream
        )
    }

    pub(crate) fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// Where the binaries are.
pub(crate) struct Bins {
    pub gost: PathBuf,
    /// Another build of `gost`, run as the `baseline` column.
    pub baseline: Option<PathBuf>,
    pub peers: PathBuf,
}

/// A running child process group; killed on drop.
pub(crate) struct Proc {
    child: Child,
    pub pid: u32,
    scratch: Option<PathBuf>,
}

impl Proc {
    pub(crate) fn spawn(mut cmd: Command, scratch: Option<PathBuf>) -> Result<Proc> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .env("RUST_LOG", "off")
            // Our gost's level knob (upstream's name); errors only, and stderr is /dev/null anyway.
            .env("GOST_LOGGER_LEVEL", "error")
            .process_group(0);
        let child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
        Ok(Proc {
            pid: child.id(),
            child,
            scratch,
        })
    }

    /// `Some(status)` once the process has exited.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits until `port` accepts TCP connections (or the process dies, or 10 s pass).
    pub(crate) fn wait_ready(&mut self, port: u16) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("exited during start-up with {status}");
            }
            if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("port {port} not accepting after 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
        if let Some(dir) = &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Proc {
    /// SIGTERM to the whole group, SIGKILL after 2 s (or once the leader is gone, for stragglers).
    fn kill(&mut self) {
        let group = |signal| {
            let _ = process::kill_group(self.pid, signal);
        };
        group(Signal::Term);
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                // Children of a forking server may outlive the leader by a moment.
                group(Signal::Kill);
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        group(Signal::Kill);
        let _ = self.child.wait();
    }
}

/// A free loopback TCP port (bound and released; the server binds it right after).
pub(crate) fn free_port() -> Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// One SOCKS5 server under test.
pub(crate) struct Server {
    pub kind: Kind,
    pub addr: SocketAddrV4,
    pub proc: Proc,
}

pub(crate) fn scratch_dir(name: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("gost-bench-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn dante_config(port: u16) -> String {
    format!(
        "logoutput: /dev/null\n\
         internal: 127.0.0.1 port = {port}\n\
         external: 127.0.0.1\n\
         socksmethod: none\n\
         clientmethod: none\n\
         client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}\n\
         socks pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}\n\
         socks pass {{ from: 0.0.0.0/0 to: 127.0.0.0/8 command: udpreply }}\n"
    )
}

/// hev-socks5-server's configuration: loopback only, two workers (one per core), errors only.
fn hev_config(port: u16) -> String {
    format!(
        "main:\n  workers: 2\n  port: {port}\n  listen-address: '127.0.0.1'\n\
         misc:\n  log-level: error\n  limit-nofile: 20000\n"
    )
}

/// `name` found in a directory of `PATH` (the peers of ../shared/peers/bin come this way: bench/run.sh
/// puts that folder on `PATH`).
pub(crate) fn on_path(name: &str) -> Result<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .with_context(|| format!("{name} is not on PATH (bench/run.sh adds ../shared/peers/bin)"))
}

/// Upstream GOST: `GOST_UPSTREAM=/path`, else `gost-upstream` on `PATH` (as the interop tests do).
pub(crate) fn upstream_gost() -> Result<PathBuf> {
    match std::env::var_os("GOST_UPSTREAM") {
        Some(p) => Ok(require(Path::new(&p))?.to_path_buf()),
        None => on_path("gost-upstream"),
    }
}

fn require(path: &Path) -> Result<&Path> {
    if !path.exists() {
        bail!(
            "{} is not installed (run bench/run.sh to build the peers)",
            path.display()
        );
    }
    Ok(path)
}

impl Server {
    /// Starts `kind` on a free loopback port and waits until it accepts connections.
    pub(crate) fn start(kind: Kind, bins: &Bins) -> Result<Server> {
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let peer = |name: &str| bins.peers.join(name);
        let mut scratch = None;
        let cmd = match kind {
            Kind::Ours | Kind::Baseline => {
                let gost = match (kind, &bins.baseline) {
                    (Kind::Ours, _) => &bins.gost,
                    (_, Some(b)) => b,
                    (_, None) => bail!("the baseline server needs --baseline PATH"),
                };
                let mut c = Command::new(require(gost)?);
                c.arg("-L")
                    .arg(format!("socks5://{listen}?notls=true&udp=true"));
                c
            }
            Kind::Dante => {
                // The binary first: a missing one must not leave the scratch folder behind.
                let mut c = Command::new(require(Path::new("/usr/sbin/danted"))?);
                let dir = scratch_dir(&format!("dante-{port}"))?;
                let conf = dir.join("danted.conf");
                std::fs::write(&conf, dante_config(port))?;
                c.arg("-f").arg(&conf).arg("-p").arg(dir.join("danted.pid"));
                scratch = Some(dir);
                c
            }
            Kind::Microsocks => {
                let mut c = Command::new(require(Path::new("/usr/bin/microsocks"))?);
                c.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
                c
            }
            Kind::Go => {
                let mut c = Command::new(require(&peer("go-socks5"))?);
                c.arg(&listen).env("GOMAXPROCS", "2");
                c
            }
            Kind::Merino => {
                let mut c = Command::new(require(&peer("merino"))?);
                c.args(["--no-auth", "-i", "127.0.0.1", "-p", &port.to_string()]);
                c
            }
            Kind::FastSocks5 => {
                let mut c = Command::new(require(&peer("fast-socks5-server"))?);
                c.args([
                    "--listen-addr",
                    &listen,
                    "--allow-udp",
                    "--public-addr",
                    "127.0.0.1",
                    "no-auth",
                ]);
                c
            }
            Kind::Hev => {
                let mut c = Command::new(on_path("hev-socks5-server")?);
                // Named by port: the idle round starts a fresh server before the old one (and
                // its folder) goes.
                let dir = scratch_dir(&format!("hev-{port}"))?;
                let conf = dir.join("hev.yml");
                std::fs::write(&conf, hev_config(port))?;
                c.arg(&conf);
                scratch = Some(dir);
                c
            }
            Kind::MicrosocksHead => {
                let mut c = Command::new(on_path("microsocks-head")?);
                c.args(["-q", "-i", "127.0.0.1", "-p", &port.to_string()]);
                c
            }
            Kind::Upstream => {
                let mut c = Command::new(upstream_gost()?);
                // The same service as ours: UDP relay on, GOST's in-band TLS method off.
                c.arg("-L")
                    .arg(format!("socks5://{listen}?notls=true&udp=true"));
                c
            }
        };
        let mut proc = Proc::spawn(cmd, scratch)?;
        proc.wait_ready(port).with_context(|| kind.name())?;
        Ok(Server {
            kind,
            addr: SocketAddrV4::new(Ipv4Addr::LOCALHOST, port),
            proc,
        })
    }
}

/// Our `tcp://` port forwarder chained through our SOCKS5 server (`-F socks5://` or
/// `socks5+tls://`): two forward ports, to the discard sink and to the source.
pub(crate) struct Chain {
    pub label: &'static str,
    pub upload: SocketAddrV4,
    pub download: SocketAddrV4,
    _server: Proc,
    _forwarder: Proc,
}

impl Chain {
    pub(crate) fn start(
        tls: bool,
        bins: &Bins,
        discard: SocketAddrV4,
        source: SocketAddrV4,
    ) -> Result<Chain> {
        let gost = require(&bins.gost)?;
        let scheme = if tls { "socks5+tls" } else { "socks5" };
        let sport = free_port()?;
        let mut server = Command::new(gost);
        server
            .arg("-L")
            .arg(format!("{scheme}://127.0.0.1:{sport}?notls=true"));
        let mut server = Proc::spawn(server, None)?;
        server.wait_ready(sport).context("chain socks5 server")?;
        let (up, down) = (free_port()?, free_port()?);
        let mut fwd = Command::new(gost);
        fwd.arg("-L").arg(format!("tcp://127.0.0.1:{up}/{discard}"));
        fwd.arg("-L")
            .arg(format!("tcp://127.0.0.1:{down}/{source}"));
        fwd.arg("-F").arg(format!("{scheme}://127.0.0.1:{sport}"));
        let mut forwarder = Proc::spawn(fwd, None)?;
        forwarder.wait_ready(up).context("chain forwarder")?;
        forwarder.wait_ready(down).context("chain forwarder")?;
        Ok(Chain {
            label: if tls {
                "tcp:// → socks5+tls (ours)"
            } else {
                "tcp:// → socks5 (ours)"
            },
            upload: SocketAddrV4::new(Ipv4Addr::LOCALHOST, up),
            download: SocketAddrV4::new(Ipv4Addr::LOCALHOST, down),
            _server: server,
            _forwarder: forwarder,
        })
    }
}
