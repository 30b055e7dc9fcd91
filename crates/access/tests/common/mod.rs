//! Python's HTTP servers on free loopback ports for the loader tests, killed when dropped (the
//! `redis-server` is gost-test-support's). A missing program fails the test under `CI`, else skips it
//! with a message.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gost_test_support::have_program;

/// Waits until something accepts on `addr` (bounded).
fn wait_listening(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(10));
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
        if !have_program("python3", "python3") {
            return None;
        }
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
