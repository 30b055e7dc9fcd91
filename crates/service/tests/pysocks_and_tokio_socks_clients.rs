//! Third-party client libraries against our SOCKS5 server: Python's PySocks for UDP ASSOCIATE round trips,
//! the `tokio-socks` crate for CONNECT with and without username/password.

mod common;

use common::serve;
use gost_service::{Socks5Handler, Socks5Options, Users};
use gost_test_support::exchange::echoes;
use gost_test_support::programs::stdout_of;
use gost_test_support::{echo_server, have, udp_echo};
use tokio_socks::tcp::Socks5Stream;

const PYSOCKS_UDP: &str = r#"
import socket, sys, socks
host, port, echo_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
user = sys.argv[4] if len(sys.argv) > 4 else None
pw = sys.argv[5] if len(sys.argv) > 5 else None
s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
s.set_proxy(socks.SOCKS5, host, port, username=user, password=pw)
s.settimeout(5)
for i, size in enumerate([5, 100, 1400, 3000]):
    msg = bytes((i + j) % 256 for j in range(size))
    s.sendto(msg, ("127.0.0.1", echo_port))
    data, addr = s.recvfrom(65535)
    assert data == msg, (len(data), size)
    assert addr == ("127.0.0.1", echo_port), addr
print("ok")
"#;

fn pysocks_available() -> bool {
    have("python3", &["-c", "import socks"], "pip install PySocks")
}

async fn run_pysocks(args: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || {
        let mut python = std::process::Command::new("python3");
        python.arg("-c").arg(PYSOCKS_UDP).args(&args);
        stdout_of(&mut python).trim().to_owned()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn pysocks_udp_associate_round_trips() {
    if !pysocks_available() {
        return;
    }
    let echo = udp_echo().await;
    let proxy = serve(Socks5Handler::new(Socks5Options {
        udp: true,
        ..Default::default()
    }))
    .await;
    let args = vec![
        "127.0.0.1".into(),
        proxy.addr.port().to_string(),
        echo.port().to_string(),
    ];
    assert_eq!(run_pysocks(args).await, "ok");
}

#[tokio::test]
async fn pysocks_udp_associate_with_credentials() {
    if !pysocks_available() {
        return;
    }
    let echo = udp_echo().await;
    let opts = Socks5Options {
        udp: true,
        users: Users::new([("alice", "s3cret")]),
        ..Default::default()
    };
    let proxy = serve(Socks5Handler::new(opts)).await;
    let args = vec![
        "127.0.0.1".into(),
        proxy.addr.port().to_string(),
        echo.port().to_string(),
        "alice".into(),
        "s3cret".into(),
    ];
    assert_eq!(run_pysocks(args).await, "ok");
}

#[tokio::test]
async fn tokio_socks_connect_without_auth() {
    let echo = echo_server().await;
    let proxy = serve(Socks5Handler::new(Socks5Options::default())).await;
    let mut s = Socks5Stream::connect(proxy.addr, echo).await.unwrap();
    echoes(&mut s, b"tokio-socks says hi").await;
}

#[tokio::test]
async fn tokio_socks_connect_with_password_and_by_name() {
    let echo = echo_server().await;
    let opts = Socks5Options {
        users: Users::new([("alice", "s3cret"), ("bob", "b0b")]),
        ..Default::default()
    };
    let proxy = serve(Socks5Handler::new(opts)).await;
    for (user, pass) in [("alice", "s3cret"), ("bob", "b0b")] {
        let target = ("localhost", echo.port());
        let mut s = Socks5Stream::connect_with_password(proxy.addr, target, user, pass)
            .await
            .unwrap();
        echoes(&mut s, user.as_bytes()).await;
    }
    let bad = Socks5Stream::connect_with_password(proxy.addr, echo, "alice", "wrong").await;
    assert!(bad.is_err(), "wrong password accepted");
    let none = Socks5Stream::connect(proxy.addr, echo).await;
    assert!(none.is_err(), "no credentials accepted");
}
