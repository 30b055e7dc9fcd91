//! `limiter` and `rlimiter` beyond SOCKS TCP relays, run as the `gost` binary on loopback: 1 MiB of
//! UDP datagrams echoed through a service limited to 256 KB/s out takes about 4 s, with none lost, for
//! UDP ASSOCIATE (command line), UDP-TUN (a YAML IP scope on the hop of a chain) and `udp` forwarding;
//! 1 MiB through `tcp` and `rtcp` forwarding likewise; unlimited services of the same processes stay
//! fast. `rlimiter` on `tcp` and `udp` forwarding refuses clients over their rate at once.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use gost_test_support::servers::blocking::{echo_server, udp_echo};
use gost_test_support::servers::free_port;
use gost_test_support::socks5::udp_datagram;
use support::{
    BLOB_SIZE, ConfigFile, Gost, PATIENCE, assert_limited, blob_server, connect_when_listening,
    socks5_udp_associate,
};

/// Datagrams sent, their payload, and how many may be unanswered at once: a pace the limited
/// direction sets, so nothing queues beyond a socket buffer and a lost datagram is a bug.
const COUNT: usize = 1024;
const PAYLOAD: usize = 1024;
const WINDOW: usize = 16;

/// Sends `COUNT` datagrams of `PAYLOAD` bytes (their number first) to `to`, each after `header`,
/// keeping at most `WINDOW` unanswered, until every one came back (with a header as long); returns how
/// long that took. A datagram that never comes back fails the test.
fn echo_transfer(sock: &UdpSocket, to: SocketAddr, header: &[u8], what: &str) -> Duration {
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut d = header.to_vec();
    d.resize(header.len() + PAYLOAD, b'x');
    let mut seen = vec![false; COUNT];
    let mut buf = vec![0u8; 4096];
    let (mut sent, mut got) = (0, 0);
    let start = Instant::now();
    while got < COUNT {
        while sent < COUNT && sent - got < WINDOW {
            d[header.len()..][..4].copy_from_slice(&(sent as u32).to_be_bytes());
            sock.send_to(&d, to).unwrap();
            sent += 1;
        }
        let (n, _) = sock
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("{what}: a datagram was lost after {got} echoes: {e}"));
        assert_eq!(n, d.len(), "{what}: echo {got}");
        let seq = u32::from_be_bytes(buf[header.len()..][..4].try_into().unwrap()) as usize;
        assert!(
            !std::mem::replace(&mut seen[seq], true),
            "{what}: {seq} twice"
        );
        got += 1;
    }
    start.elapsed()
}

/// 1 MiB echoed by `echo` through a UDP association on `proxy`.
fn through_association(proxy: SocketAddr, echo: SocketAddr, what: &str) -> Duration {
    let (_ctl, relay) = socks5_udp_associate(proxy);
    let header = udp_datagram(0, echo, &[]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    echo_transfer(&sock, relay, &header, what)
}

/// 1 MiB echoed through the `udp` forwarding service at `addr`.
fn through_udp_forward(addr: SocketAddr, what: &str) -> Duration {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    echo_transfer(&sock, addr, &[], what)
}

/// Asks the blob of [`blob_server`] on `conn` (a forward to it) and reads until it closes; asserts
/// the whole blob came and returns how long it took.
fn download(mut conn: TcpStream, what: &str) -> Duration {
    conn.set_read_timeout(Some(PATIENCE)).unwrap();
    let start = Instant::now();
    conn.write_all(b"GET /blob HTTP/1.1\r\nHost: blob\r\n\r\n")
        .unwrap();
    let mut got = Vec::with_capacity(BLOB_SIZE + 100);
    conn.read_to_end(&mut got)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let body = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| got.len() - p - 4);
    assert_eq!(body, Some(BLOB_SIZE), "{what}");
    start.elapsed()
}

#[track_caller]
fn assert_fast(took: Duration, what: &str) {
    assert!(
        took < Duration::from_secs(2),
        "unlimited {what} took {took:?}"
    );
}

#[test]
fn udp_associate_and_udp_tun_datagrams_keep_to_limiter_out_and_unlimited_ones_do_not() {
    let echo = udp_echo();
    let limited_and_free = [
        "-L",
        "socks5://127.0.0.1:0?udp=true&limiter.out=256KB",
        "-L",
        "socks5://127.0.0.1:0?udp=true",
    ];
    let mut socks = Gost::spawn(&limited_and_free);
    let (limited, free) = (socks.addr("service-0"), socks.addr("service-1"));
    // UDP-TUN: the front's association reaches the echo through a tunnel on the hop's SOCKS stream,
    // which the hop limits by its client's IP.
    let hop_yaml = "services:\n- name: hop\n  addr: 127.0.0.1:0\n  limiter: by-ip\n  \
         handler: {type: socks5, metadata: {udp: true}}\n\
         limiters:\n- name: by-ip\n  limits: ['127.0.0.1 0 256KB']\n";
    let yaml = ConfigFile::new(hop_yaml);
    let mut hop = Gost::spawn(&["-C", yaml.arg()]);
    let node = format!("socks5://{}", hop.addr("hop"));
    let mut front = Gost::spawn(&["-L", "socks5://127.0.0.1:0?udp=true", "-F", &node]);
    let tunnelled = front.addr("service-0");

    assert_fast(through_association(free, echo, "free"), "association");
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| through_association(limited, echo, "UDP ASSOCIATE"));
        let b = s.spawn(|| through_association(tunnelled, echo, "UDP-TUN"));
        (a.join().unwrap(), b.join().unwrap())
    });
    eprintln!("UDP ASSOCIATE {a:?}, UDP-TUN {b:?}");
    assert_limited(a, "UDP ASSOCIATE with limiter.out on the command line");
    assert_limited(b, "UDP-TUN on a hop with an IP scope in limiters:");
    assert_fast(through_association(free, echo, "free"), "association");
}

#[test]
fn tcp_udp_and_rtcp_forwarding_keep_to_limiter_out_and_unlimited_ones_do_not() {
    let (blob, echo) = (blob_server(), udp_echo());
    let tcp = format!("tcp://127.0.0.1:0/{blob}?limiter.out=256KB");
    let tcp_free = format!("tcp://127.0.0.1:0/{blob}");
    let udp = format!("udp://127.0.0.1:0/{echo}?keepalive=true&limiter.out=256KB");
    let udp_free = format!("udp://127.0.0.1:0/{echo}?keepalive=true");
    let mut fwd = Gost::spawn(&["-L", &tcp, "-L", &tcp_free, "-L", &udp, "-L", &udp_free]);
    let addrs = fwd.addrs(4);
    let mut server = Gost::spawn(&["-L", "socks5://127.0.0.1:0?bind=true"]);
    let remote = SocketAddr::from(([127, 0, 0, 1], free_port()));
    // YAML: the peer's own (`$$`) bucket.
    let yaml = ConfigFile::new(&format!(
        "services:\n- name: rtcp\n  addr: {remote}\n  limiter: each\n  \
         handler: {{type: rtcp, chain: up}}\n  listener: {{type: rtcp, chain: up}}\n  \
         forwarder: {{nodes: [{{name: blob, addr: '{blob}'}}]}}\n\
         chains:\n- name: up\n  hops:\n  - name: hop-0\n    nodes:\n    - name: server\n      \
         addr: '{}'\n      connector: {{type: socks5}}\n\
         limiters:\n- name: each\n  limits: ['$$ 0 256KB']\n",
        server.addr("service-0")
    ));
    let mut rtcp = Gost::spawn(&["-C", yaml.arg()]);
    rtcp.wait_for(&["rtcp: listening on the remote side"]);

    let tcp_conn = |addr| TcpStream::connect(addr).unwrap();
    assert_fast(download(tcp_conn(addrs[1]), "tcp"), "tcp forward");
    assert_fast(through_udp_forward(addrs[3], "udp"), "udp forward");
    let (t, u, r) = std::thread::scope(|s| {
        let t = s.spawn(|| download(tcp_conn(addrs[0]), "tcp forward"));
        let u = s.spawn(|| through_udp_forward(addrs[2], "udp forward"));
        let r = s.spawn(|| {
            let peer = connect_when_listening(remote).unwrap_or_else(|e| panic!("rtcp: {e}"));
            download(peer, "rtcp forward")
        });
        (t.join().unwrap(), u.join().unwrap(), r.join().unwrap())
    });
    eprintln!("tcp {t:?}, udp {u:?}, rtcp {r:?}");
    assert_limited(t, "tcp forwarding with limiter.out");
    assert_limited(u, "udp forwarding with limiter.out");
    assert_limited(r, "rtcp forwarding with a $$ line");
    assert_fast(download(tcp_conn(addrs[1]), "tcp"), "tcp forward");
}

/// Whether an echo of `msg` comes back on `conn` (false: the forwarder closed it unanswered).
fn tcp_echoed(addr: SocketAddr) -> bool {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(PATIENCE)).unwrap();
    let _ = c.write_all(b"ping");
    let mut back = [0u8; 4];
    c.read_exact(&mut back).is_ok()
}

/// Sends one datagram to `addr` from each of `n` fresh sockets (each a new session) at once; returns
/// which were echoed.
fn udp_sessions_echoed(addr: SocketAddr, n: usize) -> Vec<bool> {
    let socks: Vec<UdpSocket> = (0..n)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    for s in &socks {
        s.send_to(b"ping", addr).unwrap();
    }
    socks
        .iter()
        .map(|s| {
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            s.recv_from(&mut [0u8; 16]).is_ok()
        })
        .collect()
}

#[test]
fn rlimiter_on_tcp_and_udp_forwarding_refuses_clients_over_their_rate() {
    let (tcp_echo, echo) = (echo_server(), udp_echo());
    let tcp = format!("tcp://127.0.0.1:0/{tcp_echo}?rlimiter=1");
    let udp = format!("udp://127.0.0.1:0/{echo}?rlimiter=1");
    let mut gost = Gost::spawn(&["-L", &tcp, "-L", &udp]);
    let addrs = gost.addrs(2);

    let start = Instant::now();
    let tcp_served: Vec<bool> = (0..10).map(|_| tcp_echoed(addrs[0])).collect();
    let took = start.elapsed();
    assert!(tcp_served[0], "the first connection is within the rate");
    // One request a second: ten in a row cannot all pass, and refusals do not wait.
    let refused = tcp_served.iter().filter(|s| !**s).count();
    assert!(refused >= 5, "tcp: {tcp_served:?} in {took:?}");
    assert!(took < Duration::from_secs(5), "tcp refusals took {took:?}");

    // Each datagram from a new client address starts a session: one request.
    let udp_served = udp_sessions_echoed(addrs[1], 5);
    assert!(udp_served[0], "the first session is within the rate");
    let refused = udp_served.iter().filter(|s| !**s).count();
    assert!(refused >= 3, "udp: {udp_served:?}");
    let line = gost.wait_for(&["client refused", "reason=\"rlimiter\"", "service-1"]);
    assert!(line.contains("127.0.0.1:"), "{line}");
}
