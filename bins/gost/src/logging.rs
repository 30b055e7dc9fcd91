//! Logging through `tracing`: level from `-D`/`-DD`, `GOST_LOGGER_LEVEL` or `log.level` (default
//! info); human-readable text unless `--log-format json` or `log.format: json`; the output
//! (`log.output`, `log.rotation`) is gost-app's [`gost_app::logging`].

use gost_config::{LogConfig, Warning};
use tracing::Level;

use crate::args::{Args, LogFormat};

/// Installs the global subscriber.
pub(crate) fn init(args: &Args, log: Option<&LogConfig>) -> anyhow::Result<()> {
    let configured = std::env::var("GOST_LOGGER_LEVEL")
        .ok()
        .or_else(|| log.and_then(|l| l.level.clone()));
    let level = match args.debug {
        0 => parse_level(configured.as_deref()),
        1 => Level::DEBUG,
        _ => Level::TRACE,
    };
    let json = match args.log_format {
        Some(f) => f == LogFormat::Json,
        None => log
            .and_then(|l| l.format.as_deref())
            .is_some_and(|f| f.eq_ignore_ascii_case("json")),
    };
    let out = gost_app::logging::writer(log)?;
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(out.ansi)
        .with_writer(out.writer);
    if json {
        builder.json().init()
    } else {
        builder.init()
    }
    Ok(())
}

/// Upstream's level names; `fatal` maps to error, anything unknown to info.
fn parse_level(name: Option<&str>) -> Level {
    match name.map(str::to_ascii_lowercase).as_deref() {
        Some("trace") => Level::TRACE,
        Some("debug") => Level::DEBUG,
        Some("warn") | Some("warning") => Level::WARN,
        Some("error") | Some("fatal") => Level::ERROR,
        _ => Level::INFO,
    }
}

/// Logs what loading and validation tolerated, at warn so that every ignored option is visible at the
/// default level (upstream ignores unknown keys silently; an operator should see what has no effect).
pub(crate) fn report(warnings: &[Warning]) {
    for w in warnings {
        tracing::warn!(target: "gost::config", "{w}");
    }
}
