//! 16 MiB each way on one stream over loopback TCP arrives intact (checksummed), in both versions.

mod common;

use common::{config, tcp_pair};
use gost_test_support::{Checksum, pattern};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOTAL: usize = 16 * 1024 * 1024;

async fn send_and_checksum<W: AsyncWriteExt + Unpin>(mut w: W, data: &[u8]) -> Checksum {
    for chunk in data.chunks(60_000) {
        w.write_all(chunk).await.unwrap();
    }
    w.flush().await.unwrap();
    Checksum::of(data)
}

async fn receive_checksum<R: AsyncReadExt + Unpin>(mut r: R) -> (usize, Checksum) {
    let mut buf = vec![0u8; 40_000];
    let (mut n, mut h) = (0, Checksum::default());
    while n < TOTAL {
        let got = r.read(&mut buf).await.unwrap();
        assert_ne!(got, 0, "EOF after {n} bytes");
        h.update(&buf[..got]);
        n += got;
    }
    (n, h)
}

async fn transfer(version: u8) {
    let (client, server) = tcp_pair(&config(version)).await;
    let up = pattern(1, TOTAL);
    let down = pattern(2, TOTAL);
    let a = client.open_stream().await.unwrap();
    let b = server.accept_stream();
    let (ar, aw) = tokio::io::split(a);
    let client_side =
        tokio::spawn(async move { tokio::join!(send_and_checksum(aw, &up), receive_checksum(ar)) });
    let b = b.await.unwrap();
    let (br, bw) = tokio::io::split(b);
    let (sent_down, (n_up, got_up)) =
        tokio::join!(send_and_checksum(bw, &down), receive_checksum(br));
    let (sent_up, (n_down, got_down)) = client_side.await.unwrap();
    assert_eq!((n_up, got_up), (TOTAL, sent_up));
    assert_eq!((n_down, got_down), (TOTAL, sent_down));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_sixteen_mib_each_way() {
    transfer(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_sixteen_mib_each_way() {
    transfer(2).await;
}
