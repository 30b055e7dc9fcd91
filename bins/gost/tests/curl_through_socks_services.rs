//! curl, a SOCKS client nobody here wrote, reaches a local HTTP server through `gost -L socks5://…` and
//! `gost -L socks4://…`: SOCKS5 with local and proxy-side name resolution and a password, SOCKS4 and 4A.

mod support;

use gost_test_support::BODY;
use support::{Gost, assert_body, assert_socks5h_body, curl, web_for_curl};

#[test]
fn socks5_with_password_serves_curl_and_refuses_a_wrong_one() {
    let Some(web) = web_for_curl() else { return };
    let mut gost = Gost::spawn(&["-L", "socks5://user:pass@127.0.0.1:0"]);
    let proxy = gost.addr("service-0");
    let url = format!("http://{web}/");
    let named = format!("http://localhost:{}/", web.port());

    let out = curl(&["--socks5", &format!("user:pass@{proxy}")], &url);
    assert_body(&out, "--socks5");
    let out = curl(
        &["--socks5-hostname", &format!("user:pass@{proxy}")],
        &named,
    );
    assert_body(&out, "--socks5-hostname");
    let out = curl(&["-x", &format!("socks5h://user:pass@{proxy}")], &named);
    assert_body(&out, "socks5h:// proxy URL");

    let out = curl(&["--socks5", &format!("user:wrong@{proxy}")], &url);
    assert!(!out.status.success(), "a wrong password was accepted");
    assert_ne!(String::from_utf8_lossy(&out.stdout), BODY);
    let out = curl(&["--socks5", &proxy.to_string()], &url);
    assert!(!out.status.success(), "no credentials were accepted");

    gost.wait_connection_ok();
}

#[test]
fn socks4_and_socks4a_serve_curl() {
    let Some(web) = web_for_curl() else { return };
    let mut gost = Gost::spawn(&["-L", "socks4://127.0.0.1:0"]);
    let proxy = gost.addr("service-0").to_string();
    let out = curl(&["--socks4", &proxy], &format!("http://{web}/"));
    assert_body(&out, "--socks4");
    let named = format!("http://localhost:{}/", web.port());
    let out = curl(&["--socks4a", &proxy], &named);
    assert_body(&out, "--socks4a");
}

#[test]
fn one_process_serves_socks5_and_socks4_side_by_side() {
    let Some(web) = web_for_curl() else { return };
    let mut gost = Gost::spawn(&[
        "-L",
        "socks5://127.0.0.1:0?udp=true&bind=true",
        "-L",
        "socks4a://127.0.0.1:0",
    ]);
    let addrs = gost.addrs(2);
    let url = format!("http://{web}/");
    assert_body(&curl(&["--socks5", &addrs[0].to_string()], &url), "socks5");
    assert_body(&curl(&["--socks4", &addrs[1].to_string()], &url), "socks4");
}

#[test]
fn auto_handler_serves_socks4_and_socks5_on_one_port() {
    let Some(web) = web_for_curl() else { return };
    // No scheme: upstream's `auto` handler.
    let mut gost = Gost::spawn(&["-L", "127.0.0.1:0"]);
    let proxy = gost.addr("service-0").to_string();
    let url = format!("http://{web}/");
    assert_body(&curl(&["--socks5", &proxy], &url), "auto: socks5");
    assert_body(&curl(&["--socks4", &proxy], &url), "auto: socks4");
    let named = format!("http://localhost:{}/", web.port());
    assert_body(&curl(&["--socks4a", &proxy], &named), "auto: socks4a");
    assert_socks5h_body(&proxy, &named, "auto: socks5h");
}

#[test]
fn auto_handler_behind_a_tls_listener() {
    // `tls://` is upstream's auto handler over a tls listener; reached here by a SOCKS4 chain node.
    support::http_through_chain("tls://127.0.0.1:0", "socks4+tls://{}");
}
