//! `gost`: reads `-L`/`-F`/`-C` like upstream GOST, validates the result, and either prints it (`-O`)
//! or hands it to gost-app to run ([`run`]).
//!
//! Exit status: 0 after a signal-requested shutdown or `-O`, 2 for a configuration that cannot be used,
//! 1 when services cannot start (an address in use, ...).

mod args;
mod logging;
mod run;
mod signals;
mod source;

use std::process::ExitCode;

use crate::args::{Args, OutputFormat};

/// malloc with blocks of 2 KiB or more 64-byte aligned, so TLS records' plaintext copies avoid
/// glibc's slow `rep movsb` case (see [`gost_sys::alloc`]).
#[global_allocator]
static ALLOC: gost_sys::alloc::LineAlignedAlloc = gost_sys::alloc::LineAlignedAlloc;

/// Exit status for a configuration that cannot be used (as for a usage error).
const EXIT_BAD_CONFIG: u8 = 2;

/// Prints `e` and returns `code`.
fn fail(e: anyhow::Error, code: ExitCode) -> ExitCode {
    eprintln!("gost: {e:#}");
    code
}

fn main() -> ExitCode {
    let args = Args::from_env();
    let (config, warnings) = match source::build(&args) {
        Ok(loaded) => loaded,
        Err(e) => return fail(e, ExitCode::from(EXIT_BAD_CONFIG)),
    };
    if let Err(e) = logging::init(&args, config.log.as_ref()) {
        return fail(e, ExitCode::from(EXIT_BAD_CONFIG));
    }
    logging::report(&warnings);
    if let Some(format) = args.output {
        match format {
            OutputFormat::Yaml => print!("{}", config.to_yaml()),
            OutputFormat::Json => println!("{}", config.to_json()),
        }
        return ExitCode::SUCCESS;
    }
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
    match run::run(config, reload) {
        Ok(()) => ExitCode::SUCCESS,
        Err(run::Failure::Config(e)) => fail(e, ExitCode::from(EXIT_BAD_CONFIG)),
        Err(run::Failure::Start(e)) => fail(e, ExitCode::FAILURE),
    }
}
