//! Runs the services of a validated configuration (assembled by gost-app) on a multi-threaded tokio
//! runtime until SIGINT or SIGTERM, reloading the configuration on SIGHUP.

use gost_config::Config;
use tracing::{error, info};

use crate::signals::{Request, Signals};

/// Why `gost` could not run.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The configuration cannot be used (a handler option, a certificate file, ...).
    Config(anyhow::Error),
    /// Starting failed for another reason (an address in use, no runtime, ...).
    Start(anyhow::Error),
}

/// Starts every service of `config` (and the metrics endpoint, if any) and runs until shutdown.
/// `reload` produces the configuration to switch to on SIGHUP.
pub(crate) fn run(
    config: Config,
    reload: impl Fn() -> anyhow::Result<Config> + Send + 'static,
) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("gost")
        .build()
        .map_err(|e| Failure::Start(anyhow::anyhow!("cannot start the tokio runtime: {e}")))?;
    runtime.block_on(serve(config, reload))
}

async fn serve(config: Config, reload: impl Fn() -> anyhow::Result<Config>) -> Result<(), Failure> {
    let mut signals = Signals::install().map_err(Failure::Start)?;
    let mut app = gost_app::App::start(config).await.map_err(|e| {
        // An address that cannot be listened on is a start failure, anything else a bad configuration.
        if e.is_listen() {
            Failure::Start(e.into())
        } else {
            Failure::Config(e.into())
        }
    })?;
    while signals.next().await == Request::Reload {
        info!("SIGHUP: reloading the configuration");
        let applied: anyhow::Result<()> = async { Ok(app.reload(reload()?).await?) }.await;
        if let Err(e) = applied {
            error!(error = %format!("{e:#}"), "reload failed; the previous configuration keeps running");
        }
    }
    info!("shutting down");
    app.shutdown(signals.next_stop()).await;
    Ok(())
}
