//! A private `redis-server` for the tests that load policies from Redis: started on a free loopback
//! port without persistence, stopped and restarted on the same port to test outages, killed when
//! dropped. Commands go over RESP ([`Redis::cmd`]) or through `redis-cli` ([`Redis::cli`]).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, have_program};

/// How long the server may take to come up, and a `wait_clients` condition to hold.
const PATIENCE: Duration = Duration::from_secs(30);

/// A private `redis-server` on a loopback port.
#[derive(Debug)]
pub struct Redis {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    /// Starts one, or returns `None` (skipping the test) when `redis-server` is not installed and `CI`
    /// is unset; under `CI` a missing program fails the test ([`have_program`]).
    pub fn start() -> Option<Redis> {
        if !have_program("redis-server", "redis-server") {
            return None;
        }
        let mut r = Redis {
            port: free_port(),
            child: None,
        };
        r.restart();
        Some(r)
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Starts the server again on the same port (after [`Redis::stop`]); the data starts empty.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + PATIENCE;
        while !self.cmd(&["PING"]).starts_with("+PONG") {
            assert!(Instant::now() < deadline, "redis-server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (the port stays reserved for [`Redis::restart`] by nothing but luck: the tests
    /// restart it at once).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs one command over RESP; returns the raw reply (`+OK\r\n`, `:1\r\n`, …), or an empty string
    /// when the server cannot be reached.
    pub fn cmd(&self, args: &[&str]) -> String {
        let Ok(mut s) = TcpStream::connect(self.addr()) else {
            return String::new();
        };
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("a read timeout can be set");
        let mut buf = [0u8; 4096];
        match s.write_all(req.as_bytes()).and_then(|()| s.read(&mut buf)) {
            Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
            Err(_) => String::new(),
        }
    }

    /// Runs `redis-cli` against this server; its trimmed output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The ids of the connected clients, leaving out the `redis-cli` asking.
    pub fn client_ids(&self) -> Vec<String> {
        self.cli(&["CLIENT", "LIST"])
            .lines()
            .filter(|l| !l.contains("cmd=client"))
            .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
            .map(str::to_owned)
            .collect()
    }

    /// Waits (bounded) until the connected clients satisfy `check`; returns their ids.
    pub fn wait_clients(&self, what: &str, check: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let ids = self.client_ids();
            if check(&ids) {
                return ids;
            }
            assert!(Instant::now() < deadline, "{what}: clients {ids:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
