//! [`ServerTls`]: the server side of a TLS handshake over any [`Stream`], and the self-signed fallback
//! certificate upstream GOST generates when no certificate is configured.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::stream::TlsStream;
use super::{TlsServerOptions, handshake_error, pem, provider};
use crate::{Error, Stream};

/// Accepts TLS on any stream. Cheap to clone (the configuration is shared).
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Builds from options: the certificate/key files when given, else a freshly generated self-signed
    /// certificate; client certificates are required and verified when a CA file is given.
    pub fn new(opts: &TlsServerOptions) -> Result<ServerTls, Error> {
        let pair = pem::load_pair(opts.cert_file.as_deref(), opts.key_file.as_deref())?;
        let (chain, key) = match pair {
            Some(pair) => pair,
            None => generate_self_signed()?,
        };
        let config = server_config(chain, key, opts.ca_file.as_deref())?;
        Ok(ServerTls::from_config(Arc::new(config)).with_handshake_timeout(opts.handshake_timeout))
    }

    /// Certificate chain and key from PEM files; with `ca`, clients must present a certificate it signed.
    pub fn from_files(cert: &Path, key: &Path, ca: Option<&Path>) -> Result<ServerTls, Error> {
        ServerTls::new(&TlsServerOptions {
            cert_file: Some(cert.to_owned()),
            key_file: Some(key.to_owned()),
            ca_file: ca.map(Path::to_owned),
            ..TlsServerOptions::default()
        })
    }

    /// A new random self-signed ECDSA P-256 certificate: CN and DNS name `gost.run`, O `GOST`, valid for one
    /// year, usable for server and client authentication (upstream's fallback).
    pub fn self_signed() -> Result<ServerTls, Error> {
        ServerTls::new(&TlsServerOptions::default())
    }

    /// Uses a ready rustls configuration (ALPN, versions, ... as the caller set them).
    pub fn from_config(config: Arc<ServerConfig>) -> ServerTls {
        ServerTls {
            config,
            handshake_timeout: TlsServerOptions::default().handshake_timeout,
        }
    }

    /// Replaces the handshake timeout.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> ServerTls {
        self.handshake_timeout = timeout;
        self
    }

    /// The rustls configuration in use.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// Runs the server side of a TLS handshake over `s`; the result keeps `s`'s addresses.
    pub async fn accept(&self, s: Stream) -> Result<Stream, Error> {
        let (peer, local) = (s.peer_addr(), s.local_addr());
        let acceptor = tokio_rustls::TlsAcceptor::from(self.config.clone());
        let tls = tokio::time::timeout(self.handshake_timeout, acceptor.accept(s))
            .await
            .map_err(|_| Error::HandshakeTimeout {
                what: "TLS",
                timeout: self.handshake_timeout,
            })?
            .map_err(handshake_error)?;
        Ok(Stream::new(TlsStream::new(tls), peer, local))
    }
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca: Option<&Path>,
) -> Result<ServerConfig, Error> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::TlsConfig(e.to_string()))?;
    let builder = match ca {
        Some(ca) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(
                Arc::new(pem::load_roots(ca)?),
                provider,
            )
            .build()
            .map_err(|e| Error::TlsConfig(format!("client verifier: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    builder
        .with_single_cert(chain, key)
        .map_err(|e| Error::TlsConfig(format!("certificate/key: {e}")))
}

/// Upstream's fallback certificate (see [`ServerTls::self_signed`]).
fn generate_self_signed() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    let gen_err = |e: rcgen::Error| Error::TlsConfig(format!("generating a certificate: {e}"));
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;
    let mut params = CertificateParams::new(vec!["gost.run".to_owned()]).map_err(gen_err)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "gost.run");
    dn.push(DnType::OrganizationName, "GOST");
    params.distinguished_name = dn;
    let (y, m, d) = today_utc();
    params.not_before = rcgen::date_time_ymd(y, m, d);
    params.not_after = rcgen::date_time_ymd(y + 1, m, d.min(28));
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.self_signed(&key).map_err(gen_err)?;
    let key = PrivatePkcs8KeyDer::from(key.serialize_der());
    Ok((vec![cert.der().clone()], key.into()))
}

/// Today's civil date in UTC (Howard Hinnant's days-to-date algorithm).
fn today_utc() -> (i32, u8, u8) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    civil_from_days(i64::try_from(secs / 86_400).unwrap_or(0))
}

fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // The casts are exact: 1 <= d <= 31, 1 <= m <= 12, and y is a plausible year.
    (y as i32, m as u8, d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_781), (2026, 11, 24));
    }

    #[test]
    fn self_signed_is_gost_run() {
        let (chain, _key) = generate_self_signed().unwrap();
        let der = chain[0].as_ref();
        let contains = |needle: &[u8]| der.windows(needle.len()).any(|w| w == needle);
        assert!(contains(b"gost.run"));
        assert!(contains(b"GOST"));
        ServerTls::self_signed().unwrap();
    }
}
