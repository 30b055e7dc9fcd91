//! 200 concurrent streams on one session each echo their data intact, for both protocol
//! versions, over an in-memory duplex and over loopback TCP.

mod common;

use common::{config, duplex_pair, spawn_echo_server, tcp_pair};
use gost_smux::Session;
use gost_test_support::pattern;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const STREAMS: usize = 200;
const PER_STREAM: usize = 48 * 1024;

async fn run_echo(client: Session, server: Session) {
    let echo = spawn_echo_server(server);
    let mut tasks = Vec::new();
    for i in 0..STREAMS {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let s = client.open_stream().await.unwrap();
            let data = pattern(i as u64, PER_STREAM);
            let (mut r, mut w) = tokio::io::split(s);
            let expected = data.clone();
            let writer = tokio::spawn(async move {
                // Uneven write sizes exercise frame splitting.
                for chunk in data.chunks(1000 + i * 37) {
                    w.write_all(chunk).await.unwrap();
                }
                w
            });
            let mut got = vec![0u8; PER_STREAM];
            r.read_exact(&mut got).await.unwrap();
            assert!(got == expected, "stream {i} data corrupted");
            drop(writer.await.unwrap());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(!client.is_closed());
    client.close();
    echo.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_two_hundred_streams_over_duplex() {
    let (c, s) = duplex_pair(&config(1));
    run_echo(c, s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_two_hundred_streams_over_duplex() {
    let (c, s) = duplex_pair(&config(2));
    run_echo(c, s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_two_hundred_streams_over_tcp() {
    let (c, s) = tcp_pair(&config(1)).await;
    run_echo(c, s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_two_hundred_streams_over_tcp() {
    let (c, s) = tcp_pair(&config(2)).await;
    run_echo(c, s).await;
}
