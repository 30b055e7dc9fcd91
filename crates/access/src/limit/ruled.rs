//! [`RuleLists`]: what the bandwidth and request-rate limiters share — their `limits:` lines, kept fresh
//! from their sources and compiled into [`Rules`], and the count of loads whose data had a bad line.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::lines::{LineError, Rules, Scope};
use crate::feed::Reload;
use crate::list::{ListSpec, Lists, start};

/// Reads one `limits:` line: its scope and value, or `None` for a line with nothing on it.
pub(super) type ParseLine<T> = fn(&str) -> Result<Option<(Scope, T)>, LineError>;

/// Logs a bad line met at a load: the limiter's name and what was wrong.
pub(super) type LogBadLine = fn(&str, &LineError);

/// A limiter's lines and their current [`Rules`].
pub(super) struct RuleLists<T> {
    lists: Lists<Rules<T>>,
    parse: ParseLine<T>,
    bad_line: LogBadLine,
    bad_loads: AtomicU64,
    reload: Option<Duration>,
}

impl<T> RuleLists<T> {
    /// Checks the inline lines of `spec`; `kind` names the limiter's sources in logs.
    pub(super) fn new(
        kind: &str,
        spec: ListSpec,
        parse: ParseLine<T>,
        bad_line: LogBadLine,
    ) -> Result<Self, LineError> {
        Rules::parse(&spec.matchers, parse)?;
        Ok(RuleLists {
            reload: spec.reload,
            lists: Lists::new(kind, spec),
            parse,
            bad_line,
            bad_loads: AtomicU64::new(0),
        })
    }

    /// Loads `limiter` once, then re-reads its sources every `spec.reload` (when it has any) until
    /// dropped.
    pub(super) async fn start<L: Reload>(limiter: L, rules: impl Fn(&L) -> &RuleLists<T>) -> Arc<L>
    where
        T: 'static,
    {
        let own = rules(&limiter);
        let period = own.reload.filter(|_| own.lists.has_sources());
        start(Arc::new(limiter), |l| rules(l).lists.reloader(), period).await
    }

    /// The limiter's name.
    pub(super) fn name(&self) -> &str {
        &self.lists.name
    }

    /// Unreadable sources plus loads with a bad line (each kept the previous rules).
    pub(super) fn failed_loads(&self) -> u64 {
        self.lists.failed_loads() + self.bad_loads.load(Ordering::Relaxed)
    }

    /// The rules of the last good load; `None` while some source has never been read.
    pub(super) fn current(&self) -> Option<Arc<Rules<T>>> {
        self.lists.current.get()
    }

    /// Makes `rules` the current ones.
    pub(super) fn set(&self, rules: Rules<T>) {
        self.lists.current.set(rules)
    }

    /// Re-reads the sources and parses every line, with the number of lines; `None` while some source has
    /// never been read, or when a line is bad (counted and logged; the caller keeps its previous rules).
    pub(super) async fn load(&self) -> Option<(Rules<T>, usize)> {
        let lines = self.lists.patterns().await?;
        match Rules::parse(&lines, self.parse) {
            Ok(rules) => Some((rules, lines.len())),
            Err(e) => {
                self.bad_loads.fetch_add(1, Ordering::Relaxed);
                (self.bad_line)(&self.lists.name, &e);
                None
            }
        }
    }
}

impl<T: fmt::Debug> RuleLists<T> {
    /// Writes the limiter `what` as its name and current rules.
    pub(super) fn debug(&self, what: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(what)
            .field("name", &self.lists.name)
            .field("rules", &self.lists.current.get())
            .finish_non_exhaustive()
    }
}
