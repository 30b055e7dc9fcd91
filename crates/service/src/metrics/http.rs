//! A tiny HTTP/1.1 responder for the metrics endpoint: `GET`/`HEAD` on the configured path answers the
//! exposition text, anything else 404/405; optional Basic authentication (upstream `user:pass@:9000`).
//! One request per connection, a bounded request size and read deadline, a bound on concurrent scrapers.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gost_transport::tcp::{TcpListener, TcpOptions};
use subtle::ConstantTimeEq;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{Endpoint, Metrics};

/// Largest request head accepted; scrapers send a few hundred bytes.
const MAX_REQUEST: usize = 8192;
/// A scraper must send its request within this time.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Scrapes served at once; more wait in the backlog.
const MAX_CONCURRENT: usize = 64;

/// The HTTP endpoint serving [`Metrics::render`].
#[derive(Debug)]
pub struct MetricsServer {
    listener: TcpListener,
    path: String,
    metrics: Arc<Metrics>,
    /// The whole expected `Authorization` header value, when authentication is on.
    auth: Option<String>,
}

impl MetricsServer {
    /// Listens on `addr` (`"127.0.0.1:9000"`, or `":9000"` for every interface) and will answer on `path`
    /// (upstream default `/metrics`).
    pub async fn bind(
        addr: &str,
        path: &str,
        metrics: Arc<Metrics>,
    ) -> Result<MetricsServer, gost_transport::Error> {
        let listener = TcpListener::bind(addr, TcpOptions::default()).await?;
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        Ok(MetricsServer {
            listener,
            path,
            metrics,
            auth: None,
        })
    }

    /// Listens as `endpoint` says (address, path, optional Basic credentials), e.g. an [`Endpoint`]
    /// parsed from upstream's `-metrics user:pass@:9000?path=/metrics`.
    pub async fn from_endpoint(
        endpoint: &Endpoint,
        metrics: Arc<Metrics>,
    ) -> Result<MetricsServer, gost_transport::Error> {
        let server = MetricsServer::bind(&endpoint.addr, &endpoint.path, metrics).await?;
        Ok(match &endpoint.auth {
            Some((user, password)) => server.basic_auth(user, password),
            None => server,
        })
    }

    /// Requires HTTP Basic authentication with this user and password; others get 401.
    pub fn basic_auth(mut self, user: &str, password: &str) -> MetricsServer {
        self.auth = Some(format!(
            "Basic {}",
            base64(format!("{user}:{password}").as_bytes())
        ));
        self
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        gost_transport::Listener::local_addr(&self.listener)
    }

    /// Serves scrapes until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let limit = Arc::new(Semaphore::new(MAX_CONCURRENT));
        let mut tasks = JoinSet::new();
        info!(addr = %this.local_addr(), path = %this.path, "metrics endpoint listening");
        loop {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
                p = limit.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            };
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => break,
                a = this.listener.accept_tcp() => a,
            };
            match accepted {
                Ok((conn, peer)) => {
                    let this = this.clone();
                    tasks.spawn(async move {
                        if let Err(e) = this.respond(conn).await {
                            debug!(%peer, error = %e, "metrics request failed");
                        }
                        drop(permit);
                    });
                }
                Err(e) => {
                    warn!(error = %e, "metrics accept failed");
                    // Usually out of descriptors: give the process a moment instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        tasks.shutdown().await;
    }

    async fn respond(&self, mut conn: TcpStream) -> io::Result<()> {
        let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut conn)).await {
            Ok(r) => r?,
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "request timed out")),
        };
        let (status, body) = self.answer(&head);
        let head_only = head.starts_with("HEAD ");
        let mut resp = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        if status.starts_with("401") {
            resp.push_str("WWW-Authenticate: Basic realm=\"metrics\"\r\n");
        }
        resp.push_str("\r\n");
        if !head_only {
            resp.push_str(&body);
        }
        conn.write_all(resp.as_bytes()).await?;
        conn.shutdown().await
    }

    /// The status line and body for a request head.
    fn answer(&self, head: &str) -> (&'static str, String) {
        let mut lines = head.split("\r\n");
        let mut parts = lines.next().unwrap_or("").split(' ');
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if let Some(expected) = &self.auth {
            let given = lines
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("authorization"))
                .map_or("", |(_, v)| v.trim());
            let ok: bool = given.as_bytes().ct_eq(expected.as_bytes()).into();
            if !ok {
                return ("401 Unauthorized", "unauthorized\n".into());
            }
        }
        let path = target.split('?').next().unwrap_or("");
        if path != self.path {
            return ("404 Not Found", "not found\n".into());
        }
        if method != "GET" && method != "HEAD" {
            return ("405 Method Not Allowed", "method not allowed\n".into());
        }
        ("200 OK", self.metrics.render())
    }
}

/// Reads up to the blank line ending the request head.
async fn read_head(conn: &mut TcpStream) -> io::Result<String> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > MAX_REQUEST {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too large",
            ));
        }
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Binds `addr` and serves `metrics` on `path` until `shutdown` is cancelled.
pub async fn serve(
    addr: &str,
    path: &str,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> Result<(), gost_transport::Error> {
    MetricsServer::bind(addr, path, metrics)
        .await?
        .run(shutdown)
        .await;
    Ok(())
}

/// Standard base64 with padding (RFC 4648 §4), for the Basic credentials.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[tokio::test]
    async fn answers_by_path_method_and_credentials() {
        let m = Arc::new(Metrics::with_host("h"));
        let s = MetricsServer::bind("127.0.0.1:0", "metrics", m)
            .await
            .unwrap()
            .basic_auth("user", "pass");
        let auth = "Authorization: Basic dXNlcjpwYXNz";
        for (request, want) in [
            ("GET /metrics", "200 OK"),
            ("GET /metrics?x=1", "200 OK"),
            ("GET /other", "404 Not Found"),
            ("POST /metrics", "405 Method Not Allowed"),
        ] {
            let head = format!("{request} HTTP/1.1\r\n{auth}\r\n\r\n");
            assert_eq!(s.answer(&head).0, want, "{request}");
        }
        for credentials in ["", "Authorization: Basic dXNlcjp3cm9uZw==\r\n"] {
            let head = format!("GET /metrics HTTP/1.1\r\n{credentials}\r\n");
            assert_eq!(s.answer(&head).0, "401 Unauthorized");
        }
    }
}
