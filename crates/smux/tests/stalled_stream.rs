//! A stream whose reader stalls: in version 2 it does not hold up the other streams; in version 1
//! it blocks the whole session (head-of-line, as upstream) — and in both, memory stays bounded.

mod common;

use std::time::Duration;

use common::{config, duplex_pair, spawn_echo_server, tcp_pair};
use gost_smux::{Config, Session};
use gost_test_support::pattern;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const STALLED_BYTES: usize = 2 * 1024 * 1024;

/// Polls `f` every 10 ms until it holds; panics after 30 s.
async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn spawn_writer(
    mut s: gost_smux::Stream,
    data: Vec<u8>,
) -> tokio::task::JoinHandle<gost_smux::Stream> {
    tokio::spawn(async move {
        s.write_all(&data).await.unwrap();
        s
    })
}

async fn echo_roundtrip(client: &Session, seed: u64, len: usize) {
    let s = client.open_stream().await.unwrap();
    let data = pattern(seed, len);
    let (mut r, mut w) = tokio::io::split(s);
    let expected = data.clone();
    let writer = tokio::spawn(async move { w.write_all(&data).await.map(|()| w) });
    let mut got = vec![0u8; len];
    r.read_exact(&mut got).await.unwrap();
    assert!(got == expected, "echo {seed} corrupted");
    writer.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_stalled_stream_does_not_block_the_others() {
    let (client, server) = tcp_pair(&config(2)).await;
    let stalled_out = client.open_stream().await.unwrap();
    let mut stalled_in = server.accept_stream().await.unwrap();
    let echo = spawn_echo_server(server.clone());

    let data = pattern(99, STALLED_BYTES);
    let writer = spawn_writer(stalled_out, data.clone());
    // The sender may only fill the initial 256 KiB window of the stalled stream.
    wait_until("the stalled window to fill", || {
        server.buffered_bytes() >= 262_144
    })
    .await;

    let others = (0..20).map(|i| echo_roundtrip(&client, i, 256 * 1024));
    tokio::time::timeout(Duration::from_secs(60), futures_join_all(others))
        .await
        .expect("other streams progress while one is stalled");
    assert_eq!(
        server.buffered_bytes(),
        262_144,
        "stalled stream holds exactly its window"
    );
    assert!(!writer.is_finished());

    let mut got = vec![0u8; STALLED_BYTES];
    stalled_in.read_exact(&mut got).await.unwrap();
    assert!(got == data, "stalled stream data corrupted");
    drop(writer.await.unwrap());
    client.close();
    echo.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn v1_stalled_stream_blocks_the_session_with_bounded_memory() {
    let cfg = Config {
        max_receive_buffer: 256 * 1024,
        max_stream_buffer: 64 * 1024,
        ..config(1)
    };
    let (client, server) = duplex_pair(&cfg);
    let stalled_out = client.open_stream().await.unwrap();
    let mut other_out = client.open_stream().await.unwrap();
    let mut stalled_in = server.accept_stream().await.unwrap();
    let mut other_in = server.accept_stream().await.unwrap();

    let data = pattern(7, STALLED_BYTES);
    let writer = spawn_writer(stalled_out, data.clone());
    wait_until("the receive buffer to fill", || {
        server.buffered_bytes() >= cfg.max_receive_buffer
    })
    .await;

    // Head-of-line blocking: the server no longer reads the connection, so another stream's
    // data cannot arrive either (the client's queue is full, so even the write waits)...
    let pinger = tokio::spawn(async move {
        other_out.write_all(b"ping").await.unwrap();
        other_out.flush().await.unwrap();
        other_out
    });
    let mut ping = [0u8; 4];
    let blocked =
        tokio::time::timeout(Duration::from_secs(5), other_in.read_exact(&mut ping)).await;
    assert!(blocked.is_err(), "v1 has no per-stream flow control");
    // ...while memory stays within the budget plus one frame, and the writer is held back.
    assert!(server.buffered_bytes() <= cfg.max_receive_buffer + cfg.max_frame_size);
    assert!(!writer.is_finished());
    assert!(
        !client.is_closed() && !server.is_closed(),
        "a slow reader is not a dead peer"
    );

    // Reading the stalled stream releases everything.
    let mut got = vec![0u8; STALLED_BYTES];
    stalled_in.read_exact(&mut got).await.unwrap();
    assert!(got == data, "stalled stream data corrupted");
    other_in.read_exact(&mut ping).await.unwrap();
    assert_eq!(&ping, b"ping");
    drop(writer.await.unwrap());
    drop(pinger.await.unwrap());
}

/// Awaits all futures concurrently (no extra dependency for `join_all`).
async fn futures_join_all<F: Future<Output = ()>>(futs: impl Iterator<Item = F>) {
    let mut set = Vec::new();
    for f in futs {
        set.push(Box::pin(f));
    }
    std::future::poll_fn(|cx| {
        set.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if set.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}
