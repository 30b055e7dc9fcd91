//! Bulk throughput and CPU cost of the full KCP stack (AES-256 + FEC 10/3 + snappy) over loopback
//! UDP, without loss and through a relay dropping 5% of datagrams in each direction.
//!
//! Besides criterion's timing, prints the process CPU time (user + system, both ends and the relay
//! included) per MiB transferred.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gost_kcp::{KcpConfig, KcpListener, KcpStream, ListenerLimits, SessionLimits, SnappyStream};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use support::lossy_relay;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: usize = 1024 * 1024;
const PER_ITER: usize = 4 * MIB;

fn cpu_time() -> Duration {
    gost_sys::process::cpu_time().expect("getrusage")
}

/// One session moving `PER_ITER` bytes client → server; returns the wall time.
async fn run(cfg: &KcpConfig, loss: f64) -> Duration {
    let valid = cfg.validate().unwrap();
    let listener = KcpListener::bind(
        "127.0.0.1:0".parse().unwrap(),
        valid.clone(),
        ListenerLimits::default(),
    )
    .await
    .unwrap();
    let (target, relay_task) = if loss > 0.0 {
        let (a, _stats, t) = lossy_relay(listener.local_addr(), loss, 3).await;
        (a, Some(t))
    } else {
        (listener.local_addr(), None)
    };
    let server = tokio::spawn(async move {
        let mut s = SnappyStream::new(listener.accept().await.unwrap());
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        while got < PER_ITER {
            got += s.read(&mut buf).await.unwrap();
        }
        s.write_all(b"k").await.unwrap();
        s.flush().await.unwrap();
        let _ = s.read(&mut buf).await;
    });
    // Incompressible, so snappy cannot flatter the numbers.
    let mut data = vec![0u8; PER_ITER];
    StdRng::seed_from_u64(9).fill_bytes(&mut data);
    let start = Instant::now();
    let mut c = SnappyStream::new(
        KcpStream::connect(target, &valid, SessionLimits::default())
            .await
            .unwrap(),
    );
    c.write_all(&data).await.unwrap();
    c.flush().await.unwrap();
    let mut ack = [0u8; 1];
    c.read_exact(&mut ack).await.unwrap();
    let elapsed = start.elapsed();
    c.write_all(b"x").await.unwrap();
    c.flush().await.unwrap();
    server.await.unwrap();
    if let Some(t) = relay_task {
        t.abort();
    }
    elapsed
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let configs = [
        ("upstream-default", KcpConfig::default()),
        (
            "fast-wnd512",
            KcpConfig {
                mode: "fast".into(),
                sndwnd: 512,
                rcvwnd: 512,
                ..KcpConfig::default()
            },
        ),
    ];
    let mut group = c.benchmark_group("kcp_loopback");
    group
        .sample_size(10)
        .throughput(Throughput::Bytes(PER_ITER as u64));
    for (name, cfg) in &configs {
        for loss in [0.0, 0.05] {
            let id = format!("{name}/loss{}", (loss * 100.0) as u32);
            let mut cpu = Duration::ZERO;
            let mut bytes = 0usize;
            group.bench_function(&id, |b| {
                b.iter_custom(|iters| {
                    let mut wall = Duration::ZERO;
                    for _ in 0..iters {
                        let before = cpu_time();
                        wall += rt.block_on(run(cfg, loss));
                        cpu += cpu_time() - before;
                        bytes += PER_ITER;
                    }
                    wall
                })
            });
            let mib = bytes as f64 / MIB as f64;
            println!(
                "{id}: CPU {:.2} ms per MiB (both ends + relay)",
                cpu.as_secs_f64() * 1000.0 / mib
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
