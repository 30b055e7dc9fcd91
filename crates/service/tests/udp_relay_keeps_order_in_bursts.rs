//! The UDP ASSOCIATE relay moves datagrams in batches (`recvmmsg`/`sendmmsg`): bursts of 100
//! datagrams of mixed sizes, alternating between two targets, all reach their targets and come back in
//! order, each answer carrying the header of the target that sent it. 500 datagrams in all.

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

fn payload(i: usize) -> Vec<u8> {
    let len = 4 + (i * 37) % 300;
    let mut p: Vec<u8> = (0..len).map(|j| (i + j * 3) as u8).collect();
    p[..4].copy_from_slice(&(i as u32).to_be_bytes());
    p
}

#[tokio::test]
async fn bursts_arrive_whole_and_in_order_with_the_right_headers() {
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
    let target = move |i: usize| if i.is_multiple_of(2) { a } else { b };

    let mut buf = vec![0u8; 4096];
    for burst in 0..BURSTS {
        let range = burst * PER_BURST..(burst + 1) * PER_BURST;
        // The whole burst leaves before the first answer is read.
        let sender = client.clone();
        let sending = tokio::spawn(async move {
            for i in range {
                let mut d = header(target(i));
                d.extend_from_slice(&payload(i));
                sender.send_to(&d, relay).await.unwrap();
            }
        });
        let mut next = [burst * PER_BURST, burst * PER_BURST + 1];
        for _ in 0..PER_BURST {
            let (n, from) = timeout(Duration::from_secs(5), client.recv_from(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("burst {burst}: answers {next:?} did not come back"))
                .unwrap();
            assert_eq!(from, relay);
            let which = usize::from(buf[..10] == header(b)[..]);
            assert_eq!(
                buf[..10],
                header(target(next[which]))[..],
                "header of answer {}",
                next[which]
            );
            let i = next[which];
            assert_eq!(
                &buf[10..n],
                &payload(i)[..],
                "answer {i}, in order from its target"
            );
            next[which] += 2;
        }
        sending.await.unwrap();
    }
    for (seen, first) in [(&mut seen_a, 0), (&mut seen_b, 1)] {
        let order: Vec<u32> = std::iter::from_fn(|| seen.try_recv().ok()).collect();
        let want: Vec<u32> = (first..BURSTS * PER_BURST)
            .step_by(2)
            .map(|i| i as u32)
            .collect();
        assert_eq!(order, want, "each target got its datagrams once, in order");
    }
}
