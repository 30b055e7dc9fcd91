//! [`LoadedList`]: upstream's loaders for any component whose data is lines of text (a hosts table, a
//! limiter's limits): inline lines plus every source's, compiled by the component into its own form
//! on each load and re-read every `reload`. Access policies use the same machinery.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::{debug, warn};

use crate::feed::Reload;
use crate::list::{ListSpec, Lists, start};

/// Turns the current lines (comments and blank lines removed) into a component's data, or says which
/// line is wrong.
type Compile<T> = Box<dyn Fn(&[String]) -> Result<T, String> + Send + Sync>;

/// Lines from a [`ListSpec`]'s inline entries and sources, compiled into `T` at every load.
///
/// Unlike the access policies, nothing here fails closed: [`LoadedList::current`] is `None` until
/// every source has been read once, and the component decides what that means.
pub struct LoadedList<T> {
    lists: Lists<T>,
    compile: Compile<T>,
    bad_loads: AtomicU64,
}

impl<T> std::fmt::Debug for LoadedList<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedList")
            .field("name", &self.lists.name)
            .finish_non_exhaustive()
    }
}

impl<T: Send + Sync + 'static> LoadedList<T> {
    /// Loads `spec` once (`kind` names the component in logs, e.g. `hosts`), then re-reads it every
    /// `spec.reload` until dropped. `spec.whitelist` is not used.
    pub async fn start(
        kind: &str,
        spec: ListSpec,
        compile: impl Fn(&[String]) -> T + Send + Sync + 'static,
    ) -> Arc<LoadedList<T>> {
        LoadedList::start_checked(kind, spec, move |lines| {
            Ok::<T, std::convert::Infallible>(compile(lines))
        })
        .await
    }

    /// Like [`LoadedList::start`] for data whose lines can be wrong: a load that `compile` refuses
    /// keeps the previous data (logged at `warn`, counted in [`LoadedList::failed_loads`]), so a bad
    /// line in a source never loosens what the component enforces.
    pub async fn start_checked<E: std::fmt::Display>(
        kind: &str,
        spec: ListSpec,
        compile: impl Fn(&[String]) -> Result<T, E> + Send + Sync + 'static,
    ) -> Arc<LoadedList<T>> {
        let list = LoadedList {
            lists: Lists::new(kind, spec.clone()),
            compile: Box::new(move |lines| compile(lines).map_err(|e| e.to_string())),
            bad_loads: AtomicU64::new(0),
        };
        let period = spec.reload.filter(|_| list.lists.has_sources());
        start(Arc::new(list), |l| l.lists.reloader(), period).await
    }

    /// The list's name.
    pub fn name(&self) -> &str {
        &self.lists.name
    }

    /// The data of the last load, or `None` while some source has never been read.
    pub fn current(&self) -> Option<Arc<T>> {
        self.lists.current.get()
    }

    /// How many loads failed so far: a source that could not be read, or lines the component refused
    /// (each kept the last good data).
    pub fn failed_loads(&self) -> u64 {
        self.lists.failed_loads() + self.bad_loads.load(Ordering::Relaxed)
    }

    /// Re-reads the sources now.
    pub async fn reload(&self) {
        let Some(lines) = self.lists.patterns().await else {
            return;
        };
        match (self.compile)(&lines) {
            Ok(data) => {
                debug!(list = %self.lists.name, lines = lines.len(), "loaded");
                self.lists.current.set(data);
            }
            Err(e) => {
                self.bad_loads.fetch_add(1, Ordering::Relaxed);
                warn!(list = %self.lists.name, error = %e, "bad line; keeping the previous data");
            }
        }
    }
}

impl<T: Send + Sync + 'static> Reload for LoadedList<T> {
    fn reload(&self) -> impl Future<Output = ()> + Send + '_ {
        LoadedList::reload(self)
    }
}
