//! Runs a configuration the way the `gost` binary does: flags become a validated `Config`, `App::start`
//! binds and starts its SOCKS5 service, a client makes one CONNECT through it, and `App::shutdown`
//! drains and stops everything.
//!
//! ```text
//! cargo run -p gost-app --example start_and_stop
//! ```

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Port 0: the system picks a free port, and `App::local_addr` reports it.
    let (config, _warnings) = gost_config::from_cli(&["socks5://127.0.0.1:0"], &[] as &[&str])?;
    gost_config::validate(&config)?;
    let app = gost_app::App::start(config).await?;
    let proxy = app
        .local_addr("service-0")
        .ok_or("service-0 is not listening")?;
    println!("SOCKS5 service on {proxy}");

    // A target on loopback, reached through the proxy with a hand-written SOCKS5 CONNECT.
    let target = TcpListener::bind("127.0.0.1:0").await?;
    let [a, b, c, d] = [127u8, 0, 0, 1];
    let [p1, p2] = target.local_addr()?.port().to_be_bytes();
    let mut client = TcpStream::connect(proxy).await?;
    client.write_all(&[5, 1, 0]).await?; // greeting: version 5, one method, "no authentication"
    let mut choice = [0u8; 2];
    client.read_exact(&mut choice).await?;
    client.write_all(&[5, 1, 0, 1, a, b, c, d, p1, p2]).await?; // CONNECT 127.0.0.1:port
    let mut reply = [0u8; 10];
    client.read_exact(&mut reply).await?;
    let (from_proxy, _) = target.accept().await?;
    println!("method {:#04x}, reply code {:#04x}", choice[1], reply[1]);
    assert_eq!((choice, reply[1]), ([5, 0], 0), "CONNECT succeeded");

    drop((client, from_proxy));
    // Stop accepting and drain; the argument would cut the drain short (e.g. on a second Ctrl-C).
    app.shutdown(std::future::pending()).await;
    println!("stopped");
    Ok(())
}
