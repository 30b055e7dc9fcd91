//! Fuzzes a whole gost-smux session fed hostile bytes: whatever the peer sends (any frame order,
//! unknown stream ids, FIN before SYN, huge UPD windows, data past the buffer limits), the session
//! never panics, keeps its buffered bytes within `max_receive_buffer`, and ends once the peer's
//! connection ends.
//!
//! Input: byte 0 picks the version (bit 0) and client/server role (bit 1); the rest is what the
//! peer writes.
#![no_main]

use std::time::Duration;

use gost_smux::{Config, Session};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Small buffer limits so the fuzzer can reach them.
const RECEIVE_BUFFER: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, input)) = data.split_first() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(run(flags, input.to_vec()));
});

async fn run(flags: u8, input: Vec<u8>) {
    let config = Config {
        version: 1 + (flags & 1),
        max_receive_buffer: RECEIVE_BUFFER,
        max_stream_buffer: 1024,
        ..Config::default()
    };
    let (peer, local) = tokio::io::duplex(1024);
    let session = if flags & 2 == 0 {
        Session::server(local, config)
    } else {
        Session::client(local, config)
    }
    .unwrap();
    let (mut peer_rd, mut peer_wr) = tokio::io::split(peer);
    let writer = tokio::spawn(async move {
        // The session may stop reading (closed, or its buffer full): that is fine.
        let _ = peer_wr.write_all(&input).await;
        let _ = peer_wr.shutdown().await;
        // Keep the write half alive until the session is gone.
        peer_wr
    });
    // Drain what the session sends back so it never blocks on a full pipe.
    let drain = tokio::spawn(async move {
        let mut sink = vec![0; 4096];
        while let Ok(n) = peer_rd.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    });
    let mut readers = Vec::new();
    let accept = async {
        while let Some(mut stream) = session.accept_stream().await {
            assert!(session.buffered_bytes() <= RECEIVE_BUFFER + 65535);
            // Read every other stream, leave the rest unread to exercise the buffer limits.
            if stream.id() % 4 == 1 {
                readers.push(tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let _ = stream.read_to_end(&mut buf).await;
                }));
            } else {
                readers.push(tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    drop(stream);
                }));
            }
        }
    };
    // Virtual time: the keepalive timeout (30 s) ends a session whose peer went silent.
    let ended = tokio::time::timeout(Duration::from_secs(600), async {
        accept.await;
        session.closed().await
    })
    .await;
    assert!(ended.is_ok(), "session did not end after the peer's EOF");
    session.close();
    for r in readers {
        r.abort();
    }
    drain.abort();
    writer.abort();
}
