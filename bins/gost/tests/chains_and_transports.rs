//! Two `gost` processes: one serves SOCKS over a transport, the other reaches it with `-F` and forwards
//! or proxies through it, so the listener side and the chain side of every transport meet over loopback.

mod support;

use support::{Gost, assert_body, curl, have_curl, http_server, http_through_chain};

/// [`http_through_chain`], then checks the server logs the connection with bytes both ways.
///
/// The outcome logged is not checked: since the relay rewrite (3ed0afd) the server sometimes logs a
/// cleanly finished in-band TLS connection as "error" (no TLS close_notify from the chain side), a
/// gost-service matter.
fn forward_through(server: &str, node: &str) {
    http_through_chain(server, node).wait_connection_relayed();
}

#[test]
fn tcp_forward_through_a_socks5_chain() {
    forward_through("socks5://127.0.0.1:0", "socks5://{}");
}

#[test]
fn tcp_forward_through_socks5_with_password_and_in_band_tls() {
    // The server offers 0x80/0x82 by default, so the chain's connector upgrades to TLS in-band.
    forward_through("socks5://u:p@127.0.0.1:0", "socks5://u:p@{}");
}

#[test]
fn socks5_over_tls_listener() {
    forward_through("socks5+tls://127.0.0.1:0", "socks5+tls://{}");
}

#[test]
fn socks5_over_ws_listener() {
    forward_through(
        "socks5+ws://127.0.0.1:0?path=/tunnel",
        "socks5+ws://{}?path=/tunnel",
    );
}

#[test]
fn socks5_over_wss_listener() {
    forward_through("socks5+wss://127.0.0.1:0", "socks5+wss://{}");
}

#[test]
fn socks4_over_tls_listener() {
    forward_through("socks4+tls://127.0.0.1:0", "socks4+tls://{}");
}

#[test]
fn socks5_service_with_a_chain_serves_curl() {
    if !have_curl() {
        return;
    }
    let web = http_server();
    let mut upstream = Gost::spawn(&["-L", "socks5+wss://127.0.0.1:0"]);
    let node = format!("socks5+wss://{}", upstream.addr("service-0"));
    let mut front = Gost::spawn(&["-L", "socks5://127.0.0.1:0", "-F", &node]);
    let proxy = front.addr("service-0").to_string();
    let out = curl(&["--socks5-hostname", &proxy], &format!("http://{web}/"));
    assert_body(&out, "socks5 -> socks5+wss chain");
    upstream.wait_connection_relayed();
}

#[test]
fn socks5_over_kcp_listener() {
    // The response arriving is the proof. The server's connection line is not awaited: smux (under
    // kcp) has no half-close, so when the stream is reported closed depends on the session.
    http_through_chain("socks5+kcp://127.0.0.1:0", "socks5+kcp://{}");
}
