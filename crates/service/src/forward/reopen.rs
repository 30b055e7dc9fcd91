//! The loop that keeps a remote listener (rtcp, rudp) open: each time one is lost or cannot be opened,
//! it is opened again after 1 s, 2 s, 4 s, then every 5 s, as upstream.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::warn;

/// What to do after one remote listener's life ended without an error.
pub(crate) enum Next {
    /// It was open and is lost: open it again after the first back-off step, counting afresh.
    Reopen,
    /// Open the next one at once.
    Now,
    /// Open the next one after this long.
    After(Duration),
}

/// Runs `serve_once` (one remote listener's life) again and again until `shutdown`; `what` and `laddr`
/// name the service in the log line of a failure.
pub(crate) async fn keep_open<F, E>(
    shutdown: &CancellationToken,
    what: &str,
    laddr: &str,
    mut serve_once: impl FnMut() -> F,
) where
    F: Future<Output = Result<Next, E>>,
    E: Display,
{
    let mut failures = 0u32;
    loop {
        let served = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = serve_once() => r,
        };
        let delay = match served {
            Ok(Next::Reopen) => {
                failures = 0;
                backoff(0)
            }
            Ok(Next::Now) => continue,
            Ok(Next::After(d)) => d,
            Err(e) => {
                let d = backoff(failures);
                failures = failures.saturating_add(1);
                warn!(%laddr, error = %e, retry_in = ?d, "{what}: remote listener failed");
                d
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// The delay before attempt `attempt` (0-based) to re-open a remote listener.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(match attempt {
        0 => 1,
        1 => 2,
        2 => 4,
        _ => 5,
    })
}
