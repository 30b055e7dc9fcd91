//! A fixed-size log-linear latency histogram: recording never allocates, histograms from
//! concurrent tasks merge, and quantiles are exact below 64 µs and within ~3 % above.

/// Values below this are stored exactly, one bucket each.
const LINEAR: u64 = 64;
/// Sub-buckets per power of two above `LINEAR` (5 bits: 3 % resolution).
const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;
/// Powers of two covered above `LINEAR`: up to 2^(6+36) µs, far beyond any handshake.
const OCTAVES: usize = 36;
const BUCKETS: usize = LINEAR as usize + OCTAVES * SUB;

/// Latency histogram in microseconds.
#[derive(Clone)]
pub(crate) struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            total: 0,
        }
    }
}

fn bucket_of(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let octave = 63 - v.leading_zeros(); // >= 6
    let sub = ((v >> (octave - SUB_BITS)) as usize) & (SUB - 1);
    let idx = LINEAR as usize + (octave as usize - 6) * SUB + sub;
    idx.min(BUCKETS - 1)
}

/// Smallest value that falls in bucket `i` (a quantile reports this lower bound).
fn lower_bound(i: usize) -> u64 {
    if i < LINEAR as usize {
        return i as u64;
    }
    let octave = ((i - LINEAR as usize) / SUB) as u32 + 6;
    let sub = ((i - LINEAR as usize) % SUB) as u64;
    (1u64 << octave) | (sub << (octave - SUB_BITS))
}

impl Histogram {
    /// Adds one observation of `micros`.
    pub(crate) fn record(&mut self, micros: u64) {
        self.counts[bucket_of(micros)] += 1;
        self.total += 1;
    }

    /// Adds every observation of `other`.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
    }

    /// Number of observations.
    pub(crate) fn count(&self) -> u64 {
        self.total
    }

    /// The value at quantile `q` (0..=1), in microseconds; `None` when empty.
    pub(crate) fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(lower_bound(i));
            }
        }
        Some(lower_bound(BUCKETS - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_bounds_round_trip() {
        let mut last = 0;
        for v in [0u64, 1, 63, 64, 65, 100, 1000, 4095, 4096, 1 << 20, 1 << 40] {
            let b = bucket_of(v);
            assert!(b >= last, "bucket of {v} went backwards");
            last = b;
            let lo = lower_bound(b);
            assert!(
                lo <= v && v - lo <= v / 32 + 1,
                "{v} -> bucket {b} starting at {lo}"
            );
            assert_eq!(bucket_of(lo), b);
        }
    }

    #[test]
    fn quantiles_of_a_uniform_range() {
        let mut h = Histogram::default();
        for v in 1..=1000 {
            h.record(v);
        }
        let p50 = h.quantile(0.5).unwrap() as f64;
        let p99 = h.quantile(0.99).unwrap() as f64;
        assert!((p50 - 500.0).abs() <= 500.0 * 0.04, "p50 {p50}");
        assert!((p99 - 990.0).abs() <= 990.0 * 0.04, "p99 {p99}");
        assert_eq!(h.quantile(0.0), Some(1));
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = Histogram::default();
        let mut b = Histogram::default();
        a.record(10);
        b.record(20);
        b.record(30);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.quantile(1.0), Some(30));
    }
}
