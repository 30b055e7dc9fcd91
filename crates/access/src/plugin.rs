//! [`HttpAuthPlugin`]: upstream's HTTP authentication plugin (`plugin: {type: http, addr: URL}`): each
//! login is a JSON POST `{"username", "password", "client"}` to the operator's service, which answers
//! `200` with `{"ok": true, "id": "…"}` to let the client in.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::warn;

/// Bound on one plugin call when none is configured.
pub(crate) const DEFAULT_PLUGIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a plugin could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The address is not an `http://` or `https://` URL.
    #[error("plugin addr {0:?} is not an http:// or https:// URL")]
    Url(String),
}

#[derive(Serialize)]
struct PluginRequest<'a> {
    username: &'a str,
    password: &'a str,
    client: String,
}

#[derive(Deserialize)]
struct PluginResponse {
    #[serde(default)]
    ok: bool,
    #[serde(default)]
    id: String,
}

/// An authenticator that asks an HTTP service.
#[derive(Debug)]
pub struct HttpAuthPlugin {
    name: String,
    url: String,
    client: reqwest::Client,
}

impl HttpAuthPlugin {
    /// A plugin posting to `url`, each call bounded by `timeout` (default 10 s).
    pub fn new(
        name: impl Into<String>,
        url: impl Into<String>,
        timeout: Option<Duration>,
    ) -> Result<HttpAuthPlugin, PluginError> {
        let url = url.into();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(PluginError::Url(url));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout.unwrap_or(DEFAULT_PLUGIN_TIMEOUT))
            .no_proxy()
            .build()
            .map_err(|_| PluginError::Url(url.clone()))?;
        Ok(HttpAuthPlugin {
            name: name.into(),
            url,
            client,
        })
    }

    /// Asks the service; `Some(id)` lets the client in (the id may be empty). A failed call (no answer,
    /// not 200, not the expected JSON) refuses the client and is logged at `warn`.
    pub async fn authenticate(
        &self,
        user: &[u8],
        password: &[u8],
        client: SocketAddr,
    ) -> Option<String> {
        let req = PluginRequest {
            username: &String::from_utf8_lossy(user),
            password: &String::from_utf8_lossy(password),
            client: client.to_string(),
        };
        let result = async {
            let resp = self
                .client
                .post(&self.url)
                .json(&req)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if resp.status() != reqwest::StatusCode::OK {
                return Err(format!("status {}", resp.status()));
            }
            let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
            serde_json::from_slice::<PluginResponse>(&bytes).map_err(|e| format!("answer: {e}"))
        }
        .await;
        match result {
            Ok(r) => r.ok.then_some(r.id),
            Err(e) => {
                warn!(auther = %self.name, url = %self.url, error = %e, "auth plugin failed; client refused");
                None
            }
        }
    }
}
