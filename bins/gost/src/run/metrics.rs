//! The Prometheus endpoint (upstream `-metrics ADDR` / `metrics:`): one shared
//! [`gost_service::metrics::Metrics`] observes every service and is served over HTTP.

use std::sync::Arc;

use anyhow::Context;
use gost_service::metrics::{Metrics, MetricsServer};

use super::listener::BindFailed;

/// Upstream's default path.
pub const DEFAULT_PATH: &str = "/metrics";

/// Where and how the metrics are served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Listen address (`:9000`, `127.0.0.1:9000`).
    pub addr: String,
    /// URL path.
    pub path: String,
    /// HTTP Basic credentials scrapers must send.
    pub auth: Option<(String, String)>,
}

/// Binds the endpoint serving `metrics` (run it with [`MetricsServer::run`]).
pub async fn bind(endpoint: &Endpoint, metrics: Arc<Metrics>) -> anyhow::Result<MetricsServer> {
    let mut server = MetricsServer::bind(&endpoint.addr, &endpoint.path, metrics)
        .await
        .context(BindFailed(endpoint.addr.clone()))
        .context("metrics endpoint")?;
    if let Some((user, password)) = &endpoint.auth {
        server = server.basic_auth(user, password);
    }
    Ok(server)
}
