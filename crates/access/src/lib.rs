//! Access control for gost-rs with upstream GOST's data formats: who may log in ([`Auther`],
//! [`HttpAuthPlugin`]), which clients may connect ([`Admission`]) and which targets may be reached
//! ([`Bypass`]), and how fast they may go ([`limit`]: bandwidth and request-rate limiters), each fed by an
//! inline list plus any of a file, a Redis key and an HTTP URL, re-read every `reload` period.
//!
//! Every policy fails closed: a source that cannot be read keeps its last good data (and the failure is
//! logged at `warn`); until every source of a policy has been read once, the policy denies everyone
//! (no login, no client admitted, every target refused).
//!
//! This crate knows nothing of configuration files or of the proxy protocols; the application builds the
//! policies from its configuration and the service asks them.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use gost_access::{Auther, AutherSpec};
//!
//! let spec = AutherSpec {
//!     name: "auther-0".into(),
//!     auths: vec![("alice".into(), "s3cret".into())],
//!     ..AutherSpec::default()
//! };
//! let auther = Auther::start(spec).await;
//! assert!(auther.check(b"alice", b"s3cret"));
//! assert!(!auther.check(b"alice", b"wrong"));
//! # }
//! ```

mod admission;
mod auther;
mod bypass;
mod creds;
mod feed;
pub mod limit;
mod list;
mod loaded;
mod matcher;
mod plugin;
mod source;

pub use admission::{Admission, AdmissionSpec};
pub use auther::{Auther, AutherSpec, SkipAuth};
pub use bypass::{Bypass, BypassGroup, BypassSpec};
pub use creds::Credentials;
pub use list::ListSpec;
pub use loaded::LoadedList;
pub use matcher::{IpSet, PatternError, PatternSet, PortRange, Target};
pub use plugin::{HttpAuthPlugin, PluginError};
pub use source::{DEFAULT_REDIS_KEY, HttpSpec, LoadError, RedisSpec, SourceSpec};

/// Upstream's lower bound on a reload period.
pub const MIN_RELOAD: std::time::Duration = std::time::Duration::from_secs(1);
