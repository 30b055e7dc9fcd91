//! The metrics endpoint's `auther` and `admission` (upstream's `metrics:` keys), with curl against the
//! binary: without credentials the auther accepts, a scraper gets 401 and `WWW-Authenticate: Basic`
//! (`metrics.auth` is ignored, as upstream); a client the admission refuses is closed unanswered.
//! A SIGHUP applies a changed `metrics:` section or auther to the running endpoint.

mod support;

use std::net::SocketAddr;

use gost_sys::process::Signal;
use gost_test_support::have_program;
use gost_test_support::servers::free_port;
use support::{ConfigFile, Gost, curl, field};

fn config(users: &str) -> String {
    format!(
        "services:\n- name: socks\n  addr: 127.0.0.1:0\n  handler: {{type: socks5}}\n\
         metrics:\n  addr: 127.0.0.1:0\n  auth: {{username: prom, password: ignored}}\n  auther: scrapers\n  admission: blocked\n\
         authers:\n- name: scrapers\n  file: {{path: '{users}'}}\n\
         admissions:\n- name: blocked\n  matchers: [127.0.0.2]\n"
    )
}

/// `curl -i ARGS` on the metrics URL: its exit success and output.
fn scrape(metrics: SocketAddr, args: &[&str]) -> (bool, String) {
    let out = curl(
        &[&["-i"], args].concat(),
        &format!("http://{metrics}/metrics"),
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn metrics_auther_asks_for_credentials_and_admission_closes_refused_clients() {
    if !have_program("curl", "curl") {
        return;
    }
    let users = ConfigFile::new("alice s3cret\n");
    let file = ConfigFile::new(&config(users.arg()));
    let mut gost = Gost::spawn(&["-C", file.arg()]);
    gost.addr("socks");
    let line = gost.wait_for(&["metrics endpoint listening"]);
    let metrics: SocketAddr = field(&line, "addr").unwrap().parse().unwrap();
    gost.wait_for(&["metrics.auth is ignored"]);

    for creds in [None, Some("alice:wrong"), Some("prom:ignored")] {
        let args: Vec<&str> = creds.into_iter().flat_map(|c| ["-u", c]).collect();
        let (ok, response) = scrape(metrics, &args);
        assert!(ok, "{creds:?}: curl failed");
        assert!(
            response.starts_with("HTTP/1.1 401"),
            "{creds:?}: {response}"
        );
        assert!(
            response.contains("WWW-Authenticate: Basic"),
            "{creds:?}: {response}"
        );
        assert!(!response.contains("gost_services"), "{creds:?}: {response}");
    }
    let (ok, response) = scrape(metrics, &["-u", "alice:s3cret"]);
    assert!(ok && response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("gost_services{"), "{response}");

    // 127.0.0.2 is blacklisted: closed at accept, even with valid credentials.
    let (ok, response) = scrape(metrics, &["--interface", "127.0.0.2", "-u", "alice:s3cret"]);
    assert!(
        !ok && response.is_empty(),
        "refused client answered: {response}"
    );
    gost.wait_for(&["metrics client refused", "admission", "127.0.0.2:"]);
}

/// A configuration with a SOCKS service and, when `metrics` is given, an endpoint on that address
/// whose auther lets `user` in.
fn reloadable(metrics: Option<SocketAddr>, user: &str) -> String {
    let mut text =
        "services:\n- name: socks\n  addr: 127.0.0.1:0\n  handler: {type: socks5}\n".to_owned();
    if let Some(addr) = metrics {
        text += &format!(
            "metrics:\n  addr: {addr}\n  auther: scrapers\n\
             authers:\n- name: scrapers\n  auths:\n  - {{username: {user}, password: pw}}\n"
        );
    }
    text
}

/// The HTTP status line of a scrape with `user`'s credentials, or `None` when nothing answered.
fn status(metrics: SocketAddr, user: &str) -> Option<String> {
    let (ok, response) = scrape(metrics, &["-u", &format!("{user}:pw")]);
    ok.then(|| response.lines().next().unwrap_or("").trim().to_owned())
}

#[test]
fn sighup_applies_metrics_changes() {
    if !have_program("curl", "curl") {
        return;
    }
    let (first, second) = (free_addr(), free_addr());
    let file = ConfigFile::new(&reloadable(Some(first), "alice"));
    let mut gost = Gost::spawn(&["-C", file.arg()]);
    gost.addr("socks");
    gost.wait_for(&["metrics endpoint listening"]);
    assert_eq!(status(first, "alice").as_deref(), Some("HTTP/1.1 200 OK"));

    let mut reload = |text: String| {
        file.write(&text);
        gost.signal(Signal::Hup);
        gost.wait_for(&["metrics endpoint reloaded"]);
    };
    // Another user on the same address: the old one is refused at once.
    reload(reloadable(Some(first), "bob"));
    assert_eq!(
        status(first, "alice").as_deref(),
        Some("HTTP/1.1 401 Unauthorized")
    );
    assert_eq!(status(first, "bob").as_deref(), Some("HTTP/1.1 200 OK"));
    // Another address: the old one is closed.
    reload(reloadable(Some(second), "bob"));
    assert_eq!(status(first, "bob"), None);
    assert_eq!(status(second, "bob").as_deref(), Some("HTTP/1.1 200 OK"));
    // Removed, then back.
    reload(reloadable(None, "bob"));
    assert_eq!(status(second, "bob"), None);
    reload(reloadable(Some(first), "carol"));
    assert_eq!(status(first, "carol").as_deref(), Some("HTTP/1.1 200 OK"));
}

#[test]
fn sighup_adding_metrics_to_a_process_started_without_is_rejected() {
    if !have_program("curl", "curl") {
        return;
    }
    let metrics = free_addr();
    let file = ConfigFile::new(&reloadable(None, "alice"));
    let mut gost = Gost::spawn(&["-C", file.arg()]);
    let proxy = gost.addr("socks");
    file.write(&reloadable(Some(metrics), "alice"));
    gost.signal(Signal::Hup);
    gost.wait_for(&["reload failed", "restart gost"]);
    assert_eq!(status(metrics, "alice"), None);
    assert!(
        std::net::TcpStream::connect(proxy).is_ok(),
        "the service stopped"
    );
}

fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}
