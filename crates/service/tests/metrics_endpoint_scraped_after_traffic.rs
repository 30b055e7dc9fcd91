//! The Prometheus endpoint, scraped with curl after real SOCKS traffic: upstream GOST's metric names with
//! non-zero request and byte counters, errors counted, Basic authentication enforced.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use gost_service::metrics::{Metrics, MetricsServer};
use gost_service::{ServiceBuilder, Users};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_socks::tcp::Socks5Stream;
use tokio_util::sync::CancellationToken;

/// `curl -s -w '\n%{http_code}' URL [-u CREDS]`: the body and the status code.
async fn curl(url: String, creds: Option<&'static str>) -> (String, u16) {
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "--max-time", "10", "-w", "\n%{http_code}", &url]);
        if let Some(c) = creds {
            cmd.args(["-u", c]);
        }
        let out = cmd.output().expect("curl runs");
        let text = String::from_utf8(out.stdout).unwrap();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (body.to_owned(), code.parse().unwrap())
    })
    .await
    .unwrap()
}

/// The value of the sample line `name{labels}`.
fn sample(text: &str, series: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"));
    line[series.len() + 1..].parse().unwrap()
}

#[tokio::test]
async fn scrape_after_traffic_shows_requests_bytes_and_errors() {
    if !gost_test_support::have_program("curl", "curl") {
        return;
    }
    let http = gost_test_support::http_server().await;
    let metrics = Arc::new(Metrics::with_host("test-host"));
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let service = ServiceBuilder::socks5()
        .name("socks-0")
        .bind("127.0.0.1:0")
        .users(Users::new([("alice", "s3cret")]))
        .observer(metrics.clone())
        .drain_timeout(Duration::from_millis(100))
        .build()
        .await
        .unwrap();
    let proxy = service.local_addr();
    tokio::spawn(service.run(shutdown.clone()));
    let endpoint = MetricsServer::bind("127.0.0.1:0", "/metrics", metrics.clone())
        .await
        .unwrap()
        .basic_auth("prom", "scrape");
    let url = format!("http://{}/metrics", endpoint.local_addr());
    tokio::spawn(endpoint.run(shutdown.clone()));

    // Two good requests and one with a wrong password.
    let target = ("127.0.0.1", http.port());
    let mut received = 0;
    for _ in 0..2 {
        let mut s = Socks5Stream::connect_with_password(proxy, target, "alice", "s3cret")
            .await
            .unwrap();
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        let mut body = Vec::new();
        s.read_to_end(&mut body).await.unwrap();
        received += body.len() as u64;
    }
    let bad = Socks5Stream::connect_with_password(proxy, target, "alice", "wrong").await;
    assert!(bad.is_err());

    // Each connection is counted when the server side closes it: poll until all three are in.
    let labels = "{host=\"test-host\",service=\"socks-0\"}";
    let mut text = String::new();
    for _ in 0..200 {
        let (body, code) = curl(url.clone(), Some("prom:scrape")).await;
        assert_eq!(code, 200, "{body}");
        text = body;
        if sample(
            &text,
            &format!("gost_service_request_duration_seconds_count{labels}"),
        ) == 3.0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sample(&text, "gost_services{host=\"test-host\"}"), 1.0);
    assert_eq!(
        sample(&text, &format!("gost_service_requests_total{labels}")),
        3.0
    );
    assert_eq!(
        sample(&text, &format!("gost_service_requests_in_flight{labels}")),
        0.0
    );
    assert_eq!(
        sample(&text, &format!("gost_service_handler_errors_total{labels}")),
        1.0
    );
    let request = b"GET / HTTP/1.0\r\n\r\n".len() as f64;
    assert_eq!(
        sample(
            &text,
            &format!("gost_service_transfer_input_bytes_total{labels}")
        ),
        2.0 * request
    );
    assert_eq!(
        sample(
            &text,
            &format!("gost_service_transfer_output_bytes_total{labels}")
        ),
        received as f64
    );
    assert!(text.contains("# TYPE gost_service_request_duration_seconds histogram"));
    let inf = "gost_service_request_duration_seconds_bucket{host=\"test-host\",service=\"socks-0\",le=\"+Inf\"}";
    assert_eq!(sample(&text, inf), 3.0);

    // Wrong or missing credentials, and other paths, are refused.
    assert_eq!(curl(url.clone(), None).await.1, 401);
    assert_eq!(curl(url.clone(), Some("prom:nope")).await.1, 401);
    let other = url.replace("/metrics", "/other");
    assert_eq!(curl(other, Some("prom:scrape")).await.1, 404);
}
