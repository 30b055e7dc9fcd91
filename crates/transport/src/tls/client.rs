//! [`ClientTls`]: the client side of a TLS handshake over any [`Stream`], with upstream's verification
//! modes and an optional SHA-256 certificate pin.
//!
//! | `secure` | CA file | verification (as upstream's `InsecureSkipVerify = !secure`)          |
//! |----------|---------|------------------------------------------------------------------------|
//! | false    | none    | none (upstream's default)                                              |
//! | false    | given   | chain must lead to the CA; the host name is not checked                |
//! | true     | none    | chain to the system's roots (else bundled webpki-roots) and host name  |
//! | true     | given   | chain to the CA and host name                                          |
//!
//! A pin, when set, is checked in every mode before anything else.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

use super::stream::TlsStream;
use super::{TlsClientOptions, handshake_error, pem, provider};
use crate::{Error, Stream};

/// Connects TLS over any stream. Cheap to clone (the configuration is shared).
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
    server_name: Option<String>,
    handshake_timeout: Duration,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("server_name", &self.server_name)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// Builds from options (see the module docs for the verification modes).
    pub fn new(opts: &TlsClientOptions) -> Result<ClientTls, Error> {
        let provider = provider();
        let pin = opts.pin_sha256.as_deref().map(parse_pin).transpose()?;
        let roots = match (&opts.ca_file, opts.secure) {
            (Some(ca), _) => Some(pem::load_roots(ca)?),
            (None, true) => Some(pem::system_roots()),
            (None, false) => None,
        };
        let webpki = roots
            .map(|r| {
                WebPkiServerVerifier::builder_with_provider(Arc::new(r), provider.clone())
                    .build()
                    .map_err(|e| Error::TlsConfig(format!("server verifier: {e}")))
            })
            .transpose()?;
        let verifier = Verifier {
            webpki,
            check_name: opts.secure,
            pin,
            provider: provider.clone(),
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::TlsConfig(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let pair = pem::load_pair(opts.cert_file.as_deref(), opts.key_file.as_deref())?;
        let config = match pair {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::TlsConfig(format!("client certificate/key: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        Ok(ClientTls {
            config: Arc::new(config),
            server_name: opts.server_name.clone(),
            handshake_timeout: opts.handshake_timeout,
        })
    }

    /// No verification at all: upstream's default (`secure=false`, no CA).
    pub fn insecure() -> ClientTls {
        ClientTls::new(&TlsClientOptions::default())
            .expect("default client options need no files and always build")
    }

    /// Uses a ready rustls configuration; `server_name` overrides the name given to [`ClientTls::connect`].
    pub fn from_config(config: Arc<ClientConfig>, server_name: Option<String>) -> ClientTls {
        ClientTls {
            config,
            server_name,
            handshake_timeout: TlsClientOptions::default().handshake_timeout,
        }
    }

    /// Replaces the handshake timeout.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> ClientTls {
        self.handshake_timeout = timeout;
        self
    }

    /// The shared rustls configuration (for tests that drive a session by hand).
    #[cfg(test)]
    pub(super) fn config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }

    /// Runs the client side of a TLS handshake over `s`.
    ///
    /// `server_name` (normally the node's host) is used for SNI and verification unless the options set
    /// one; an IP literal is verified as an address and sends no SNI, and so does an empty name (a node
    /// written `:port`), verified as 127.0.0.1. The result keeps `s`'s addresses.
    pub async fn connect(&self, s: Stream, server_name: &str) -> Result<Stream, Error> {
        let name = self.server_name.as_deref().unwrap_or(server_name);
        let name = if name.is_empty() {
            // A node with an empty host (`socks5+tls://:8443`) is this machine. Upstream (Go's
            // crypto/tls with an empty ServerName) sends no SNI; an IP name does the same here.
            ServerName::IpAddress(Ipv4Addr::LOCALHOST.into())
        } else {
            ServerName::try_from(name.to_owned())
                .map_err(|e| Error::TlsConfig(format!("server name {name:?}: {e}")))?
        };
        let (peer, local) = (s.peer_addr(), s.local_addr());
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        let tls = tokio::time::timeout(self.handshake_timeout, connector.connect(name, s))
            .await
            .map_err(|_| Error::HandshakeTimeout {
                what: "TLS",
                timeout: self.handshake_timeout,
            })?
            .map_err(handshake_error)?;
        Ok(Stream::new(TlsStream::new(tls), peer, local))
    }
}

/// Parses a SHA-256 fingerprint written as 64 hex digits, optionally with `:` between bytes.
fn parse_pin(s: &str) -> Result<[u8; 32], Error> {
    let hex: Vec<u8> = s.bytes().filter(|&b| b != b':').collect();
    let bad = || {
        Error::TlsConfig(format!(
            "pin {s:?} is not a SHA-256 fingerprint (64 hex digits)"
        ))
    };
    if hex.len() != 64 {
        return Err(bad());
    }
    let mut pin = [0u8; 32];
    for (out, pair) in pin.iter_mut().zip(hex.chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
        *out = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
    }
    Ok(pin)
}

pub(super) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Carried inside the rustls error so the caller can report [`Error::PinMismatch`].
#[derive(Debug, thiserror::Error)]
#[error("certificate SHA-256 {actual} does not match the pinned {expected}")]
pub(super) struct PinMismatch {
    pub expected: String,
    pub actual: String,
}

#[derive(Debug)]
struct Verifier {
    /// Chain verification against these roots, when any.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    /// Whether a name mismatch fails the handshake (`secure=true`).
    check_name: bool,
    pin: Option<[u8; 32]>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(pin) = &self.pin {
            let actual: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
            if &actual != pin {
                let e = PinMismatch {
                    expected: to_hex(pin),
                    actual: to_hex(&actual),
                };
                return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                    rustls::OtherError(Arc::new(e)),
                )));
            }
        }
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        // webpki checks the chain before the name, so a name error means the chain itself was fine.
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_with_and_without_colons() {
        let plain = "00".repeat(31) + "ff";
        let colons = vec!["00"; 31].join(":") + ":FF";
        assert_eq!(parse_pin(&plain).unwrap()[31], 0xff);
        assert_eq!(parse_pin(&colons).unwrap(), parse_pin(&plain).unwrap());
        for bad in ["", "abc", &"zz".repeat(32), &"00".repeat(33)] {
            assert!(matches!(parse_pin(bad), Err(Error::TlsConfig(_))), "{bad}");
        }
    }

    #[test]
    fn insecure_builds() {
        assert!(ClientTls::insecure().server_name.is_none());
    }
}
