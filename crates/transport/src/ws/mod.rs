//! WebSocket (`ws`) and WebSocket over TLS (`wss`), wire-compatible with upstream GOST (gorilla/websocket).
//!
//! The server upgrades only the exact path ([`WsOptions::path`], default `/ws`), accepts any `Origin`, and
//! answers other paths with `404`; the client sends `GET <path>` with `Host` = [`WsOptions::host`] or the node
//! address including its port, no `Origin`, subprotocol or extension. After the upgrade the connection is a
//! byte stream: each write is one binary message, reads concatenate messages (see `stream.rs`). `wss` is the
//! same over [`crate::tls`]. [`accept`] and [`connect`] run the upgrade over any [`Stream`], so a WebSocket
//! can be layered over another hop.

mod http;
mod stream;

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use self::http::Head;
use self::stream::{EofGuard, WsStream};
use socks_wire::Address;

pub use crate::layered::DEFAULT_BACKLOG;
use crate::layered::{Layered, layered_listener};
use crate::tcp::{TcpDialer, TcpListener, TcpOptions};
use crate::tls::{ClientTls, ServerTls};
use crate::{BoxFuture, Dialer, Error, Stream};

/// Upstream's default request path.
pub const DEFAULT_PATH: &str = "/ws";

/// Upstream's client ping interval when `keepalive=true` is given without `ttl`.
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// Default bound for the HTTP upgrade exchange.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// WebSocket settings (upstream metadata `path`/`ws.path`, `host`/`ws.host`, `header`/`ws.header`,
/// `handshakeTimeout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsOptions {
    /// Request path; the server upgrades only this exact path. Default `/ws`.
    pub path: String,
    /// Client: value of the `Host` header; default the node address including its port.
    pub host: Option<String>,
    /// Client: extra request headers (a `Host` or `User-Agent` here replaces the default one).
    /// Server: extra headers of the `101` response.
    pub headers: Vec<(String, String)>,
    /// Bound for the upgrade exchange. Default [`DEFAULT_HANDSHAKE_TIMEOUT`].
    pub handshake_timeout: Duration,
    /// Ping interval (upstream client `keepalive=true` with `ttl`/`keepalive.interval`, default [`DEFAULT_KEEPALIVE_INTERVAL`]), or
    /// `None` (the default, as upstream): while the stream is read, a Ping is sent every interval and the
    /// stream fails with `TimedOut` when nothing arrived for two intervals. Works on either side; upstream
    /// only pings from the client. Pings from the peer are always answered.
    pub keepalive: Option<Duration>,
    /// Server: upgraded connections waiting for `accept()` (upstream's `backlog`); further clients wait
    /// in the kernel's queue. Default [`DEFAULT_BACKLOG`].
    pub backlog: usize,
}

impl Default for WsOptions {
    fn default() -> Self {
        WsOptions {
            path: DEFAULT_PATH.to_owned(),
            host: None,
            headers: Vec::new(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            keepalive: None,
            backlog: DEFAULT_BACKLOG,
        }
    }
}

fn timed_out(opts: &WsOptions) -> Error {
    Error::HandshakeTimeout {
        what: "ws",
        timeout: opts.handshake_timeout,
    }
}

/// Runs the server side of the upgrade over `s`: answers `101` for the configured path, `404` for any
/// other path and `400`/`405` for a request that is not a WebSocket upgrade (then returns the error).
pub async fn accept(s: Stream, opts: &WsOptions) -> Result<Stream, Error> {
    tokio::time::timeout(opts.handshake_timeout, accept_inner(s, opts))
        .await
        .map_err(|_| timed_out(opts))?
}

async fn accept_inner(mut s: Stream, opts: &WsOptions) -> Result<Stream, Error> {
    let (head, rest) = http::read_head(&mut s).await?;
    let req = match Head::parse(&head) {
        Ok(req) => req,
        Err(why) => {
            return reject(s, 400, "Bad Request\n", format!("bad HTTP request: {why}")).await;
        }
    };
    let path = req.path();
    if path != opts.path {
        let why = format!(
            "request for {path:?}, the ws path is {:?}: answered 404",
            opts.path
        );
        return reject(s, 404, "404 page not found\n", why).await;
    }
    if !req.has_token("Connection", "upgrade") || !req.has_token("Upgrade", "websocket") {
        let why = "not a WebSocket upgrade (Connection/Upgrade headers)".to_owned();
        return reject(s, 400, "Bad Request\n", why).await;
    }
    if req.start[0] != "GET" {
        let why = format!("upgrade request with method {}", req.start[0]);
        return reject(s, 405, "Method Not Allowed\n", why).await;
    }
    if !req.has_token("Sec-WebSocket-Version", "13") {
        let why = "unsupported Sec-WebSocket-Version".to_owned();
        return reject(s, 400, "Bad Request\n", why).await;
    }
    let Some(key) = req
        .header("Sec-WebSocket-Key")
        .filter(|k| http::valid_key(k))
    else {
        let why = "missing or malformed Sec-WebSocket-Key".to_owned();
        return reject(s, 400, "Bad Request\n", why).await;
    };
    let response = http::switching_protocols(&derive_accept_key(key.as_bytes()), &opts.headers)?;
    s.write_all(&response).await?;
    s.flush().await?;
    Ok(upgraded(s, rest, Role::Server, opts).await)
}

/// The byte stream over `s` once the upgrade is done on either side; `rest` is what was read past the
/// HTTP head.
async fn upgraded(s: Stream, rest: Vec<u8>, role: Role, opts: &WsOptions) -> Stream {
    let (peer, local) = (s.peer_addr(), s.local_addr());
    let ws =
        WebSocketStream::from_partially_read(EofGuard::new(s), rest, role, Some(stream::config()))
            .await;
    Stream::new(WsStream::new(ws, opts.keepalive), peer, local)
}

async fn reject(mut s: Stream, status: u16, body: &str, why: String) -> Result<Stream, Error> {
    // Best effort: the client may already be gone; the error below is what matters.
    let _ = s.write_all(&http::error_response(status, body)).await;
    let _ = s.shutdown().await;
    Err(Error::Ws(why))
}

/// Runs the client side of the upgrade over `s`. `addr` is the node address (`host:port`), sent as `Host`
/// unless [`WsOptions::host`] or a configured `Host` header says otherwise.
///
/// A server answering anything but `101` gives [`Error::WsRejected`] with its status code.
pub async fn connect(s: Stream, addr: &str, opts: &WsOptions) -> Result<Stream, Error> {
    tokio::time::timeout(opts.handshake_timeout, connect_inner(s, addr, opts))
        .await
        .map_err(|_| timed_out(opts))?
}

async fn connect_inner(mut s: Stream, addr: &str, opts: &WsOptions) -> Result<Stream, Error> {
    let key = generate_key();
    let host = opts.host.as_deref().unwrap_or(addr);
    s.write_all(&http::client_request(
        &opts.path,
        host,
        &key,
        &opts.headers,
    )?)
    .await?;
    s.flush().await?;
    let (head, rest) = http::read_head(&mut s).await?;
    let resp = Head::parse(&head).map_err(|why| Error::Ws(format!("bad HTTP response: {why}")))?;
    let status: u16 = resp.start[1]
        .parse()
        .map_err(|_| Error::Ws(format!("bad HTTP status {:?}", resp.start[1])))?;
    if status != 101 {
        return Err(Error::WsRejected { status });
    }
    if !resp.has_token("Upgrade", "websocket") || !resp.has_token("Connection", "upgrade") {
        return Err(Error::Ws("101 response without Upgrade: websocket".into()));
    }
    if resp.header("Sec-WebSocket-Accept") != Some(derive_accept_key(key.as_bytes()).as_str()) {
        return Err(Error::Ws(
            "Sec-WebSocket-Accept does not match the key sent".into(),
        ));
    }
    if resp.header("Sec-WebSocket-Extensions").is_some() {
        return Err(Error::Ws(
            "server enabled an extension that was not offered".into(),
        ));
    }
    Ok(upgraded(s, rest, Role::Client, opts).await)
}

/// A `ws` or `wss` listener: TCP, TLS when configured, then the WebSocket upgrade.
#[derive(Debug)]
pub struct WsListener {
    inner: Layered,
}

impl WsListener {
    /// Binds `addr` (see [`TcpListener::bind`]); with `tls` this is a `wss` listener.
    pub async fn bind(
        addr: &str,
        tcp: TcpOptions,
        ws: WsOptions,
        tls: Option<ServerTls>,
    ) -> Result<WsListener, Error> {
        let listener = TcpListener::bind(addr, tcp.clone()).await?;
        let ws = Arc::new(ws);
        let what = if tls.is_some() { "wss" } else { "ws" };
        let inner = Layered::spawn(listener, &tcp, what, ws.backlog, move |s| {
            let (ws, tls) = (ws.clone(), tls.clone());
            async move {
                let s = match &tls {
                    Some(tls) => tls.accept(s).await?,
                    None => s,
                };
                accept(s, &ws).await
            }
        });
        Ok(WsListener { inner })
    }
}

layered_listener!(WsListener);

/// A `ws` or `wss` dialer: TCP (or the given stream), TLS when configured, then the WebSocket upgrade.
#[derive(Debug, Clone)]
pub struct WsDialer {
    tcp: TcpDialer,
    ws: Arc<WsOptions>,
    tls: Option<ClientTls>,
}

impl WsDialer {
    /// A dialer using `tcp` for first connections; with `tls` this is a `wss` dialer.
    pub fn new(tcp: TcpDialer, ws: WsOptions, tls: Option<ClientTls>) -> WsDialer {
        WsDialer {
            tcp,
            ws: Arc::new(ws),
            tls,
        }
    }
}

impl Dialer for WsDialer {
    fn dial<'a>(&'a self, addr: &'a Address) -> BoxFuture<'a, Result<Stream, Error>> {
        Box::pin(async move {
            let s = self.tcp.dial(addr).await?;
            self.handshake(s, addr).await
        })
    }

    fn handshake<'a>(
        &'a self,
        stream: Stream,
        addr: &'a Address,
    ) -> BoxFuture<'a, Result<Stream, Error>> {
        Box::pin(async move {
            let s = match &self.tls {
                Some(tls) => tls.connect(stream, &addr.host()).await?,
                None => stream,
            };
            connect(s, &addr.to_string(), &self.ws).await
        })
    }
}
