//! Errors and warnings. Every error names where the problem is (service, node, key or CLI argument),
//! the offending value and what would be valid, so that one line on stderr tells a person what to fix.

use std::fmt;

/// Why a configuration could not be loaded or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    // The OS error is part of the message and deliberately not a `source()`: printing the error with
    // its chain (as the binary does) would otherwise say it twice.
    #[error("cannot read config file `{path}`: {error}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// The YAML text is malformed.
    #[error("YAML syntax error: {0}")]
    Yaml(String),
    /// The JSON text is malformed.
    #[error("JSON syntax error: {0}")]
    Json(String),
    /// A key was given twice (keys are case-insensitive).
    #[error("{path}: key given twice (keys are case-insensitive)")]
    DuplicateKey {
        /// Where.
        path: String,
    },
    /// A key that is most likely a misspelling of a known key.
    #[error("{path}: unknown key; did you mean `{suggestion}`?")]
    UnknownKey {
        /// Where, ending with the unknown key.
        path: String,
        /// The known key it resembles.
        suggestion: String,
    },
    /// A value of the wrong kind (a list where a map belongs, …).
    #[error("{path}: `{value}` is not {expected}")]
    Shape {
        /// Where.
        path: String,
        /// The value as written.
        value: String,
        /// What would be valid.
        expected: String,
    },
    /// A `-L` / `-F` argument that does not follow the URL grammar.
    #[error("{flag} `{arg}`: {message}")]
    Url {
        /// `-L` or `-F`.
        flag: &'static str,
        /// The argument as given.
        arg: String,
        /// What is wrong and what would be valid.
        message: String,
    },
    /// An upstream option that grants or restricts access and that gost-rs does not implement. Running
    /// without it would leave the service more open than the operator configured it, so it stops the
    /// start (and a reload) instead of being ignored: fail closed.
    #[error(
        "{path}: `{option}` grants or restricts access, and gost-rs does not implement it yet; \
         refusing to run without it (remove it to accept the service without this control; \
         docs/configuration.md lists the refused options)"
    )]
    AccessNotBuilt {
        /// Where, e.g. `services[0](service-0)` or `-L socks5://:1080?bypass=…`.
        path: String,
        /// The option as upstream spells it, e.g. `admission` or `authers[].redis`.
        option: String,
    },
    /// A semantic error found by [`crate::validate`].
    #[error("{}", render_invalid(subject, key, value, problem))]
    Invalid {
        /// The service, chain/hop/node or section at fault, e.g. "service `service-0`".
        subject: String,
        /// The key at fault, e.g. `handler.type`.
        key: String,
        /// The offending value as written (empty when the value is missing).
        value: String,
        /// What is wrong and what would be valid.
        problem: String,
    },
}

fn render_invalid(subject: &str, key: &str, value: &str, problem: &str) -> String {
    if value.is_empty() {
        format!("{subject}: {key}: {problem}")
    } else {
        format!("{subject}: {key} `{value}` {problem}")
    }
}

impl ConfigError {
    /// A validation error.
    pub(crate) fn invalid(
        subject: impl Into<String>,
        key: impl Into<String>,
        value: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid {
            subject: subject.into(),
            key: key.into(),
            value: value.into(),
            problem: problem.into(),
        }
    }
}

/// Something tolerated but worth telling. The binary logs every kind at warn level, so that an ignored
/// option is visible at the default level (upstream ignores unknown keys silently).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// What kind of oddity this is.
    pub kind: WarningKind,
    /// Where, e.g. `services[0](service-0).bypass`.
    pub path: String,
    /// What happened.
    pub message: String,
}

/// The kinds of [`Warning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    /// A key neither upstream nor gost-rs knows, ignored as upstream ignores it.
    UnknownKey,
    /// An upstream option gost-rs does not implement yet; ignored.
    Unsupported,
    /// A setting that has no effect, or another effect than it may seem to have.
    Note,
}

impl Warning {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Warning {
            kind: WarningKind::Note,
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn unknown(path: impl Into<String>, message: impl Into<String>) -> Self {
        Warning {
            kind: WarningKind::UnknownKey,
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn unsupported(path: impl Into<String>, message: impl Into<String>) -> Self {
        Warning {
            kind: WarningKind::Unsupported,
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}
