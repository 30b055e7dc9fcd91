//! Picking one of several interchangeable nodes (a hop's proxies, a forwarder's targets): round-robin,
//! random or first-available, skipping nodes that failed recently.
//!
//! Failure marking follows upstream's fail filter: a node that failed `max_fails` times in a row is skipped
//! until `fail_timeout` has passed since its last failure; a success clears its count. Unlike upstream, when
//! every node is marked the selector still picks among all of them rather than failing outright, so a
//! single-node hop recovers as soon as its server is back.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::Error;

/// Upstream's default `maxFails`.
pub const DEFAULT_MAX_FAILS: u32 = 1;
/// Upstream's default `failTimeout`.
pub const DEFAULT_FAIL_TIMEOUT: Duration = Duration::from_secs(10);

/// How a node is picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// `round` / `rr` (default): each call takes the next node.
    #[default]
    RoundRobin,
    /// `random` / `rand`.
    Random,
    /// `fifo` / `ha`: always the first available node, the others are fallbacks.
    Fifo,
}

impl Strategy {
    /// Parses upstream's strategy names.
    pub fn parse(name: &str) -> Result<Strategy, Error> {
        match name.to_ascii_lowercase().as_str() {
            "" | "round" | "rr" | "roundrobin" => Ok(Strategy::RoundRobin),
            "random" | "rand" => Ok(Strategy::Random),
            "fifo" | "ha" => Ok(Strategy::Fifo),
            other => Err(Error::Config(format!(
                "unknown selector strategy {other:?} (expected round, random or fifo)"
            ))),
        }
    }
}

/// The failure history of one node.
#[derive(Debug, Default)]
pub struct FailMarker {
    fails: AtomicU32,
    last: Mutex<Option<Instant>>,
}

impl FailMarker {
    /// Records a failure now.
    pub fn mark(&self) {
        self.fails.fetch_add(1, Ordering::Relaxed);
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// Records a success: the node is healthy again.
    pub fn reset(&self) {
        self.fails.store(0, Ordering::Relaxed);
    }

    /// Consecutive failures so far.
    pub fn fails(&self) -> u32 {
        self.fails.load(Ordering::Relaxed)
    }

    fn is_down(&self, max_fails: u32, fail_timeout: Duration) -> bool {
        if self.fails() < max_fails {
            return false;
        }
        let last = *self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.is_some_and(|t| t.elapsed() < fail_timeout)
    }
}

/// Picks nodes with a [`Strategy`] and failure marking.
#[derive(Debug)]
pub struct Selector {
    strategy: Strategy,
    max_fails: u32,
    fail_timeout: Duration,
    next: AtomicUsize,
}

impl Default for Selector {
    fn default() -> Self {
        Selector::new(
            Strategy::RoundRobin,
            DEFAULT_MAX_FAILS,
            DEFAULT_FAIL_TIMEOUT,
        )
    }
}

impl Selector {
    /// A selector; `max_fails` 0 means upstream's default 1.
    pub fn new(strategy: Strategy, max_fails: u32, fail_timeout: Duration) -> Selector {
        Selector {
            strategy,
            max_fails: max_fails.max(1),
            fail_timeout,
            next: AtomicUsize::new(0),
        }
    }

    /// Picks one of `items`, preferring those whose marker (from `marker`) is not down. `None` only for an
    /// empty slice.
    pub fn select<'a, T>(
        &self,
        items: &'a [T],
        marker: impl Fn(&T) -> &FailMarker,
    ) -> Option<&'a T> {
        let up: Vec<&T> = items
            .iter()
            .filter(|i| !marker(i).is_down(self.max_fails, self.fail_timeout))
            .collect();
        let pool: Vec<&T> = if up.is_empty() {
            items.iter().collect()
        } else {
            up
        };
        if pool.is_empty() {
            return None;
        }
        let i = match self.strategy {
            Strategy::RoundRobin => self.next.fetch_add(1, Ordering::Relaxed) % pool.len(),
            Strategy::Random => rand::random_range(0..pool.len()),
            Strategy::Fifo => 0,
        };
        Some(pool[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Item(u8, FailMarker);

    fn items() -> Vec<Item> {
        (0..3).map(|i| Item(i, FailMarker::default())).collect()
    }

    #[test]
    fn round_robin_skips_failed_nodes_until_the_timeout() {
        let items = items();
        let s = Selector::new(Strategy::RoundRobin, 1, Duration::from_secs(60));
        let picks: Vec<u8> = (0..6)
            .map(|_| s.select(&items, |i| &i.1).unwrap().0)
            .collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
        items[1].1.mark();
        let picks: Vec<u8> = (0..4)
            .map(|_| s.select(&items, |i| &i.1).unwrap().0)
            .collect();
        assert!(!picks.contains(&1), "{picks:?}");
        items[1].1.reset();
        let s = Selector::new(Strategy::Fifo, 2, Duration::from_secs(60));
        items[0].1.mark();
        assert_eq!(
            s.select(&items, |i| &i.1).unwrap().0,
            0,
            "one failure < maxFails 2"
        );
        items[0].1.mark();
        assert_eq!(s.select(&items, |i| &i.1).unwrap().0, 1);
    }

    #[test]
    fn all_down_still_picks_and_expired_marks_recover() {
        let items = items();
        let s = Selector::new(Strategy::Fifo, 1, Duration::ZERO);
        for i in &items {
            i.1.mark();
        }
        assert_eq!(s.select(&items, |i| &i.1).unwrap().0, 0);
        let none: [Item; 0] = [];
        assert!(s.select(&none, |i| &i.1).is_none());
        let r = Selector::new(Strategy::Random, 1, Duration::from_secs(60));
        assert!(r.select(&items, |i| &i.1).is_some());
    }

    #[test]
    fn strategies_parse_upstream_names() {
        assert_eq!(Strategy::parse("rr").unwrap(), Strategy::RoundRobin);
        assert_eq!(Strategy::parse("rand").unwrap(), Strategy::Random);
        assert_eq!(Strategy::parse("ha").unwrap(), Strategy::Fifo);
        assert!(Strategy::parse("hash").is_err());
    }
}
