//! The UDP ASSOCIATE relay moves datagrams in batches (`recvmmsg`/`sendmmsg`, runs of equal datagrams
//! to one destination as one offloaded message): bursts of 100 datagrams, of mixed sizes alternating
//! between two targets, or in runs of equal sizes to one target, all reach their targets and come
//! back in order, each answer carrying the header of the target that sent it. 500 datagrams per test.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::serve;
use gost_service::{Socks5Handler, Socks5Options};
use gost_test_support::socks5::udp_datagram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::timeout;

const BURSTS: usize = 5;
const PER_BURST: usize = 100;

/// A UDP echo that reports the index (first 4 bytes) of every datagram it echoes.
async fn indexing_echo() -> (SocketAddr, mpsc::UnboundedReceiver<u32>) {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = s.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = s.recv_from(&mut buf).await {
            let _ = tx.send(u32::from_be_bytes(buf[..4].try_into().unwrap()));
            let _ = s.send_to(&buf[..n], from).await;
        }
    });
    (addr, rx)
}

/// The UDP relay header for `target` (no fragment).
fn header(target: SocketAddr) -> Vec<u8> {
    udp_datagram(0, target, &[])
}

/// Datagram `i`'s payload, `len` ≥ 4 bytes starting with its index.
fn payload(i: usize, len: usize) -> Vec<u8> {
    let mut p: Vec<u8> = (0..len).map(|j| (i + j * 3) as u8).collect();
    p[..4].copy_from_slice(&(i as u32).to_be_bytes());
    p
}

/// Relays `BURSTS` bursts of `PER_BURST` datagrams, datagram `i` of `len(i)` bytes to target
/// `pick(i)` (0 or 1), and checks that each target gets its datagrams once and in order and that the
/// answers come back whole, in order per target, with their target's header.
async fn relay_bursts(pick: fn(usize) -> usize, len: fn(usize) -> usize) {
    let (a, mut seen_a) = indexing_echo().await;
    let (b, mut seen_b) = indexing_echo().await;
    let proxy = serve(Socks5Handler::new(Socks5Options {
        udp: true,
        ..Default::default()
    }))
    .await;
    let mut ctl = TcpStream::connect(proxy.addr).await.unwrap();
    ctl.write_all(&[5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0])
        .await
        .unwrap();
    let mut rep = [0u8; 12];
    ctl.read_exact(&mut rep).await.unwrap();
    assert_eq!(rep[..5], [5, 0, 5, 0, 0]);
    let relay = SocketAddr::from((
        [rep[6], rep[7], rep[8], rep[9]],
        u16::from_be_bytes([rep[10], rep[11]]),
    ));
    let client = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let targets = [a, b];
    let all = 0..BURSTS * PER_BURST;
    let of = |t: usize| all.clone().filter(move |&i| pick(i) == t);

    let mut buf = vec![0u8; 4096];
    for burst in 0..BURSTS {
        let range = burst * PER_BURST..(burst + 1) * PER_BURST;
        // The whole burst leaves before the first answer is read.
        let sender = client.clone();
        let sending = tokio::spawn({
            let range = range.clone();
            async move {
                for i in range {
                    let mut d = header(targets[pick(i)]);
                    d.extend_from_slice(&payload(i, len(i)));
                    sender.send_to(&d, relay).await.unwrap();
                }
            }
        });
        let mut next = [0, 1].map(|t| range.clone().filter(move |&i| pick(i) == t));
        for _ in range.clone() {
            let (n, from) = timeout(Duration::from_secs(5), client.recv_from(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("burst {burst}: answers did not come back"))
                .unwrap();
            assert_eq!(from, relay);
            let which = usize::from(buf[..10] == header(b)[..]);
            assert_eq!(buf[..10], header(targets[which])[..], "an answer's header");
            let i = next[which]
                .next()
                .expect("no more answers from this target");
            assert_eq!(
                &buf[10..n],
                &payload(i, len(i))[..],
                "answer {i}, in order from its target"
            );
        }
        sending.await.unwrap();
    }
    for (seen, t) in [(&mut seen_a, 0), (&mut seen_b, 1)] {
        let order: Vec<u32> = std::iter::from_fn(|| seen.try_recv().ok()).collect();
        let want: Vec<u32> = of(t).map(|i| i as u32).collect();
        assert_eq!(order, want, "each target got its datagrams once, in order");
    }
}

#[tokio::test]
async fn bursts_arrive_whole_and_in_order_with_the_right_headers() {
    relay_bursts(|i| i % 2, |i| 4 + (i * 37) % 300).await;
}

#[tokio::test]
async fn runs_of_equal_datagrams_to_one_target_arrive_whole_and_in_order() {
    // Runs of ten to one target, most datagrams the same size (sent as one offloaded message), every
    // seventh shorter (ending its run), every thirteenth longer (starting a new one).
    relay_bursts(
        |i| (i / 10) % 2,
        |i| match (i % 7, i % 13) {
            (6, _) => 20,
            (_, 12) => 900,
            _ => 300,
        },
    )
    .await;
}
