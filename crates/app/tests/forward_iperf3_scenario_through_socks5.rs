//! The seed's iperf3 scenario (F6), end to end with Debian's iperf3:
//!
//! ```text
//! iperf3 -s
//! gost -L "socks5://:1080?notls=true&udp=true&udpBufferSize=65535"
//! gost -L "tcp://:15201/:5201" -L "udp://:15201/:5201?keepalive=true&readBufferSize=65535" \
//!      -F "socks5://:1080?relay=udp&udpBufferSize=65535"
//! iperf3 -c 127.0.0.1 -p 15201 [-u]
//! ```
//!
//! on loopback ports chosen at run time, both services built from those exact URLs. iperf3's own control
//! connection goes through the tcp forward; with `-u` its data goes through the udp forward (standard UDP
//! ASSOCIATE on our SOCKS5 server). Each run lasts 2 s; the test checks iperf3's JSON report.

mod fwd;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fwd::{Running, Transport, forward, socks5, try_forward};
use gost_service::Socks5Options;
use gost_test_support::free_port;
use gost_test_support::locate;
use serde_json::Value;

/// A child process killed (and reaped) when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for `child` to exit (at most `within`) and returns its stdout, or why it failed.
async fn finish(mut child: Reaped, within: Duration) -> Result<String, String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            let mut out = String::new();
            use std::io::Read;
            child
                .0
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            return if status.success() {
                Ok(out)
            } else {
                Err(format!("iperf3 -c failed ({status}): {out}"))
            };
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("iperf3 -c did not finish within {within:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The F6 services in front of an iperf3 server on `iperf_port`: tcp and udp forwards on one port number.
async fn f6_services(hop: SocketAddr, iperf_port: u16) -> (Running, Running) {
    let node = format!("socks5://{hop}?relay=udp&udpBufferSize=65535");
    for _ in 0..10 {
        let port = free_port();
        let tcp = forward(
            &format!("tcp://127.0.0.1:{port}/:{iperf_port}"),
            std::slice::from_ref(&node),
        )
        .await;
        let udp =
            format!("udp://127.0.0.1:{port}/:{iperf_port}?keepalive=true&readBufferSize=65535");
        // Someone else may hold the UDP port of that number: then try another number.
        if let Ok(udp) = try_forward(&udp, std::slice::from_ref(&node)).await {
            return (tcp, udp);
        }
    }
    panic!("no port number free for both TCP and UDP");
}

/// Runs iperf3 against the forwarded port and returns its JSON report. A one-off `iperf3 -s` that
/// exits without serving a run (its port number taken, for UDP, by another socket after `free_port`
/// chose it: the server then fails the test and quits) is replaced by a new one on a new port.
async fn iperf3(iperf: &std::path::Path, extra: &[&str]) -> Value {
    let mut failures = Vec::new();
    for _ in 0..5 {
        match iperf3_once(iperf, extra, &mut failures).await {
            Some(report) => return report,
            None => failures.push("iperf3 -s exited; starting another on a new port".into()),
        }
    }
    panic!("iperf3 never completed: {failures:#?}");
}

/// One `iperf3 -s -1` behind fresh F6 services: the report, or `None` once that server has exited.
async fn iperf3_once(
    iperf: &std::path::Path,
    extra: &[&str],
    failures: &mut Vec<String>,
) -> Option<Value> {
    let hop = socks5(
        Transport::Tcp,
        // No in-band TLS: `notls=true`.
        Socks5Options {
            udp: true,
            udp_buffer_size: 65535,
            ..Default::default()
        },
    )
    .await;
    let iperf_port = free_port();
    let mut server = Reaped(
        Command::new(iperf)
            .args(["-s", "-1", "-B", "127.0.0.1", "-p", &iperf_port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start iperf3 -s"),
    );
    let (tcp, _udp) = f6_services(hop.addr, iperf_port).await;
    let port = tcp.addr.port().to_string();
    // The server needs a moment to listen (longer on a busy machine): iperf3 -c fails fast when it is
    // not there yet, so retry for about five seconds.
    for _ in 0..50 {
        if let Some(status) = server.0.try_wait().unwrap() {
            failures.push(format!("iperf3 -s on port {iperf_port} exited ({status})"));
            return None;
        }
        let mut cmd = Command::new(iperf);
        cmd.args(["-c", "127.0.0.1", "-p", &port, "-t", "2", "-J"])
            .args(extra);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let client = Reaped(cmd.spawn().expect("start iperf3 -c"));
        match finish(client, Duration::from_secs(20)).await {
            Ok(json) => match serde_json::from_str::<Value>(&json) {
                Ok(report) if report["end"]["sum_received"].is_object() => return Some(report),
                _ => failures.push(format!("iperf3 printed no end report: {json}")),
            },
            Err(e) => failures.push(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("iperf3 never completed: {failures:#?}");
}

// One test runs both so the two iperf3 runs never compete for ports or CPU.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iperf3_tcp_then_udp_through_the_forwards() {
    let Some(iperf) = locate("iperf3", "iperf3") else {
        return;
    };
    tcp_run(&iperf).await;
    udp_run(&iperf).await;
}

async fn tcp_run(iperf: &std::path::Path) {
    let report = iperf3(iperf, &[]).await;
    let received = &report["end"]["sum_received"];
    let bytes = received["bytes"].as_f64().unwrap_or(0.0);
    let bps = received["bits_per_second"].as_f64().unwrap_or(0.0);
    eprintln!("F6 TCP: {bytes} bytes received, {:.0} Mbit/s", bps / 1e6);
    assert!(
        bytes > 1e6 && bps > 1e6,
        "TCP run moved too little: {report}"
    );
}

async fn udp_run(iperf: &std::path::Path) {
    let report = iperf3(iperf, &["-u", "-b", "20M"]).await;
    // What the iperf3 server received, as reported back to the client.
    let received = &report["end"]["sum_received"];
    let packets = received["packets"].as_f64().unwrap_or(0.0);
    let lost = received["lost_packets"].as_f64().unwrap_or(f64::MAX);
    let bytes = received["bytes"].as_f64().unwrap_or(0.0);
    let bps = received["bits_per_second"].as_f64().unwrap_or(0.0);
    eprintln!(
        "F6 UDP: {packets} datagrams, {lost} lost, {bytes} bytes received, {:.1} Mbit/s",
        bps / 1e6
    );
    assert!(
        packets >= 50.0 && bytes > 1e6,
        "UDP run received too little: {report}"
    );
    assert!(
        lost < packets / 2.0,
        "most UDP datagrams were lost through the forward: {received}"
    );
}
