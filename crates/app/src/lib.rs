//! Assembly for gost-rs: the one place where a validated [`gost_config::Config`] becomes running
//! objects — listeners (gost-transport), SOCKS services (gost-service's `ServiceBuilder`), forwarders,
//! chains and connectors (gost-chain), the metrics endpoint — and the [`Supervisor`] that starts them
//! all, switches to a new configuration on reload and drains them at shutdown.
//!
//! The libraries below know nothing of YAML or URLs: each takes its own option types with its own
//! defaults, and the modules here map gost-config's typed options onto them once. Signals are the
//! caller's business: [`App::reload`] is called with the new configuration whenever the caller decides.
//!
//! ```no_run
//! # async fn demo() -> Result<(), gost_app::Error> {
//! let (config, _warnings) = gost_config::from_cli(&["socks5://127.0.0.1:1080"], &[] as &[&str])
//!     .expect("valid flags");
//! let app = gost_app::App::start(config).await?;
//! // ... on SIGHUP: app.reload(new_config).await ...
//! app.shutdown(std::future::pending()).await; // stop accepting, drain, return
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod access;
mod certs;
pub mod chain;
mod error;
pub mod forward;
pub mod kcp;
pub mod limits;
mod listener;
pub mod logging;
pub mod metrics;
mod mux;
pub mod names;
mod policies;
mod service;
mod socks;
mod supervisor;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use gost_chain::ChainObserver;
use gost_config::Config;
use gost_service::Observer;
use gost_service::metrics::Metrics;

pub use error::{BoxError, Error};
pub use supervisor::Supervisor;

/// The running services of a configuration and its metrics endpoint.
///
/// With port 0 in the configuration the system picks the port; ask for it by service name
/// (`service-0`, `service-1`, … for `-L` flags, the `name:` in YAML):
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (config, _) = gost_config::from_cli(&["socks5://127.0.0.1:0"], &[] as &[&str])?;
/// let app = gost_app::App::start(config).await?;
/// let addr = app.local_addr("service-0").expect("bound");
/// assert!(addr.ip().is_loopback() && addr.port() != 0);
/// let mut client = tokio::net::TcpStream::connect(addr).await?; // a SOCKS5 client from here on
/// # drop(client);
/// app.shutdown(std::future::pending()).await;
/// # Ok(()) }
/// ```
pub struct App {
    services: Supervisor,
    metrics: Option<SocketAddr>,
}

impl App {
    /// Binds the metrics endpoint (if `config.metrics` is set) and every service, then starts them
    /// all. Nothing runs if any bind fails.
    pub async fn start(config: Config) -> Result<App, Error> {
        // Bound before any service runs, like the services themselves.
        let mut policies = policies::Policies::default();
        let (server, observer, chains) = match &config.metrics {
            Some(m) => {
                let metrics = Arc::new(Metrics::new());
                let server = metrics::bind(&metrics::endpoint(m), metrics.clone()).await?;
                let server = metrics::protect(server, &config, m, &mut policies).await?;
                let chains = metrics.clone() as Arc<dyn ChainObserver>;
                (
                    Some(server),
                    Some(metrics as Arc<dyn Observer>),
                    Some(chains),
                )
            }
            None => (None, None, None),
        };
        let services = Supervisor::start_with(config, observer, chains, policies).await?;
        let metrics = server.as_ref().map(|s| s.local_addr());
        if let Some(server) = server {
            tokio::spawn(server.run(services.shutdown_token()));
        }
        Ok(App { services, metrics })
    }

    /// The address service `name` listens on (see [`Supervisor::local_addr`]).
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.services.local_addr(name)
    }

    /// Every service's name and listening address (see [`Supervisor::local_addrs`]).
    pub fn local_addrs(&self) -> impl Iterator<Item = (&str, SocketAddr)> {
        self.services.local_addrs()
    }

    /// The metrics endpoint's address, when `metrics:` is configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
    }

    /// Switches to `new` (see [`Supervisor::reload`]); on error the previous services keep running.
    /// The metrics endpoint stays as it started.
    pub async fn reload(&mut self, new: Config) -> Result<(), Error> {
        self.services.reload(new).await
    }

    /// Stops every service and waits until each has drained, or until `force` completes.
    pub async fn shutdown(self, force: impl Future<Output = ()>) {
        self.services.shutdown(force).await
    }
}

/// `e` and its sources, joined with ": ", for log lines.
pub(crate) fn chain_of(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}
