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

fn url(http: SocketAddr, by_name: bool) -> String {
    if by_name {
        format!("http://localhost:{}/", http.port())
    } else {
        format!("http://{http}/")
    }
}

#[tokio::test]
async fn socks5_and_socks5h_without_auth() {
    if !have_program("curl", "curl") {
        return;
    }
    let http = http_server().await;
    let proxy = serve(Socks5Handler::new(Socks5Options::default())).await;
    for (scheme, by_name) in [("socks5", false), ("socks5h", true), ("socks5h", false)] {
        let (ok, body) = curl(format!("{scheme}://{}", proxy.addr), url(http, by_name)).await;
        assert!(ok, "{scheme} failed");
        assert_eq!(body, BODY, "{scheme}");
    }
}

#[tokio::test]
async fn socks5_with_user_and_password() {
    if !have_program("curl", "curl") {
        return;
    }
    let http = http_server().await;
    let opts = Socks5Options {
        users: Users::new([("alice", "s3cret"), ("bob", "pa:ss")]),
        ..Default::default()
    };
    let proxy = serve(Socks5Handler::new(opts)).await;
    for user in ["alice:s3cret", "bob:pa%3Ass"] {
        for scheme in ["socks5", "socks5h"] {
            let (ok, body) = curl(
                format!("{scheme}://{user}@{}", proxy.addr),
                url(http, scheme == "socks5h"),
            )
            .await;
            assert!(ok, "{scheme} as {user} failed");
            assert_eq!(body, BODY);
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
async fn socks4_and_socks4a_with_and_without_userid() {
    if !have_program("curl", "curl") {
        return;
    }
    let http = http_server().await;
    let open = serve(Socks4Handler::new(Socks4Options::default())).await;
    for (scheme, by_name) in [("socks4", false), ("socks4a", true), ("socks4a", false)] {
        let (ok, body) = curl(format!("{scheme}://{}", open.addr), url(http, by_name)).await;
        assert!(ok, "{scheme} failed");
        assert_eq!(body, BODY);
    }
    // As upstream: SOCKS4 authenticates users configured with an empty password, by userid.
    let opts = Socks4Options {
        users: Users::new([("alice", "")]),
        ..Default::default()
    };
    let authed = serve(Socks4Handler::new(opts)).await;
    let (ok, body) = curl(format!("socks4a://alice@{}", authed.addr), url(http, true)).await;
    assert!(ok && body == BODY, "userid alice refused");
    let (ok, _) = curl(
        format!("socks4://mallory@{}", authed.addr),
        url(http, false),
    )
    .await;
    assert!(!ok, "unknown userid accepted");
}
