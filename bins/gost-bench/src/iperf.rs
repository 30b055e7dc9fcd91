//! The number users quote: iperf3, single stream, against an iperf3 server on loopback, either
//! straight, through a SOCKS5 server by way of a real SOCKS client (`proxychains4` with a generated
//! configuration), or into a port forward. The receiver's bits/s comes from iperf3's JSON report.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::servers::{Proc, free_port, on_path, scratch_dir};

/// How the iperf3 client reaches the iperf3 server.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Via {
    /// Straight to the server: the loopback baseline.
    Direct,
    /// Through this SOCKS5 server, with `proxychains4` around the client.
    Socks(SocketAddrV4),
    /// To a port forward whose target is the iperf3 server.
    Forward(SocketAddrV4),
}

/// A running `iperf3 -s` on 127.0.0.1 and the programs its clients need.
pub(crate) struct Iperf {
    pub addr: SocketAddrV4,
    iperf3: PathBuf,
    proxychains: Option<PathBuf>,
    /// Holds the generated proxychains configurations; removed with the server.
    dir: PathBuf,
    _server: Proc,
}

/// The proxychains4 configuration that sends every connection through the SOCKS5 server `proxy`.
fn proxychains_conf(proxy: SocketAddrV4) -> String {
    format!(
        "strict_chain\nquiet_mode\ntcp_read_time_out 15000\ntcp_connect_time_out 8000\n\
         [ProxyList]\nsocks5 {} {}\n",
        proxy.ip(),
        proxy.port()
    )
}

/// The receiver's bits/s out of `iperf3 -J` output (`end.sum_received.bits_per_second`).
pub(crate) fn receiver_bits_per_sec(json: &str) -> Result<f64> {
    let v: serde_json::Value = serde_json::from_str(json).context("iperf3 -J output")?;
    if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
        bail!("iperf3: {e}");
    }
    v.pointer("/end/sum_received/bits_per_second")
        .and_then(|b| b.as_f64())
        .context("iperf3 -J output has no end.sum_received.bits_per_second")
}

impl Iperf {
    /// Starts `iperf3 -s` on a free loopback port; needs `iperf3` (and, for `Via::Socks`,
    /// `proxychains4`) on `PATH`.
    pub(crate) fn start() -> Result<Iperf> {
        let iperf3 = on_path("iperf3")?;
        let port = free_port()?;
        let mut cmd = Command::new(&iperf3);
        cmd.args(["-s", "-B", "127.0.0.1", "-p", &port.to_string()]);
        let mut server = Proc::spawn(cmd, None)?;
        server.wait_ready(port).context("iperf3 server")?;
        Ok(Iperf {
            addr: SocketAddrV4::new(Ipv4Addr::LOCALHOST, port),
            iperf3,
            proxychains: on_path("proxychains4").ok(),
            dir: scratch_dir("iperf")?,
            _server: server,
        })
    }

    /// One single-stream iperf3 run of `secs` seconds (client → server); the receiver's Gbit/s.
    pub(crate) fn measure(&self, via: Via, secs: u32) -> Result<f64> {
        let target = match via {
            Via::Forward(fwd) => fwd,
            _ => self.addr,
        };
        let iperf_args = [
            "-c".to_string(),
            target.ip().to_string(),
            "-p".to_string(),
            target.port().to_string(),
            "-t".to_string(),
            secs.to_string(),
            "-J".to_string(),
        ];
        let mut cmd = match via {
            Via::Socks(proxy) => {
                let pc = self.proxychains.as_ref().context(
                    "proxychains4 is not on PATH (apt-get install proxychains4); iperf3 via SOCKS skipped",
                )?;
                let conf = self.dir.join(format!("proxychains-{}.conf", proxy.port()));
                std::fs::write(&conf, proxychains_conf(proxy))?;
                let mut c = Command::new(pc);
                c.arg("-q").arg("-f").arg(conf).arg(&self.iperf3);
                c
            }
            _ => Command::new(&self.iperf3),
        };
        cmd.args(iperf_args)
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        let out = run_bounded(cmd, Duration::from_secs(u64::from(secs) + 20))?;
        receiver_bits_per_sec(&out).map(|b| b / 1e9)
    }
}

impl Drop for Iperf {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `cmd` to completion and returns its stdout, killing it if it outlives `limit` (a client
/// stuck on a broken proxy must not hang the benchmark).
fn run_bounded(mut cmd: Command, limit: Duration) -> Result<String> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let mut stdout = child.stdout.take().context("child stdout")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).map(|_| s)
    });
    let deadline = std::time::Instant::now() + limit;
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("iperf3 client still running after {limit:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = reader
        .join()
        .map_err(|_| anyhow::anyhow!("reading iperf3 output panicked"))??;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receiver_rate_is_read_from_the_json_report() {
        let json = r#"{"start":{},"end":{"sum_sent":{"bits_per_second":9.5e9},
            "sum_received":{"bits_per_second":9.25e9}}}"#;
        assert_eq!(receiver_bits_per_sec(json).unwrap(), 9.25e9);
        let err =
            receiver_bits_per_sec(r#"{"start":{},"end":{},"error":"unable to connect to server"}"#)
                .unwrap_err();
        assert!(err.to_string().contains("unable to connect"), "{err}");
        assert!(receiver_bits_per_sec("not json").is_err());
    }

    #[test]
    fn proxychains_conf_points_at_the_server() {
        let conf = proxychains_conf(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 1080));
        assert!(conf.contains("strict_chain\n"), "{conf}");
        assert!(
            conf.ends_with("[ProxyList]\nsocks5 127.0.0.1 1080\n"),
            "{conf}"
        );
    }
}
