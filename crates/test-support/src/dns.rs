//! [`Dnsmasq`]: Debian's `dnsmasq` (package `dnsmasq-base`) serving fixed names on a free loopback
//! port, UDP and TCP, asking no upstream server — a real DNS server for resolver tests.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::programs::locate;
use crate::servers::free_tcp_and_udp_port;

/// A running dnsmasq, killed when dropped. It serves one TCP connection at a time (`--no-daemon`
/// does not fork for TCP): a client holding one open delays every other query.
pub struct Dnsmasq {
    /// Where it answers (UDP and TCP).
    pub addr: SocketAddr,
    child: Child,
}

impl Dnsmasq {
    /// Answers each `(name, ip)` (and names under it) and nothing else; `None` (after the skip notice,
    /// or a panic under `CI`) when dnsmasq is not installed.
    pub fn start(names: &[(&str, &str)]) -> Option<Dnsmasq> {
        let program = locate("dnsmasq", "dnsmasq-base")?;
        // The free port can be taken between our check and dnsmasq's bind: then it exits, and we
        // try another.
        for _ in 0..5 {
            if let Some(server) = Dnsmasq::try_port(&program, names, free_tcp_and_udp_port()) {
                return Some(server);
            }
        }
        panic!("dnsmasq never listened on a free loopback port (five tries)");
    }

    fn try_port(program: &Path, names: &[(&str, &str)], port: u16) -> Option<Dnsmasq> {
        let mut cmd = Command::new(program);
        // --no-daemon: in the foreground, no pid file, no user change, TCP served without forking
        // (so killing it leaves nothing behind); no upstream servers, no /etc/hosts: nothing leaves
        // loopback and only the names given are known.
        cmd.args([
            "--no-daemon",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--log-facility=-",
        ])
        .arg(format!("--port={port}"));
        for (name, ip) in names {
            cmd.arg(format!("--address=/{name}/{ip}"));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut server = Dnsmasq { addr, child };
        // It answers UDP once its TCP socket accepts: both are opened before it serves.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if server.child.try_wait().expect("dnsmasq status").is_some() {
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "dnsmasq never listened on {addr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
