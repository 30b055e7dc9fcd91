//! Token buckets: [`Bucket`] holds up to one second of its rate and refills continuously;
//! [`Throttle`] is the set of buckets one direction of one connection draws from (service, connection,
//! client IP), granting bytes only when every bucket has them.
//!
//! Nothing here spins: a caller that gets no grant is told how long to wait, and sleeps on a timer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Largest grant asked for before sleeping: a relay buffer's worth, so a limited connection wakes a
/// few times a second at low rates instead of once per byte.
const GRANT_UNIT: f64 = 16.0 * 1024.0;

struct State {
    tokens: f64,
    last: Instant,
}

/// A token bucket: `rate` tokens per second. A request bucket stores at most one second's worth (as
/// upstream); a byte bucket an eighth of a second's (at least one grant), so that a limited transfer
/// keeps within a few percent of its rate over seconds, not only on average. A rate of zero means no
/// limit.
pub(crate) struct Bucket {
    /// `f64` bits; 0.0 = no limit.
    rate: AtomicU64,
    /// Counts bytes (small store) rather than requests.
    bytes: bool,
    state: Mutex<State>,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket")
            .field("rate", &self.rate())
            .finish()
    }
}

impl Bucket {
    /// A bucket holding `initial` tokens (refills never go past one second's worth).
    pub(crate) fn new(rate: f64, initial: f64) -> Arc<Bucket> {
        Arc::new(Bucket {
            rate: AtomicU64::new(rate.to_bits()),
            bytes: false,
            state: Mutex::new(State {
                tokens: initial,
                last: Instant::now(),
            }),
        })
    }

    /// A byte bucket for a new connection or client: one grant's worth in store, so the first bytes
    /// pass at once but no burst of a whole second exceeds the limit at the start.
    pub(crate) fn bytes(rate: u64) -> Arc<Bucket> {
        Arc::new(Bucket {
            rate: AtomicU64::new((rate as f64).to_bits()),
            bytes: true,
            state: Mutex::new(State {
                tokens: GRANT_UNIT,
                last: Instant::now(),
            }),
        })
    }

    pub(crate) fn rate(&self) -> f64 {
        f64::from_bits(self.rate.load(Ordering::Relaxed))
    }

    /// Changes the rate (a reload); 0 lifts the limit.
    pub(crate) fn set_rate(&self, rate: f64) {
        self.rate.store(rate.to_bits(), Ordering::Relaxed);
    }

    /// Changes the rate and fills the bucket, as a new one would be.
    pub(crate) fn reset(&self, rate: f64) {
        self.set_rate(rate);
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.tokens = self.burst();
        s.last = Instant::now();
    }

    fn burst(&self) -> f64 {
        if self.bytes {
            (self.rate() / 8.0).max(GRANT_UNIT)
        } else {
            self.rate().max(1.0)
        }
    }

    /// Tokens in store now (may be negative after concurrent grants: a debt paid by later waits).
    fn tokens(&self, now: Instant) -> f64 {
        let rate = self.rate();
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(s.last).as_secs_f64();
        s.tokens = (s.tokens + elapsed * rate).min(self.burst());
        s.last = now;
        s.tokens
    }

    fn consume(&self, n: f64) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.tokens -= n;
    }

    /// Takes `n` tokens if the bucket has them (request limiting); always true without a limit.
    pub(crate) fn try_take(&self, n: f64) -> bool {
        if self.rate() <= 0.0 {
            return true;
        }
        let now = Instant::now();
        let rate = self.rate();
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(s.last).as_secs_f64();
        s.tokens = (s.tokens + elapsed * rate).min(self.burst());
        s.last = now;
        if s.tokens >= n {
            s.tokens -= n;
            true
        } else {
            false
        }
    }

    /// Whether the bucket is full (an idle client's, which can be forgotten).
    pub(crate) fn is_full(&self) -> bool {
        self.rate() <= 0.0 || self.tokens(Instant::now()) >= self.burst()
    }
}

/// The buckets one direction of a connection draws from; empty means unlimited.
#[derive(Debug, Clone, Default)]
pub struct Throttle(Vec<Arc<Bucket>>);

impl Throttle {
    pub(crate) fn new(buckets: Vec<Arc<Bucket>>) -> Throttle {
        Throttle(buckets)
    }

    /// Draws from `self`'s buckets and `other`'s.
    pub fn join(mut self, other: Throttle) -> Throttle {
        self.0.extend(other.0);
        self
    }

    /// Whether no bucket limits this direction.
    pub fn is_unlimited(&self) -> bool {
        self.0.iter().all(|b| b.rate() <= 0.0)
    }

    /// The lowest rate of the buckets in bytes per second (`None`: unlimited).
    pub fn rate(&self) -> Option<u64> {
        self.limited().map(|b| b.rate() as u64).min()
    }

    fn limited(&self) -> impl Iterator<Item = &Arc<Bucket>> {
        self.0.iter().filter(|b| b.rate() > 0.0)
    }

    /// How many of `want` bytes may move now (then [`Throttle::consume`] what really moved), or how
    /// long to wait before asking again. A grant is at least one unit (or `want`, or the smallest
    /// bucket's whole store, when smaller), so waits are few and never end in a 0-byte grant.
    pub fn grant(&self, want: usize) -> Result<usize, Duration> {
        let now = Instant::now();
        let mut avail = f64::INFINITY;
        let mut need = (want as f64).min(GRANT_UNIT);
        for b in self.limited() {
            avail = avail.min(b.tokens(now));
            need = need.min(b.burst());
        }
        if avail >= need {
            return Ok(want.min(avail as usize).max(1));
        }
        let wait = self
            .limited()
            .map(|b| ((need - b.tokens(now)) / b.rate()).max(0.0))
            .fold(0.0, f64::max);
        Err(Duration::from_secs_f64(wait).max(Duration::from_millis(1)))
    }

    /// Takes `n` bytes that moved from every bucket.
    pub fn consume(&self, n: usize) {
        for b in self.limited() {
            b.consume(n as f64);
        }
    }

    /// Waits until a datagram of `len` bytes may pass, then takes it. A datagram moves whole or not
    /// at all, so a partial grant is no use to it: it waits, on a timer set for the slowest bucket,
    /// until every bucket holds all of it, or is full when the datagram is larger than its store; then
    /// the bucket may go into debt, which the next datagrams wait for. The rate holds either way and no
    /// datagram is dropped for its size (upstream drops one larger than its bucket).
    pub async fn datagram(&self, len: usize) {
        let len = len as f64;
        loop {
            let now = Instant::now();
            let wait = self
                .limited()
                .map(|b| ((len.min(b.burst()) - b.tokens(now)) / b.rate()).max(0.0))
                .fold(0.0, f64::max);
            if wait <= 0.0 {
                self.consume(len as usize);
                return;
            }
            tokio::time::sleep(Duration::from_secs_f64(wait).max(Duration::from_millis(1))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_what_is_in_store_then_says_how_long_to_wait() {
        let t = Throttle::new(vec![Bucket::bytes(64 * 1024)]);
        let first = t.grant(100_000).unwrap();
        assert!((16 * 1024..17 * 1024).contains(&first), "{first}");
        t.consume(first);
        let wait = t.grant(100_000).unwrap_err();
        // 16 KiB at 64 KiB/s.
        assert!(
            wait > Duration::from_millis(200) && wait <= Duration::from_millis(250),
            "{wait:?}"
        );
    }

    #[test]
    fn the_slowest_bucket_decides_and_unlimited_ones_do_not_count() {
        let t = Throttle::new(vec![
            Bucket::bytes(0),
            Bucket::new(10.0, 10.0),
            Bucket::bytes(1 << 20),
        ]);
        assert_eq!(t.rate(), Some(10));
        assert_eq!(t.grant(1000), Ok(10));
        t.consume(10);
        assert!(t.grant(1000).is_err());
        assert!(Throttle::new(vec![Bucket::bytes(0)]).is_unlimited());
        assert_eq!(Throttle::default().grant(5), Ok(5));
    }

    #[test]
    fn request_buckets_refuse_when_empty() {
        let b = Bucket::new(2.0, 2.0);
        assert!(b.try_take(1.0) && b.try_take(1.0));
        assert!(!b.try_take(1.0));
        b.set_rate(0.0);
        assert!(b.try_take(1.0));
    }

    #[tokio::test(start_paused = true)]
    async fn datagrams_wait_for_all_their_tokens_and_large_ones_leave_a_debt() {
        let t = Throttle::new(vec![Bucket::new(1000.0, 0.0)]);
        let start = Instant::now();
        t.datagram(500).await;
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(500) && took < Duration::from_millis(510),
            "{took:?}"
        );
        // 16 KiB in store at 64 KiB/s: the first 20 KiB datagram (larger than the store) goes at
        // once, leaving a 4 KiB debt; the second waits for 20 KiB more. Nothing is dropped, and the
        // 40 KiB keep to the rate.
        let t = Throttle::new(vec![Bucket::bytes(64 * 1024)]);
        let start = Instant::now();
        for _ in 0..2 {
            t.datagram(20 * 1024).await;
        }
        let took = start.elapsed().as_secs_f64();
        assert!((0.3..0.33).contains(&took), "{took}");
        Throttle::default().datagram(1 << 16).await;
    }
}
