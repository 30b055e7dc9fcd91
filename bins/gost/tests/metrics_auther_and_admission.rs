//! The metrics endpoint's `auther` and `admission` (upstream's `metrics:` keys), with curl against the
//! binary: without credentials the auther accepts, a scraper gets 401 and `WWW-Authenticate: Basic`
//! (`metrics.auth` is ignored, as upstream); a client the admission refuses is closed unanswered.

mod support;

use std::net::SocketAddr;

use gost_test_support::have_program;
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
