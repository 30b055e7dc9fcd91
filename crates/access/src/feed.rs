//! The machinery every policy shares: its sources with the last good data of each ([`Feed`]), the
//! current compiled set ([`Current`]), and the task that re-reads the sources every `reload` period.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::{debug, info, warn};

use crate::MIN_RELOAD;
use crate::source::{Fetched, RedisType, Source, SourceSpec};

/// One source and what it last returned.
struct Slot {
    source: Source,
    last: Mutex<Option<Fetched>>,
    failing: AtomicBool,
}

/// The sources of one policy.
pub(crate) struct Feed {
    /// `auther "name"`, for logs.
    policy: String,
    slots: Vec<Slot>,
    failures: AtomicU64,
}

impl Feed {
    pub(crate) fn new(policy: String, specs: Vec<SourceSpec>, kind: RedisType) -> Feed {
        let slots = specs
            .into_iter()
            .map(|spec| Slot {
                source: Source::new(spec, kind),
                last: Mutex::new(None),
                failing: AtomicBool::new(false),
            })
            .collect();
        Feed {
            policy,
            slots,
            failures: AtomicU64::new(0),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// How many source reads failed so far.
    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Reads every source. One that fails keeps its last good data; the first failure in a row is logged
    /// at `warn`, the recovery at `info`. Returns the data of every source, or `None` while some source
    /// has never been read.
    pub(crate) async fn refresh(&self) -> Option<Vec<Fetched>> {
        for slot in &self.slots {
            let what = slot.source.describe();
            match slot.source.fetch().await {
                Ok(data) => {
                    *slot.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(data);
                    if slot.failing.swap(false, Ordering::Relaxed) {
                        info!(policy = %self.policy, source = %what, "source readable again");
                    }
                }
                Err(e) => {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    let had = slot
                        .last
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .is_some();
                    let keeping = if had {
                        "keeping its last good data"
                    } else {
                        "never read yet, so the policy denies everyone"
                    };
                    if slot.failing.swap(true, Ordering::Relaxed) {
                        debug!(policy = %self.policy, source = %what, error = %e, "{keeping}");
                    } else {
                        warn!(policy = %self.policy, source = %what, error = %e,
                            "cannot read source; {keeping}");
                    }
                }
            }
        }
        self.slots
            .iter()
            .map(|s| {
                s.last
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            })
            .collect()
    }
}

/// The compiled set a policy answers from; `None` until it was first built (the policy denies).
pub(crate) struct Current<T>(RwLock<Option<Arc<T>>>);

impl<T> Default for Current<T> {
    fn default() -> Self {
        Current(RwLock::new(None))
    }
}

impl<T> Current<T> {
    pub(crate) fn get(&self) -> Option<Arc<T>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set(&self, value: T) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(value));
    }
}

/// A policy whose data can be re-read.
pub(crate) trait Reload: Send + Sync + 'static {
    fn reload(&self) -> impl Future<Output = ()> + Send + '_;
}

/// Re-reads `policy` every `period` (at least [`MIN_RELOAD`], as upstream) until the returned guard is
/// dropped; the task holds the policy weakly, so it never keeps it alive.
pub(crate) fn spawn_reloader<P: Reload>(policy: &Arc<P>, period: Duration) -> DropGuard {
    let stop = CancellationToken::new();
    let weak: Weak<P> = Arc::downgrade(policy);
    let token = stop.clone();
    let period = period.max(MIN_RELOAD);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tick.tick() => {}
            }
            let Some(p) = weak.upgrade() else { return };
            tokio::select! {
                _ = token.cancelled() => return,
                _ = p.reload() => {}
            }
        }
    });
    stop.drop_guard()
}

/// Lines of a list file or body: text after `#` is a comment, blank lines are skipped (upstream).
pub(crate) fn list_lines(data: &Fetched, out: &mut Vec<String>) {
    let mut push = |line: &str| {
        let line = line.split('#').next().unwrap_or("").trim();
        if !line.is_empty() {
            out.push(line.to_owned());
        }
    };
    match data {
        Fetched::Text(t) => t.lines().for_each(&mut push),
        Fetched::Members(m) => m.iter().for_each(|l| push(l)),
        Fetched::Hash(h) => h.iter().for_each(|(k, _)| push(k)),
    }
}
