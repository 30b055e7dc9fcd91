//! One log line per session, with the right outcome and reason, at info (issue 17 item 6): a UDP-TUN
//! exchange over negotiated TLS whose client hangs up without close_notify is `ok`; a socks5+kcp
//! transfer with TLS is `ok`; every `udp://` forwarding session, rtcp peer and MBIND peer gets a
//! `session` line; a refused command's reason is on its `connection` line.
//!
//! Forwarding services are built from `-L`/`-F` lines as the binary builds them (hence in gost-app).

use std::net::SocketAddr;
use std::time::Duration;

use gost_app::forward::ForwardService;
use gost_service::{Handler, Service, ServiceOptions, Socks5Handler, Socks5Options};
use gost_test_support::{Logs, Running, echo_server, free_port, socks5, udp_echo};
use gost_transport::kcp::{KcpConfig, KcpListener};
use gost_transport::tcp::{TcpListener, TcpOptions};
use gost_transport::tls::ServerTls;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Runs `handler` on `listener`.
fn serve_on(listener: impl gost_transport::Listener + 'static, handler: impl Handler) -> Running {
    let opts = ServiceOptions {
        drain_timeout: Duration::from_millis(100),
        ..Default::default()
    };
    let svc = Service::new(listener, handler, opts);
    Running::spawn(svc.local_addr(), |token| svc.run(token))
}

/// A SOCKS5 server with `opts` on 127.0.0.1:0 over TCP.
async fn socks5(opts: Socks5Options) -> Running {
    let l = TcpListener::bind("127.0.0.1:0", TcpOptions::default())
        .await
        .unwrap();
    serve_on(l, Socks5Handler::new(opts))
}

/// Starts the forwarding service of `-L service` and `-F` `nodes`, as the binary would.
async fn forward(service: &str, nodes: &[String]) -> Running {
    let (config, _) = gost_config::from_cli(&[service], nodes).unwrap();
    let svc = ForwardService::bind(&config, &config.services[0], None)
        .await
        .unwrap();
    let addr = svc
        .local_addr()
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    Running::spawn(addr, |token| svc.run(token))
}

/// Waits (bounded) for a captured line containing every one of `parts`.
async fn line(logs: &Logs, parts: &[&str]) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(l) = logs.matching(parts).pop() {
            return l;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no log line with {parts:?} within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn tls_socks5(udp: bool, bind: bool) -> Socks5Options {
    Socks5Options {
        tls: Some(ServerTls::self_signed().unwrap()),
        udp,
        bind,
        ..Default::default()
    }
}

/// Echoes `n` bytes through `addr`, half-closing after sending, and reads the echo to its end.
async fn echo_exchange(addr: SocketAddr, n: usize) {
    try_echo_exchange(addr, n).await.unwrap();
}

async fn try_echo_exchange(addr: SocketAddr, n: usize) -> std::io::Result<()> {
    let mut c = TcpStream::connect(addr).await?;
    let sent = vec![7u8; n];
    c.write_all(&sent).await?;
    c.shutdown().await?;
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut got)).await??;
    if got.len() != n {
        return Err(std::io::Error::other(format!(
            "echoed {} of {n}",
            got.len()
        )));
    }
    Ok(())
}

#[tokio::test]
async fn a_udp_tun_exchange_over_tls_and_its_forwarding_session_end_ok() {
    let (logs, _guard) = Logs::capture();
    let echo = udp_echo().await;
    let server = socks5(tls_socks5(true, false)).await;
    let node = format!("socks5://{}", server.addr);
    let fwd = forward(&format!("udp://127.0.0.1:0/{echo}"), &[node]).await;
    let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    c.send_to(b"ping", fwd.addr).await.unwrap();
    let mut buf = [0u8; 16];
    let (n, _) = tokio::time::timeout(Duration::from_secs(10), c.recv_from(&mut buf))
        .await
        .expect("echo through UDP-TUN")
        .unwrap();
    assert_eq!(&buf[..n], b"ping");
    // The forwarding client ends its session after the answer (keepalive=false) and hangs up.
    let server_line = line(&logs, &["message=connection", "udp-tun relay"]).await;
    assert!(server_line.contains("outcome=\"ok\""), "{server_line}");
    assert!(server_line.starts_with("INFO"), "{server_line}");
    let client = c.local_addr().unwrap().to_string();
    let session = line(&logs, &["message=session", "session=\"udp\"", &client]).await;
    assert!(session.starts_with("INFO"), "{session}");
    for part in [
        "outcome=\"ok\"",
        "reason=\"answered (keepalive=false)\"",
        "bytes_in=4",
        "bytes_out=4",
    ] {
        assert!(session.contains(part), "{part} missing: {session}");
    }
}

#[tokio::test]
async fn a_socks5_kcp_transfer_with_tls_ends_ok() {
    let (logs, _guard) = Logs::capture();
    let echo = echo_server().await;
    let l = KcpListener::bind("127.0.0.1:0", KcpConfig::default())
        .await
        .unwrap();
    let server = serve_on(l, Socks5Handler::new(tls_socks5(false, false)));
    let node = format!("socks5+kcp://{}", server.addr);
    let fwd = forward(&format!("tcp://127.0.0.1:0/{echo}"), &[node]).await;
    echo_exchange(fwd.addr, 200_000).await;
    let target = format!("connect {echo}");
    let server_line = line(&logs, &["message=connection", &target, "bytes_in=200000"]).await;
    assert!(server_line.contains("outcome=\"ok\""), "{server_line}");
    let forward_line = line(
        &logs,
        &["message=connection", "forward", "bytes_out=200000"],
    )
    .await;
    assert!(forward_line.contains("outcome=\"ok\""), "{forward_line}");
}

#[tokio::test]
async fn every_rtcp_and_mbind_peer_gets_an_info_line() {
    let (logs, _guard) = Logs::capture();
    let echo = echo_server().await;
    let server = socks5(tls_socks5(false, true)).await;
    let remote = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let node = format!("socks5://{}", server.addr);
    let _rtcp = forward(&format!("rtcp://{remote}/{echo}"), &[node]).await;
    // The remote port opens once the MBIND is granted: the first exchange that gets through counts.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while try_echo_exchange(remote, 1000).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "rtcp port not open within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rtcp = line(
        &logs,
        &["message=session", "session=\"rtcp\"", "bytes_in=1000"],
    )
    .await;
    assert!(
        rtcp.starts_with("INFO") && rtcp.contains("outcome=\"ok\""),
        "{rtcp}"
    );
    let mbind = line(&logs, &["session=\"mbind peer\"", "bytes_in=1000"]).await;
    assert!(
        mbind.starts_with("INFO") && mbind.contains("outcome=\"ok\""),
        "{mbind}"
    );
    assert!(mbind.contains(&format!("target={remote}")), "{mbind}");
}

#[tokio::test]
async fn a_refused_command_says_why_at_info() {
    let (logs, _guard) = Logs::capture();
    let proxy = socks5(Socks5Options::default()).await;
    // No-auth greeting, then BIND 0.0.0.0:0.
    let mut c = socks5::connect_noauth(proxy.addr).await;
    let (rep, _) = socks5::ask(&mut c, 2, "0.0.0.0:0".parse().unwrap()).await;
    assert_eq!(rep, 0x02, "not allowed");
    drop(c);
    let l = line(&logs, &["message=connection", "target=\"bind 0.0.0.0:0\""]).await;
    assert!(l.starts_with("INFO"), "{l}");
    for part in [
        "outcome=\"error\"",
        "error_kind=\"command\"",
        "reason=\"bind is disabled on this service\"",
    ] {
        assert!(l.contains(part), "{part} missing: {l}");
    }
}
