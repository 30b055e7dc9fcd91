//! `gost`: reads `-L`/`-F`/`-C` like upstream GOST, validates the result, and either prints it (`-O`)
//! or hands it to the service runner ([`run`]).
//!
//! Exit status: 0 after a signal-requested shutdown or `-O`, 2 for a configuration that cannot be used,
//! 1 when services cannot start (an address in use, ...).

mod args;
mod logging;
mod run;
mod source;

use std::process::ExitCode;

use crate::args::{Args, OutputFormat};

/// Exit status for a configuration that cannot be used (as for a usage error).
const EXIT_BAD_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let args = Args::from_env();
    let (config, warnings) = match source::build(&args) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("gost: {e:#}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    if let Err(e) = logging::init(&args, config.log.as_ref()) {
        eprintln!("gost: {e:#}");
        return ExitCode::from(EXIT_BAD_CONFIG);
    }
    logging::report(&warnings);
    if let Some(format) = args.output {
        match format {
            OutputFormat::Yaml => print!("{}", config.to_yaml()),
            OutputFormat::Json => println!("{}", config.to_json()),
        }
        return ExitCode::SUCCESS;
    }
    let metrics = config.metrics.as_ref().map(|m| run::Endpoint {
        addr: m.addr.clone(),
        path: m
            .path
            .clone()
            .unwrap_or_else(|| run::DEFAULT_METRICS_PATH.into()),
        auth: m
            .auth
            .as_ref()
            .map(|a| (a.username.clone(), a.password.clone())),
    });
    let reload = move || {
        if args.config.as_deref() == Some("-") {
            anyhow::bail!(
                "the configuration came from standard input (-C -), which cannot be read again"
            );
        }
        let (config, warnings) = source::build(&args)?;
        logging::report(&warnings);
        Ok(config)
    };
    match run::run(config, metrics, reload) {
        Ok(()) => ExitCode::SUCCESS,
        Err(run::Failure::Config(e)) => {
            eprintln!("gost: {e:#}");
            ExitCode::from(EXIT_BAD_CONFIG)
        }
        Err(run::Failure::Start(e)) => {
            eprintln!("gost: {e:#}");
            ExitCode::FAILURE
        }
    }
}
