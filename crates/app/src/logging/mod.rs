//! Where log lines go: `log.output` (`stderr` by default, `stdout`, `none`, or a file path) and, for a
//! file, `log.rotation` with upstream's meaning.
//!
//! Rotation uses the `file-rotate` crate: among the maintained writers it is the one that rotates by
//! size (`tracing-appender` rotates only by time; `logroller` cannot bound backups by age), keeps a
//! bounded number of backups, retires them by age and gzips them. Its backup naming is replaced by
//! upstream's (lumberjack's) through the crate's `SuffixScheme` extension point ([`backups`]).
//! Differences from upstream: a file is rotated after the write that takes it past `maxSize` (so it
//! may exceed it by one log line, and a line is never split), and compression runs on the logging
//! thread at rotation instead of in the background.

mod backups;

use std::fs::OpenOptions;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::TimeDelta;
use file_rotate::compression::Compression;
use file_rotate::{ContentLimit, FileRotate};
use gost_config::{LogConfig, LogRotation};
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use crate::Error;
use backups::Lumberjack;

/// Upstream's `maxSize` default, in megabytes.
pub const DEFAULT_MAX_SIZE_MB: u64 = 100;

/// A log destination for `tracing_subscriber::fmt().with_writer`.
pub struct LogWriter {
    /// Makes the writer of each event.
    pub writer: BoxMakeWriter,
    /// Whether colours may be used (the output is a terminal).
    pub ansi: bool,
}

/// The rotation of a log file, in the units the writer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate after a write that takes the file past this many bytes.
    pub max_bytes: u64,
    /// Keep at most this many rotated files (`None`: all).
    pub max_backups: Option<usize>,
    /// Delete rotated files named more than this many days ago (`None`: never by age).
    pub max_age_days: Option<u32>,
    /// Name rotated files with local time instead of UTC.
    pub local_time: bool,
    /// Gzip rotated files.
    pub compress: bool,
}

impl Rotation {
    /// `log.rotation` with upstream's defaults for 0 (100 MB, every backup, no age limit).
    pub fn from_config(r: &LogRotation) -> Rotation {
        let positive = |n: i64| u64::try_from(n).ok().filter(|&n| n > 0);
        Rotation {
            max_bytes: positive(r.max_size).unwrap_or(DEFAULT_MAX_SIZE_MB) << 20,
            max_backups: positive(r.max_backups).map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            max_age_days: positive(r.max_age).map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            local_time: r.local_time,
            compress: r.compress,
        }
    }
}

/// The destination `log` names (stderr without one).
pub fn writer(log: Option<&LogConfig>) -> Result<LogWriter, Error> {
    let output = log.and_then(|l| l.output.as_deref()).unwrap_or("stderr");
    Ok(match output {
        "stderr" => LogWriter {
            writer: BoxMakeWriter::new(std::io::stderr),
            ansi: std::io::stderr().is_terminal(),
        },
        "stdout" => LogWriter {
            writer: BoxMakeWriter::new(std::io::stdout),
            ansi: std::io::stdout().is_terminal(),
        },
        "none" => LogWriter {
            writer: BoxMakeWriter::new(std::io::sink),
            ansi: false,
        },
        path => {
            let rotation = log.and_then(|l| l.rotation.as_ref());
            file_writer(Path::new(path), rotation.map(Rotation::from_config))?
        }
    })
}

/// A file appended to, rotated when `rotation` is set.
pub fn file_writer(path: &Path, rotation: Option<Rotation>) -> Result<LogWriter, Error> {
    let err = |source: std::io::Error| Error::LogOutput {
        path: path.display().to_string(),
        source,
    };
    // Checked here so that a bad path is a startup error naming it (file-rotate would panic).
    let path: PathBuf = std::path::absolute(path).map_err(err)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(err)?;
    let writer = match rotation {
        None => BoxMakeWriter::new(Mutex::new(file)),
        Some(r) => {
            drop(file);
            let scheme = Lumberjack {
                local_time: r.local_time,
                max_backups: r.max_backups,
                max_age: r.max_age_days.map(|d| TimeDelta::days(d.into())),
            };
            let compression = match r.compress {
                true => Compression::OnRotate(0),
                false => Compression::None,
            };
            let limit = usize::try_from(r.max_bytes).unwrap_or(usize::MAX).max(1);
            let rotate = FileRotate::new(
                &path,
                scheme,
                ContentLimit::BytesSurpassed(limit),
                compression,
                None,
            );
            BoxMakeWriter::new(Mutex::new(rotate))
        }
    };
    Ok(LogWriter {
        writer,
        ansi: false,
    })
}
