//! TLS (rustls, aws-lc-rs provider): listener, dialer, and handshakes over any [`Stream`].
//!
//! Compatible with upstream GOST's `tls` listener/dialer: no ALPN, TLS 1.2 and 1.3, the client does not
//! verify the server by default (`secure=false`), the server falls back to a self-signed certificate and
//! requires client certificates only when a CA is configured. [`ServerTls`] and [`ClientTls`] work over any
//! stream, which SOCKS5 methods 0x80/0x82 need (TLS negotiated inside an open connection).

mod client;
mod pem;
mod read;
mod server;
mod stream;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;

pub use client::ClientTls;
pub use server::ServerTls;
pub use stream::{CLOSE_DRAIN_LIMIT, CLOSE_DRAIN_TIMEOUT};

use socks_wire::Address;

use crate::layered::{DEFAULT_BACKLOG, Layered, layered_listener};
use crate::tcp::{TcpDialer, TcpListener, TcpOptions};
use crate::{BoxFuture, Dialer, Error, Stream};

/// Default bound for a TLS handshake (Go's `net/http` uses the same 10 s for its TLS handshakes).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Server-side TLS settings (upstream `tls.certFile`, `tls.keyFile`, `tls.caFile`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsServerOptions {
    /// PEM certificate chain. With `key_file`; when both are `None`, a self-signed certificate is generated.
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// PEM CA certificates; when given, clients must present a certificate signed by one of them.
    pub ca_file: Option<PathBuf>,
    /// Bound for each handshake. Default [`DEFAULT_HANDSHAKE_TIMEOUT`].
    pub handshake_timeout: Duration,
}

impl Default for TlsServerOptions {
    fn default() -> Self {
        TlsServerOptions {
            cert_file: None,
            key_file: None,
            ca_file: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

/// Client-side TLS settings (upstream `secure`, `serverName`, `tls.caFile`, `tls.certFile`, `tls.keyFile`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsClientOptions {
    /// Verify the server's chain and name. Default `false`, as upstream.
    pub secure: bool,
    /// Name for SNI and verification; default the node's host.
    pub server_name: Option<String>,
    /// PEM CA certificates to verify against (instead of the web roots); with `secure=false` the chain is
    /// still verified against them, only the name is not.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain (with `key_file`) for servers that require one.
    pub cert_file: Option<PathBuf>,
    /// PEM client private key.
    pub key_file: Option<PathBuf>,
    /// SHA-256 fingerprint of the server's leaf certificate (64 hex digits, `:` separators allowed).
    /// An extra of gost-rs; off by default.
    pub pin_sha256: Option<String>,
    /// Bound for each handshake (upstream `handshakeTimeout`). Default [`DEFAULT_HANDSHAKE_TIMEOUT`].
    pub handshake_timeout: Duration,
}

impl Default for TlsClientOptions {
    fn default() -> Self {
        TlsClientOptions {
            secure: false,
            server_name: None,
            ca_file: None,
            cert_file: None,
            key_file: None,
            pin_sha256: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

/// The crypto provider of every configuration built here: rustls' default, aws-lc-rs.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Turns a tokio-rustls handshake error into ours, keeping rustls' reason and the pin mismatch.
fn handshake_error(e: io::Error) -> Error {
    let Some(inner) = e.get_ref() else {
        return handshake_io_error(e);
    };
    let Some(tls) = inner.downcast_ref::<rustls::Error>() else {
        return handshake_io_error(e);
    };
    if let rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) = tls
        && let Some(pin) = other.0.downcast_ref::<client::PinMismatch>()
    {
        return Error::PinMismatch {
            expected: pin.expected.clone(),
            actual: pin.actual.clone(),
        };
    }
    Error::Tls(tls.to_string())
}

fn handshake_io_error(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        Error::Tls("the peer closed the connection during the handshake".into())
    } else {
        Error::Io(e)
    }
}

/// A TCP listener that yields connections after a successful TLS handshake.
#[derive(Debug)]
pub struct TlsListener {
    inner: Layered,
}

impl TlsListener {
    /// Binds `addr` (see [`TcpListener::bind`]) and serves TLS with `tls`.
    pub async fn bind(addr: &str, tcp: TcpOptions, tls: ServerTls) -> Result<TlsListener, Error> {
        let listener = TcpListener::bind(addr, tcp.clone()).await?;
        let inner = Layered::spawn(listener, &tcp, "tls", DEFAULT_BACKLOG, move |s| {
            let tls = tls.clone();
            async move { tls.accept(s).await }
        });
        Ok(TlsListener { inner })
    }
}

layered_listener!(TlsListener);

/// Dials TCP and runs a TLS client handshake, or layers TLS over a given stream.
#[derive(Debug, Clone)]
pub struct TlsDialer {
    tcp: TcpDialer,
    tls: ClientTls,
}

impl TlsDialer {
    /// A dialer using `tcp` for first connections and `tls` for the handshake.
    pub fn new(tcp: TcpDialer, tls: ClientTls) -> TlsDialer {
        TlsDialer { tcp, tls }
    }
}

impl Dialer for TlsDialer {
    fn dial<'a>(&'a self, addr: &'a Address) -> BoxFuture<'a, Result<Stream, Error>> {
        Box::pin(async move {
            let s = self.tcp.dial(addr).await?;
            self.tls.connect(s, &addr.host()).await
        })
    }

    fn handshake<'a>(
        &'a self,
        stream: Stream,
        addr: &'a Address,
    ) -> BoxFuture<'a, Result<Stream, Error>> {
        Box::pin(async move { self.tls.connect(stream, &addr.host()).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eof_during_handshake_is_named() {
        let e = handshake_error(io::Error::from(io::ErrorKind::UnexpectedEof));
        assert!(
            e.to_string()
                .contains("closed the connection during the handshake"),
            "{e}"
        );
        let e = handshake_error(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(e.io_kind(), Some(io::ErrorKind::ConnectionReset));
    }
}
