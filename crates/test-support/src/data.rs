//! Deterministic test payloads and a checksum that tells a corrupted, truncated or reordered stream
//! from the original, so a transfer test compares 8 bytes instead of keeping both copies.

/// FNV-1a over a byte stream, fed chunk by chunk as the bytes arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksum(u64);

impl Default for Checksum {
    fn default() -> Self {
        Checksum(0xcbf2_9ce4_8422_2325)
    }
}

impl Checksum {
    /// The checksum of `data` in one piece.
    pub fn of(data: &[u8]) -> Checksum {
        let mut sum = Checksum::default();
        sum.update(data);
        sum
    }

    /// Adds the next chunk of the stream.
    pub fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// The 64-bit value (to send over the wire or print).
    pub fn value(self) -> u64 {
        self.0
    }
}

/// `len` pseudo-random bytes (xorshift64), the same for the same `seed` and different per seed.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_and_whole_checksums_agree_and_see_reordering() {
        let data = pattern(7, 1000);
        let mut sum = Checksum::default();
        for chunk in data.chunks(33) {
            sum.update(chunk);
        }
        assert_eq!(sum, Checksum::of(&data));
        let mut swapped = data.clone();
        swapped.swap(10, 11);
        assert_ne!(Checksum::of(&swapped), sum);
        assert_ne!(pattern(1, 64), pattern(2, 64));
    }
}
