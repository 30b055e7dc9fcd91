//! Loading certificates and keys from PEM files, with errors that name the file.

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
