//! The Prometheus endpoint (upstream `-metrics ADDR` / `metrics:`): one shared
//! [`gost_service::metrics::Metrics`] observes every service and is served over HTTP, to the scrapers
//! its `auther` and `admission` let in.

use std::sync::Arc;

use gost_config::{Config, MetricsConfig};
use gost_service::gost_access::SkipAuth;
use gost_service::metrics::{DEFAULT_PATH, Endpoint, Metrics, MetricsServer};
use tracing::warn;

use crate::Error;
use crate::policies::Policies;

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

/// Applies the `auther` and `admission` of `m` to `server`, taking them from `policies` (shared with
/// the services naming them).
pub(crate) async fn protect(
    mut server: MetricsServer,
    config: &Config,
    m: &MetricsConfig,
    policies: &mut Policies,
) -> Result<MetricsServer, Error> {
    let wrap = |e| Error::Metrics(Box::new(e));
    if let Some(name) = &m.auther {
        if m.auth.is_some() {
            warn!(auther = %name, "metrics.auth is ignored: metrics.auther checks the credentials");
        }
        let names = std::iter::once(name);
        let auth =
            crate::access::authenticator(config, Vec::new(), names, SkipAuth::default(), policies)
                .await
                .map_err(wrap)?;
        server = server.authenticator(Arc::new(auth));
    }
    if let Some(name) = &m.admission {
        let admission = policies.admission(config, name).await.map_err(wrap)?;
        server = server.admission(admission);
    }
    Ok(server)
}
