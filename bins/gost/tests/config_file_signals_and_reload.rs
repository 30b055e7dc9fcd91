//! The `gost` process as an operator sees it: a YAML `-C` file, exit statuses (0 after SIGTERM/SIGINT,
//! 2 for an unusable configuration, 1 when an address is taken), JSON log lines, and SIGHUP reloading
//! the file while unchanged services and their connections keep running.

mod support;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use gost_sys::process::Signal;
use gost_test_support::have_program;
use gost_test_support::servers::blocking::{echo_server, http_server};
use support::{ConfigFile, Gost, PATIENCE, assert_body, curl, echo_round_trip, http_get};

/// A `tcp` forwarding service entry of a YAML file.
fn forward_entry(name: &str, port: u16, target: SocketAddr) -> String {
    format!(
        "- name: {name}\n  addr: 127.0.0.1:{port}\n  handler:\n    type: tcp\n  listener:\n    type: tcp\n  \
         forwarder:\n    nodes:\n    - name: {name}-target\n      addr: {target}\n"
    )
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn yaml_config_file_runs_its_services() {
    if !have_program("curl", "curl") {
        return;
    }
    let web = http_server(PATIENCE);
    let file = ConfigFile::new(&format!(
        "services:\n- name: proxy\n  addr: 127.0.0.1:0\n  handler:\n    type: socks5\n    auther: users\n  \
         listener:\n    type: tcp\n{}authers:\n- name: users\n  auths:\n  - username: alice\n    password: s3cret\n",
        forward_entry("web", 0, web)
    ));
    let mut gost = Gost::spawn(&["-C", file.arg()]);
    let proxy = gost.addr("proxy");
    let forward = gost.addr("web");
    let out = curl(
        &["--socks5", &format!("alice:s3cret@{proxy}")],
        &format!("http://{web}/"),
    );
    assert_body(&out, "socks5 service from the YAML file");
    assert!(http_get(forward).ends_with(gost_test_support::BODY));
}

#[test]
fn sigterm_and_sigint_exit_zero_promptly() {
    for signal in [Signal::Term, Signal::Int] {
        let web = http_server(PATIENCE);
        let mut gost = Gost::spawn(&["-L", &format!("tcp://127.0.0.1:0/{web}")]);
        let addr = gost.addr("service-0");
        assert!(http_get(addr).ends_with(gost_test_support::BODY));
        gost.signal(signal);
        let status = gost.wait_exit(Duration::from_secs(10));
        let status = status.unwrap_or_else(|| panic!("still running 10 s after signal {signal:?}"));
        assert_eq!(
            status.code(),
            Some(0),
            "signal {signal:?}: {}",
            gost.log.join("\n")
        );
        assert!(
            TcpStream::connect(addr).is_err(),
            "port still open after exit"
        );
    }
}

/// Runs `gost ARGS`, expects exit status 2, and returns the log.
fn exits_2(args: &[&str]) -> String {
    let mut gost = Gost::spawn(args);
    let status = gost.wait_exit(PATIENCE).expect("gost kept running");
    let log = gost.log.join("\n");
    assert_eq!(status.code(), Some(2), "{args:?}: {log}");
    log
}

#[test]
fn unusable_config_exits_2_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let tls_service = |cert: &Path, key: &Path| {
        format!(
            "services:\n- name: s\n  addr: 127.0.0.1:0\n  handler:\n    type: socks5\n  listener:\n    type: tls\n    \
             tls:\n      certFile: {}\n      keyFile: {}\n",
            cert.display(),
            key.display()
        )
    };
    let missing = dir.path().join("missing.yaml");
    let nowhere = Path::new("/nonexistent/cert.pem");
    write(&missing, &tls_service(nowhere, nowhere));
    let log = exits_2(&["-C", missing.to_str().unwrap()]);
    assert!(
        log.contains("`s`") && log.contains("/nonexistent/cert.pem"),
        "{log}"
    );

    // Files that exist but hold no PEM: found only when the certificate is loaded.
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    write(&cert, "not a certificate");
    write(&key, "not a key");
    let garbage = dir.path().join("garbage.yaml");
    write(&garbage, &tls_service(&cert, &key));
    let log = exits_2(&["-C", garbage.to_str().unwrap()]);
    assert!(log.contains("\"s\"") && log.contains("cert.pem"), "{log}");

    let log = exits_2(&["-L", "socks5://127.0.0.1:0?udpBufferSize=lots"]);
    assert!(log.contains("udpBufferSize"), "{log}");
}

#[test]
fn taken_address_exits_1_and_nothing_starts() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut gost = Gost::spawn(&[
        "-L",
        "socks5://127.0.0.1:0",
        "-L",
        &format!("socks5://127.0.0.1:{port}"),
    ]);
    let status = gost.wait_exit(PATIENCE).expect("gost kept running");
    let log = gost.log.join("\n");
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains(&format!("127.0.0.1:{port}")), "{log}");
    assert!(
        !log.contains("listening"),
        "a service ran before all were bound:\n{log}"
    );
}

#[test]
fn json_log_lines() {
    let mut gost = Gost::spawn(&["-L", "socks5://127.0.0.1:0", "--log-format", "json"]);
    let line = gost.wait_for(&["listening"]);
    let event: serde_json::Value = serde_json::from_str(&line).expect("a JSON object per line");
    assert_eq!(event["level"], "INFO");
    assert_eq!(event["fields"]["message"], "listening");
    let addr: SocketAddr = event["fields"]["addr"].as_str().unwrap().parse().unwrap();
    assert!(TcpStream::connect(addr).is_ok());
}

#[test]
fn open_proxy_on_all_interfaces_is_warned_about_at_start() {
    // Binds every interface but sends nothing: the test only reads the start-up log.
    let mut open = Gost::spawn(&[
        "-L",
        "socks5://:0",
        "-L",
        "socks5://u:p@:0",
        "-L",
        "socks4://127.0.0.1:0",
    ]);
    let warning = open.wait_for(&["open proxy"]);
    assert!(warning.contains("service=service-0"), "{warning}");
    open.addrs(3);
    let others = open.log.iter().filter(|l| l.contains("open proxy")).count();
    assert_eq!(
        others, 1,
        "only the unauthenticated wildcard service is an open proxy"
    );
}

#[test]
fn sighup_reload_adds_removes_and_keeps_services() {
    let echo = echo_server();
    let (keep, gone, added) = (
        gost_test_support::free_port(),
        gost_test_support::free_port(),
        gost_test_support::free_port(),
    );
    let file = ConfigFile::new(&format!(
        "services:\n{}{}",
        forward_entry("keep", keep, echo),
        forward_entry("gone", gone, echo)
    ));
    let mut gost = Gost::spawn(&["-C", file.arg()]);
    gost.addr("keep");
    gost.addr("gone");
    let mut live = TcpStream::connect(("127.0.0.1", keep)).unwrap();
    echo_round_trip(&mut live, "before reload");

    file.write(&format!(
        "services:\n{}{}",
        forward_entry("keep", keep, echo),
        forward_entry("added", added, echo)
    ));
    gost.signal(Signal::Hup);
    gost.wait_for(&[
        "configuration reloaded",
        "stopped=1",
        "started=1",
        "unchanged=1",
    ]);
    gost.addr("added");
    echo_round_trip(&mut live, "through the reload");
    let mut fresh = TcpStream::connect(("127.0.0.1", added)).unwrap();
    echo_round_trip(&mut fresh, "new service");
    // The reload cancels the removed service and logs without waiting for its listener to close,
    // so the port may accept for a moment after the line.
    let deadline = std::time::Instant::now() + PATIENCE;
    while TcpStream::connect(("127.0.0.1", gone)).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the removed service still accepts"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    file.write("services:\n- name: broken\n  handler: [not, a, map\n");
    gost.signal(Signal::Hup);
    gost.wait_for(&["reload failed"]);
    echo_round_trip(&mut live, "after a bad reload");
    echo_round_trip(&mut fresh, "after a bad reload");
    let mut again = TcpStream::connect(("127.0.0.1", keep)).unwrap();
    echo_round_trip(&mut again, "keep still accepts");
}

#[test]
fn sighup_restarts_a_changed_service_on_the_same_port() {
    let (first, second) = (http_server(PATIENCE), echo_server());
    let port = gost_test_support::free_port();
    let file = ConfigFile::new(&format!("services:\n{}", forward_entry("svc", port, first)));
    let mut gost = Gost::spawn(&["-C", file.arg()]);
    let addr = gost.addr("svc");
    assert!(http_get(addr).ends_with(gost_test_support::BODY));

    file.write(&format!(
        "services:\n{}",
        forward_entry("svc", port, second)
    ));
    gost.signal(Signal::Hup);
    gost.wait_for(&["configuration reloaded", "stopped=1", "started=1"]);
    let mut conn = TcpStream::connect(addr).unwrap();
    echo_round_trip(&mut conn, "now an echo");
}

#[test]
fn sigterm_drains_live_connections_and_a_second_signal_cuts_them() {
    let echo = echo_server();
    let forward = format!("tcp://127.0.0.1:0/{echo}");

    // Graceful: the live connection keeps working after SIGTERM; gost exits once it closes.
    let mut gost = Gost::spawn(&["-L", &forward]);
    let addr = gost.addr("service-0");
    let mut live = TcpStream::connect(addr).unwrap();
    echo_round_trip(&mut live, "before SIGTERM");
    gost.signal(Signal::Term);
    gost.wait_for(&["draining"]);
    assert!(
        TcpStream::connect(addr).is_err(),
        "still accepting after SIGTERM"
    );
    echo_round_trip(&mut live, "while draining");
    assert!(
        gost.wait_exit(Duration::from_millis(300)).is_none(),
        "exited with a live connection"
    );
    drop(live);
    let status = gost
        .wait_exit(PATIENCE)
        .expect("no exit after the last connection closed");
    assert_eq!(status.code(), Some(0));

    // Impatient: a second signal exits without waiting for the drain.
    let mut gost = Gost::spawn(&["-L", &forward]);
    let mut live = TcpStream::connect(gost.addr("service-0")).unwrap();
    echo_round_trip(&mut live, "before SIGTERM");
    gost.signal(Signal::Term);
    gost.wait_for(&["draining"]);
    gost.signal(Signal::Int);
    let status = gost
        .wait_exit(PATIENCE)
        .expect("a second signal did not stop gost");
    assert_eq!(status.code(), Some(0));
}
