//! The seed's iperf3 scenario (F6) with Debian's iperf3 and two `gost` processes, as a user runs it:
//!
//! ```text
//! iperf3 -s
//! gost -L "socks5://:1080?notls=true&udp=true&udpBufferSize=65535"
//! gost -L "tcp://:15201/:5201" -L "udp://:15201/:5201?keepalive=true&readBufferSize=65535" \
//!      -F "socks5://:1080?relay=udp&udpBufferSize=65535"
//! iperf3 -c 127.0.0.1 -p 15201 [-u]
//! ```
//!
//! on 127.0.0.1 ports chosen at run time. iperf3's control connection goes through the tcp forward
//! and, with `-u`, its datagrams through the udp forward on the same port number: with `relay=udp`
//! (the seed's line) as standard UDP ASSOCIATE, and without it as UDP-TUN (0xF3), upstream's default.
//! Each run lasts 2 s; the test checks iperf3's JSON report and prints the figures. The seed's lines
//! also run with upstream GOST 3.2.6 (`gost-upstream`) as the SOCKS5 server and ours in front, and
//! the other way round.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use gost_test_support::{free_tcp_and_udp_port, have_program};
use serde_json::Value;
use support::{Gost, PATIENCE, Peer, both_roles, field};

/// Held by each test for its whole run, so iperf3 runs never compete for CPU.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A child process killed and reaped when dropped, so no iperf3 outlives the test.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `iperf3 -s -1` on 127.0.0.1:`port` and waits until it listens (its "Server listening"
/// line, printed after listen(2); `--forceflush` because stdout is a pipe).
fn iperf3_server(port: u16) -> Reaped {
    let mut server = Reaped(
        Command::new("iperf3")
            .args(["-s", "-1", "--forceflush", "-B", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start iperf3 -s"),
    );
    let stdout = server.0.stdout.take().unwrap();
    let (tx, lines) = channel();
    // Keeps draining stdout after the line we wait for, so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains("Server listening") => return server,
            Ok(_) => {}
            Err(e) => panic!("iperf3 -s on port {port} never listened: {e}"),
        }
    }
}

/// A front gost (`peer`) forwarding tcp and udp on one port number to the iperf3 port through the
/// SOCKS5 server at `socks`, reached with `-F socks5://SOCKS?NODE_QUERY`; returns it and the port.
fn front(peer: &Peer, socks: SocketAddr, iperf_port: u16, node_query: &str) -> (Gost, u16) {
    let port = free_tcp_and_udp_port();
    let tcp = format!("tcp://127.0.0.1:{port}/:{iperf_port}");
    let udp = format!("udp://127.0.0.1:{port}/:{iperf_port}?keepalive=true&readBufferSize=65535");
    let node = format!("socks5://{socks}?{node_query}");
    let mut gost = peer.spawn(&["-L", &tcp, "-L", &udp, "-F", &node]);
    let addrs = gost.addrs(2);
    assert!(
        addrs.iter().all(|a| a.port() == port),
        "forwards not on port {port}: {addrs:?}"
    );
    (gost, port)
}

/// Runs `iperf3 -c 127.0.0.1 -p PORT -t 2 -J EXTRA` against a fresh iperf3 server and returns its
/// JSON report once it completed without error.
fn iperf3_client(port: u16, iperf_port: u16, extra: &[&str]) -> Value {
    let mut server = iperf3_server(iperf_port);
    let mut client = Reaped(
        Command::new("iperf3")
            .args(["-c", "127.0.0.1", "-t", "2", "-J", "-p"])
            .arg(port.to_string())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start iperf3 -c"),
    );
    let status = wait_exit(&mut client.0, PATIENCE)
        .unwrap_or_else(|| panic!("iperf3 -c {extra:?} did not finish within {PATIENCE:?}"));
    let mut json = String::new();
    client
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut json)
        .unwrap();
    let report: Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("iperf3 -c {extra:?} printed no JSON ({e}): {json}"));
    assert!(
        status.success() && report.get("error").is_none(),
        "iperf3 -c {extra:?} failed ({status}): {json}"
    );
    // `-1`: the server ends after the one test; its exit confirms the test completed on its side.
    assert!(
        wait_exit(&mut server.0, PATIENCE).is_some_and(|s| s.success()),
        "iperf3 -s did not finish its test cleanly"
    );
    report
}

/// Waits up to `limit` for `child` to exit.
fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Checks a `sum_*` section of a report is a sane measurement: bytes moved, a duration near the
/// 2 s asked for, and a rate that is positive, finite and agrees with bytes / seconds.
#[track_caller]
fn assert_sane(sum: &Value, what: &str) -> (f64, f64) {
    let bytes = sum["bytes"].as_f64().unwrap_or(0.0);
    let seconds = sum["seconds"].as_f64().unwrap_or(0.0);
    let bps = sum["bits_per_second"].as_f64().unwrap_or(f64::NAN);
    assert!(bytes > 1e6, "{what}: only {bytes} bytes moved: {sum}");
    assert!(
        (1.5..10.0).contains(&seconds),
        "{what}: a 2 s run reported {seconds} s: {sum}"
    );
    assert!(
        bps.is_finite() && bps > 1e6,
        "{what}: rate {bps} bit/s is not sane: {sum}"
    );
    let implied = bytes * 8.0 / seconds;
    assert!(
        (bps - implied).abs() <= implied * 0.05,
        "{what}: rate {bps} bit/s disagrees with {bytes} bytes in {seconds} s: {sum}"
    );
    (bytes, bps)
}

#[test]
fn iperf3_tcp_and_udp_through_a_forwarding_gost_and_a_socks5_gost() {
    if !have_program("iperf3", "iperf3") {
        return;
    }
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut socks = Gost::spawn(&[
        "-L",
        "socks5://127.0.0.1:0?notls=true&udp=true&udpBufferSize=65535",
    ]);
    let socks_addr = socks.addr("service-0");
    let iperf_port = free_tcp_and_udp_port();

    // The seed's line: relay=udp.
    let (relay_front, relay_port) = front(
        &Peer::Ours,
        socks_addr,
        iperf_port,
        "relay=udp&udpBufferSize=65535",
    );
    let tcp = iperf3_client(relay_port, iperf_port, &[]);
    let (tcp_bytes, bps) = assert_sane(&tcp["end"]["sum_received"], "TCP");
    eprintln!(
        "F6 TCP: {tcp_bytes} bytes received in 2 s, {:.2} Gbit/s",
        bps / 1e9
    );
    let relay_bytes = udp_run(relay_port, iperf_port, "relay=udp (UDP ASSOCIATE)");

    // The same without relay=udp: UDP-TUN, what upstream's connector uses by default.
    let (tun_front, tun_port) = front(&Peer::Ours, socks_addr, iperf_port, "udpBufferSize=65535");
    let tun_bytes = udp_run(tun_port, iperf_port, "UDP-TUN");

    // Each run went through the SOCKS5 gost the intended way: its log has the TCP data connection,
    // and (once the fronts end their associations) the UDP ASSOCIATE and UDP-TUN sessions, each
    // having carried at least what iperf3 received.
    drop((relay_front, tun_front));
    assert_carried(&mut socks, "connect ", tcp_bytes);
    assert_carried(&mut socks, "udp-associate ", relay_bytes);
    assert_carried(&mut socks, "udp-tun ", tun_bytes);
}

/// The seed's lines with upstream GOST as the SOCKS5 server and ours in front, then the reverse.
#[test]
fn iperf3_with_gost_upstream_in_either_role() {
    if !have_program("iperf3", "iperf3") {
        return;
    }
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    both_roles(|server, client| {
        let mut socks = server.spawn(&[
            "-L",
            "socks5://127.0.0.1:0?notls=true&udp=true&udpBufferSize=65535",
        ]);
        let socks_addr = socks.addr("service-0");
        let iperf_port = free_tcp_and_udp_port();
        let query = "relay=udp&udpBufferSize=65535";
        let (_front, port) = front(client, socks_addr, iperf_port, query);
        let how = format!("{client:?} in front of {server:?}");
        let tcp = iperf3_client(port, iperf_port, &[]);
        let (bytes, bps) = assert_sane(&tcp["end"]["sum_received"], &how);
        eprintln!(
            "F6 TCP, {how}: {bytes} bytes in 2 s, {:.2} Gbit/s",
            bps / 1e9
        );
        udp_run(port, iperf_port, &format!("relay=udp, {how}"));
    });
}

/// Waits for `socks`'s connection lines whose target starts with `kind` and asserts the largest
/// `bytes_in` among them is at least `bytes`.
#[track_caller]
fn assert_carried(socks: &mut Gost, kind: &str, bytes: f64) {
    let target = format!("target=\"{kind}");
    // iperf3's control and data connections end in either order: wait for the session that carried
    // the bytes, not for the first one logged.
    let carried = |l: &str| {
        l.contains("connection")
            && l.contains(&target)
            && field(l, "bytes_in")
                .and_then(|b| b.parse::<f64>().ok())
                .is_some_and(|b| b >= bytes)
    };
    socks.wait_until(
        &format!("a {kind}session that carried {bytes} bytes (what iperf3 received)"),
        carried,
    );
}

/// A 2 s `iperf3 -u -b 100M` run through the forward on `port`; checks what the server received
/// and returns its byte count.
fn udp_run(port: u16, iperf_port: u16, how: &str) -> f64 {
    let report = iperf3_client(port, iperf_port, &["-u", "-b", "100M"]);
    // What the iperf3 server received, as reported back to the client.
    let received = &report["end"]["sum_received"];
    let (bytes, bps) = assert_sane(received, how);
    let packets = received["packets"].as_f64().unwrap_or(0.0);
    let lost = received["lost_packets"].as_f64().unwrap_or(f64::NAN);
    let lost_percent = received["lost_percent"].as_f64().unwrap_or(f64::NAN);
    eprintln!(
        "F6 UDP via {how}: {packets} datagrams, {lost} lost ({lost_percent:.2} %), \
         {bytes} bytes received, {:.1} Mbit/s",
        bps / 1e6
    );
    assert!(
        packets >= 50.0,
        "{how}: only {packets} datagrams arrived: {received}"
    );
    // Loopback loses little; a bound this loose only catches a broken relay, not a slow machine.
    assert!(
        (0.0..25.0).contains(&lost_percent),
        "{how}: {lost_percent} % of the datagrams were lost: {received}"
    );
    bytes
}
