//! The Prometheus endpoint (upstream `-metrics ADDR` / `metrics:`): one shared
//! [`gost_service::metrics::Metrics`] observes every service and is served over HTTP.

use std::sync::Arc;

use gost_config::MetricsConfig;
use gost_service::metrics::{DEFAULT_PATH, Endpoint, Metrics, MetricsServer};

use crate::Error;

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
