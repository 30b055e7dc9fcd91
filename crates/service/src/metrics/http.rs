//! A tiny HTTP/1.1 responder for the metrics endpoint: `GET`/`HEAD` on the configured path answers the
//! exposition text, anything else 404/405; optional Basic authentication, against one user (upstream
//! `user:pass@:9000`) or an [`Authenticator`] (upstream `metrics.auther`), and an optional [`Admission`]
//! that closes refused scrapers right after accept (upstream `metrics.admission`).
//! One request per connection, a bounded request size and read deadline, a bound on concurrent scrapers.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use gost_transport::tcp::{TcpListener, TcpOptions};
use subtle::ConstantTimeEq;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{Endpoint, Metrics};
use crate::access::Admission;
use crate::auth::{AuthMethod, AuthRequest, Authenticator};

/// Largest request head accepted; scrapers send a few hundred bytes.
const MAX_REQUEST: usize = 8192;
/// A scraper must send its request within this time.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Scrapes served at once; more wait in the backlog.
const MAX_CONCURRENT: usize = 64;

/// The HTTP endpoint serving [`Metrics::render`].
pub struct MetricsServer {
    listener: TcpListener,
    path: String,
    metrics: Arc<Metrics>,
    /// The whole expected `Authorization` header value, when one user may scrape.
    auth: Option<String>,
    /// Checks the Basic credentials instead, when set.
    authenticator: Option<Arc<dyn Authenticator>>,
    /// Which scrapers may connect at all.
    admission: Option<Arc<dyn Admission>>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the expected credentials.
        f.debug_struct("MetricsServer")
            .field("addr", &self.local_addr())
            .field("path", &self.path)
            .field(
                "authenticated",
                &(self.auth.is_some() || self.authenticator.is_some()),
            )
            .field("admission", &self.admission.is_some())
            .finish_non_exhaustive()
    }
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
            authenticator: None,
            admission: None,
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
            BASE64.encode(format!("{user}:{password}"))
        ));
        self.authenticator = None;
        self
    }

    /// Requires HTTP Basic credentials that `auther` accepts (asked with [`AuthMethod::HttpBasic`]);
    /// others get 401. Replaces [`MetricsServer::basic_auth`], as upstream's `auther` replaces `auth`.
    pub fn authenticator(mut self, auther: Arc<dyn Authenticator>) -> MetricsServer {
        self.authenticator = Some(auther);
        self.auth = None;
        self
    }

    /// Serves only scrapers `admission` admits; the others are closed before a byte is read.
    pub fn admission(mut self, admission: Arc<dyn Admission>) -> MetricsServer {
        self.admission = Some(admission);
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
                    if this.admission.as_ref().is_some_and(|a| !a.admit(peer.ip())) {
                        info!(client = %peer, reason = "admission", "metrics client refused");
                        drop(conn);
                        continue;
                    }
                    let this = this.clone();
                    tasks.spawn(async move {
                        if let Err(e) = this.respond(conn, peer).await {
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

    async fn respond(&self, mut conn: TcpStream, peer: SocketAddr) -> io::Result<()> {
        let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut conn)).await {
            Ok(r) => r?,
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "request timed out")),
        };
        let authorized = self.authorized(&head, peer).await;
        let (status, body) = self.answer(&head, authorized);
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

    /// Whether the request head carries credentials that may scrape (always, without authentication).
    async fn authorized(&self, head: &str, peer: SocketAddr) -> bool {
        let given = head
            .split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("authorization"))
            .map_or("", |(_, v)| v.trim());
        if let Some(expected) = &self.auth {
            return given.as_bytes().ct_eq(expected.as_bytes()).into();
        }
        let Some(auther) = &self.authenticator else {
            return true;
        };
        let Some((user, password)) = basic_credentials(given) else {
            return false;
        };
        let req = AuthRequest {
            method: AuthMethod::HttpBasic,
            user: &user,
            password: &password,
            client: peer,
            tls: false,
        };
        auther.authenticate(&req).await
    }

    /// The status line and body for a request head.
    fn answer(&self, head: &str, authorized: bool) -> (&'static str, String) {
        let mut parts = head.split("\r\n").next().unwrap_or("").split(' ');
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if !authorized {
            return ("401 Unauthorized", "unauthorized\n".into());
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

/// The user and password of an `Authorization: Basic …` value (the password is what follows the
/// first `:`, as RFC 7617 says); `None` for another scheme or a value that does not decode.
fn basic_credentials(value: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = BASE64.decode(encoded.trim()).ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_split_at_the_first_colon() {
        let value = format!("Basic {}", BASE64.encode("alice:pa:ss"));
        let (user, password) = basic_credentials(&value).unwrap();
        assert_eq!((&user[..], &password[..]), (&b"alice"[..], &b"pa:ss"[..]));
        let value = format!("basic {}", BASE64.encode("bob:"));
        assert_eq!(basic_credentials(&value).unwrap().1, b"");
        assert!(basic_credentials(&format!("Bearer {}", BASE64.encode("a:b"))).is_none());
        assert!(basic_credentials("Basic !!!").is_none());
        assert!(basic_credentials(&format!("Basic {}", BASE64.encode("nocolon"))).is_none());
        assert!(basic_credentials("").is_none());
    }

    #[tokio::test]
    async fn answers_by_path_method_and_credentials() {
        let m = Arc::new(Metrics::with_host("h"));
        let s = MetricsServer::bind("127.0.0.1:0", "metrics", m)
            .await
            .unwrap()
            .basic_auth("user", "pass");
        let auth = "Authorization: Basic dXNlcjpwYXNz";
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let status = async |head: &str| s.answer(head, s.authorized(head, peer).await).0;
        for (request, want) in [
            ("GET /metrics", "200 OK"),
            ("GET /metrics?x=1", "200 OK"),
            ("GET /other", "404 Not Found"),
            ("POST /metrics", "405 Method Not Allowed"),
        ] {
            let head = format!("{request} HTTP/1.1\r\n{auth}\r\n\r\n");
            assert_eq!(status(&head).await, want, "{request}");
        }
        for credentials in ["", "Authorization: Basic dXNlcjp3cm9uZw==\r\n"] {
            let head = format!("GET /metrics HTTP/1.1\r\n{credentials}\r\n");
            assert_eq!(status(&head).await, "401 Unauthorized");
        }
    }
}
