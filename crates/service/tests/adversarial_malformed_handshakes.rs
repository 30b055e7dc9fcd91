//! 10 000 malformed handshakes against running SOCKS5 (with RFC 1929 auth) and SOCKS4 servers:
//! every truncation of real handshakes, single-byte corruptions at every offset (bad versions, bad
//! and zero lengths, unknown commands and address types, 255-byte domains, oversized credentials)
//! and random tails. Each connection ends promptly, nothing is dialled that the client did not
//! validly ask for, and afterwards the servers still serve while descriptors, tasks and memory are
//! back to their baseline.

mod adversarial_support;
mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use adversarial_support::{Fenced, fenced_servers};
use gost_service::{Socks5Options, Users};
use gost_test_support::echo_server;
use gost_test_support::exchange::closes_within;
use gost_test_support::resources::{Footprint, raise_nofile, rss_bytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

const TOTAL: usize = 10_000;
const CONCURRENCY: usize = 64;
const USER: &[u8] = b"alice";
const PASS: &[u8] = b"s3cret";

/// Which server an input goes to.
#[derive(Clone, Copy, PartialEq, Debug)]
enum To {
    Socks5,
    Socks4,
}

fn auth(user: &[u8], pass: &[u8]) -> Vec<u8> {
    let mut v = vec![1, user.len() as u8];
    v.extend_from_slice(user);
    v.push(pass.len() as u8);
    v.extend_from_slice(pass);
    v
}

/// Complete client byte streams a server would accept, for `target` (the echo server).
fn valid_streams(target: SocketAddr) -> Vec<(To, Vec<u8>)> {
    let SocketAddr::V4(t) = target else {
        unreachable!("the echo server listens on 127.0.0.1")
    };
    let (ip, port) = (t.ip().octets(), t.port().to_be_bytes());
    let login = [&[5u8, 2, 0, 2][..], &auth(USER, PASS)].concat();
    let v4 = [&[5u8, 1, 0, 1][..], &ip, &port].concat();
    let mut v6 = vec![5u8, 1, 0, 4];
    v6.extend_from_slice(&[0; 15]);
    v6.push(1);
    v6.extend_from_slice(&port);
    let mut domain = vec![5u8, 1, 0, 3, 255];
    domain.extend_from_slice(&[b'a'; 255]);
    domain.extend_from_slice(&port);
    let udp = [&[5u8, 3, 0, 1][..], &[0; 6]].concat();
    let big_auth = [&[5u8, 1, 2][..], &auth(&[b'u'; 255], &[b'p'; 255])].concat();
    let s4 = [&[4u8, 1][..], &port, &ip, b"alice\0"].concat();
    let s4a = [
        &[4u8, 1][..],
        &port,
        &[0, 0, 0, 9],
        b"alice\0",
        &[b'h'; 255],
        b"\0",
    ]
    .concat();
    vec![
        (To::Socks5, [&login[..], &v4].concat()),
        (To::Socks5, [&login[..], &v6].concat()),
        (To::Socks5, [&login[..], &domain].concat()),
        (To::Socks5, [&login[..], &udp].concat()),
        (To::Socks5, big_auth),
        (To::Socks4, s4),
        (To::Socks4, s4a),
    ]
}

/// A small deterministic generator (xorshift), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Exactly [`TOTAL`] malformed inputs: truncations, corruptions, then random tails.
fn malformed(target: SocketAddr) -> Vec<(To, Vec<u8>)> {
    let streams = valid_streams(target);
    let mut out = Vec::with_capacity(TOTAL);
    for (to, s) in &streams {
        out.extend((0..s.len()).map(|k| (*to, s[..k].to_vec())));
    }
    for (to, s) in &streams {
        for i in 0..s.len().min(40) {
            for bad in [0x00, 0xFF, s[i] ^ 0x01, s[i].wrapping_add(0x80)] {
                if bad != s[i] {
                    let mut m = s.clone();
                    m[i] = bad;
                    out.push((*to, m));
                }
            }
        }
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    while out.len() < TOTAL {
        let (to, s) = &streams[rng.below(streams.len())];
        let keep = rng.below(s.len());
        let mut m = s[..keep].to_vec();
        let extra = rng.below(300);
        m.extend((0..extra).map(|_| rng.next() as u8));
        out.push((*to, m));
    }
    out.truncate(TOTAL);
    out
}

/// Sends `input`, then (unless `hold`) ends the write side, and waits for the server to close.
async fn attack(addr: SocketAddr, input: Vec<u8>, hold: bool) {
    let mut c = TcpStream::connect(addr).await.unwrap();
    // The server may close before reading everything: write errors are part of the game.
    let _ = c.write_all(&input).await;
    if !hold {
        let _ = c.shutdown().await;
    }
    assert!(
        closes_within(&mut c, Duration::from_secs(10)).await,
        "server kept a malformed handshake open: {input:02x?}"
    );
}

/// One authenticated SOCKS5 CONNECT to the echo server with an echo round trip.
async fn good_socks5(proxy: SocketAddr, target: SocketAddr) {
    let mut c = TcpStream::connect(proxy).await.unwrap();
    let mut stream = valid_streams(target)[0].1.clone();
    stream.extend_from_slice(b"ping");
    c.write_all(&stream).await.unwrap();
    let mut head = [0u8; 2 + 2 + 10 + 4];
    c.read_exact(&mut head).await.unwrap();
    assert_eq!(&head[..5], &[5, 2, 1, 0, 5]);
    assert_eq!(head[5], 0, "CONNECT succeeded");
    assert_eq!(&head[14..], b"ping");
}

/// Sends every input on its own connection, [`CONCURRENCY`] at a time.
async fn flood(s5: &common::Running, s4: &common::Running, inputs: Vec<(To, Vec<u8>)>) {
    let mut tasks = JoinSet::new();
    for (i, (to, input)) in inputs.into_iter().enumerate() {
        if tasks.len() >= CONCURRENCY {
            tasks.join_next().await.unwrap().unwrap();
        }
        let addr = if to == To::Socks5 { s5.addr } else { s4.addr };
        // One in 50 keeps its write side open: only the handshake timeout can end those.
        tasks.spawn(attack(addr, input, i % 50 == 0));
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_malformed_handshakes_leave_no_trace() {
    raise_nofile();
    let echo = echo_server().await;
    let fence = Fenced::new([echo]);
    let users = Users::new([(USER, PASS)]);
    let with_password = Socks5Options {
        users: users.clone(),
        ..Default::default()
    };
    let userid = Users::new([(USER, &b""[..])]);
    let (s5, s4) = fenced_servers(&fence, Duration::from_millis(300), with_password, userid).await;
    // Warm up (lazy statics, allocator arenas, runtime threads) before taking the baseline.
    for _ in 0..50 {
        good_socks5(s5.addr, echo).await;
    }
    let dials_before = fence.dials.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = Footprint::now();
    let rss_before = rss_bytes();

    let mut inputs = malformed(echo);
    assert_eq!(inputs.len(), TOTAL);
    let truncations: usize = valid_streams(echo).iter().map(|(_, s)| s.len()).sum();
    let rest = inputs.split_off(truncations);
    flood(&s5, &s4, inputs).await;
    // A truncated handshake never gets as far as a dial.
    assert_eq!(fence.dials.load(Ordering::Relaxed), dials_before);
    // A corrupted byte can leave a valid request (a reserved byte, another port, a domain name): the
    // fence refuses any target but the echo server, so nothing leaves the test either way.
    flood(&s5, &s4, rest).await;

    good_socks5(s5.addr, echo).await;
    before
        .wait_back(Duration::from_secs(5), "after 10 000 malformed handshakes")
        .await;
    let grown = rss_bytes().saturating_sub(rss_before);
    // A leak of even 1 KiB per connection would show as 10 MB.
    assert!(
        grown < 8 << 20,
        "resident memory grew by {grown} bytes over 10 000 connections"
    );
    println!(
        "fds {} -> {}, tasks {} -> {}, rss {} KiB -> {} KiB, refused by fence {}",
        before.fds,
        gost_test_support::resources::fd_count(),
        before.tasks,
        gost_test_support::resources::alive_tasks(),
        rss_before >> 10,
        rss_bytes() >> 10,
        fence.refused.load(Ordering::Relaxed)
    );
}
