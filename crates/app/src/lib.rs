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
    /// The metrics endpoint, while one serves.
    metrics: Option<metrics::Running>,
    /// What the services report to, when the configuration they started with had `metrics:`.
    registry: Option<Arc<Metrics>>,
}

impl App {
    /// Binds the metrics endpoint (if `config.metrics` is set) and every service, then starts them
    /// all. Nothing runs if any bind fails.
    pub async fn start(config: Config) -> Result<App, Error> {
        // Bound before any service runs, like the services themselves.
        let mut policies = policies::Policies::default();
        let settings = metrics::settings(&config);
        let registry = settings.as_ref().map(|_| Arc::new(Metrics::new()));
        let server = match (&config.metrics, &registry) {
            (Some(m), Some(registry)) => {
                let protection = metrics::Protection::build(&config, m, &mut policies).await?;
                Some(protection.bind(m, registry.clone()).await?)
            }
            _ => None,
        };
        let observer = registry.clone().map(|r| r as Arc<dyn Observer>);
        let chains = registry.clone().map(|r| r as Arc<dyn ChainObserver>);
        let services = Supervisor::start_with(config, observer, chains, policies).await?;
        let metrics = server.zip(settings).map(|(server, settings)| {
            metrics::Running::spawn(server, settings, services.shutdown_token())
        });
        Ok(App {
            services,
            metrics,
            registry,
        })
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
        self.metrics.as_ref().map(|m| m.addr)
    }

    /// Switches to `new` (see [`Supervisor::reload`]); on error the previous configuration keeps
    /// running.
    ///
    /// The metrics endpoint follows too: when its `metrics:` section, or the auther or admission entry
    /// it names, changed, it is restarted with the new settings (a new address is bound before
    /// anything changes; the same address after the old listener is closed). `metrics:` can be removed
    /// by a reload, but added only if the configuration gost started with had it, because the services
    /// report to it from their start.
    pub async fn reload(&mut self, new: Config) -> Result<(), Error> {
        let wanted = metrics::settings(&new);
        if wanted.as_ref() == self.metrics.as_ref().map(|m| &m.settings) {
            return self.services.reload(new).await;
        }
        let registry = match (&wanted, &self.registry) {
            (Some(_), None) => {
                return Err(Error::Unsupported(
                    "`metrics:` was added: the services started without metrics, so restart gost \
                     to serve them"
                        .into(),
                ));
            }
            (_, registry) => registry.clone(),
        };
        let mut policies = self.services.policies().clone();
        let (protection, moved) = match (&wanted, registry) {
            (Some(w), Some(registry)) => {
                let m = w
                    .metrics
                    .as_ref()
                    .expect("settings keep the metrics section");
                let protection = metrics::Protection::build(w, m, &mut policies).await?;
                let same_addr = self.metrics.as_ref().and_then(|r| r.configured_addr())
                    == Some(m.addr.as_str());
                if same_addr {
                    (Some((protection, registry)), None)
                } else {
                    (None, Some(protection.bind(m, registry).await?))
                }
            }
            _ => (None, None),
        };
        self.services.reload(new).await?;
        if let Some(old) = self.metrics.take() {
            old.stop().await;
        }
        let server = match (moved, protection, &wanted) {
            (Some(server), _, _) => Some(server),
            (None, Some((protection, registry)), Some(w)) => {
                let m = w
                    .metrics
                    .as_ref()
                    .expect("settings keep the metrics section");
                match protection.bind(m, registry).await {
                    Ok(server) => Some(server),
                    Err(e) => {
                        // The services run the new configuration already; a closed endpoint is the
                        // safe state until the next reload.
                        tracing::error!(error = %chain_of(&e), "metrics endpoint closed: it could not listen again");
                        None
                    }
                }
            }
            _ => None,
        };
        self.metrics = server.zip(wanted).map(|(server, settings)| {
            metrics::Running::spawn(server, settings, self.services.shutdown_token())
        });
        tracing::info!(
            addr = ?self.metrics.as_ref().map(|m| m.addr),
            "metrics endpoint reloaded"
        );
        Ok(())
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
