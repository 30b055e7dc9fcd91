//! Checks of `log:`: level and format names, and `rotation` numbers (upstream reads them as Go ints, so
//! a negative one is a mistake rather than a default).

use super::{LOG_FORMATS, LOG_LEVELS, check_choice};
use crate::error::{ConfigError, Warning};
use crate::model::LogConfig;

/// Outputs that are not a file path (rotation has no effect on them, as upstream).
const STREAMS: &[&str] = &["stderr", "stdout", "none"];

pub(super) fn check_log(log: &LogConfig, warnings: &mut Vec<Warning>) -> Result<(), ConfigError> {
    check_choice("log", "log.level", log.level.as_deref(), LOG_LEVELS)?;
    check_choice("log", "log.format", log.format.as_deref(), LOG_FORMATS)?;
    let Some(r) = &log.rotation else {
        return Ok(());
    };
    for (key, value, unit) in [
        ("maxSize", r.max_size, "megabytes"),
        ("maxAge", r.max_age, "days"),
        ("maxBackups", r.max_backups, "files"),
    ] {
        if value < 0 {
            return Err(ConfigError::invalid(
                "log",
                format!("log.rotation.{key}"),
                value.to_string(),
                format!("must be 0 (upstream's default) or a positive number of {unit}"),
            ));
        }
    }
    let output = log.output.as_deref().unwrap_or("stderr");
    if STREAMS.contains(&output) {
        warnings.push(Warning::new(
            "log.rotation",
            format!("has no effect: log.output is `{output}`, not a file path"),
        ));
    }
    Ok(())
}
