//! The in-process endpoints a proxy connects to: a discard sink and an endless source for bulk
//! throughput, "hold" listeners that keep a connection open until the proxy closes it (setup rate,
//! idle sessions), and a counting UDP sink.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

use crate::mmsg::RecvBatch;

/// Size of every bulk read and write (large, so the generator is never the bottleneck).
pub(crate) const BULK_BUF: usize = 256 * 1024;

/// Number of loopback addresses the hold listeners use (127.0.0.1 ..= 127.0.0.N).
pub(crate) const HOLD_ADDRS: u8 = 8;

/// TCP endpoints for one server under test.
pub(crate) struct Targets {
    /// Reads and counts everything (upload direction).
    pub discard: SocketAddrV4,
    /// Writes forever (download direction).
    pub source: SocketAddrV4,
    /// Keep the connection until EOF, one listener per loopback address.
    pub hold: Vec<SocketAddrV4>,
    /// Bytes received by the discard sink.
    pub discarded: Arc<AtomicU64>,
    tasks: Vec<AbortHandle>,
}

impl Drop for Targets {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn listen(ip: Ipv4Addr) -> std::io::Result<(TcpListener, SocketAddrV4)> {
    let l = TcpListener::bind((ip, 0)).await?;
    let std::net::SocketAddr::V4(a) = l.local_addr()? else {
        unreachable!("bound an IPv4 address")
    };
    Ok((l, a))
}

impl Targets {
    /// Binds all listeners on loopback and starts serving them.
    pub(crate) async fn start() -> std::io::Result<Targets> {
        let mut tasks = Vec::new();
        let discarded = Arc::new(AtomicU64::new(0));

        let (l, discard) = listen(Ipv4Addr::LOCALHOST).await?;
        let counter = discarded.clone();
        tasks.push(
            tokio::spawn(async move {
                while let Ok((mut s, _)) = l.accept().await {
                    let counter = counter.clone();
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; BULK_BUF];
                        while let Ok(n @ 1..) = s.read(&mut buf).await {
                            counter.fetch_add(n as u64, Ordering::Relaxed);
                        }
                    });
                }
            })
            .abort_handle(),
        );

        let (l, source) = listen(Ipv4Addr::LOCALHOST).await?;
        tasks.push(
            tokio::spawn(async move {
                while let Ok((mut s, _)) = l.accept().await {
                    tokio::spawn(async move {
                        let buf = vec![0x5au8; BULK_BUF];
                        while s.write_all(&buf).await.is_ok() {}
                    });
                }
            })
            .abort_handle(),
        );

        let mut hold = Vec::new();
        for k in 1..=HOLD_ADDRS {
            let (l, a) = listen(Ipv4Addr::new(127, 0, 0, k)).await?;
            hold.push(a);
            tasks.push(
                tokio::spawn(async move {
                    while let Ok((mut s, _)) = l.accept().await {
                        tokio::spawn(async move {
                            let mut buf = [0u8; 64];
                            while let Ok(1..) = s.read(&mut buf).await {}
                        });
                    }
                })
                .abort_handle(),
            );
        }
        Ok(Targets {
            discard,
            source,
            hold,
            discarded,
            tasks,
        })
    }
}

/// A UDP socket on loopback that counts the datagrams it receives, on its own thread.
pub(crate) struct UdpSink {
    pub addr: SocketAddrV4,
    pub received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpSink {
    /// Binds 127.0.0.1:0 with a large receive buffer, so the sink is not where packets drop.
    pub(crate) fn start() -> std::io::Result<UdpSink> {
        let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        // SO_RCVBUFFORCE needs root; without it the kernel caps SO_RCVBUF, which is still fine.
        let _ = gost_sys::sockopt::force_recv_buffer(sock.as_fd(), 32 << 20);
        sock.set_read_timeout(Some(Duration::from_millis(20)))?;
        let std::net::SocketAddr::V4(addr) = sock.local_addr()? else {
            unreachable!("bound an IPv4 address")
        };
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (received.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut batch = RecvBatch::new(2048);
            while !s.load(Ordering::Relaxed) {
                if let Ok(n) = batch.recv(&sock) {
                    r.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        });
        Ok(UdpSink {
            addr,
            received,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for UdpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
