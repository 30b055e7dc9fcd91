//! The Prometheus endpoint (upstream `-metrics ADDR` / `metrics:`): one shared
//! [`gost_service::metrics::Metrics`] observes every service and is served over HTTP, to the scrapers
//! its `auther` and `admission` let in. A reload that changes the `metrics:` section, or the auther or
//! admission entry it names, restarts the endpoint with the new settings (see [`crate::App::reload`]).

use std::net::SocketAddr;
use std::sync::Arc;

use gost_config::{Config, MetricsConfig};
use gost_service::gost_access::SkipAuth;
use gost_service::metrics::{DEFAULT_PATH, Endpoint, Metrics, MetricsServer};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::Error;
use crate::policies::Policies;
use crate::supervisor::named;

/// The endpoint the `metrics:` section describes (path `/metrics` unless set).
pub fn endpoint(m: &MetricsConfig) -> Endpoint {
    Endpoint {
        addr: m.addr.clone(),
        path: m.path.clone().unwrap_or_else(|| DEFAULT_PATH.into()),
        auth: m
            .auth
            .as_ref()
            .map(|a| (a.username.clone(), a.password.clone())),
    }
}

/// Binds the endpoint serving `metrics` (run it with [`MetricsServer::run`]).
pub async fn bind(endpoint: &Endpoint, metrics: Arc<Metrics>) -> Result<MetricsServer, Error> {
    MetricsServer::from_endpoint(endpoint, metrics)
        .await
        .map_err(|e| Error::Metrics(Box::new(Error::listen(&endpoint.addr, e))))
}

/// What the endpoint's behaviour depends on: the `metrics:` section and the auther and admission
/// entries it names (`None` without a `metrics:` section). A reload restarts the endpoint when it
/// differs.
pub(crate) fn settings(config: &Config) -> Option<Config> {
    let m = config.metrics.as_ref()?;
    Some(Config {
        metrics: Some(m.clone()),
        authers: named(&m.auther, |a| config.auther(a)),
        admissions: named(&m.admission, |a| config.admission(a)),
        ..Config::default()
    })
}

/// Who may scrape: the `auther` and `admission` of a `metrics:` section, built before the endpoint is
/// bound so that a reload can fail without touching the running one.
#[derive(Default)]
pub(crate) struct Protection {
    auther: Option<Arc<dyn gost_service::Authenticator>>,
    admission: Option<Arc<gost_service::gost_access::Admission>>,
}

impl Protection {
    /// The `auther` and `admission` of `m`, taken from `policies` (shared with the services naming them).
    pub(crate) async fn build(
        config: &Config,
        m: &MetricsConfig,
        policies: &mut Policies,
    ) -> Result<Protection, Error> {
        let wrap = |e| Error::Metrics(Box::new(e));
        let mut protection = Protection::default();
        if let Some(name) = &m.auther {
            if m.auth.is_some() {
                warn!(auther = %name, "metrics.auth is ignored: metrics.auther checks the credentials");
            }
            let names = std::iter::once(name);
            let auth = crate::access::authenticator(
                config,
                Vec::new(),
                names,
                SkipAuth::default(),
                policies,
            )
            .await
            .map_err(wrap)?;
            protection.auther = Some(Arc::new(auth));
        }
        if let Some(name) = &m.admission {
            let admission = policies.admission(config, name).await.map_err(wrap)?;
            protection.admission = Some(admission);
        }
        Ok(protection)
    }

    /// Binds the endpoint `m` describes, serving `metrics` to the scrapers this lets in.
    pub(crate) async fn bind(
        self,
        m: &MetricsConfig,
        metrics: Arc<Metrics>,
    ) -> Result<MetricsServer, Error> {
        let mut server = bind(&endpoint(m), metrics).await?;
        if let Some(auther) = self.auther {
            server = server.authenticator(auther);
        }
        if let Some(admission) = self.admission {
            server = server.admission(admission);
        }
        Ok(server)
    }
}

/// The endpoint while it serves: what it was built from, where it listens, and its task.
pub(crate) struct Running {
    /// [`settings`] of the configuration it was started from.
    pub(crate) settings: Config,
    pub(crate) addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Running {
    /// Serves `server` until `stop` is cancelled.
    pub(crate) fn spawn(
        server: MetricsServer,
        settings: Config,
        stop: CancellationToken,
    ) -> Running {
        let addr = server.local_addr();
        let task = tokio::spawn(server.run(stop.clone()));
        Running {
            settings,
            addr,
            stop,
            task,
        }
    }

    /// The `addr:` it was configured with (`:9000`, `127.0.0.1:0`, …).
    pub(crate) fn configured_addr(&self) -> Option<&str> {
        self.settings.metrics.as_ref().map(|m| m.addr.as_str())
    }

    /// Stops serving and waits until the listener is closed, so its address can be bound again.
    pub(crate) async fn stop(self) {
        self.stop.cancel();
        // The task only ends; a panic in it has already been reported by the runtime.
        let _ = self.task.await;
    }
}
