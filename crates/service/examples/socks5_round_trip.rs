//! A SOCKS5 server with one user on loopback, one client CONNECT through it with the tokio-socks crate,
//! then a graceful shutdown; exits by itself.
//!
//! ```text
//! cargo run -p gost-service --example socks5_round_trip
//! ```

use gost_service::{ServiceBuilder, Users};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let service = ServiceBuilder::socks5()
        .bind("127.0.0.1:0") // ":1080" for every interface
        .users(Users::new([("alice", "s3cret")]))
        .build()
        .await?;
    let proxy = service.local_addr();
    println!("SOCKS5 proxy on {proxy}");
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(service.run(shutdown.clone()));

    // Any SOCKS5 client works (here tokio-socks) to any target (here a local listener).
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut client = tokio_socks::tcp::Socks5Stream::connect_with_password(
        proxy,
        target.local_addr()?,
        "alice",
        "s3cret",
    )
    .await?;
    let (mut from_proxy, _) = target.accept().await?;
    client.write_all(b"ping").await?;
    let mut buf = [0u8; 4];
    from_proxy.read_exact(&mut buf).await?;
    println!("target got: {}", String::from_utf8_lossy(&buf));

    drop((client, from_proxy));
    shutdown.cancel(); // stop accepting, drain live connections, return
    running.await?;
    Ok(())
}
