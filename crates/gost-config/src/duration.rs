//! Go's `time.ParseDuration` / `Duration.String` syntax, which upstream GOST uses for every duration
//! it reads from metadata, selectors and the command line (`300ms`, `1.5h`, `2m10s`, `-1s`, `0`).

use std::fmt;
use std::time::Duration;

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError(String);

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DurationError {}

const NANOS_PER: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses Go duration syntax into signed nanoseconds.
///
/// Accepts an optional sign and one or more `number unit` pairs where the number may have a fraction
/// (`1.5h`, `2m10s`, `.5s`); the bare string `0` is zero. Units: `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`.
///
/// ```
/// use gost_config::duration::parse_go_duration;
/// assert_eq!(parse_go_duration("2m10s").unwrap(), 130_000_000_000);
/// assert_eq!(parse_go_duration("-300ms").unwrap(), -300_000_000);
/// assert!(parse_go_duration("10").is_err());
/// ```
pub fn parse_go_duration(input: &str) -> Result<i128, DurationError> {
    let bad = || {
        DurationError(format!(
            "`{input}` is not a duration (examples: 300ms, 1.5h, 2m10s)"
        ))
    };
    let (negative, mut rest) = match input.as_bytes().first() {
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        _ => (false, input),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after_int) = rest.split_at(int_len);
        let (frac_part, after_num) = match after_int.strip_prefix('.') {
            Some(f) => {
                let n = f.bytes().take_while(u8::is_ascii_digit).count();
                f.split_at(n)
            }
            None => ("", after_int),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        let unit_len = after_num
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(after_num.len(), |(i, _)| i);
        let (unit, tail) = after_num.split_at(unit_len);
        let per = NANOS_PER
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, n)| *n)
            .ok_or_else(bad)?;
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| bad())?
        };
        let mut value = whole.checked_mul(per).ok_or_else(bad)?;
        // Fractions are truncated to whole nanoseconds, as Go does.
        let mut scale = per;
        for digit in frac_part.bytes().take(30) {
            scale /= 10;
            value += u128::from(digit - b'0') * scale;
        }
        total = total.checked_add(value).ok_or_else(bad)?;
        rest = tail;
    }
    if total > i64::MAX as u128 {
        return Err(bad());
    }
    let total = total as i128;
    Ok(if negative { -total } else { total })
}

/// Formats a duration the way Go's `Duration.String` does (`1h2m3.5s`, `300ms`, `0s`), so that
/// printed configs read like upstream's.
///
/// ```
/// use std::time::Duration;
/// use gost_config::duration::format_go_duration;
/// assert_eq!(format_go_duration(Duration::from_millis(130_000)), "2m10s");
/// assert_eq!(format_go_duration(Duration::from_millis(300)), "300ms");
/// assert_eq!(format_go_duration(Duration::ZERO), "0s");
/// ```
pub fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", fraction(nanos, 1_000));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", fraction(nanos, 1_000_000));
    }
    let hours = nanos / 3_600_000_000_000;
    let minutes = (nanos / 60_000_000_000) % 60;
    let seconds = nanos % 60_000_000_000;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!("{}s", fraction(seconds, 1_000_000_000)));
    out
}

/// `value / unit` with the remainder as a decimal fraction without trailing zeros.
fn fraction(value: u128, unit: u128) -> String {
    let whole = value / unit;
    let rem = value % unit;
    if rem == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{rem:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_examples() {
        let cases: &[(&str, i128)] = &[
            ("300ms", 300_000_000),
            ("1.5h", 5_400_000_000_000),
            ("2m10s", 130_000_000_000),
            ("-1.5h", -5_400_000_000_000),
            ("1h2m3s4ms5us6ns", 3_723_004_005_006),
            ("0", 0),
            ("0s", 0),
            (".5s", 500_000_000),
            ("5.s", 5_000_000_000),
            ("1µs", 1_000),
            ("+10s", 10_000_000_000),
        ];
        for (input, nanos) in cases {
            assert_eq!(parse_go_duration(input), Ok(*nanos), "{input}");
        }
    }

    #[test]
    fn rejects_non_durations() {
        for input in [
            "",
            "10",
            "s",
            "1x",
            "1.5",
            "-",
            ".s",
            "1h 2m",
            "10S",
            "1e3s",
            "99999999999h",
        ] {
            assert!(parse_go_duration(input).is_err(), "{input:?} should fail");
        }
    }

    #[test]
    fn formats_like_go() {
        let cases: &[(u64, &str)] = &[
            (1, "1ns"),
            (1_500, "1.5µs"),
            (300_000_000, "300ms"),
            (10_000_000_000, "10s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (5_400_500_000_000, "1h30m0.5s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(format_go_duration(Duration::from_nanos(*nanos)), *text);
        }
    }

    #[test]
    fn format_then_parse_is_identity() {
        for nanos in [
            1u64,
            999,
            1_001,
            123_456_789,
            59_999_999_999,
            7_322_000_000_001,
        ] {
            let text = format_go_duration(Duration::from_nanos(nanos));
            assert_eq!(parse_go_duration(&text), Ok(i128::from(nanos)), "{text}");
        }
    }
}
