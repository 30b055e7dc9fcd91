//! Real servers for the loader tests: `redis-server` and Python's HTTP servers on free loopback ports,
//! killed when dropped. A missing program fails the test under `CI`, else skips it with a message.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `None` (after printing why) when `program` is missing and `CI` is unset; panics under `CI`.
pub(crate) fn need(program: &str) -> Option<()> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Some(());
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{program} is required (apt-get install it)"
    );
    eprintln!("skipped: {program} is not installed");
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts on `addr` (bounded).
fn wait_listening(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A private `redis-server` on a loopback port, without persistence.
pub(crate) struct Redis {
    pub addr: SocketAddr,
    child: Option<Child>,
}

impl Redis {
    pub(crate) fn start() -> Option<Redis> {
        need("redis-server")?;
        let mut r = Redis {
            addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
            child: None,
        };
        r.restart();
        Some(r)
    }

    /// Starts the server again on the same port (after [`Redis::stop`]); the data starts empty.
    pub(crate) fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.addr.port().to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        wait_listening(self.addr);
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs one command with redis-cli-like arguments over RESP, returns the raw reply.
    pub(crate) fn cmd(&self, args: &[&str]) -> String {
        use std::io::{Read, Write};
        let mut s = TcpStream::connect(self.addr).unwrap();
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(req.as_bytes()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Python HTTP server on a loopback port.
pub(crate) struct Http {
    pub addr: SocketAddr,
    child: Child,
}

impl Http {
    /// `python3 -m http.server` serving `dir`.
    pub(crate) fn serve_dir(dir: &Path) -> Option<Http> {
        Http::spawn(
            &[
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ],
            Some(dir),
        )
    }

    /// A server running `script` (Python, which must print `port N` once listening).
    pub(crate) fn script(script: &str) -> Option<Http> {
        Http::spawn(&["-c", script], None)
    }

    fn spawn(args: &[&str], dir: Option<&Path>) -> Option<Http> {
        need("python3")?;
        let mut cmd = Command::new("python3");
        cmd.arg("-u").args(args);
        if let Some(d) = dir {
            cmd.arg(d);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "Serving HTTP on 127.0.0.1 port 41234 (...)" or "port 41234".
        let port: u16 = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_listening(addr);
        Some(Http { addr, child })
    }
}

impl Drop for Http {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `cond` every 20 ms until it holds or `limit` passes.
pub(crate) async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
