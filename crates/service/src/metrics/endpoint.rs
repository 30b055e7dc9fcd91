//! [`Endpoint`]: where and how the metrics are served, parsed from upstream's `-metrics` flag value
//! (`:9000`, `user:pass@:9000`, `127.0.0.1:9000?path=/m`).

use std::fmt;
use std::str::FromStr;

/// Upstream's default metrics path.
pub const DEFAULT_PATH: &str = "/metrics";

/// The metrics endpoint settings of upstream's `-metrics` flag or `metrics:` section.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Listen address (`:9000` for every interface).
    pub addr: String,
    /// HTTP path. Default `/metrics`.
    pub path: String,
    /// Basic authentication `(user, password)`, when required.
    pub auth: Option<(String, String)>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the password.
        f.debug_struct("Endpoint")
            .field("addr", &self.addr)
            .field("path", &self.path)
            .field("user", &self.auth.as_ref().map(|(u, _)| u))
            .finish()
    }
}

/// Why a `-metrics` value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid metrics address {value:?}: {reason}")]
pub struct EndpointError {
    value: String,
    reason: &'static str,
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    /// `[user[:password]@]host:port[?path=/p]`.
    fn from_str(value: &str) -> Result<Endpoint, EndpointError> {
        let err = |reason| EndpointError {
            value: value.to_owned(),
            reason,
        };
        let (rest, query) = value.split_once('?').unwrap_or((value, ""));
        let (auth, addr) = match rest.rsplit_once('@') {
            Some((userinfo, addr)) => {
                let (u, p) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                if u.is_empty() {
                    return Err(err("empty user name before '@'"));
                }
                (Some((u.to_owned(), p.to_owned())), addr)
            }
            None => (None, rest),
        };
        let port = addr.rsplit_once(':').map(|(_, p)| p).unwrap_or("");
        if port.parse::<u16>().is_err() {
            return Err(err("expected host:port or :port"));
        }
        let mut path = DEFAULT_PATH.to_owned();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            if let Some(("path", p)) = pair.split_once('=') {
                if !p.starts_with('/') {
                    return Err(err("path must start with '/'"));
                }
                path = p.to_owned();
            }
        }
        Ok(Endpoint {
            addr: addr.to_owned(),
            path,
            auth,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upstream_flag_forms() {
        let e: Endpoint = ":9000".parse().unwrap();
        assert_eq!(
            (e.addr.as_str(), e.path.as_str(), e.auth),
            (":9000", "/metrics", None)
        );
        let e: Endpoint = "user:pa:ss@127.0.0.1:9000?path=/m".parse().unwrap();
        assert_eq!(e.addr, "127.0.0.1:9000");
        assert_eq!(e.path, "/m");
        assert_eq!(e.auth, Some(("user".into(), "pa:ss".into())));
        assert!(!format!("{e:?}").contains("pa:ss"));
        let e: Endpoint = "[::1]:9000".parse().unwrap();
        assert_eq!(e.addr, "[::1]:9000");
        for bad in ["", "9000", ":x", "@:9000", ":9000?path=m"] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad:?}");
        }
    }
}
