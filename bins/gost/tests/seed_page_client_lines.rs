//! The client lines of upstream's SOCKS page as written, with an empty host (`-F socks5://:1080`,
//! `-F socks5+tls://:8443`, `-L udp://:1053/:53`, `-L rtcp://:2222/:22`): the empty host means this
//! machine, over every transport and with TLS (negotiated in-band, the default between two gost, or
//! as the transport). Only the port numbers change, and servers listen on 127.0.0.1 instead of every
//! interface (tests use loopback only).

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use gost_test_support::servers::blocking::{echo_server, udp_echo};
use gost_test_support::{free_port, free_tcp_and_udp_port};
use support::{Gost, PATIENCE, connect_when_listening, echo_round_trip};

/// Starts `gost -L SERVER` and `gost -L FORWARD -F NODE`, `PORT` in each replaced by one free port
/// number (tcp and udp) and `ECHO` by `echo`'s port; returns both, the front's address first known.
fn pair(server: &str, forward: &str, node: &str, echo: u16) -> (Gost, Gost) {
    let port = free_tcp_and_udp_port().to_string();
    let echo = echo.to_string();
    let fill = |s: &str| s.replace("PORT", &port).replace("ECHO", &echo);
    let mut server = Gost::spawn(&["-L", &fill(server)]);
    server.addr("service-0");
    let front = Gost::spawn(&["-L", &fill(forward), "-F", &fill(node)]);
    (server, front)
}

/// `gost -L tcp://127.0.0.1:0/:ECHO -F NODE` in front of `gost -L SERVER`; a TCP echo round trip.
#[track_caller]
fn tcp_line(server: &str, node: &str) {
    let echo = echo_server();
    let (_server, mut front) = pair(server, "tcp://127.0.0.1:0/:ECHO", node, echo.port());
    let mut conn = TcpStream::connect(front.addr("service-0")).unwrap();
    conn.set_read_timeout(Some(PATIENCE)).unwrap();
    conn.write_all(b"through an empty host").unwrap();
    let mut back = [0u8; 21];
    let got = conn.read_exact(&mut back);
    front.drain_log();
    assert!(
        got.is_ok() && &back == b"through an empty host",
        "-F {node} to -L {server}: {got:?}\nfront log:\n{}",
        front.log.join("\n")
    );
}

#[test]
fn socks5_with_tls_negotiated_user_and_password() {
    tcp_line(
        "socks5://user:pass@127.0.0.1:PORT",
        "socks5://user:pass@:PORT",
    );
    tcp_line("socks5://127.0.0.1:PORT", "socks5://:PORT");
}

#[test]
fn socks5_and_socks4_over_tls() {
    tcp_line(
        "socks5+tls://127.0.0.1:PORT?notls=true",
        "socks5+tls://:PORT",
    );
    tcp_line("socks5+tls://127.0.0.1:PORT", "socks5+tls://:PORT");
    tcp_line("socks4+tls://127.0.0.1:PORT", "socks4+tls://:PORT");
}

#[test]
fn socks5_over_ws_wss_and_kcp() {
    tcp_line("socks5+ws://127.0.0.1:PORT", "socks5+ws://:PORT");
    tcp_line("socks5+wss://127.0.0.1:PORT", "socks5+wss://:PORT");
    tcp_line("socks5+kcp://127.0.0.1:PORT", "socks5+kcp://:PORT");
}

/// `gost -L udp://127.0.0.1:0/:ECHO -F NODE` in front of `gost -L SERVER`; 10 datagrams echo.
fn udp_line(server: &str, node: &str) {
    let echo = udp_echo();
    let (_server, mut front) = pair(server, "udp://127.0.0.1:0/:ECHO", node, echo.port());
    let addr = front.addr("service-0");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 2048];
    for i in 0..10u8 {
        let msg = [i; 1000];
        sock.send_to(&msg, addr).unwrap();
        let got = sock.recv_from(&mut buf);
        front.drain_log();
        assert!(
            matches!(got, Ok((1000, from)) if from == addr && buf[..1000] == msg),
            "datagram {i}, -F {node} to -L {server}: {got:?}\nfront log:\n{}",
            front.log.join("\n")
        );
    }
}

#[test]
fn udp_forward_lines() {
    // `gost -L udp://:1053/:53 -F "socks5://:1080?relay=udp&udpBufferSize=4096"`
    udp_line(
        "socks5://127.0.0.1:PORT?udp=true&udpBufferSize=4096",
        "socks5://:PORT?relay=udp&udpBufferSize=4096",
    );
    // `gost -L udp://:10053/:53 -F socks5://:1080` (UDP-TUN over the negotiated TLS)
    udp_line("socks5://127.0.0.1:PORT?udp=true", "socks5://:PORT");
}

#[test]
fn rtcp_line() {
    // `gost -L rtcp://:2222/:22 -F socks5://:1080`, the remote port on 127.0.0.1.
    let echo = echo_server();
    let remote = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let rtcp = format!("rtcp://{remote}/:ECHO");
    let (_server, _front) = pair(
        "socks5://127.0.0.1:PORT?bind=true",
        &rtcp,
        "socks5://:PORT",
        echo.port(),
    );
    let mut conn = connect_when_listening(remote).unwrap_or_else(|e| panic!("rtcp: {e}"));
    echo_round_trip(&mut conn, "rtcp through an empty host");
}
