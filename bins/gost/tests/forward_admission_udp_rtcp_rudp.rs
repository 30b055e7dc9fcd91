//! Admission on the forwarders that check their clients themselves, run as the `gost` binary on
//! loopback with two client addresses (127.0.0.1 admitted, 127.0.0.2 refused): `udp` drops a refused
//! client's datagrams (they never reach the target) and logs the refusals at a bounded rate; `rtcp`
//! closes a refused remote peer's stream without dialling the target; `rudp` drops a refused remote
//! peer's datagrams. CLI (`?admission=`, `~` whitelist) and YAML (`admissions:`) both.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use gost_test_support::servers::free_port;
use support::{
    ConfigFile, Gost, PATIENCE, connect_when_listening, field, http_get_path, serve_each,
};

const ADMITTED: [u8; 4] = [127, 0, 0, 1];
const REFUSED: [u8; 4] = [127, 0, 0, 2];

/// A UDP echo that also reports every payload it receives.
fn recording_udp_echo() -> (SocketAddr, Receiver<Vec<u8>>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    let addr = socket.local_addr().unwrap();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(&buf[..n], from);
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    (addr, rx)
}

/// A TCP echo that reports the peer of every connection it accepts.
fn recording_tcp_echo() -> (SocketAddr, Receiver<SocketAddr>) {
    let (tx, rx) = channel();
    let addr = serve_each(move |mut conn| {
        let _ = tx.send(conn.peer_addr().unwrap());
        let mut reader = conn.try_clone().unwrap();
        let _ = std::io::copy(&mut reader, &mut conn);
    });
    (addr, rx)
}

fn udp_from(ip: [u8; 4]) -> UdpSocket {
    let s = UdpSocket::bind(SocketAddr::from((ip, 0))).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s
}

/// Sends `msg` to `to` until it comes back (the remote port of `rudp` opens asynchronously).
fn udp_round_trip(s: &UdpSocket, to: SocketAddr, msg: &[u8]) {
    let deadline = Instant::now() + PATIENCE;
    let mut buf = [0u8; 2048];
    loop {
        s.send_to(msg, to).unwrap();
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            assert_eq!(&buf[..n], msg);
            return;
        }
        assert!(Instant::now() < deadline, "no echo through {to}");
    }
}

/// The payloads the echo received so far, once `last` has arrived.
fn received_until(rx: &Receiver<Vec<u8>>, last: &[u8]) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    loop {
        let p = rx
            .recv_timeout(PATIENCE)
            .expect("the echo got the datagram");
        let done = p == last;
        seen.push(p);
        if done {
            return seen;
        }
    }
}

fn refusals(gost: &Gost) -> usize {
    gost.log
        .iter()
        .filter(|l| l.contains("client refused") && l.contains("\"admission\""))
        .count()
}

#[test]
fn udp_drops_the_datagrams_of_a_refused_client_and_logs_at_a_bounded_rate() {
    let (echo, payloads) = recording_udp_echo();
    let svc = format!("udp://127.0.0.1:0/{echo}?admission=127.0.0.2");
    let mut gost = Gost::spawn(&["-L", &svc, "-metrics", "127.0.0.1:0"]);
    let addr = gost.addr("service-0");
    let metrics = gost.wait_for(&["metrics endpoint listening"]);
    let metrics: SocketAddr = field(&metrics, "addr").unwrap().parse().unwrap();
    let refused = udp_from(REFUSED);
    for i in 0..20 {
        refused
            .send_to(format!("refused {i}").as_bytes(), addr)
            .unwrap();
    }
    let line = gost.wait_for(&["client refused", "\"admission\""]);
    assert_eq!(field(&line, "service"), Some("service-0"), "{line}");
    assert!(line.contains("127.0.0.2:"), "{line}");
    // One forwarding loop reads the datagrams in order: once the admitted one is echoed, the refused
    // ones before it were dropped, not forwarded.
    udp_round_trip(&udp_from(ADMITTED), addr, b"admitted");
    let seen = received_until(&payloads, b"admitted");
    assert_eq!(
        seen,
        vec![b"admitted".to_vec()],
        "refused datagrams reached the target"
    );
    assert!(
        refused.recv_from(&mut [0u8; 64]).is_err(),
        "a refused client got an answer"
    );
    gost.drain_log();
    assert_eq!(
        refusals(&gost),
        1,
        "20 refusals within 5 s log one line:\n{}",
        gost.log.join("\n")
    );
    let denied = "gost_service_denied_total{host=";
    let text = http_get_path(metrics, "/metrics");
    let sample = text
        .lines()
        .find(|l| l.starts_with(denied) && l.contains("reason=\"admission\""))
        .unwrap_or_else(|| panic!("no admission refusals counted:\n{text}"));
    assert!(sample.ends_with(" 20"), "every refusal counts: {sample}");
}

#[test]
fn rtcp_closes_a_refused_remote_peer_without_dialling_the_target() {
    let (echo, dialled) = recording_tcp_echo();
    let mut server = Gost::spawn(&["-L", "socks5://127.0.0.1:0?bind=true"]);
    let node = format!("socks5://{}", server.addr("service-0"));
    let remote = SocketAddr::from((ADMITTED, free_port()));
    // `~`: a whitelist of 127.0.0.1.
    let svc = format!("rtcp://{remote}/{echo}?admission=~127.0.0.1");
    let mut front = Gost::spawn(&["-L", &svc, "-F", &node]);
    let mut admitted = connect_when_listening(remote).unwrap_or_else(|e| panic!("rtcp: {e}"));
    support::echo_round_trip(&mut admitted, "admitted peer");
    dialled
        .recv_timeout(PATIENCE)
        .expect("the admitted peer's target connection");

    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::from((REFUSED, 0)).into()).unwrap();
    sock.connect(&remote.into()).unwrap();
    let mut peer: TcpStream = sock.into();
    peer.set_read_timeout(Some(PATIENCE)).unwrap();
    let _ = peer.write_all(b"refused peer");
    let mut buf = [0u8; 64];
    match peer.read(&mut buf) {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("a refused peer got {n} bytes back"),
    }
    let line = front.wait_for(&["client refused", "\"admission\"", "127.0.0.2:"]);
    assert_eq!(field(&line, "service"), Some("service-0"), "{line}");
    // A later admitted peer's connection is the next one the target sees: the refused one never was.
    let mut again = TcpStream::connect(remote).unwrap();
    support::echo_round_trip(&mut again, "admitted again");
    dialled
        .recv_timeout(PATIENCE)
        .expect("the second admitted peer's target connection");
    assert!(
        dialled.try_recv().is_err(),
        "the target was dialled for the refused peer"
    );
}

#[test]
fn rudp_drops_a_refused_remote_peer_from_a_yaml_admission() {
    let (echo, payloads) = recording_udp_echo();
    let mut server = Gost::spawn(&["-L", "socks5://127.0.0.1:0?bind=true"]);
    let node = server.addr("service-0");
    let remote = SocketAddr::from((ADMITTED, free_port()));
    let file = ConfigFile::new(&format!(
        "services:\n- name: rudp\n  addr: {remote}\n  admission: local-only\n  \
         handler: {{type: rudp, chain: up}}\n  listener: {{type: rudp, chain: up}}\n  \
         forwarder: {{nodes: [{{name: echo, addr: '{echo}'}}]}}\n\
         chains:\n- name: up\n  hops:\n  - name: hop-0\n    nodes:\n    - name: server\n      \
         addr: '{node}'\n      connector: {{type: socks5}}\n\
         admissions:\n- name: local-only\n  whitelist: true\n  matchers: [127.0.0.1]\n"
    ));
    let mut front = Gost::spawn(&["-C", file.arg()]);
    let admitted = udp_from(ADMITTED);
    udp_round_trip(&admitted, remote, b"admitted");
    let refused = udp_from(REFUSED);
    refused.send_to(b"refused", remote).unwrap();
    let line = front.wait_for(&["client refused", "\"admission\"", "127.0.0.2:"]);
    assert_eq!(field(&line, "service"), Some("rudp"), "{line}");
    udp_round_trip(&admitted, remote, b"admitted again");
    let seen = received_until(&payloads, b"admitted again");
    assert!(
        !seen.iter().any(|p| p == b"refused"),
        "a refused peer's datagram reached the target: {seen:?}"
    );
}
