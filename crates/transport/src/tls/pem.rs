//! Loading certificates and keys from PEM files, with errors that name the file, and the system's roots.

use std::path::Path;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::Error;

fn config_err(what: &str, path: &Path, e: impl std::fmt::Display) -> Error {
    Error::TlsConfig(format!("{what} {}: {e}", path.display()))
}

/// Every certificate in a PEM file (a chain: leaf first).
pub(crate) fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| config_err("cannot read certificate file", path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| config_err("bad certificate file", path, e))?;
    if certs.is_empty() {
        return Err(config_err("no certificate in", path, "empty"));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub(crate) fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| config_err("cannot load private key from", path, e))
}

/// A certificate chain and its key (`certFile`, `keyFile`), which are given together or not at all.
pub(crate) fn load_pair(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, Error> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some((load_certs(cert)?, load_key(key)?))),
        (None, None) => Ok(None),
        _ => Err(Error::TlsConfig(
            "certFile and keyFile must be given together".into(),
        )),
    }
}

/// A root store holding every certificate of a CA file.
pub(crate) fn load_roots(path: &Path) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path)? {
        roots
            .add(cert)
            .map_err(|e| config_err("unusable CA certificate in", path, e))?;
    }
    Ok(roots)
}

/// Where Linux distributions and the BSDs keep their CA bundle (the list Go's `crypto/x509` searches).
const SYSTEM_BUNDLES: [&str; 6] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The roots `secure=true` verifies against without a CA file, as Go's system pool: the bundle named by
/// `SSL_CERT_FILE`, else the first system bundle with a usable certificate, else the Mozilla roots
/// compiled in (webpki-roots) on systems without one.
pub(crate) fn system_roots() -> RootCertStore {
    let env = std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from);
    let candidates = env
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(std::path::PathBuf::from));
    for path in candidates {
        let Ok(iter) = CertificateDer::pem_file_iter(&path) else {
            continue;
        };
        let mut roots = RootCertStore::empty();
        // Bundles hold the odd expired or malformed certificate; skip those, as Go does.
        let (added, _skipped) = roots.add_parsable_certificates(iter.filter_map(Result::ok));
        if added > 0 {
            return roots;
        }
    }
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}
