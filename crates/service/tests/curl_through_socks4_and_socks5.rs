//! curl, a real third-party client, fetches a page through our SOCKS4, SOCKS4A, SOCKS5 and SOCKS5h
//! servers, with and without credentials; a wrong password is refused.

mod common;

use std::net::SocketAddr;

use common::serve;
use gost_service::{Socks4Handler, Socks4Options, Socks5Handler, Socks5Options, Users};
use gost_test_support::{BODY, have_program, http_server};

/// Runs curl through `proxy` for `url`; returns (success, body).
async fn curl(proxy: String, url: String) -> (bool, String) {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--max-time", "10", "-x", &proxy, &url])
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .output()
            .expect("curl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// curl through `proxy` must get the page at `url`.
async fn fetches(proxy: String, url: String) {
    let (ok, body) = curl(proxy.clone(), url.clone()).await;
    assert!(ok, "{url} through {proxy} failed");
    assert_eq!(body, BODY, "{url} through {proxy}");
}

/// The page server, when curl is installed (otherwise the test is skipped, or fails under `CI`).
async fn page_for_curl() -> Option<SocketAddr> {
    if !have_program("curl", "curl") {
        return None;
    }
    Some(http_server().await)
}

fn url(http: SocketAddr, by_name: bool) -> String {
    if by_name {
        format!("http://localhost:{}/", http.port())
    } else {
        format!("http://{http}/")
    }
}

/// Every scheme without credentials, by IP and (where the scheme sends names) by name; a failure names
/// the proxy URL and the page.
#[tokio::test]
async fn socks5_socks5h_socks4_and_socks4a_without_auth() {
    let Some(http) = page_for_curl().await else {
        return;
    };
    let s5 = serve(Socks5Handler::new(Socks5Options::default())).await;
    let s4 = serve(Socks4Handler::new(Socks4Options::default())).await;
    for (scheme, proxy, by_name) in [
        ("socks5", s5.addr, false),
        ("socks5h", s5.addr, true),
        ("socks5h", s5.addr, false),
        ("socks4", s4.addr, false),
        ("socks4a", s4.addr, true),
        ("socks4a", s4.addr, false),
    ] {
        fetches(format!("{scheme}://{proxy}"), url(http, by_name)).await;
    }
}

#[tokio::test]
async fn socks5_with_user_and_password() {
    let Some(http) = page_for_curl().await else {
        return;
    };
    let opts = Socks5Options {
        users: Users::new([("alice", "s3cret"), ("bob", "pa:ss")]),
        ..Default::default()
    };
    let proxy = serve(Socks5Handler::new(opts)).await;
    for user in ["alice:s3cret", "bob:pa%3Ass"] {
        for scheme in ["socks5", "socks5h"] {
            let proxy = format!("{scheme}://{user}@{}", proxy.addr);
            fetches(proxy, url(http, scheme == "socks5h")).await;
        }
    }
    let (ok, _) = curl(
        format!("socks5://alice:wrong@{}", proxy.addr),
        url(http, false),
    )
    .await;
    assert!(!ok, "wrong password accepted");
    let (ok, _) = curl(format!("socks5://{}", proxy.addr), url(http, false)).await;
    assert!(!ok, "no credentials accepted by an auth server");
}

#[tokio::test]
async fn socks4_and_socks4a_with_a_userid() {
    let Some(http) = page_for_curl().await else {
        return;
    };
    // As upstream: SOCKS4 authenticates users configured with an empty password, by userid.
    let opts = Socks4Options {
        users: Users::new([("alice", "")]),
        ..Default::default()
    };
    let authed = serve(Socks4Handler::new(opts)).await;
    fetches(format!("socks4a://alice@{}", authed.addr), url(http, true)).await;
    let (ok, _) = curl(
        format!("socks4://mallory@{}", authed.addr),
        url(http, false),
    )
    .await;
    assert!(!ok, "unknown userid accepted");
}
