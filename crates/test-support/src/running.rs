//! [`Running`]: a task started for a test (a service, a forwarder, a scripted peer) that is cancelled
//! when the test drops it, so nothing outlives the test that started it.

use std::future::Future;
use std::net::SocketAddr;

use tokio_util::sync::CancellationToken;

/// A running server task listening on `addr`; dropping it cancels the task's token.
pub struct Running {
    /// The address the server listens on.
    pub addr: SocketAddr,
    token: CancellationToken,
}

impl Running {
    /// Spawns `run(token)` on the current runtime for a server listening on `addr`.
    pub fn spawn<F>(addr: SocketAddr, run: impl FnOnce(CancellationToken) -> F) -> Running
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let token = CancellationToken::new();
        tokio::spawn(run(token.clone()));
        Running { addr, token }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dropping_cancels_the_task() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let running = Running::spawn("127.0.0.1:9".parse().unwrap(), |token| async move {
            token.cancelled().await;
            tx.send(()).unwrap();
        });
        drop(running);
        rx.await.expect("the task saw its cancellation");
    }
}
