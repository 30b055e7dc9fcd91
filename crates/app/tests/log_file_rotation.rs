//! `log.output` to a file with `log.rotation`: the file is rotated after it passes `maxSize`, at most
//! `maxBackups` backups are kept with upstream's names, `compress` gzips them and `maxAge` retires old
//! ones — on real files in a temporary directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use gost_app::logging::writer;
use gost_config::{LogConfig, LogRotation};
use tracing_subscriber::fmt::MakeWriter;

const MB: usize = 1 << 20;

fn config(path: &Path, rotation: LogRotation) -> LogConfig {
    LogConfig {
        output: Some(path.display().to_string()),
        rotation: Some(rotation),
        ..LogConfig::default()
    }
}

/// Writes `total` bytes of 1000-byte lines, one write per line as the subscriber does.
fn write_lines(log: &LogConfig, total: usize) {
    let out = writer(Some(log)).expect("log file opens");
    let line = format!("{}\n", "x".repeat(999));
    for _ in 0..total / line.len() {
        out.writer.make_writer().write_all(line.as_bytes()).unwrap();
    }
}

/// The backups of `gost.log` in `dir`, oldest first.
fn backups(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("gost-") && (name.ends_with(".log") || name.ends_with(".log.gz"))
        })
        .collect();
    found.sort();
    found
}

#[test]
fn rotates_at_max_size_and_keeps_max_backups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs/gost.log");
    let rotation = LogRotation {
        max_size: 1,
        max_backups: 2,
        ..LogRotation::default()
    };
    write_lines(&config(&path, rotation), 4 * MB + MB / 2);

    let kept = backups(path.parent().unwrap());
    assert_eq!(kept.len(), 2, "maxBackups 2 keeps two of four: {kept:?}");
    for b in &kept {
        let size = std::fs::metadata(b).unwrap().len() as usize;
        assert!((MB..MB + 1000).contains(&size), "{b:?} has {size} bytes");
        // Upstream's name: gost-2006-01-02T15-04-05.000.log
        let name = b.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            name.len(),
            "gost-2006-01-02T15-04-05.000.log".len(),
            "{name}"
        );
    }
    let current = std::fs::metadata(&path).unwrap().len() as usize;
    assert!(current <= MB + 1000, "current file {current} bytes");
    // Every byte written is in the current file or a backup, except the two retired backups.
    let total: usize = kept
        .iter()
        .map(|b| std::fs::metadata(b).unwrap().len() as usize)
        .sum();
    assert!(total + current > 2 * MB, "{total} + {current}");
}

#[test]
fn compress_gzips_backups_and_max_age_retires_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gost.log");
    // A backup from long ago, as an earlier run would have left it.
    let ancient = dir.path().join("gost-2001-02-03T04-05-06.789.log.gz");
    std::fs::write(&ancient, b"old").unwrap();
    let unrelated = dir.path().join("gost-notes.log");
    std::fs::write(&unrelated, b"keep me").unwrap();
    let rotation = LogRotation {
        max_size: 1,
        max_age: 7,
        compress: true,
        ..LogRotation::default()
    };
    write_lines(&config(&path, rotation), 2 * MB + MB / 2);

    assert!(!ancient.exists(), "a backup older than maxAge is deleted");
    assert!(
        unrelated.exists(),
        "a file that is not a backup is left alone"
    );
    let kept = backups(dir.path());
    let kept: Vec<_> = kept.iter().filter(|p| **p != unrelated).collect();
    assert_eq!(kept.len(), 2, "{kept:?}");
    for b in kept {
        assert!(b.to_string_lossy().ends_with(".log.gz"), "{b:?}");
        let head = std::fs::read(b).unwrap();
        assert_eq!(&head[..2], &[0x1f, 0x8b], "{b:?} is gzip");
        assert!(
            head.len() < MB / 10,
            "{b:?}: a megabyte of one letter compresses well"
        );
    }
}

#[test]
fn without_rotation_the_file_is_appended_to() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gost.log");
    std::fs::write(&path, "earlier run\n").unwrap();
    let log = LogConfig {
        output: Some(path.display().to_string()),
        ..LogConfig::default()
    };
    let out = writer(Some(&log)).unwrap();
    out.writer.make_writer().write_all(b"this run\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "earlier run\nthis run\n"
    );
    assert!(!out.ansi);
}

#[test]
fn an_unusable_path_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let log = config(&blocker.join("gost.log"), LogRotation::default());
    let e = writer(Some(&log))
        .err()
        .expect("a file cannot be a directory");
    assert!(e.to_string().contains("gost.log"), "{e}");
}
