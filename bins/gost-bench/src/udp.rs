//! UDP ASSOCIATE relay rate: the highest packets/s a server relays (client → relay → sink) with
//! less than 1 % loss, found by a flood probe followed by bisection over paced sends.

use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use tokio::net::TcpStream;

use crate::mmsg::{self, BATCH};
use crate::socks;
use crate::targets::UdpSink;

/// Loss above this fraction fails a probe.
const MAX_LOSS: f64 = 0.01;

/// Sends `buf` on `sock` for `dur`, paced to `rate` packets/s (`None`: as fast as possible).
/// Returns (packets sent, seconds taken).
fn send_for(sock: &UdpSocket, buf: &[u8], rate: Option<f64>, dur: Duration) -> (u64, f64) {
    let start = Instant::now();
    let mut sent = 0u64;
    loop {
        let elapsed = start.elapsed();
        if elapsed >= dur {
            return (sent, elapsed.as_secs_f64());
        }
        let due = rate.map_or(sent + BATCH as u64, |r| (r * elapsed.as_secs_f64()) as u64);
        if sent >= due {
            std::thread::sleep(Duration::from_micros(50));
            continue;
        }
        // Errors (ENOBUFS, a transient ICMP refusal) just mean this batch did not go out.
        sent += mmsg::send_copies(sock, buf, (due - sent) as usize).unwrap_or(0) as u64;
    }
}

/// One probe: (packets sent, received by the sink, seconds).
fn probe(
    sock: &UdpSocket,
    buf: &[u8],
    received: &AtomicU64,
    rate: Option<f64>,
    dur: Duration,
) -> (u64, u64, f64) {
    let r0 = received.load(Ordering::Relaxed);
    let (sent, secs) = send_for(sock, buf, rate, dur);
    // Let in-flight datagrams land before counting.
    std::thread::sleep(Duration::from_millis(60));
    let got = received.load(Ordering::Relaxed) - r0;
    (sent, got.min(sent), secs)
}

fn search(
    sock: &UdpSocket,
    buf: &[u8],
    received: &AtomicU64,
    dur: Duration,
    steps: usize,
) -> Result<f64> {
    let (sent, got, secs) = probe(sock, buf, received, None, dur);
    ensure!(got > 0, "no datagram reached the sink ({sent} sent)");
    let loss = |sent: u64, got: u64| 1.0 - got as f64 / sent.max(1) as f64;
    if loss(sent, got) < MAX_LOSS {
        return Ok(got as f64 / secs); // the sender, not the relay, is the limit
    }
    let (mut lo, mut hi) = (0.0f64, sent as f64 / secs);
    let mut rate = got as f64 / secs;
    let mut best = 0.0f64;
    for _ in 0..steps {
        let (sent, got, secs) = probe(sock, buf, received, Some(rate), dur);
        if loss(sent, got) < MAX_LOSS {
            best = best.max(got as f64 / secs);
            lo = rate;
        } else {
            hi = rate;
        }
        rate = (lo + hi) / 2.0;
    }
    Ok(best)
}

/// Highest packets/s with < 1 % loss for `payload`-byte datagrams, through `server`'s UDP
/// ASSOCIATE relay, or straight to the sink when `server` is `None`.
pub(crate) async fn measure(
    server: Option<SocketAddrV4>,
    sink: &UdpSink,
    payload: usize,
    dur: Duration,
    steps: usize,
) -> Result<f64> {
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    let mut buf = vec![0x42u8; payload + 10];
    let mut control = None;
    let len = match server {
        None => {
            sock.connect(sink.addr)?;
            payload
        }
        Some(server) => {
            // Bounded, like bulk streams: a server that stopped answering costs this row only.
            let associate = async {
                let mut tcp = TcpStream::connect(server).await?;
                let relay: SocketAddr = socks::udp_associate(&mut tcp)
                    .await
                    .context("UDP ASSOCIATE")?;
                anyhow::Ok((tcp, relay))
            };
            let (tcp, relay) = tokio::time::timeout(Duration::from_secs(10), associate)
                .await
                .context("UDP ASSOCIATE timed out")??;
            control = Some(tcp);
            sock.connect(relay)?;
            socks::udp_header(&mut buf, sink.addr) + payload
        }
    };
    buf.truncate(len);
    // Paced sending needs a thread of its own; the control connection stays open meanwhile.
    let received = sink.received.clone();
    let result =
        tokio::task::spawn_blocking(move || search(&sock, &buf, &received, dur, steps)).await?;
    drop(control);
    result
}
