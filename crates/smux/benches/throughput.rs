//! Bulk throughput of smux over a loopback TCP connection: one stream, and eight streams sharing
//! the session, for protocol versions 1 and 2 with GOST's MBIND settings.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gost_smux::{Config, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

const TOTAL: usize = 32 * 1024 * 1024;
const WRITE: usize = 64 * 1024;

async fn pair(version: u8) -> (Session, Session) {
    let cfg = Config {
        version,
        ..Config::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (dialed, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (dialed, accepted) = (dialed.unwrap(), accepted.unwrap().0);
    dialed.set_nodelay(true).unwrap();
    accepted.set_nodelay(true).unwrap();
    (
        Session::client(dialed, cfg.clone()).unwrap(),
        Session::server(accepted, cfg).unwrap(),
    )
}

/// Reads every accepted stream to the end and reports its byte count.
fn spawn_sink(server: Session) -> tokio::sync::mpsc::Receiver<usize> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        while let Some(mut s) = server.accept_stream().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; WRITE];
                let mut n = 0;
                while let Ok(got @ 1..) = s.read(&mut buf).await {
                    n += got;
                }
                let _ = tx.send(n).await;
            });
        }
    });
    rx
}

async fn transfer(client: &Session, done: &mut tokio::sync::mpsc::Receiver<usize>, streams: usize) {
    let per_stream = TOTAL / streams;
    let writers: Vec<_> = (0..streams)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut s = client.open_stream().await.unwrap();
                let chunk = vec![0x5Au8; WRITE];
                for _ in 0..per_stream / WRITE {
                    s.write_all(&chunk).await.unwrap();
                }
                s.shutdown().await.unwrap();
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    for _ in 0..streams {
        assert_eq!(done.recv().await.unwrap(), per_stream);
    }
}

fn throughput(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let mut g = c.benchmark_group("smux_tcp_loopback");
    g.throughput(Throughput::Bytes(TOTAL as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    for version in [1u8, 2] {
        let (client, server) = rt.block_on(pair(version));
        let mut done = rt.block_on(async { spawn_sink(server) });
        for streams in [1usize, 8] {
            g.bench_function(format!("v{version}_{streams}_stream"), |b| {
                b.iter(|| rt.block_on(transfer(&client, &mut done, streams)))
            });
        }
        client.close();
    }
    g.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
