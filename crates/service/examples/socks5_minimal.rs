//! The smallest useful SOCKS5 server: no authentication, direct dialing, Ctrl-C to stop.
//!
//! ```text
//! cargo run -p gost-service --example socks5_minimal -- 127.0.0.1:1080
//! curl -x socks5h://127.0.0.1:1080 http://example.com/
//! ```

use gost_service::{BuildError, Service, ServiceBuilder};

#[path = "shared/ctrl_c.rs"]
mod ctrl_c;
use ctrl_c::serve_until_ctrl_c;

/// The whole server: SOCKS5 on `addr`, CONNECT only, every target dialed from this host.
pub(crate) async fn server(addr: &str) -> Result<Service, BuildError> {
    ServiceBuilder::socks5()
        .name("socks5-minimal")
        .bind(addr)
        .build()
        .await
}

#[tokio::main]
async fn main() -> Result<(), BuildError> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:1080".into());
    let service = server(&addr).await?;
    serve_until_ctrl_c(service, "SOCKS5 proxy").await;
    Ok(())
}
