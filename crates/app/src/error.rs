//! Why a configuration could not be turned into running services. Each variant says what was being
//! built; its source says what was wrong, so `{:#}` (anyhow) reads "service "s" (:1080): handler
//! metadata: ...".

use std::error::Error as StdError;

/// A boxed error of a library below (transport, smux, KCP).
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// Why assembly failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Building or binding one service failed.
    #[error("service {name:?} ({addr})")]
    Service {
        /// The service name.
        name: String,
        /// Its address.
        addr: String,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
    /// An address could not be listened on (in use, not local, no permission).
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address.
        addr: String,
        /// What the OS said.
        #[source]
        source: BoxError,
    },
    /// The metrics endpoint could not be started.
    #[error("metrics endpoint")]
    Metrics(#[source] Box<Error>),
    /// A component's metadata does not read (validation normally catches this first).
    #[error("{section} metadata")]
    Metadata {
        /// `handler`, `listener`, `connector`, `dialer`.
        section: &'static str,
        /// The bad key.
        #[source]
        source: gost_config::MetadataError,
    },
    /// Options the library using them refuses (`mux.*`, `kcp.*`).
    #[error("{what}")]
    Options {
        /// Which options.
        what: &'static str,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// A certificate or key file cannot be used.
    #[error("tls: cannot use certFile {cert:?} / keyFile {key:?}")]
    Certificate {
        /// `certFile`.
        cert: String,
        /// `keyFile`.
        key: String,
        /// Why.
        #[source]
        source: gost_transport::Error,
    },
    /// No certificate was configured and generating one failed.
    #[error("cannot generate a self-signed certificate")]
    SelfSigned(#[source] gost_transport::Error),
    /// A node of a chain cannot be built.
    #[error("node {name:?}")]
    Node {
        /// The node name.
        name: String,
        /// What is wrong with it.
        #[source]
        source: Box<Error>,
    },
    /// A hop or chain cannot be built.
    #[error(transparent)]
    Chain(#[from] gost_chain::Error),
    /// A TLS client or a dialer cannot be made.
    #[error(transparent)]
    Transport(#[from] gost_transport::Error),
    /// gost-service refused to assemble a service.
    #[error(transparent)]
    Build(#[from] gost_service::BuildError),
    /// A `climiters:` entry cannot be used.
    #[error("climiter {name:?}")]
    Climiter {
        /// Its name.
        name: String,
        /// The bad line.
        #[source]
        source: gost_config::climit::LimitLineError,
    },
    /// An access policy (auther plugin, `skipauth`) cannot be built.
    #[error("{what}")]
    Access {
        /// Which policy or option.
        what: String,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// `log.output` names a file that cannot be created or appended to.
    #[error("log.output `{path}`: cannot open the log file")]
    LogOutput {
        /// The path as configured.
        path: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The configuration asks for something gost-rs does not run (validation normally catches it).
    #[error("{0}")]
    Unsupported(String),
}

impl Error {
    /// Whether an address could not be listened on: a start failure rather than a bad configuration.
    pub fn is_listen(&self) -> bool {
        match self {
            Error::Listen { .. } => true,
            Error::Service { source, .. } | Error::Metrics(source) => source.is_listen(),
            _ => false,
        }
    }

    /// Wraps `self` with the service it happened in.
    pub(crate) fn in_service(self, service: &gost_config::ServiceConfig) -> Error {
        Error::Service {
            name: service.name.clone(),
            addr: service.addr.clone(),
            source: Box::new(self),
        }
    }

    pub(crate) fn metadata(section: &'static str) -> impl Fn(gost_config::MetadataError) -> Error {
        move |source| Error::Metadata { section, source }
    }

    pub(crate) fn listen(addr: &str, source: impl Into<BoxError>) -> Error {
        Error::Listen {
            addr: addr.to_owned(),
            source: source.into(),
        }
    }
}
