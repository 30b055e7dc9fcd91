//! Keepalive: NOPs go out every interval, a silent peer is dropped after the timeout, and two
//! live sessions keep each other up. Runs on tokio's paused clock.

mod common;

use std::time::Duration;

use common::FrameReader;
use gost_smux::{CloseReason, Cmd, Config, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

fn fast() -> Config {
    Config {
        keep_alive_interval: Duration::from_secs(1),
        keep_alive_timeout: Duration::from_secs(3),
        ..Config::default()
    }
}

#[tokio::test(start_paused = true)]
async fn nops_are_sent_every_interval_and_a_silent_peer_is_dropped() {
    let (a, raw) = tokio::io::duplex(64 * 1024);
    let start = Instant::now();
    let session = Session::client(a, fast()).unwrap();
    let mut frames = FrameReader::new(raw);
    for n in 1..=2u64 {
        let f = frames.next().await.unwrap();
        assert_eq!((f.cmd, f.stream_id, f.data.len()), (Cmd::Nop, 0, 0));
        assert_eq!(start.elapsed().as_secs(), n, "NOP {n} on schedule");
    }
    assert_eq!(session.closed().await, CloseReason::KeepAliveTimeout);
    assert_eq!(start.elapsed().as_secs(), 3);
    // The connection is released: the raw side reads EOF after the remaining NOP, if any.
    while let Some(f) = frames.next().await {
        assert_eq!(f.cmd, Cmd::Nop);
    }
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_only_sends_nops_keeps_the_session_open() {
    let (a, mut raw) = tokio::io::duplex(64 * 1024);
    let session = Session::server(a, fast()).unwrap();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        raw.write_all(&[1, 3, 0, 0, 0, 0, 0, 0]).await.unwrap();
    }
    assert!(!session.is_closed());
}

#[tokio::test(start_paused = true)]
async fn two_idle_sessions_stay_up_past_many_timeouts() {
    let (client, server) = common::duplex_pair(&fast());
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!client.is_closed() && !server.is_closed());
}

#[tokio::test(start_paused = true)]
async fn disabled_keepalive_sends_nothing_and_never_times_out() {
    let (a, mut raw) = tokio::io::duplex(64 * 1024);
    let cfg = Config {
        keep_alive_disabled: true,
        ..Config::default()
    };
    let session = Session::client(a, cfg).unwrap();
    let mut byte = [0u8; 1];
    let waited = tokio::time::timeout(Duration::from_secs(120), raw.read(&mut byte)).await;
    assert!(
        waited.is_err(),
        "nothing expected on the wire, got {waited:?}"
    );
    assert!(!session.is_closed());
}
