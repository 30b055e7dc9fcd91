//! Runs the services of a validated configuration on a multi-threaded tokio runtime until SIGINT or
//! SIGTERM, reloading the configuration on SIGHUP.
//!
//! Listeners come from gost-transport, handlers and forwarding services from gost-service, chains from
//! gost-chain; this module only picks them by the configuration's types and wires them together.

mod auto;
mod handler;
mod listener;
mod metrics;
mod service;
mod signals;
mod supervisor;

use std::sync::Arc;

use gost_config::Config;
use gost_service::Observer;
use gost_service::forward::BuildError;
use gost_service::metrics::Metrics;
use tracing::{error, info};

pub use self::metrics::{DEFAULT_PATH as DEFAULT_METRICS_PATH, Endpoint};
use self::signals::{Request, Signals};
use self::supervisor::Supervisor;

/// Why `gost` could not run.
#[derive(Debug)]
pub enum Failure {
    /// The configuration cannot be used (a handler option, a certificate file, ...).
    Config(anyhow::Error),
    /// Starting failed for another reason (an address in use, no runtime, ...).
    Start(anyhow::Error),
}

/// Starts every service of `config` (and the metrics endpoint, if any) and runs until shutdown.
/// `reload` produces the configuration to switch to on SIGHUP.
pub fn run(
    config: Config,
    metrics: Option<Endpoint>,
    reload: impl Fn() -> anyhow::Result<Config> + Send + 'static,
) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("gost")
        .build()
        .map_err(|e| Failure::Start(anyhow::anyhow!("cannot start the tokio runtime: {e}")))?;
    runtime.block_on(serve(config, metrics, reload))
}

async fn serve(
    config: Config,
    endpoint: Option<Endpoint>,
    reload: impl Fn() -> anyhow::Result<Config>,
) -> Result<(), Failure> {
    let mut signals = Signals::install().map_err(Failure::Start)?;
    // Bound before any service runs, like the services themselves.
    let metrics = endpoint.as_ref().map(|_| Arc::new(Metrics::new()));
    let server = match (&endpoint, &metrics) {
        (Some(e), Some(m)) => Some(metrics::bind(e, m.clone()).await.map_err(Failure::Start)?),
        _ => None,
    };
    let observer = metrics.map(|m| m as Arc<dyn Observer>);
    let mut services = Supervisor::start(config, observer)
        .await
        .map_err(classify)?;
    if let Some(server) = server {
        tokio::spawn(server.run(services.shutdown_token()));
    }
    while signals.next().await == Request::Reload {
        info!("SIGHUP: reloading the configuration");
        let applied = match reload() {
            Ok(new) => services.reload(new).await,
            Err(e) => Err(e),
        };
        if let Err(e) = applied {
            error!(error = %format!("{e:#}"), "reload failed; the previous configuration keeps running");
        }
    }
    info!("shutting down");
    services.shutdown(signals.next_stop()).await;
    Ok(())
}

/// Binding errors are start failures; everything else found while building services is a
/// configuration problem.
fn classify(e: anyhow::Error) -> Failure {
    let bind_failed = e.downcast_ref::<listener::BindFailed>().is_some()
        || e.downcast_ref::<BuildError>()
            .is_some_and(|b| matches!(b, BuildError::Listen { .. }));
    if bind_failed {
        Failure::Start(e)
    } else {
        Failure::Config(e)
    }
}
