//! [`Auther`]: a named credential set (upstream `authers:` entry) from inline `auths`, a file, a Redis
//! hash and an HTTP body, with upstream's precedence (HTTP over Redis over file over inline for the same
//! user), and [`SkipAuth`], the client networks that need no credentials (upstream 3.3 `skipauth`).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::DropGuard;
use tracing::debug;

use crate::creds::Credentials;
use crate::feed::{Current, Feed, Reload};
use crate::matcher::{IpSet, PatternError};
use crate::source::{Fetched, RedisType, SourceSpec};

/// What an [`Auther`] is built from.
#[derive(Debug, Clone, Default)]
pub struct AutherSpec {
    /// The auther's name (for logs).
    pub name: String,
    /// Inline `auths` as `(username, password)`.
    pub auths: Vec<(String, String)>,
    /// `file`, `redis` (a hash), `http` sources, in any order.
    pub sources: Vec<SourceSpec>,
    /// `reload`: how often the sources are re-read; `None` reads them once.
    pub reload: Option<Duration>,
}

/// A credential set kept fresh from its sources; see the crate docs for what happens when they fail.
pub struct Auther {
    name: String,
    inline: Credentials,
    feed: Feed,
    current: Current<Credentials>,
    reloader: std::sync::Mutex<Option<DropGuard>>,
}

impl std::fmt::Debug for Auther {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auther")
            .field("name", &self.name)
            .field("current", &self.current.get())
            .finish_non_exhaustive()
    }
}

/// Upstream's precedence: later sources overwrite earlier ones.
fn rank(s: &SourceSpec) -> u8 {
    match s {
        SourceSpec::File(_) => 0,
        SourceSpec::Redis(_) => 1,
        SourceSpec::Http(_) => 2,
    }
}

impl Auther {
    /// Builds the auther, reads its sources once (waiting for them), and re-reads them every
    /// `spec.reload` from a background task that ends when the auther is dropped.
    pub async fn start(spec: AutherSpec) -> Arc<Auther> {
        let mut sources = spec.sources;
        sources.sort_by_key(rank);
        let reload = spec.reload.filter(|_| !sources.is_empty());
        let auther = Arc::new(Auther {
            feed: Feed::new(format!("auther {:?}", spec.name), sources, RedisType::Hash),
            name: spec.name,
            inline: Credentials::from_pairs(spec.auths),
            current: Current::default(),
            reloader: std::sync::Mutex::new(None),
        });
        crate::list::start(auther, |a| &a.reloader, reload).await
    }

    /// The auther's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many reads of its sources failed so far (each failure kept the last good data).
    pub fn failed_loads(&self) -> u64 {
        self.feed.failures()
    }

    /// Whether every source has been read at least once (before that, nobody can log in).
    pub fn is_loaded(&self) -> bool {
        self.current.get().is_some()
    }

    /// Whether `user` may log in with `password` (see [`Credentials::check`]).
    pub fn check(&self, user: &[u8], password: &[u8]) -> bool {
        self.current.get().is_some_and(|c| c.check(user, password))
    }

    /// Re-reads the sources now (the reload task calls this every period).
    pub async fn reload(&self) {
        if self.feed.is_empty() {
            if !self.is_loaded() {
                self.current.set(self.inline.clone());
            }
            return;
        }
        let Some(parts) = self.feed.refresh().await else {
            return;
        };
        let mut creds = self.inline.clone();
        for part in parts {
            match part {
                Fetched::Text(t) => creds.extend(Credentials::parse_text(&t).into_pairs()),
                Fetched::Hash(h) => creds.extend(h),
                Fetched::Members(m) => {
                    creds.extend(Credentials::parse_text(&m.join("\n")).into_pairs())
                }
            }
        }
        debug!(auther = %self.name, users = creds.len(), "auther loaded");
        self.current.set(creds);
    }
}

impl Reload for Auther {
    fn reload(&self) -> impl Future<Output = ()> + Send + '_ {
        Auther::reload(self)
    }
}

/// Client IPs and networks that pass authentication without valid credentials (upstream 3.3's
/// `skipauth`): a SOCKS5 client must still go through the username/password step, but any
/// credentials pass; a SOCKS4 client's userid is not checked.
#[derive(Debug, Clone, Default)]
pub struct SkipAuth(IpSet);

impl SkipAuth {
    /// From IPs and CIDRs; anything else is an error naming the entry.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<SkipAuth, PatternError> {
        let (set, rest) = IpSet::from_ips_and_cidrs(patterns.iter().map(|p| p.as_ref().trim()));
        match rest.into_iter().find(|p| !p.is_empty()) {
            Some(p) => Err(PatternError {
                pattern: p.to_owned(),
                reason: "skipauth takes IP addresses and CIDRs",
            }),
            None => Ok(SkipAuth(set)),
        }
    }

    /// Whether `client` may skip authentication.
    pub fn contains(&self, client: IpAddr) -> bool {
        self.0.contains(client)
    }

    /// Whether no client may.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
