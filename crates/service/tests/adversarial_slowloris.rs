//! Slowloris: hundreds of clients trickling their handshake a byte at a time (greeting, RFC 1929
//! credentials, SOCKS4 userid) are all cut by the handshake deadline, which trickling cannot extend,
//! while well-behaved clients keep being served; afterwards descriptors and tasks are at baseline.

mod adversarial_support;
mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use adversarial_support::{Fenced, fenced_servers};
use gost_service::{Socks5Options, Users};
use gost_test_support::echo_server;
use gost_test_support::exchange::closes_within;
use gost_test_support::resources::{Footprint, raise_nofile};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(1000);
/// One byte every DRIP: several bytes arrive before the deadline, none of them may extend it.
const DRIP: Duration = Duration::from_millis(150);

/// Sends `fast` at once, then `slow` one byte per [`DRIP`]; returns how long the server took to
/// close the connection.
async fn trickle(addr: SocketAddr, fast: Vec<u8>, slow: Vec<u8>) -> Duration {
    let start = Instant::now();
    let c = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = c.into_split();
    let writer = tokio::spawn(async move {
        if wr.write_all(&fast).await.is_err() {
            return;
        }
        for b in slow {
            tokio::time::sleep(DRIP).await;
            if wr.write_all(&[b]).await.is_err() {
                return;
            }
        }
        // Ran out of bytes without being cut: keep the connection open and silent.
        std::future::pending::<()>().await;
    });
    let closed = closes_within(&mut rd, Duration::from_secs(10)).await;
    writer.abort();
    assert!(closed, "a trickling client was never cut");
    start.elapsed()
}

async fn good_client(proxy: SocketAddr, target: SocketAddr) {
    let mut c = TcpStream::connect(proxy).await.unwrap();
    let SocketAddr::V4(t) = target else {
        unreachable!()
    };
    let mut msg = vec![5, 1, 2, 1, 5];
    msg.extend_from_slice(b"alice");
    msg.push(6);
    msg.extend_from_slice(b"s3cret");
    msg.extend_from_slice(&[5, 1, 0, 1]);
    msg.extend_from_slice(&t.ip().octets());
    msg.extend_from_slice(&t.port().to_be_bytes());
    msg.extend_from_slice(b"hello");
    c.write_all(&msg).await.unwrap();
    let mut got = [0u8; 2 + 2 + 10 + 5];
    c.read_exact(&mut got).await.unwrap();
    assert_eq!(&got[..6], &[5, 2, 1, 0, 5, 0]);
    assert_eq!(&got[14..], b"hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_clients_are_cut_by_the_deadline_while_others_are_served() {
    raise_nofile();
    let echo = echo_server().await;
    let fence = Fenced::new([echo]);
    let alice = Socks5Options {
        users: Users::new([("alice", "s3cret")]),
        ..Default::default()
    };
    let bob = Users::new([("bob", "")]);
    let (s5, s4) = fenced_servers(&fence, HANDSHAKE_TIMEOUT, alice, bob).await;
    good_client(s5.addr, echo).await;
    let before = Footprint::now();

    let mut slow = JoinSet::new();
    let greeting: Vec<u8> = [5u8, 255].into_iter().chain(0..=254).collect();
    let mut creds = vec![1, 255];
    creds.extend_from_slice(&[b'u'; 255]);
    let userid: Vec<u8> = [4u8, 1, 0, 80, 127, 0, 0, 1]
        .into_iter()
        .chain([b'x'; 200])
        .collect();
    for i in 0..300 {
        let (addr, fast, trickled) = match i % 3 {
            // The greeting itself, a byte at a time.
            0 => (s5.addr, vec![], greeting.clone()),
            // A quick greeting, then the credentials a byte at a time.
            1 => (s5.addr, vec![5, 1, 2], creds.clone()),
            // A SOCKS4 request whose userid never ends.
            _ => (s4.addr, vec![], userid.clone()),
        };
        slow.spawn(trickle(addr, fast, trickled));
    }
    // While they trickle, others are served.
    let served_from = Instant::now();
    let mut served = 0;
    while served_from.elapsed() < HANDSHAKE_TIMEOUT {
        tokio::time::timeout(Duration::from_secs(5), good_client(s5.addr, echo))
            .await
            .expect("a good client was not served during the attack");
        served += 1;
    }
    let mut longest = Duration::ZERO;
    while let Some(held) = slow.join_next().await {
        let held = held.unwrap();
        assert!(
            held >= HANDSHAKE_TIMEOUT - Duration::from_millis(50),
            "cut before the deadline: {held:?}"
        );
        longest = longest.max(held);
    }
    // The deadline covers the whole handshake: 1 s plus scheduling slack, never 255 drips (38 s).
    assert!(longest < Duration::from_secs(5), "held for {longest:?}");
    before
        .wait_back(Duration::from_secs(5), "after 300 slowloris clients")
        .await;
    println!(
        "300 trickling clients cut after at most {longest:?}; {served} good clients served meanwhile"
    );
}
