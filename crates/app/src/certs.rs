//! The server certificate a service uses: its own `tls` section, else the global one, else a generated
//! self-signed certificate, made once per configuration and shared, as upstream shares its default.

use std::path::PathBuf;

use gost_config::{Config, TlsConfig};
use gost_transport::tls::{ServerTls, TlsServerOptions};

use crate::Error;

/// Server certificates of one configuration.
#[derive(Default)]
pub(crate) struct Certificates {
    generated: Option<ServerTls>,
}

impl Certificates {
    /// The certificate for `own` (a listener's or handler's `tls` section), else the global `tls`
    /// section of `config`, else the generated one.
    pub(crate) fn server(
        &mut self,
        config: &Config,
        own: Option<&TlsConfig>,
    ) -> Result<ServerTls, Error> {
        let files = [own, config.tls.as_ref()]
            .into_iter()
            .flatten()
            .find(|t| t.cert_file.is_some() || t.key_file.is_some());
        if let Some(t) = files {
            let opts = TlsServerOptions {
                cert_file: t.cert_file.as_ref().map(PathBuf::from),
                key_file: t.key_file.as_ref().map(PathBuf::from),
                ca_file: t.ca_file.as_ref().map(PathBuf::from),
                ..TlsServerOptions::default()
            };
            return ServerTls::new(&opts).map_err(|source| Error::Certificate {
                cert: t.cert_file.clone().unwrap_or_default(),
                key: t.key_file.clone().unwrap_or_default(),
                source,
            });
        }
        if let Some(tls) = &self.generated {
            return Ok(tls.clone());
        }
        let tls = ServerTls::self_signed().map_err(Error::SelfSigned)?;
        self.generated = Some(tls.clone());
        Ok(tls)
    }
}
