//! Configuration for gost-rs, compatible with upstream GOST v3: the `-L`/`-F` command-line grammar,
//! the YAML/JSON config file schema, typed access to component options ("metadata") with upstream's
//! key names and defaults, and validation that reports every mistake before a socket is opened.
//!
//! No I/O happens here except reading the config file [`load_file`] is given and checking that the
//! TLS files a config names exist ([`validate`]).
//!
//! ```
//! use gost_config::{from_cli, from_yaml_str, validate, options::Socks5HandlerOptions};
//!
//! let (from_flags, _) = from_cli(&["socks5://user:pass@:1080?bind=true&udp=true"], &[] as &[&str]).unwrap();
//! let (from_file, _) = from_yaml_str(
//!     "services:
//!      - name: service-0
//!        addr: :1080
//!        handler: {type: socks5, auth: {username: user, password: pass}, metadata: {bind: true, udp: true}}
//!        listener: {type: tcp}",
//! ).unwrap();
//! assert_eq!(from_flags, from_file);
//! validate(&from_file).unwrap();
//!
//! let opts = Socks5HandlerOptions::from_metadata(&from_file.services[0].handler.metadata).unwrap();
//! assert!(opts.bind && opts.udp && !opts.notls);
//! assert_eq!(opts.udp_buffer_size, None); // gost-service picks its default
//! ```

mod cli;
pub mod climit;
pub mod duration;
mod error;
mod load;
mod metadata;
mod model;
pub mod options;
pub mod registry;
mod schema;
mod suggest;
mod url;
mod validate;

pub use cli::from_cli;
pub use error::{ConfigError, Warning, WarningKind};
pub use load::{Loaded, from_json_str, from_yaml_str, load_file};
pub use metadata::{Metadata, MetadataError, Value};
pub use model::*;
pub use validate::{MIN_UDP_BUFFER_SIZE, validate};
