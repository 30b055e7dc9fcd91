//! Bulk-transfer throughput over loopback for each transport: one connection, the client writes
//! `VOLUME` bytes in 64 KiB chunks, the server reads and discards them; prints MB/s (10^6 bytes/s).
//!
//! Run: `cargo bench -p gost-transport --bench throughput` (optionally `-- <MiB>` to change the volume).

use std::time::{Duration, Instant};

use gost_transport::tcp::{TcpDialer, TcpListener, TcpOptions};
use gost_transport::tls::{ClientTls, ServerTls, TlsDialer, TlsListener};
use gost_transport::ws::{WsDialer, WsListener, WsOptions};
use gost_transport::{Dialer, Listener};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHUNK: usize = 64 * 1024;
const ROUNDS: usize = 3;

async fn measure(l: &dyn Listener, d: &dyn Dialer, volume: usize) -> Duration {
    let addr = socks_wire::Address::from(l.local_addr());
    let (c, a) = tokio::join!(d.dial(&addr), l.accept());
    let (mut c, (mut s, _)) = (c.expect("dial"), a.expect("accept"));
    let start = Instant::now();
    let writer = async {
        let chunk = vec![0x5au8; CHUNK];
        let mut left = volume;
        while left > 0 {
            let n = left.min(CHUNK);
            c.write_all(&chunk[..n]).await.unwrap();
            left -= n;
        }
        c.shutdown().await.unwrap();
    };
    let reader = async {
        let mut buf = vec![0u8; CHUNK];
        let mut total = 0;
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            total += n;
        }
        assert_eq!(total, volume);
    };
    tokio::join!(writer, reader);
    start.elapsed()
}

async fn report(name: &str, l: &dyn Listener, d: &dyn Dialer, volume: usize) {
    let mut best = Duration::MAX;
    for _ in 0..ROUNDS {
        best = best.min(measure(l, d, volume).await);
    }
    let mbps = volume as f64 / best.as_secs_f64() / 1e6;
    println!(
        "{name:<6} {mbps:>9.0} MB/s  (best of {ROUNDS}, {} MiB each)",
        volume >> 20
    );
}

fn main() {
    let mib: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(512);
    let volume = mib << 20;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tcp = TcpOptions::default();
        let loopback = "127.0.0.1:0";
        let dialer = TcpDialer::new(tcp.clone());

        let l = TcpListener::bind(loopback, tcp.clone()).await.unwrap();
        report("tcp", &l, &dialer, volume).await;

        let l = TlsListener::bind(loopback, tcp.clone(), ServerTls::self_signed().unwrap())
            .await
            .unwrap();
        let d = TlsDialer::new(dialer.clone(), ClientTls::insecure());
        report("tls", &l, &d, volume).await;

        let l = WsListener::bind(loopback, tcp.clone(), WsOptions::default(), None)
            .await
            .unwrap();
        let d = WsDialer::new(dialer.clone(), WsOptions::default(), None);
        report("ws", &l, &d, volume).await;

        let tls = Some(ServerTls::self_signed().unwrap());
        let l = WsListener::bind(loopback, tcp.clone(), WsOptions::default(), tls)
            .await
            .unwrap();
        let d = WsDialer::new(
            dialer.clone(),
            WsOptions::default(),
            Some(ClientTls::insecure()),
        );
        report("wss", &l, &d, volume).await;
    });
}
