//! A private `redis-server` for the tests that share data through Redis, driven with `redis-cli`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gost_test_support::have_program;
use gost_test_support::servers::free_port;

use super::PATIENCE;

/// A private redis-server on a free loopback port, killed when dropped.
pub(crate) struct Redis {
    pub(crate) port: u16,
    child: Child,
}

impl Redis {
    pub(crate) fn start() -> Option<Redis> {
        if !have_program("redis-server", "redis-server") {
            return None;
        }
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let r = Redis { port, child };
        let deadline = Instant::now() + PATIENCE;
        while r.cli(&["PING"]) != "PONG" {
            assert!(Instant::now() < deadline, "redis-server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(r)
    }

    /// The ids of the connected clients, leaving out the `redis-cli` asking.
    pub(crate) fn client_ids(&self) -> Vec<String> {
        self.cli(&["CLIENT", "LIST"])
            .lines()
            .filter(|l| !l.contains("cmd=client"))
            .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
            .map(str::to_owned)
            .collect()
    }

    /// Waits (bounded) until the connected clients satisfy `check`; returns their ids.
    pub(crate) fn wait_clients(
        &self,
        what: &str,
        check: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
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

    /// Runs `redis-cli` against this server; its trimmed output.
    pub(crate) fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
