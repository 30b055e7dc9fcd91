//! [`LoadedList`]: upstream's loaders for any component whose data is lines of text (a hosts table, a
//! limiter's limits): inline lines plus every source's, compiled by the component into its own form
//! on each load and re-read every `reload`. Access policies use the same machinery.

use std::future::Future;
use std::sync::Arc;

use tracing::debug;

use crate::feed::Reload;
use crate::list::{ListSpec, Lists, start};

/// Turns the current lines (comments and blank lines removed) into a component's data.
type Compile<T> = Box<dyn Fn(&[String]) -> T + Send + Sync>;

/// Lines from a [`ListSpec`]'s inline entries and sources, compiled into `T` at every load.
///
/// Unlike the access policies, nothing here fails closed: [`LoadedList::current`] is `None` until
/// every source has been read once, and the component decides what that means.
pub struct LoadedList<T> {
    lists: Lists<T>,
    compile: Compile<T>,
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
        let list = LoadedList {
            lists: Lists::new(kind, spec.clone()),
            compile: Box::new(compile),
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

    /// How many reads of its sources failed so far (each failure kept the last good data).
    pub fn failed_loads(&self) -> u64 {
        self.lists.failed_loads()
    }

    /// Re-reads the sources now.
    pub async fn reload(&self) {
        let Some(lines) = self.lists.patterns().await else {
            return;
        };
        debug!(list = %self.lists.name, lines = lines.len(), "loaded");
        self.lists.current.set((self.compile)(&lines));
    }
}

impl<T: Send + Sync + 'static> Reload for LoadedList<T> {
    fn reload(&self) -> impl Future<Output = ()> + Send + '_ {
        LoadedList::reload(self)
    }
}
