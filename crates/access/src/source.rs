//! Where a policy's data comes from besides its inline list: a file, a Redis key, an HTTP URL
//! (upstream's `file`, `redis` and `http` loaders), and how each is read.
//!
//! Files and HTTP bodies are text in the policy's line format. A Redis key is a hash (authers: field =
//! user, value = password) or a set (admission, bypass: one pattern per member), as upstream.

use std::path::PathBuf;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo};
use tokio::sync::Mutex;

/// Upstream's default Redis key.
pub const DEFAULT_REDIS_KEY: &str = "gost";
/// Bound on connecting to Redis and on each reply; a stuck server delays only the reload.
const REDIS_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on an HTTP load when the configuration sets none (upstream waits forever).
const HTTP_DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest HTTP body read; a bigger one is a failed load, so a broken server cannot exhaust memory.
const HTTP_MAX_BODY: usize = 16 << 20;

/// One data source of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// `file.path`.
    File(PathBuf),
    /// `redis`.
    Redis(RedisSpec),
    /// `http`.
    Http(HttpSpec),
}

/// `redis:` options.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSpec {
    /// `host:port`.
    pub addr: String,
    /// Database number (default 0).
    pub db: i64,
    /// ACL user name (Redis 6+), if any.
    pub username: Option<String>,
    /// Password, if any.
    pub password: Option<String>,
    /// The key (default `gost`).
    pub key: String,
}

impl std::fmt::Debug for RedisSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSpec")
            .field("addr", &self.addr)
            .field("db", &self.db)
            .field("username", &self.username)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// `http:` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSpec {
    /// The URL fetched with GET; a 200 answer's body is the data.
    pub url: String,
    /// Request timeout; `None` (upstream's 0) means 30 s here.
    pub timeout: Option<Duration>,
}

/// Why a source could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("file {path}: {source}")]
    File {
        /// The path.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// Redis failed (connecting, authenticating, the command, or the key has the wrong type).
    #[error("redis {addr} key {key:?}: {source}")]
    Redis {
        /// `host:port`.
        addr: String,
        /// The key.
        key: String,
        /// What the client said.
        #[source]
        source: redis::RedisError,
    },
    /// The Redis address is not `host:port`.
    #[error("redis addr {0:?} is not host:port")]
    RedisAddr(String),
    /// The HTTP request failed.
    #[error("http {url}: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

/// What a source returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fetched {
    /// A file or HTTP body in the policy's text format.
    Text(String),
    /// The members of a Redis set.
    Members(Vec<String>),
    /// The fields and values of a Redis hash.
    Hash(Vec<(String, String)>),
}

/// Which Redis type a policy reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RedisType {
    Hash,
    Set,
}

/// A source ready to be read repeatedly (its Redis connection and HTTP client are kept between reads).
pub(crate) enum Source {
    File(PathBuf),
    Redis {
        spec: RedisSpec,
        kind: RedisType,
        conn: Mutex<Option<MultiplexedConnection>>,
    },
    Http {
        spec: HttpSpec,
        client: reqwest::Client,
    },
}

impl Source {
    pub(crate) fn new(spec: SourceSpec, kind: RedisType) -> Source {
        match spec {
            SourceSpec::File(p) => Source::File(p),
            SourceSpec::Redis(spec) => Source::Redis {
                spec,
                kind,
                conn: Mutex::new(None),
            },
            SourceSpec::Http(spec) => {
                let timeout = spec.timeout.unwrap_or(HTTP_DEFAULT_TIMEOUT);
                // Proxies from the environment are not used: the loader talks to the URL configured.
                let client = reqwest::Client::builder()
                    .timeout(timeout)
                    .no_proxy()
                    .build()
                    .unwrap_or_default();
                Source::Http { spec, client }
            }
        }
    }

    /// A short description for logs (never the Redis password).
    pub(crate) fn describe(&self) -> String {
        match self {
            Source::File(p) => format!("file {}", p.display()),
            Source::Redis { spec, .. } => format!("redis {} key {:?}", spec.addr, spec.key),
            Source::Http { spec, .. } => format!("http {}", spec.url),
        }
    }

    pub(crate) async fn fetch(&self) -> Result<Fetched, LoadError> {
        match self {
            Source::File(path) => tokio::fs::read_to_string(path)
                .await
                .map(Fetched::Text)
                .map_err(|source| LoadError::File {
                    path: path.clone(),
                    source,
                }),
            Source::Redis { spec, kind, conn } => {
                let mut guard = conn.lock().await;
                let result = redis_fetch(spec, *kind, &mut guard).await;
                if result.is_err() {
                    // Reconnect next time: the server may have restarted.
                    *guard = None;
                }
                result
            }
            Source::Http { spec, client } => http_fetch(spec, client)
                .await
                .map(Fetched::Text)
                .map_err(|reason| LoadError::Http {
                    url: spec.url.clone(),
                    reason,
                }),
        }
    }
}

fn connection_info(spec: &RedisSpec) -> Result<redis::ConnectionInfo, LoadError> {
    let (host, port) = spec
        .addr
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
        .ok_or_else(|| LoadError::RedisAddr(spec.addr.clone()))?;
    let host = if host.is_empty() { "127.0.0.1" } else { host };
    let mut settings = RedisConnectionInfo::default().set_db(spec.db);
    if let Some(u) = spec.username.as_deref().filter(|u| !u.is_empty()) {
        settings = settings.set_username(u);
    }
    if let Some(p) = spec.password.as_deref().filter(|p| !p.is_empty()) {
        settings = settings.set_password(p);
    }
    let err = |source| LoadError::Redis {
        addr: spec.addr.clone(),
        key: spec.key.clone(),
        source,
    };
    Ok(ConnectionAddr::Tcp(host.to_owned(), port)
        .into_connection_info()
        .map_err(err)?
        .set_redis_settings(settings))
}

async fn redis_fetch(
    spec: &RedisSpec,
    kind: RedisType,
    conn: &mut Option<MultiplexedConnection>,
) -> Result<Fetched, LoadError> {
    let err = |source| LoadError::Redis {
        addr: spec.addr.clone(),
        key: spec.key.clone(),
        source,
    };
    if conn.is_none() {
        let client = redis::Client::open(connection_info(spec)?).map_err(err)?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT));
        let c = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(err)?;
        *conn = Some(c);
    }
    let c = conn.as_mut().expect("connected above");
    let cmd = match kind {
        RedisType::Hash => "HGETALL",
        RedisType::Set => "SMEMBERS",
    };
    let mut cmd = redis::cmd(cmd);
    cmd.arg(&spec.key);
    Ok(match kind {
        RedisType::Hash => Fetched::Hash(cmd.query_async(c).await.map_err(err)?),
        RedisType::Set => Fetched::Members(cmd.query_async(c).await.map_err(err)?),
    })
}

async fn http_fetch(spec: &HttpSpec, client: &reqwest::Client) -> Result<String, String> {
    let mut resp = client
        .get(&spec.url)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(format!("status {}", resp.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > HTTP_MAX_BODY {
            return Err(format!("body larger than {HTTP_MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| "body is not UTF-8 text".to_owned())
}
