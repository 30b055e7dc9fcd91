//! A bounds-checked cursor over an input slice that turns "ran out of bytes" into a need-more count
//! and lets decoders be written as straight-line code with `?`.

use crate::{DecodeError, Decoded};

/// Why a decoder stopped: more input is needed (at least this many bytes), or the input is invalid.
#[derive(Debug)]
pub(crate) enum Stop {
    Need(usize),
    Bad(DecodeError),
}

impl From<DecodeError> for Stop {
    fn from(e: DecodeError) -> Self {
        Stop::Bad(e)
    }
}

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Takes `n` bytes; if they are not all there, asks for them plus `tail` bytes known to follow.
    pub(crate) fn take_then(&mut self, n: usize, tail: usize) -> Result<&'a [u8], Stop> {
        let have = self.remaining();
        if have < n {
            return Err(Stop::Need(n - have + tail));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Stop> {
        self.take_then(n, 0)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Stop> {
        Ok(self.take(1)?[0])
    }

    /// Reads a version byte that must be `expected` (else `wrong(byte)`); `tail` as in `take_then`.
    pub(crate) fn version(
        &mut self,
        expected: u8,
        tail: usize,
        wrong: fn(u8) -> DecodeError,
    ) -> Result<(), Stop> {
        match self.take_then(1, tail)?[0] {
            v if v == expected => Ok(()),
            v => Err(Stop::Bad(wrong(v))),
        }
    }

    /// Reads bytes up to a NUL (consumed, not returned). More than `max` bytes before the NUL is
    /// `too_long`; a missing NUL with at most `max` bytes seen asks for one more byte.
    pub(crate) fn until_nul(
        &mut self,
        max: usize,
        too_long: DecodeError,
    ) -> Result<&'a [u8], Stop> {
        let rest = &self.buf[self.pos..];
        let window = &rest[..rest.len().min(max + 1)];
        match window.iter().position(|&b| b == 0) {
            Some(i) => {
                self.pos += i + 1;
                Ok(&rest[..i])
            }
            None if window.len() > max => Err(Stop::Bad(too_long)),
            None => Err(Stop::Need(1)),
        }
    }
}

/// Runs a decoder body over `buf` and reports a complete value with its length, a need-more count
/// or an error.
pub(crate) fn run<'a, T>(
    buf: &'a [u8],
    body: impl FnOnce(&mut Reader<'a>) -> Result<T, Stop>,
) -> Result<Decoded<T>, DecodeError> {
    let mut r = Reader { buf, pos: 0 };
    match body(&mut r) {
        Ok(v) => Ok(Decoded::Complete(v, r.pos)),
        Err(Stop::Need(n)) => Ok(Decoded::NeedMore(n.max(1))),
        Err(Stop::Bad(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_reports_missing_bytes_plus_tail() {
        let r = run(&[1, 2][..], |r| r.take_then(5, 10).map(|s| s.len()));
        assert_eq!(r, Ok(Decoded::NeedMore(13)));
    }

    #[test]
    fn until_nul_limits_length() {
        let long = [b'a'; 300];
        let r = run(&long[..], |r| {
            r.until_nul(255, DecodeError::Socks4UserIdTooLong)
        });
        assert_eq!(r, Err(DecodeError::Socks4UserIdTooLong));
        let r = run(&long[..255], |r| {
            r.until_nul(255, DecodeError::Socks4UserIdTooLong)
        });
        assert_eq!(r, Ok(Decoded::NeedMore(1)));
        let mut ok = [b'a'; 256];
        ok[255] = 0;
        let r = run(&ok[..], |r| {
            r.until_nul(255, DecodeError::Socks4UserIdTooLong)
                .map(|s| s.len())
        });
        assert_eq!(r, Ok(Decoded::Complete(255, 256)));
    }
}
