//! Out of file descriptors (issue 17, item 5): a `gost` limited to 24 descriptors (as `ulimit -n 24`)
//! never answers a CONNECT with `05 00` and then drops the client's bytes. Each client either has its
//! bytes relayed, or gets a failure reply, or is closed promptly at accept (over the descriptor
//! budget, logged); UDP associations likewise work or are refused. The causes are logged at WARN.
//! The target counts the connections gost dialled: each one carried its client's bytes.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gost_test_support::servers::blocking;
use support::Gost;

/// The descriptor limit of the child, as in the report (`ulimit -n 24`).
const NOFILE: u64 = 24;

/// What happened to one client.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Success reply, then every byte echoed back.
    Relayed,
    /// A failure reply (`05 xx`, xx ≠ 0).
    Failed(u8),
    /// Closed before any reply, within the given time.
    Closed(Duration),
}

/// An echo server counting the connections it accepted.
fn counting_echo() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut reader = conn.try_clone().unwrap();
                let _ = std::io::copy(&mut reader, &mut conn);
            });
        }
    });
    (addr, accepted)
}

fn socks5_request(cmd: u8, target: SocketAddr) -> Vec<u8> {
    let SocketAddr::V4(t) = target else {
        panic!("IPv4 targets only")
    };
    let mut v = vec![5, cmd, 0, 1];
    v.extend_from_slice(&t.ip().octets());
    v.extend_from_slice(&t.port().to_be_bytes());
    v
}

/// Greets, sends `cmd` for `target` and reads the reply: `Ok(bound address)` on success.
fn request(c: &mut TcpStream, cmd: u8, target: SocketAddr) -> Result<SocketAddr, Outcome> {
    let start = Instant::now();
    let closed = |e: std::io::Error| {
        assert!(
            matches!(
                e.kind(),
                ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
            ),
            "client neither served nor closed: {e}"
        );
        Outcome::Closed(start.elapsed())
    };
    c.write_all(&[5, 1, 0]).map_err(closed)?;
    let mut m = [0u8; 2];
    c.read_exact(&mut m).map_err(closed)?;
    assert_eq!(m, [5, 0], "method reply");
    c.write_all(&socks5_request(cmd, target)).map_err(closed)?;
    let mut r = [0u8; 10];
    c.read_exact(&mut r).map_err(closed)?;
    if r[1] != 0 {
        return Err(Outcome::Failed(r[1]));
    }
    let ip = Ipv4Addr::new(r[4], r[5], r[6], r[7]);
    Ok(SocketAddr::from((ip, u16::from_be_bytes([r[8], r[9]]))))
}

/// A CONNECT to the echo server carrying 64 KiB.
fn connect_session(proxy: SocketAddr, echo: SocketAddr) -> (TcpStream, Outcome) {
    let mut c = TcpStream::connect(proxy).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    if let Err(outcome) = request(&mut c, 1, echo) {
        return (c, outcome);
    }
    let data: Vec<u8> = (0..65_536u32).map(|i| (i % 251) as u8).collect();
    c.write_all(&data).expect("writing after a success reply");
    let mut got = vec![0u8; data.len()];
    if let Err(e) = c.read_exact(&mut got) {
        panic!("success reply, then the relay lost the client's bytes: {e}");
    }
    assert!(got == data, "relayed bytes differ");
    (c, Outcome::Relayed)
}

/// A UDP ASSOCIATE with one datagram echoed through it.
fn udp_session(proxy: SocketAddr, echo: SocketAddr) -> (TcpStream, Outcome) {
    let mut c = TcpStream::connect(proxy).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let relay = match request(&mut c, 3, "0.0.0.0:0".parse().unwrap()) {
        Ok(relay) => relay,
        Err(outcome) => return (c, outcome),
    };
    let relay = SocketAddr::from((proxy.ip(), relay.port()));
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut dgram = socks5_request(0, echo);
    dgram[..3].copy_from_slice(&[0, 0, 0]);
    dgram.extend_from_slice(b"datagram");
    sock.send_to(&dgram, relay).unwrap();
    let mut buf = [0u8; 64];
    let n = sock
        .recv(&mut buf)
        .expect("success reply, then the association lost the datagram");
    assert_eq!(&buf[10..n], b"datagram");
    (c, Outcome::Relayed)
}

fn check(outcomes: &[Outcome], what: &str) {
    assert!(
        outcomes.contains(&Outcome::Relayed),
        "{what}: nothing relayed: {outcomes:?}"
    );
    assert!(
        outcomes.iter().any(|o| *o != Outcome::Relayed),
        "{what}: the descriptor limit was never reached: {outcomes:?}"
    );
    for o in outcomes {
        if let Outcome::Closed(after) = o {
            assert!(
                *after < Duration::from_secs(2),
                "{what}: refused client closed only after {after:?}"
            );
        }
    }
}

#[test]
fn out_of_descriptors_clients_get_relayed_refused_or_a_failure_never_a_lie() {
    let (echo, dialled) = counting_echo();
    let udp_echo = blocking::udp_echo();
    let mut gost = Gost::spawn_with_nofile(&["-L", "socks5://127.0.0.1:0?udp=true"], NOFILE);
    let proxy = gost.addr("service-0");

    let sessions: Vec<(TcpStream, Outcome)> =
        (0..12).map(|_| connect_session(proxy, echo)).collect();
    let outcomes: Vec<Outcome> = sessions.iter().map(|(_, o)| o).cloned().collect();
    check(&outcomes, "CONNECT");
    let relayed = outcomes.iter().filter(|o| **o == Outcome::Relayed).count();
    // Every connection gost dialled carried its client's bytes (the target's accept may lag a little).
    let deadline = Instant::now() + Duration::from_secs(5);
    while dialled.load(Ordering::SeqCst) < relayed && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        dialled.load(Ordering::SeqCst),
        relayed,
        "targets dialled vs sessions relayed: a dialled target never got its client's bytes \
         ({outcomes:?})"
    );
    gost.wait_for(&["WARN", "connection limit reached", "scope=\"descriptors\""]);
    drop(sessions);

    let mut outcomes = Vec::new();
    let mut held = Vec::new();
    // The CONNECT sessions above close asynchronously: the first associations may still be refused.
    let deadline = Instant::now() + Duration::from_secs(10);
    while outcomes.len() < 8 {
        let (c, o) = udp_session(proxy, udp_echo);
        if o != Outcome::Relayed && !outcomes.contains(&Outcome::Relayed) {
            assert!(Instant::now() < deadline, "no UDP association ever relayed");
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        outcomes.push(o);
        held.push(c);
    }
    check(&outcomes, "UDP ASSOCIATE");
}
