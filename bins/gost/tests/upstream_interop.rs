//! Our `gost` against upstream GOST 3.2.6 (`gost-upstream`, found on `PATH` or through `GOST_UPSTREAM`)
//! in both roles: upstream serves and ours is the client (`-F`), then ours serves and upstream is the
//! client. Every case moves real data over loopback through a forward on the client side: TCP through
//! SOCKS5 (TLS negotiated in-band, notls, user/pass), SOCKS4, socks5 over tls/ws/wss/kcp; UDP over
//! UDP-TUN and over standard UDP ASSOCIATE (`relay=udp`); rtcp over MBIND; a two-hop chain mixing both
//! programs. The seed's iperf3 scenario against upstream is in `iperf3_through_two_gost_processes.rs`.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use gost_test_support::free_port;
use gost_test_support::servers::blocking::{echo_server, udp_echo};
use support::{Gost, PATIENCE, Peer, both_roles, connect_when_listening};

/// Bytes sent through each TCP case (and echoed back).
const TCP_BYTES: usize = 300_000;

/// Starts `server` with `-L listen`, then `client` with `-L tcp://127.0.0.1:0/ECHO -F NODE` (`{}` in
/// `node` = the server's address) and checks [`TCP_BYTES`] round trip through both.
fn tcp_forward(server: &Peer, client: &Peer, listen: &str, node: &str) {
    let forward = format!("tcp://127.0.0.1:0/{}", echo_server());
    let (mut srv, mut front, node, addr) = start_pair(server, client, listen, node, &forward);
    let what = format!("{client:?} client -F {node} to {server:?} server -L {listen}");
    echo_bulk(addr, TCP_BYTES, &what, &mut [&mut srv, &mut front]);
}

/// Starts `server` with `-L listen`, then `client` with `-L forward -F NODE` (`{}` in `node` = the
/// server's address). Returns both processes, NODE and the client's forwarding address.
fn start_pair(
    server: &Peer,
    client: &Peer,
    listen: &str,
    node: &str,
    forward: &str,
) -> (Gost, Gost, String, SocketAddr) {
    let mut srv = server.spawn(&["-L", listen]);
    let node = node.replace("{}", &srv.addr("service-0").to_string());
    let mut front = client.spawn(&["-L", forward, "-F", &node]);
    let addr = front.addr("service-0");
    (srv, front, node, addr)
}

/// Connects to `addr`, sends `n` patterned bytes from a thread while reading the echo, then
/// half-closes and checks every byte came back and then EOF; on failure panics with the logs of
/// `procs`. The half-close comes after the echo: upstream closes both ways on the first EOF.
fn echo_bulk(addr: SocketAddr, n: usize, what: &str, procs: &mut [&mut Gost]) {
    if let Err(e) = try_echo_bulk(addr, n) {
        fail(&format!("{what}: {e}"), procs);
    }
}

/// Panics with `what` and the logs of `procs`.
fn fail(what: &str, procs: &mut [&mut Gost]) -> ! {
    let logs: Vec<String> = procs
        .iter_mut()
        .map(|p| {
            p.drain_log();
            p.log.join("\n")
        })
        .collect();
    panic!("{what}\nlogs:\n{}", logs.join("\n----\n"));
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn try_echo_bulk(addr: SocketAddr, n: usize) -> Result<(), String> {
    let mut conn = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    conn.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut writer = conn.try_clone().unwrap();
    let sent = pattern(n);
    let to_send = sent.clone();
    let sender = std::thread::spawn(move || writer.write_all(&to_send));
    let mut back = vec![0; n];
    let mut got = 0;
    while got < n {
        match conn.read(&mut back[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) => return Err(format!("read after {got} of {n} bytes: {e}")),
        }
    }
    sender.join().unwrap().map_err(|e| format!("write: {e}"))?;
    if got != n || back != sent {
        let same = back[..got].iter().zip(&sent).take_while(|(a, b)| a == b);
        return Err(format!(
            "{got} of {n} bytes echoed (identical prefix: {})",
            same.count()
        ));
    }
    conn.shutdown(Shutdown::Write).unwrap();
    match conn.read(&mut [0u8; 1]) {
        Ok(0) => Ok(()),
        other => Err(format!(
            "after the echo and a half-close: {other:?}, not EOF"
        )),
    }
}

/// TCP through SOCKS5 (TLS negotiated in-band, notls on either side, user/pass), SOCKS4, and SOCKS5
/// over tls, ws (also on a custom path), wss and kcp, in both roles; a failure names the client, the
/// server, `-L` and `-F`.
#[test]
fn tcp_through_socks4_and_socks5_over_every_transport() {
    let cases = [
        ("socks5://127.0.0.1:0", "socks5://{}"),
        ("socks5://127.0.0.1:0?notls=true", "socks5://{}"),
        ("socks5://127.0.0.1:0", "socks5://{}?notls=true"),
        ("socks5://u:p@127.0.0.1:0", "socks5://u:p@{}"),
        ("socks5://u:p@127.0.0.1:0?notls=true", "socks5://u:p@{}"),
        ("socks4://127.0.0.1:0", "socks4://{}"),
        ("socks5+tls://127.0.0.1:0", "socks5+tls://{}"),
        ("socks5+ws://127.0.0.1:0", "socks5+ws://{}"),
        (
            "socks5+ws://127.0.0.1:0?path=/tunnel",
            "socks5+ws://{}?path=/tunnel",
        ),
        ("socks5+wss://127.0.0.1:0", "socks5+wss://{}"),
        ("socks5+kcp://127.0.0.1:0", "socks5+kcp://{}"),
    ];
    both_roles(|s, c| {
        for (listen, node) in cases {
            tcp_forward(s, c, listen, node);
        }
    });
}

/// Starts `server` with `-L listen`, then `client` with `-L udp://127.0.0.1:0/ECHO?keepalive=true -F
/// NODE` and checks 100 datagrams of mixed sizes round trip in lock step.
fn udp_forward(server: &Peer, client: &Peer, listen: &str, node: &str) {
    let forward = format!("udp://127.0.0.1:0/{}?keepalive=true", udp_echo());
    let (mut srv, mut front, node, addr) = start_pair(server, client, listen, node, &forward);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 65536];
    for i in 0..100usize {
        let len = [1, 64, 512, 1400, 4000][i % 5];
        let payload: Vec<u8> = (0..len).map(|j| (i * 7 + j) as u8).collect();
        sock.send_to(&payload, addr).unwrap();
        let answer = sock.recv_from(&mut buf);
        if !matches!(answer, Ok((n, from)) if from == addr && buf[..n] == payload[..]) {
            let what = format!(
                "datagram {i} ({len} B), {client:?} client -F {node} to {server:?} server -L \
                 {listen}: {answer:?}"
            );
            fail(&what, &mut [&mut srv, &mut front]);
        }
    }
}

#[test]
fn udp_over_udp_tun() {
    both_roles(|s, c| udp_forward(s, c, "socks5://127.0.0.1:0?udp=true", "socks5://{}"));
}

#[test]
fn udp_over_udp_associate_with_relay_udp() {
    both_roles(|s, c| {
        udp_forward(
            s,
            c,
            "socks5://127.0.0.1:0?udp=true",
            "socks5://{}?relay=udp",
        );
    });
}

#[test]
fn rtcp_over_mbind() {
    both_roles(|server, client| {
        let echo = echo_server();
        let mut srv = server.spawn(&["-L", "socks5://127.0.0.1:0?bind=true"]);
        let node = format!("socks5://{}", srv.addr("service-0"));
        let remote = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let rtcp = format!("rtcp://{remote}/{echo}");
        let mut front = client.spawn(&["-L", &rtcp, "-F", &node]);
        let what = format!("{client:?} rtcp client -F {node} to {server:?} server");
        if let Err(e) = connect_when_listening(remote) {
            fail(&format!("{what}: {e}"), &mut [&mut srv, &mut front]);
        }
        // Two connections one after the other: each is a stream of the one MBIND session.
        for _ in 0..2 {
            echo_bulk(remote, TCP_BYTES, &what, &mut [&mut srv, &mut front]);
        }
    });
}

#[test]
fn two_hop_chain_mixing_both_programs() {
    // In the first role: ours forwards through upstream's socks5 and then ours over tls; in the
    // second, the mirror image.
    both_roles(|server, client| {
        let echo = echo_server();
        let mut hop2 = client.spawn(&["-L", "socks5+tls://127.0.0.1:0"]);
        let mut hop1 = server.spawn(&["-L", "socks5://u:p@127.0.0.1:0"]);
        let first = format!("socks5://u:p@{}", hop1.addr("service-0"));
        let second = format!("socks5+tls://{}", hop2.addr("service-0"));
        let forward = format!("tcp://127.0.0.1:0/{echo}");
        let mut front = client.spawn(&["-L", &forward, "-F", &first, "-F", &second]);
        let addr = front.addr("service-0");
        let what = format!("{client:?} -F {first} ({server:?}) -F {second} ({client:?})");
        echo_bulk(
            addr,
            TCP_BYTES,
            &what,
            &mut [&mut hop1, &mut hop2, &mut front],
        );
    });
}
