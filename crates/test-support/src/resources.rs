//! The process's resource counters (open descriptors, resident memory, live tokio tasks) with a
//! bounded wait for them to return to a baseline, a lock to run such tests one at a time, and the
//! descriptor limit: raised for floods, or exhausted on purpose ([`OutOfFds`]).

use std::time::{Duration, Instant};

use gost_sys::sockopt::set_nofile;

/// Open descriptors of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd is readable on Linux")
        .count()
}

/// What each open descriptor of this process points at (`socket:[…]`, `pipe:[…]`, a path).
pub fn fd_targets() -> Vec<String> {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd is readable on Linux")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|p| p.display().to_string())
        .collect()
}

/// Resident memory of this process in bytes.
pub fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * gost_sys::process::page_size()
}

/// Tasks alive in the current tokio runtime.
pub fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Descriptors are counted process-wide, and a tokio runtime owns some: tests of one binary that
/// compare counts run through [`serial`], one at a time, each in a runtime created and dropped under
/// the lock, so a neighbour's sockets and runtime never show up in their figures.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `test` alone in a fresh runtime (current-thread for 1 worker, else multi-thread).
pub fn serial(workers: usize, test: impl Future<Output = ()>) {
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

/// Makes `cmd`'s child start with at most `limit` open descriptors (the test process keeps its own).
pub fn limit_child_nofile(cmd: &mut std::process::Command, limit: u64) {
    gost_sys::sockopt::limit_child_nofile(cmd, limit);
}

/// Raises the soft descriptor limit to the hard one (floods hold hundreds of sockets).
pub fn raise_nofile() {
    gost_sys::sockopt::raise_nofile().expect("raise RLIMIT_NOFILE");
}

/// The process out of file descriptors: the soft limit lowered to 512 and every free descriptor
/// taken. Dropping it frees them and restores the limit. The limit is process-wide: only for a test
/// binary of its own.
pub struct OutOfFds {
    hog: Vec<std::fs::File>,
    old_limit: u64,
}

impl OutOfFds {
    /// Lowers the limit and opens `/dev/null` until open(2) fails with EMFILE.
    pub fn now() -> OutOfFds {
        let old_limit = set_nofile(512).expect("lower RLIMIT_NOFILE");
        let mut hog = Vec::new();
        loop {
            match std::fs::File::open("/dev/null") {
                Ok(f) => hog.push(f),
                Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
                Err(e) => panic!("unexpected error filling the descriptor table: {e}"),
            }
        }
        OutOfFds { hog, old_limit }
    }
}

impl Drop for OutOfFds {
    fn drop(&mut self) {
        self.hog.clear();
        set_nofile(self.old_limit).expect("restore RLIMIT_NOFILE");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_are_counted_and_named() {
        // Other tests of this binary open sockets at the same time: no exact counts here.
        let file = std::fs::File::open("/dev/null").unwrap();
        assert!(fd_count() >= 4, "stdio and the file");
        assert!(fd_targets().iter().any(|t| t == "/dev/null"));
        drop(file);
        assert!(rss_bytes() > 0);
    }

    #[test]
    fn a_footprint_waits_for_tasks_to_end() {
        serial(1, async {
            // Descriptors are left out (`usize::MAX`): other tests of this binary open sockets.
            let base = Footprint {
                fds: usize::MAX,
                ..Footprint::now()
            };
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(async move {
                let _ = rx.await;
            });
            assert_eq!(Footprint::now().tasks, base.tasks + 1);
            drop(tx);
            base.wait_back(Duration::from_secs(5), "one task").await;
            task.await.unwrap();
        });
    }
}
