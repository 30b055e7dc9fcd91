//! Log capture: a [`Logs`] subscriber records the `tracing` events of the current thread as text, so a
//! test can wait for (or count) the log line an event produces.

/// Log events captured on this thread: `LEVEL field=value …` per event, in order.
#[derive(Clone, Default)]
pub struct Logs(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Logs {
    /// Captures the events of this thread (a current-thread runtime runs every task on it) until the
    /// returned guard is dropped.
    pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        keep_callsites_asking();
        let logs = Logs::default();
        let guard = tracing::subscriber::set_default(logs.clone());
        (logs, guard)
    }

    /// The captured lines that contain every one of `parts`.
    pub fn matching(&self, parts: &[&str]) -> Vec<String> {
        let lines = self.0.lock().unwrap();
        lines
            .iter()
            .filter(|l| parts.iter().all(|p| l.contains(p)))
            .cloned()
            .collect()
    }
}
/// The `Subscriber` methods of a subscriber that keeps no spans (both of this module's).
macro_rules! no_spans {
    () => {
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    };
}

/// Registers, once per process, a second dispatcher that never records but answers "sometimes" for
/// every callsite. Why: with a single registered dispatcher, tracing-core caches a callsite's interest
/// from the subscriber of whichever thread hits it first; another test's thread (no subscriber) would
/// cache "never" for the log line a capturing test waits for (seen: 4 failures in 40 runs of
/// service_runner_limits_and_shutdown). With two dispatchers registered, interest is combined over
/// all of them, so each event asks the current thread's subscriber.
fn keep_callsites_asking() {
    static ASKING: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    ASKING.get_or_init(|| tracing::Dispatch::new(AlwaysAsk));
}

struct AlwaysAsk;

impl tracing::Subscriber for AlwaysAsk {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }
    fn event(&self, _: &tracing::Event<'_>) {}
    no_spans!();
}

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

/// A minimal subscriber: no spans, every event recorded as text.
impl tracing::Subscriber for Logs {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(event.metadata().level().to_string());
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    no_spans!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_of_this_thread_are_captured_until_the_guard_drops() {
        let (logs, guard) = Logs::capture();
        tracing::info!(service = "svc-1", "listening");
        std::thread::spawn(|| tracing::info!(service = "other-thread", "listening"))
            .join()
            .unwrap();
        drop(guard);
        tracing::info!(service = "after", "listening");
        let lines = logs.matching(&["listening"]);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("INFO"), "{lines:?}");
        assert!(lines[0].contains("service=\"svc-1\""), "{lines:?}");
    }
}
