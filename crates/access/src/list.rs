//! What admission and bypass lists share: the spec (`whitelist`, inline `matchers`, sources, `reload`)
//! and [`Lists`], the named pattern list kept fresh from its sources.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio_util::sync::DropGuard;

use crate::feed::{Current, Feed, Reload, list_lines, spawn_reloader};
use crate::source::{RedisType, SourceSpec};

/// What an [`crate::Admission`] or a [`crate::Bypass`] is built from.
#[derive(Debug, Clone, Default)]
pub struct ListSpec {
    /// The list's name (for logs).
    pub name: String,
    /// `whitelist: true` (or the CLI's `~` prefix): only matching entries pass.
    pub whitelist: bool,
    /// Inline `matchers`.
    pub matchers: Vec<String>,
    /// `file`, `redis` (a set), `http` sources.
    pub sources: Vec<SourceSpec>,
    /// `reload` period; `None` reads the sources once.
    pub reload: Option<Duration>,
}

/// A named list and its compiled form `T`.
pub(crate) struct Lists<T> {
    pub(crate) name: String,
    pub(crate) whitelist: bool,
    inline: Vec<String>,
    feed: Feed,
    pub(crate) current: Current<T>,
    reloader: Mutex<Option<DropGuard>>,
}

/// What a list-based policy shows of itself: its name and kind, not its (possibly long) entries.
impl<T> std::fmt::Debug for Lists<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lists")
            .field("name", &self.name)
            .field("whitelist", &self.whitelist)
            .finish_non_exhaustive()
    }
}

impl<T> Lists<T> {
    pub(crate) fn new(kind: &str, spec: ListSpec) -> Lists<T> {
        Lists {
            feed: Feed::new(
                format!("{kind} {:?}", spec.name),
                spec.sources,
                RedisType::Set,
            ),
            name: spec.name,
            whitelist: spec.whitelist,
            inline: spec.matchers,
            current: Current::default(),
            reloader: Mutex::new(None),
        }
    }

    /// Inline entries plus every source's, or `None` while some source has never been read.
    pub(crate) async fn patterns(&self) -> Option<Vec<String>> {
        let mut patterns = self.inline.clone();
        if !self.feed.is_empty() {
            let parts = self.feed.refresh().await?;
            parts.iter().for_each(|p| list_lines(p, &mut patterns));
        }
        Some(patterns)
    }

    pub(crate) fn failed_loads(&self) -> u64 {
        self.feed.failures()
    }

    pub(crate) fn has_sources(&self) -> bool {
        !self.feed.is_empty()
    }

    pub(crate) fn reloader(&self) -> &Mutex<Option<DropGuard>> {
        &self.reloader
    }
}

/// Loads `policy` once, then re-reads it every `period` until it is dropped.
pub(crate) async fn start<P: Reload>(
    policy: Arc<P>,
    slot: impl Fn(&P) -> &Mutex<Option<DropGuard>>,
    period: Option<Duration>,
) -> Arc<P> {
    policy.reload().await;
    if let Some(period) = period {
        let guard = spawn_reloader(&policy, period);
        *slot(&policy).lock().unwrap_or_else(PoisonError::into_inner) = Some(guard);
    }
    policy
}
