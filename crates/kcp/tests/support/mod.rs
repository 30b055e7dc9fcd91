//! Helpers shared by the integration tests: a lossy UDP relay and bounded polling.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// Counters of a [`lossy_relay`].
#[derive(Default)]
pub(crate) struct RelayStats {
    pub forwarded: AtomicU64,
    pub dropped: AtomicU64,
    /// Corrupted or random datagrams a tampering relay added.
    pub injected: AtomicU64,
}

impl RelayStats {
    /// Asserts the relay dropped some datagrams, and about the fraction `p` of all it saw.
    ///
    /// How many datagrams a transfer takes depends on timing (retransmissions, how many ACKs a
    /// burst needs), so the seeded drops are a binomial sample of a varying size: the check allows
    /// five standard deviations, which a short transfer of a hundred datagrams can need.
    pub(crate) fn assert_loss_near(&self, p: f64) {
        let dropped = self.dropped.load(Ordering::Relaxed) as f64;
        let seen = dropped + self.forwarded.load(Ordering::Relaxed) as f64;
        let spread = 5.0 * (seen * p * (1.0 - p)).sqrt() + 1.0;
        assert!(
            dropped > 0.0 && (dropped - seen * p).abs() <= spread,
            "relay dropped {dropped} of {seen} datagrams, wanted about {p} of them"
        );
    }
}

/// A relay that forwards one client's datagrams to `server` and the answers back, dropping each
/// datagram with probability `loss` (seeded, so runs repeat). Abort the handle to stop it.
pub(crate) async fn lossy_relay(
    server: SocketAddr,
    loss: f64,
    seed: u64,
) -> (SocketAddr, Arc<RelayStats>, JoinHandle<()>) {
    spawn_relay(server, seed, async move |r| {
        let Relay {
            front,
            back,
            stats: s,
            mut rng,
        } = r;
        let mut client = None;
        let (mut a, mut b) = (vec![0u8; 2048], vec![0u8; 2048]);
        loop {
            let (dgram, to_server) = tokio::select! {
                r = front.recv_from(&mut a) => {
                    let Ok((n, from)) = r else { continue };
                    client = Some(from);
                    (&a[..n], true)
                }
                r = back.recv(&mut b) => {
                    let Ok(n) = r else { continue };
                    (&b[..n], false)
                }
            };
            if rng.random_bool(loss) {
                s.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            s.forwarded.fetch_add(1, Ordering::Relaxed);
            let _ = if to_server {
                back.send(dgram).await
            } else if let Some(c) = client {
                front.send_to(dgram, c).await
            } else {
                continue;
            };
        }
    })
    .await
}

/// What a relay task works with: its two sockets (see [`relay_sockets`]), its counters and its seeded
/// random choices.
struct Relay {
    front: UdpSocket,
    back: UdpSocket,
    stats: Arc<RelayStats>,
    rng: StdRng,
}

/// Spawns `run` on a new relay to `server`; returns the address clients use, the counters and the task.
async fn spawn_relay<F>(
    server: SocketAddr,
    seed: u64,
    run: impl FnOnce(Relay) -> F,
) -> (SocketAddr, Arc<RelayStats>, JoinHandle<()>)
where
    F: Future<Output = ()> + Send + 'static,
{
    let (front, back) = relay_sockets(server).await;
    let addr = front.local_addr().unwrap();
    let stats = Arc::new(RelayStats::default());
    let relay = Relay {
        front,
        back,
        stats: stats.clone(),
        rng: StdRng::seed_from_u64(seed),
    };
    (addr, stats, tokio::spawn(run(relay)))
}

/// A relay's two sockets on 127.0.0.1: `front` for the client, `back` connected to `server`. Big
/// buffers, so the relay itself never drops: loss is only what it decides.
async fn relay_sockets(server: SocketAddr) -> (UdpSocket, UdpSocket) {
    let front = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let back = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    back.connect(server).await.unwrap();
    for s in [&front, &back] {
        let s = socket2::SockRef::from(s);
        s.set_recv_buffer_size(8 << 20).unwrap();
        s.set_send_buffer_size(8 << 20).unwrap();
    }
    (front, back)
}

/// Polls `cond` every 10 ms for up to `limit`; true as soon as it holds.
pub(crate) async fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

/// A relay that forwards one client's datagrams to `server` and back unchanged, and after every
/// client datagram also sends the server, from the same address, a copy with one bit flipped and
/// a datagram of random bytes: all of it arrives inside the live session.
pub(crate) async fn tampering_relay(
    server: SocketAddr,
) -> (SocketAddr, Arc<RelayStats>, JoinHandle<()>) {
    spawn_relay(server, 5, async move |mut relay| {
        let mut client = None;
        let (mut a, mut b) = (vec![0u8; 2048], vec![0u8; 2048]);
        loop {
            tokio::select! {
                r = relay.front.recv_from(&mut a) => {
                    let Ok((n, from)) = r else { continue };
                    if n == 0 {
                        continue;
                    }
                    client = Some(from);
                    let _ = relay.back.send(&a[..n]).await;
                    relay.stats.forwarded.fetch_add(1, Ordering::Relaxed);
                    let mut bad = a[..n].to_vec();
                    let bit = relay.rng.random_range(0..n * 8);
                    bad[bit / 8] ^= 1 << (bit % 8);
                    let _ = relay.back.send(&bad).await;
                    let mut junk = vec![0u8; relay.rng.random_range(0..1400)];
                    relay.rng.fill_bytes(&mut junk);
                    let _ = relay.back.send(&junk).await;
                    relay.stats.injected.fetch_add(2, Ordering::Relaxed);
                }
                r = relay.back.recv(&mut b) => {
                    let (Ok(n), Some(c)) = (r, client) else { continue };
                    let _ = relay.front.send_to(&b[..n], c).await;
                }
            }
        }
    })
    .await
}
