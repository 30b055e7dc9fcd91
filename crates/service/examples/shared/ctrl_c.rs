//! Shared by the server examples (each includes this file as a module): serve until Ctrl-C, then
//! stop accepting, drain the live connections and return.

use gost_service::Service;
use tokio_util::sync::CancellationToken;

/// Says what runs where (`what` on the bound address), then serves until Ctrl-C.
pub(crate) async fn serve_until_ctrl_c(service: Service, what: &str) {
    println!("{what} on {}", service.local_addr());
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    service.run(shutdown).await;
}
