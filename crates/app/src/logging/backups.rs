//! How rotated log files are named, found again and retired: upstream's (lumberjack's) scheme, plugged
//! into the `file-rotate` crate through its [`SuffixScheme`] extension point.
//!
//! `dir/gost.log` is rotated to `dir/gost-2026-12-04T21-30-00.123.log` (`.gz` appended when compressed),
//! the time in UTC unless `localTime`. A backup is retired when more than `maxBackups` newer ones exist
//! or when the time in its name is more than `maxAge` days ago.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{Local, NaiveDateTime, TimeDelta, Utc};
use file_rotate::SuffixInfo;
use file_rotate::suffix::{Representation, SuffixScheme};

/// lumberjack's backup time format (Go's `2006-01-02T15-04-05.000`).
const TIME_FORMAT: &str = "%Y-%m-%dT%H-%M-%S%.3f";

/// The time a backup was made, as written in its name. Sorted newest first, as file-rotate expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp(NaiveDateTime);

impl Ord for Stamp {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.cmp(&self.0)
    }
}

impl PartialOrd for Stamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Stamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.format(TIME_FORMAT))
    }
}

impl Representation for Stamp {
    fn to_path(&self, basepath: &Path) -> PathBuf {
        let (stem, ext) = stem_and_ext(basepath);
        basepath.with_file_name(format!("{stem}-{self}{ext}"))
    }
}

/// `gost.log` → (`gost`, `.log`); a name without extension has an empty one.
fn stem_and_ext(basepath: &Path) -> (String, String) {
    let stem = basepath
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = basepath
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (stem, ext)
}

/// Upstream's retention rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lumberjack {
    /// Name backups with local time instead of UTC.
    pub(crate) local_time: bool,
    /// Keep at most this many backups (`None`: all).
    pub(crate) max_backups: Option<usize>,
    /// Retire backups older than this (`None`: never by age).
    pub(crate) max_age: Option<TimeDelta>,
}

impl Lumberjack {
    fn now(&self) -> NaiveDateTime {
        if self.local_time {
            Local::now().naive_local()
        } else {
            Utc::now().naive_utc()
        }
    }
}

impl SuffixScheme for Lumberjack {
    type Repr = Stamp;

    fn rotate_file(
        &mut self,
        _basepath: &Path,
        newest: Option<&Stamp>,
        suffix: &Option<Stamp>,
    ) -> io::Result<Stamp> {
        let now = self.now();
        // Two rotations within one millisecond (or a clock set back) must not overwrite a backup:
        // the new one is named just after the newest, and an existing backup is never renamed.
        let next = match (newest, suffix) {
            (_, Some(existing)) => existing.0 + TimeDelta::milliseconds(1),
            (Some(newest), None) if newest.0 >= now => newest.0 + TimeDelta::milliseconds(1),
            _ => now,
        };
        Ok(Stamp(next))
    }

    fn parse(&self, suffix: &str) -> Option<Stamp> {
        NaiveDateTime::parse_from_str(suffix, TIME_FORMAT)
            .ok()
            .map(Stamp)
    }

    fn too_old(&self, suffix: &Stamp, file_number: usize) -> bool {
        self.max_backups.is_some_and(|n| file_number >= n)
            || self.max_age.is_some_and(|age| suffix.0 < self.now() - age)
    }

    /// The backups of `basepath` in its directory (`stem-TIME.ext`, maybe `.gz`); an unreadable
    /// directory has none (the crate's default would panic).
    fn scan_suffixes(&self, basepath: &Path) -> BTreeSet<SuffixInfo<Stamp>> {
        let (stem, ext) = stem_and_ext(basepath);
        let prefix = format!("{stem}-");
        let dir = basepath.parent().unwrap_or(Path::new("."));
        let Ok(entries) = std::fs::read_dir(dir) else {
            return BTreeSet::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let (name, compressed) = match name.strip_suffix(".gz") {
                    Some(n) => (n, true),
                    None => (name.as_str(), false),
                };
                let time = name.strip_prefix(&prefix)?.strip_suffix(ext.as_str())?;
                let suffix = self.parse(time)?;
                Some(SuffixInfo { suffix, compressed })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_newest_first() {
        let scheme = Lumberjack {
            local_time: false,
            max_backups: Some(2),
            max_age: None,
        };
        let base = Path::new("/var/log/gost.log");
        let old = scheme.parse("2026-12-04T21-30-00.123").unwrap();
        assert_eq!(
            old.to_path(base),
            Path::new("/var/log/gost-2026-12-04T21-30-00.123.log")
        );
        let new = Stamp(old.0 + TimeDelta::seconds(1));
        assert!(new < old, "newest sorts first");
        assert!(scheme.too_old(&old, 2) && !scheme.too_old(&old, 1));
        let plain = Path::new("gost");
        assert_eq!(
            old.to_path(plain),
            Path::new("gost-2026-12-04T21-30-00.123")
        );
        assert_eq!(scheme.parse("2026-12-04"), None);
    }

    #[test]
    fn age_retires_by_the_time_in_the_name() {
        let scheme = Lumberjack {
            local_time: true,
            max_backups: None,
            max_age: Some(TimeDelta::days(1)),
        };
        let now = scheme.now();
        assert!(scheme.too_old(&Stamp(now - TimeDelta::days(2)), 0));
        assert!(!scheme.too_old(&Stamp(now - TimeDelta::hours(1)), 5));
    }
}
