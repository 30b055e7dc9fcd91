//! Fixtures of the adversarial and fault tests: an outbound that only ever reaches the test's own
//! loopback servers (so hostile requests can never send traffic off the host or resolve a name), and
//! the process's resource counters (descriptors, resident memory, live tokio tasks) with a bounded
//! wait for them to settle.
#![allow(dead_code)] // each test binary uses a different subset

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gost_service::outbound::PacketConn;
use gost_service::socks_wire::Address;
use gost_service::{BoxFuture, DialError, Direct, Outbound};
use gost_transport::Stream;
use tokio::net::UdpSocket;

/// Dials only the allowed socket addresses (through [`Direct`]); refuses every other target,
/// including every domain name, without touching the network. Counts what it was asked.
#[derive(Default)]
pub struct Fenced {
    allowed: Mutex<Vec<SocketAddr>>,
    direct: Direct,
    /// Connect requests for allowed targets.
    pub dials: AtomicUsize,
    /// Requests refused because the target was not allowed.
    pub refused: AtomicUsize,
}

impl Fenced {
    /// An outbound that reaches exactly `allowed`.
    pub fn new(allowed: impl IntoIterator<Item = SocketAddr>) -> Arc<Fenced> {
        Arc::new(Fenced {
            allowed: Mutex::new(allowed.into_iter().collect()),
            direct: Direct::new(Duration::from_millis(500)),
            ..Default::default()
        })
    }

    /// Adds a target the outbound may reach.
    pub fn allow(&self, addr: SocketAddr) {
        self.allowed.lock().unwrap().push(addr);
    }

    fn check(&self, target: &Address) -> Result<SocketAddr, DialError> {
        match target.to_socket_addr() {
            Some(sa) if self.allowed.lock().unwrap().contains(&sa) => Ok(sa),
            _ => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(DialError::NotAllowed(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("{target} is outside the test's fence"),
                )))
            }
        }
    }
}

impl Outbound for Fenced {
    fn connect<'a>(&'a self, target: &'a Address) -> BoxFuture<'a, Result<Stream, DialError>> {
        Box::pin(async move {
            self.check(target)?;
            self.dials.fetch_add(1, Ordering::Relaxed);
            self.direct.connect(target).await
        })
    }

    fn resolve<'a>(&'a self, target: &'a Address) -> BoxFuture<'a, Result<SocketAddr, DialError>> {
        Box::pin(async move { self.check(target) })
    }

    fn udp(&self) -> BoxFuture<'_, Result<PacketConn, DialError>> {
        Box::pin(async move {
            UdpSocket::bind("127.0.0.1:0")
                .await
                .map(PacketConn::direct)
                .map_err(DialError::Other)
        })
    }
}

/// Descriptors are counted process-wide, and a tokio runtime owns some: tests of one binary that
/// compare counts run through [`serial`], one at a time, each in a runtime created and dropped under
/// the lock, so a neighbour's sockets and runtime never show up in their figures.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `test` alone in a fresh runtime (current-thread for 1 worker, else multi-thread).
pub fn serial(workers: usize, test: impl std::future::Future<Output = ()>) {
    let _one_at_a_time = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut builder = if workers <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(workers);
        b
    };
    builder.enable_all().build().unwrap().block_on(test);
}

/// Open descriptors of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd is readable on Linux")
        .count()
}

/// Resident memory of this process in bytes.
pub fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    pages * page
}

/// Tasks alive in the current tokio runtime.
pub fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// What a test compares before and after an attack.
#[derive(Debug, Clone, Copy)]
pub struct Footprint {
    /// Open descriptors.
    pub fds: usize,
    /// Live tokio tasks.
    pub tasks: usize,
}

impl Footprint {
    /// The current counters.
    pub fn now() -> Footprint {
        Footprint {
            fds: fd_count(),
            tasks: alive_tasks(),
        }
    }

    /// Polls (for at most `within`) until descriptors and tasks are back to `self`'s counts, and
    /// panics naming what stayed above.
    pub async fn wait_back(&self, within: Duration, what: &str) {
        let start = Instant::now();
        loop {
            let now = Footprint::now();
            if now.fds <= self.fds && now.tasks <= self.tasks {
                return;
            }
            if start.elapsed() > within {
                panic!(
                    "{what}: resources did not return to baseline: before {self:?}, after {now:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Raises the soft descriptor limit to the hard one (the floods below hold hundreds of sockets).
pub fn raise_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
