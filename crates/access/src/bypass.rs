//! [`Bypass`]: which targets a service refuses or a chain hop does not carry (upstream `bypasses:`
//! entry), and [`BypassGroup`], several of them combined as upstream combines them.

use std::sync::Arc;

use tracing::{debug, warn};

use crate::feed::Reload;
use crate::list::{ListSpec, Lists, start};
use crate::matcher::{PatternSet, Target};

/// What a [`Bypass`] is built from.
pub type BypassSpec = ListSpec;

/// A target list kept fresh from its sources.
#[derive(Debug)]
pub struct Bypass(Lists<PatternSet>);

impl Bypass {
    /// Builds the bypass, loads it once, and re-reads it every `spec.reload` until dropped.
    pub async fn start(spec: BypassSpec) -> Arc<Bypass> {
        let b = Bypass(Lists::new("bypass", spec.clone()));
        let period = spec.reload.filter(|_| b.0.has_sources());
        start(Arc::new(b), |b| b.0.reloader(), period).await
    }

    /// The bypass's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Whether this is a whitelist.
    pub fn is_whitelist(&self) -> bool {
        self.0.whitelist
    }

    /// How many reads of its sources failed so far (each failure kept the last good data).
    pub fn failed_loads(&self) -> u64 {
        self.0.failed_loads()
    }

    /// Whether every source has been read once.
    pub fn is_loaded(&self) -> bool {
        self.0.current.get().is_some()
    }

    /// Upstream's `Contains`: whether `target` is bypassed — refused by a service, not carried by a hop.
    /// A blacklist bypasses matching targets, a whitelist the others. Until loaded, every target is.
    pub fn contains(&self, target: Target<'_>) -> bool {
        self.0
            .current
            .get()
            .is_none_or(|set| set.matches(target) != self.0.whitelist)
    }

    /// Re-reads the sources now.
    pub async fn reload(&self) {
        let Some(patterns) = self.0.patterns().await else {
            return;
        };
        let (set, errors) = PatternSet::parse(&patterns);
        for e in errors {
            warn!(bypass = %self.0.name, error = %e, "entry ignored");
        }
        debug!(bypass = %self.0.name, entries = set.len(), "bypass loaded");
        self.0.current.set(set);
    }
}

impl Reload for Bypass {
    fn reload(&self) -> impl Future<Output = ()> + Send + '_ {
        Bypass::reload(self)
    }
}

/// Several bypasses (`bypasses: [a, b]`), combined as upstream: a target is bypassed when every
/// whitelist bypasses it, or when any blacklist does.
#[derive(Debug, Clone, Default)]
pub struct BypassGroup(Vec<Arc<Bypass>>);

impl BypassGroup {
    /// The group of `members`.
    pub fn new(members: Vec<Arc<Bypass>>) -> BypassGroup {
        BypassGroup(members)
    }

    /// Whether the group has no member (nothing is bypassed).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The name of a member that has not been loaded yet, if any.
    pub fn unloaded(&self) -> Option<&str> {
        self.0.iter().find(|b| !b.is_loaded()).map(|b| b.name())
    }

    /// Whether `target` is bypassed by the group.
    pub fn contains(&self, target: Target<'_>) -> bool {
        if let [one] = self.0.as_slice() {
            return one.contains(target);
        }
        let (white, black): (Vec<_>, Vec<_>) = self.0.iter().partition(|b| b.is_whitelist());
        (!white.is_empty() && white.iter().all(|b| b.contains(target)))
            || black.iter().any(|b| b.contains(target))
    }
}
