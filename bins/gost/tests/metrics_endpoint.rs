//! `-metrics ADDR` and the `metrics:` section serve upstream GOST's Prometheus metrics; after traffic
//! the request and byte counters of the service that carried it are non-zero.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use gost_test_support::servers::blocking::http_server;
use support::{ConfigFile, Gost, PATIENCE, field, http_get, http_get_with};

/// The value of the sample whose line starts with `metric{` and contains `label`.
fn sample(text: &str, metric: &str, label: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) && l.contains(label))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

fn metrics_addr(gost: &mut Gost) -> SocketAddr {
    let line = gost.wait_for(&["metrics endpoint listening"]);
    field(&line, "addr").unwrap().parse().unwrap()
}

#[test]
fn metrics_flag_counts_requests_and_bytes() {
    let web = http_server(PATIENCE);
    let forward = format!("tcp://127.0.0.1:0/{web}");
    let mut gost = Gost::spawn(&["-L", &forward, "-metrics", "127.0.0.1:0"]);
    let entry = gost.addr("service-0");
    let metrics = metrics_addr(&mut gost);
    for _ in 0..3 {
        assert!(http_get(entry).ends_with(gost_test_support::BODY));
    }
    let service = "service=\"service-0\"";
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = http_get_with(metrics, "/metrics", "");
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        let requests = sample(&text, "gost_service_requests_total", service);
        let input = sample(&text, "gost_service_transfer_input_bytes_total", service);
        let output = sample(&text, "gost_service_transfer_output_bytes_total", service);
        if requests == Some(3.0) && input > Some(0.0) && output > Some(0.0) {
            assert_eq!(sample(&text, "gost_services", "host="), Some(1.0), "{text}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "counters never reached 3 requests with bytes:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn metrics_section_with_path_and_credentials() {
    let file = ConfigFile::new(
        "services:\n- name: proxy\n  addr: 127.0.0.1:0\n  handler:\n    type: socks5\n  listener:\n    type: tcp\n\
         metrics:\n  addr: 127.0.0.1:0\n  path: /m\n  auth:\n    username: prom\n    password: pw\n",
    );
    let mut gost = Gost::spawn(&["-C", file.arg()]);
    gost.addr("proxy");
    let metrics = metrics_addr(&mut gost);
    let denied = http_get_with(metrics, "/m", "");
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");
    let ok = http_get_with(metrics, "/m", "Authorization: Basic cHJvbTpwdw==\r\n");
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.contains("gost_services"), "{ok}");
}

/// Sends a request through the forwarding port `entry` and reads until the service closes.
fn forward_once(entry: SocketAddr) -> String {
    let mut conn = TcpStream::connect(entry).unwrap();
    conn.set_read_timeout(Some(PATIENCE)).unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    // A failed dial ends in a close or a reset; either way the dial is over.
    let _ = conn.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn chain_metrics_count_node_connects_and_chain_errors() {
    let web = http_server(PATIENCE);
    let mut far = Gost::spawn(&["-L", "socks5://127.0.0.1:0"]);
    let far_addr = far.addr("service-0");
    // A port nothing listens on: the node of chain `bad` cannot be reached.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let file = ConfigFile::new(&format!(
        "services:\n\
         - name: ok\n  addr: 127.0.0.1:0\n  handler: {{type: tcp, chain: good}}\n  listener: {{type: tcp}}\n  \
         forwarder: {{nodes: [{{name: web, addr: '{web}'}}]}}\n\
         - name: broken\n  addr: 127.0.0.1:0\n  handler: {{type: tcp, chain: bad}}\n  listener: {{type: tcp}}\n  \
         forwarder: {{nodes: [{{name: web, addr: '{web}'}}]}}\n\
         chains:\n\
         - name: good\n  hops: [{{name: h, nodes: [{{name: far, addr: '{far_addr}', connector: {{type: socks5}}}}]}}]\n\
         - name: bad\n  hops: [{{name: h, nodes: [{{name: dead, addr: '{dead}', connector: {{type: socks5}}}}]}}]\n\
         metrics: {{addr: 127.0.0.1:0}}\n"
    ));
    let mut gost = Gost::spawn(&["-C", file.arg()]);
    let (ok, broken) = (gost.addr("ok"), gost.addr("broken"));
    let metrics = metrics_addr(&mut gost);
    assert!(forward_once(ok).ends_with(gost_test_support::BODY));
    assert_eq!(
        forward_once(broken),
        "",
        "nothing comes back from a dead chain"
    );
    // Both dials finished before their connections closed, so one scrape sees them.
    let text = http_get_with(metrics, "/metrics", "");
    let good = "chain=\"good\",node=\"far\"";
    let bad = "chain=\"bad\",node=\"dead\"";
    let connect = "gost_chain_node_connect_duration_seconds_count";
    assert_eq!(sample(&text, connect, good), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, "gost_chain_errors_total", good),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "gost_chain_errors_total", bad),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, connect, bad), Some(0.0), "{text}");
    for line in [
        "# TYPE gost_chain_errors_total counter",
        "# TYPE gost_chain_node_connect_duration_seconds histogram",
    ] {
        assert!(text.lines().any(|l| l == line), "{line}:\n{text}");
    }
    far.wait_connection_ok();
}
