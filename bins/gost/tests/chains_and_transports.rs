//! Two `gost` processes: one serves SOCKS over a transport, the other reaches it with `-F` and forwards
//! or proxies through it, so the listener side and the chain side of every transport meet over loopback.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc::{Receiver, channel};

use gost_test_support::free_port;
use support::{
    Gost, PATIENCE, assert_socks5h_body, connect_when_listening, http_through_chain, serve_each,
    web_for_curl,
};

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
    let Some(web) = web_for_curl() else { return };
    let mut upstream = Gost::spawn(&["-L", "socks5+wss://127.0.0.1:0"]);
    let node = format!("socks5+wss://{}", upstream.addr("service-0"));
    let mut front = Gost::spawn(&["-L", "socks5://127.0.0.1:0", "-F", &node]);
    let proxy = front.addr("service-0").to_string();
    assert_socks5h_body(
        &proxy,
        &format!("http://{web}/"),
        "socks5 -> socks5+wss chain",
    );
    upstream.wait_connection_relayed();
}

#[test]
fn socks5_over_kcp_listener() {
    // The response arriving is the proof. The server's connection line is not awaited: the front is
    // stopped right after the response, maybe before its FIN left over KCP (UDP, no close of its own),
    // and the server then ends the stream only at the smux keepalive timeout.
    http_through_chain("socks5+kcp://127.0.0.1:0", "socks5+kcp://{}");
}

/// A server that reads each connection to EOF and then answers with `reply` bytes and closes; sends
/// the count it read on `counts`.
fn reply_after_eof(reply: usize) -> (SocketAddr, Receiver<usize>) {
    let (tx, counts) = channel();
    let addr = serve_each(move |mut conn| {
        let mut request = Vec::new();
        if conn.read_to_end(&mut request).is_ok() {
            let _ = tx.send(request.len());
            let _ = conn.write_all(&vec![0x5a; reply]);
        }
    });
    (addr, counts)
}

/// Sends 100 000 B to `addr`, half-closes, and asserts the 1 MiB reply [`reply_after_eof`] sends
/// arrives whole.
#[track_caller]
fn request_half_close_reply(addr: SocketAddr, counts: &Receiver<usize>, what: &str) {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(PATIENCE)).unwrap();
    conn.write_all(&[1u8; 100_000]).unwrap();
    conn.shutdown(Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    let read = conn.read_to_end(&mut reply);
    assert_eq!(
        counts.recv_timeout(PATIENCE),
        Ok(100_000),
        "{what}: request"
    );
    assert!(
        read.is_ok() && reply.len() == 1 << 20 && reply.iter().all(|&b| b == 0x5a),
        "{what}: {} of {} reply bytes after a half-close ({read:?})",
        reply.len(),
        1 << 20
    );
}

#[test]
fn half_close_over_kcp_keeps_the_reply() {
    // smux (under kcp) carries the half-close as a FIN; the reply must still flow back. The last query
    // sets non-default kcp.* options, read the same way on both ends.
    let (target, counts) = reply_after_eof(1 << 20);
    let tuned = "?kcp.key=s3cret&kcp.crypt=aes-128&kcp.mode=fast&kcp.sndwnd=128&kcp.rcvwnd=128";
    for query in ["", "?notls=true", tuned] {
        let mut server = Gost::spawn(&["-L", &format!("socks5+kcp://127.0.0.1:0{query}")]);
        let node = format!("socks5+kcp://{}{query}", server.addr("service-0"));
        let forward = format!("tcp://127.0.0.1:0/{target}");
        let mut front = Gost::spawn(&["-L", &forward, "-F", &node]);
        request_half_close_reply(front.addr("service-0"), &counts, &node);
    }
}

#[test]
fn half_close_over_an_mbind_stream_keeps_the_reply() {
    let (target, counts) = reply_after_eof(1 << 20);
    let mut server = Gost::spawn(&["-L", "socks5://127.0.0.1:0?bind=true"]);
    let node = format!("socks5://{}", server.addr("service-0"));
    let remote = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let _front = Gost::spawn(&["-L", &format!("rtcp://{remote}/{target}"), "-F", &node]);
    drop(connect_when_listening(remote).unwrap_or_else(|e| panic!("rtcp: {e}")));
    // The probe connection above reached the target with an empty request; skip its count.
    assert_eq!(counts.recv_timeout(PATIENCE), Ok(0));
    request_half_close_reply(remote, &counts, "rtcp over MBIND");
}
