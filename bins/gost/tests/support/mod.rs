//! Helpers for tests that run the built `gost` binary: a child process that is always killed, its
//! "listening" log lines parsed into addresses, config files, a loopback HTTP server, an HTTP
//! request through a two-process chain, and curl.

#![allow(dead_code)] // each test file uses a different subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use gost_sys::process::Signal;
use gost_test_support::servers::blocking;
use gost_test_support::{BODY, have_program};

/// Upper bound for anything a test waits for; generous for a loaded CI machine.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// A running `gost`, killed when dropped.
pub(crate) struct Gost {
    child: Child,
    lines: Receiver<String>,
    /// Every stderr line read so far.
    pub log: Vec<String>,
    /// Whether this is upstream GOST (JSON log lines) rather than ours.
    upstream: bool,
}

impl Gost {
    /// Starts `gost ARGS` with its log on stderr (text format, info level).
    pub(crate) fn spawn(args: &[&str]) -> Gost {
        Gost::spawn_program(env!("CARGO_BIN_EXE_gost").as_ref(), args, false, None)
    }

    /// Like [`Gost::spawn`], with the process limited to `limit` open descriptors.
    pub(crate) fn spawn_with_nofile(args: &[&str], limit: u64) -> Gost {
        Gost::spawn_program(
            env!("CARGO_BIN_EXE_gost").as_ref(),
            args,
            false,
            Some(limit),
        )
    }

    /// Starts upstream GOST (`program`, from [`gost_upstream`]) with `ARGS` the way [`Gost::spawn`]
    /// starts ours; [`Gost::addr`] then reads its JSON log.
    pub(crate) fn spawn_upstream(program: &std::path::Path, args: &[&str]) -> Gost {
        Gost::spawn_program(program, args, true, None)
    }

    fn spawn_program(
        program: &std::path::Path,
        args: &[&str],
        upstream: bool,
        nofile: Option<u64>,
    ) -> Gost {
        let mut cmd = Command::new(program);
        if let Some(limit) = nofile {
            gost_test_support::limit_child_nofile(&mut cmd, limit);
        }
        let mut child = cmd
            .args(args)
            .env_remove("GOST_LOGGER_LEVEL")
            .current_dir(env!("CARGO_TARGET_TMPDIR"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Gost {
            child,
            lines,
            log: Vec::new(),
            upstream,
        }
    }

    /// Waits for a log line containing every one of `needles`; panics with the log so far after
    /// [`PATIENCE`] or when the process ends first.
    pub(crate) fn wait_for(&mut self, needles: &[&str]) -> String {
        self.wait_until(&format!("{needles:?}"), |l| {
            needles.iter().all(|n| l.contains(n))
        })
    }

    /// Waits for a log line that `matches` (`what` names it in the panic message); panics with the
    /// log so far after [`PATIENCE`] or when the process ends first.
    pub(crate) fn wait_until(&mut self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        if let Some(l) = self.log.iter().find(|l| matches(l)) {
            return l.clone();
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if matches(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no log line with {what}; log:\n{}", self.log.join("\n"))
                }
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "gost exited ({:?}) before logging {what}; log:\n{}",
                    self.child.try_wait(),
                    self.log.join("\n")
                ),
            }
        }
    }

    /// The address service `name` listens on, from its "listening" line.
    pub(crate) fn addr(&mut self, name: &str) -> SocketAddr {
        if self.upstream {
            return self.upstream_addr(name);
        }
        let service = format!("service={name} ");
        let line = self.wait_for(&["listening", &service]);
        field(&line, "addr")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no addr in {line:?}"))
    }

    /// The addresses of services `service-0` .. `service-{n-1}` (the `-L` flags in order).
    pub(crate) fn addrs(&mut self, n: usize) -> Vec<SocketAddr> {
        (0..n).map(|i| self.addr(&format!("service-{i}"))).collect()
    }

    /// Sends `signal` (e.g. `Signal::Term`).
    pub(crate) fn signal(&self, signal: Signal) {
        let pid = self.child.id();
        if let Err(e) = gost_sys::process::kill(pid, signal) {
            panic!("kill({pid}, {signal:?}) failed: {e}");
        }
    }

    /// Waits up to `limit` for the process to exit.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.drain_log();
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Collects the log lines already written.
    pub(crate) fn drain_log(&mut self) {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.log.push(line);
        }
    }
}

impl Gost {
    /// The address upstream GOST's service `name` listens on, from its JSON "listening on ADDR/PROTO" line.
    fn upstream_addr(&mut self, name: &str) -> SocketAddr {
        let service = format!("\"service\":\"{name}\"");
        let line = self.wait_for(&["\"msg\":\"listening on ", &service]);
        line.split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
    }

    /// Waits for a per-connection log line that moved bytes both ways.
    pub(crate) fn wait_connection_relayed(&mut self) -> String {
        let line = self.wait_for(&["connection", "bytes_out="]);
        for key in ["bytes_in", "bytes_out"] {
            if field(&line, key).is_none_or(|n| n == "0") {
                self.drain_log();
                panic!("no {key}: {line}\nlog:\n{}", self.log.join("\n"));
            }
        }
        line
    }

    /// Waits for a per-connection log line whose outcome is `ok`.
    pub(crate) fn wait_connection_ok(&mut self) -> String {
        let line = self.wait_for(&["connection", "outcome="]);
        if field(&line, "outcome") != Some("ok") {
            self.drain_log();
            panic!("connection failed: {line}\nlog:\n{}", self.log.join("\n"));
        }
        line
    }
}

impl Drop for Gost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `key=value` in a text log line (quotes around the value removed).
pub(crate) fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let prefix = format!("{key}=");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(prefix.as_str()))
        .map(|v| v.trim_matches('"'))
}

/// Sends a GET over a plain TCP connection to `addr` (e.g. a forwarding port) and returns the response.
pub(crate) fn http_get(addr: SocketAddr) -> String {
    http_get_path(addr, "/")
}

/// [`http_get`] of `path` (e.g. a metrics endpoint's `/metrics`).
pub(crate) fn http_get_path(addr: SocketAddr, path: &str) -> String {
    http_get_with(addr, path, "")
}

/// [`http_get_path`] with extra header lines (each ending in CRLF), e.g. `Authorization`.
pub(crate) fn http_get_with(addr: SocketAddr, path: &str, headers: &str) -> String {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: test\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    response
}

/// The upstream GOST binary (`gost-upstream`, GOST 3.2.6): `GOST_UPSTREAM` if set, else `gost-upstream`
/// on `PATH` (`.ci/run` puts `../shared/peers/bin` there). When missing, fails under `CI` and
/// otherwise prints a notice and returns `None` (the caller then skips).
pub(crate) fn gost_upstream() -> Option<PathBuf> {
    let found = match std::env::var_os("GOST_UPSTREAM") {
        Some(path) => Some(PathBuf::from(path)),
        None => std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("gost-upstream"))
                .find(|p| p.is_file())
        }),
    };
    let runs = found.as_ref().is_some_and(|p| {
        Command::new(p)
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if runs {
        return found;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "gost-upstream (GOST 3.2.6) is required for this test and {}: put it on PATH \
         (.ci/run adds ../shared/peers/bin) or set GOST_UPSTREAM=/path/to/gost",
        match &found {
            Some(p) => format!("{} does not run", p.display()),
            None => "it is neither on PATH nor named by GOST_UPSTREAM".to_string(),
        }
    );
    eprintln!("NOTICE: gost-upstream not found (PATH or GOST_UPSTREAM); skipping");
    None
}

/// One of the two programs in an interop test.
#[derive(Debug)]
pub(crate) enum Peer {
    /// Our `gost`.
    Ours,
    /// Upstream GOST at this path.
    Upstream(PathBuf),
}

impl Peer {
    /// Starts this program with `args`.
    pub(crate) fn spawn(&self, args: &[&str]) -> Gost {
        match self {
            Peer::Ours => Gost::spawn(args),
            Peer::Upstream(path) => Gost::spawn_upstream(path, args),
        }
    }
}

/// Runs `case(server, client)` with upstream GOST serving our client, then with ours serving
/// upstream's client; skips (or fails under `CI`) as [`gost_upstream`] does when it is missing.
pub(crate) fn both_roles(case: impl Fn(&Peer, &Peer)) {
    let Some(path) = gost_upstream() else { return };
    let upstream = Peer::Upstream(path);
    case(&upstream, &Peer::Ours);
    case(&Peer::Ours, &upstream);
}

/// Runs `curl -sS --max-time 20 ARGS URL`.
pub(crate) fn curl(args: &[&str], url: &str) -> Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .arg(url)
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("all_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("ALL_PROXY")
        .env_remove("no_proxy")
        .env_remove("NO_PROXY")
        .output()
        .expect("run curl")
}

/// The page server of the curl tests ([`blocking::http_server`]), when curl is installed; `None` (after the skip
/// notice, or a panic under `CI`) when it is not.
pub(crate) fn web_for_curl() -> Option<SocketAddr> {
    have_program("curl", "curl").then(|| blocking::http_server(PATIENCE))
}

/// curl through the SOCKS5 proxy at `proxy`, which resolves the name in `url` (`--socks5-hostname`),
/// must get the page; `what` names the case.
#[track_caller]
pub(crate) fn assert_socks5h_body(proxy: &str, url: &str, what: &str) {
    assert_body(&curl(&["--socks5-hostname", proxy], url), what);
}

/// Asserts curl succeeded and got [`BODY`].
#[track_caller]
pub(crate) fn assert_body(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), BODY, "{what}");
}

/// Sends `msg` on `conn` and asserts it comes back.
#[track_caller]
pub(crate) fn echo_round_trip(conn: &mut TcpStream, msg: &str) {
    conn.set_read_timeout(Some(PATIENCE)).unwrap();
    conn.write_all(msg.as_bytes()).unwrap();
    let mut back = vec![0; msg.len()];
    conn.read_exact(&mut back).unwrap();
    assert_eq!(String::from_utf8_lossy(&back), msg);
}

/// Connects to `addr` once something listens there (e.g. the remote port of an rtcp forward, open
/// once its MBIND went through), retrying refused connects until [`PATIENCE`] passes.
pub(crate) fn connect_when_listening(addr: SocketAddr) -> Result<TcpStream, String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match TcpStream::connect(addr) {
            Ok(conn) => return Ok(conn),
            Err(e)
                if e.kind() == std::io::ErrorKind::ConnectionRefused
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(format!("{addr} never listened: {e}")),
        }
    }
}

/// A TCP server on 127.0.0.1:0 that runs `serve` on each connection, in a thread of its own. Its
/// threads end with the test process.
pub(crate) fn serve_each(serve: impl Fn(TcpStream) + Clone + Send + 'static) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let serve = serve.clone();
            std::thread::spawn(move || serve(conn));
        }
    });
    addr
}

/// A file (`gost.yaml`) in a temporary directory of its own, removed when dropped: a config for `-C`,
/// or a file a test config names.
pub(crate) struct ConfigFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl ConfigFile {
    /// The file, holding `text`.
    pub(crate) fn new(text: &str) -> ConfigFile {
        let dir = tempfile::tempdir().unwrap();
        let file = ConfigFile {
            path: dir.path().join("gost.yaml"),
            _dir: dir,
        };
        file.write(text);
        file
    }

    /// Replaces what the file holds (e.g. before a SIGHUP reload).
    pub(crate) fn write(&self, text: &str) {
        std::fs::write(&self.path, text).unwrap();
    }

    /// The path, for `-C`.
    pub(crate) fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

/// Starts `gost -L SERVER`, then `gost -L tcp://127.0.0.1:0/WEB -F NODE` in front of it, where the
/// server's one service's address replaces `{}` in `node` and WEB is a `blocking::http_server`; asserts an
/// HTTP request to the front's port gets [`BODY`] back through both. Returns the server process.
pub(crate) fn http_through_chain(server: &str, node: &str) -> Gost {
    let web = blocking::http_server(PATIENCE);
    let mut upstream = Gost::spawn(&["-L", server]);
    let node = node.replace("{}", &upstream.addr("service-0").to_string());
    let forward = format!("tcp://127.0.0.1:0/{web}");
    let mut front = Gost::spawn(&["-L", &forward, "-F", &node]);
    let response = http_get(front.addr("service-0"));
    assert!(
        response.starts_with("HTTP/1.1 200") && response.ends_with(BODY),
        "through {node}: {response:?}\nfront log:\n{}",
        front.log.join("\n")
    );
    upstream
}

/// How a SOCKS5 CONNECT through [`socks5_connect`] was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Socks5Refusal {
    /// The proxy closed the connection before its method reply (e.g. admission).
    Closed,
    /// RFC 1929: the credentials were rejected.
    Auth,
    /// The CONNECT reply carried this code.
    Reply(u8),
}

/// A SOCKS5 CONNECT from loopback address `from` through `proxy` to IPv4 `target`, with `creds`
/// (username/password) or none: the connection, ready to carry the target's bytes.
pub(crate) fn socks5_connect(
    from: [u8; 4],
    proxy: SocketAddr,
    creds: Option<(&str, &str)>,
    target: SocketAddr,
) -> Result<TcpStream, Socks5Refusal> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::from((from, 0)).into()).unwrap();
    sock.connect(&proxy.into()).unwrap();
    let mut c: TcpStream = sock.into();
    c.set_read_timeout(Some(PATIENCE)).unwrap();
    let method = if creds.is_some() { 2 } else { 0 };
    let _ = c.write_all(&[5, 1, method]);
    let mut m = [0u8; 2];
    if c.read_exact(&mut m).is_err() {
        return Err(Socks5Refusal::Closed);
    }
    assert_eq!(m, [5, method], "method reply");
    if let Some((user, pass)) = creds {
        let mut msg = vec![1, user.len() as u8];
        msg.extend_from_slice(user.as_bytes());
        msg.push(pass.len() as u8);
        msg.extend_from_slice(pass.as_bytes());
        c.write_all(&msg).unwrap();
        c.read_exact(&mut m).unwrap();
        if m[1] != 0 {
            return Err(Socks5Refusal::Auth);
        }
    }
    let SocketAddr::V4(t) = target else {
        panic!("an IPv4 target, not {target}")
    };
    let mut req = vec![5, 1, 0, 1];
    req.extend_from_slice(&t.ip().octets());
    req.extend_from_slice(&t.port().to_be_bytes());
    c.write_all(&req).unwrap();
    let mut reply = [0u8; 10];
    c.read_exact(&mut reply).unwrap();
    match reply[1] {
        0 => Ok(c),
        code => Err(Socks5Refusal::Reply(code)),
    }
}

/// A SOCKS5 UDP ASSOCIATE (no authentication) on `proxy`: the control connection (the association
/// lives as long as it) and the relay's address.
pub(crate) fn socks5_udp_associate(proxy: SocketAddr) -> (TcpStream, SocketAddr) {
    let mut ctl = TcpStream::connect(proxy).unwrap();
    ctl.set_read_timeout(Some(PATIENCE)).unwrap();
    ctl.write_all(&[5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0])
        .unwrap();
    let mut rep = [0u8; 12];
    ctl.read_exact(&mut rep).unwrap();
    assert_eq!(rep[..5], [5, 0, 5, 0, 0], "UDP ASSOCIATE on {proxy}");
    let relay = SocketAddr::from((
        [rep[6], rep[7], rep[8], rep[9]],
        u16::from_be_bytes([rep[10], rep[11]]),
    ));
    (ctl, relay)
}

/// Asserts a 1 MiB transfer limited to 256 KB/s took about 4 s: 3 to 6 s (the buckets' store passes
/// at once, and a loaded machine is slow); a correctness bound, not a benchmark.
#[track_caller]
pub(crate) fn assert_limited(took: Duration, what: &str) {
    let s = took.as_secs_f64();
    assert!(
        (3.0..=6.0).contains(&s),
        "{what}: 1 MiB at 256KB/s took {s:.2} s"
    );
}

/// Reads an HTTP request's head (up to the blank line), waiting at most [`PATIENCE`]; false when the
/// client went away first.
pub(crate) fn read_request_head(conn: &mut TcpStream) -> bool {
    conn.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut req = Vec::new();
    let mut b = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut b) {
            Ok(0) | Err(_) => return false,
            Ok(n) => req.extend_from_slice(&b[..n]),
        }
    }
    true
}

/// What [`blob_server`] answers: 1 MiB.
pub(crate) const BLOB_SIZE: usize = 1 << 20;

/// An HTTP server on loopback answering every request with [`BLOB_SIZE`] bytes; its thread ends with
/// the test process.
pub(crate) fn blob_server() -> SocketAddr {
    serve_each(|mut conn| {
        if !read_request_head(&mut conn) {
            return;
        }
        let head =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {BLOB_SIZE}\r\nConnection: close\r\n\r\n");
        let _ = conn.write_all(head.as_bytes());
        let _ = conn.write_all(&vec![b'x'; BLOB_SIZE]);
    })
}
