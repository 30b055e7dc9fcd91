//! A TCP listener and dialer on loopback: the dialer sends "ping", the listener's side answers "pong".
//! Both ends are the transport-neutral `gost_transport::Stream`.
//!
//! ```text
//! cargo run -p gost-transport --example tcp_round_trip
//! ```

use gost_transport::tcp::{TcpDialer, TcpListener, TcpOptions};
use gost_transport::{Dialer, Listener};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0", TcpOptions::default()).await?;
    let addr = socks_wire::Address::from(listener.local_addr());
    let dialer = TcpDialer::new(TcpOptions::default());

    let (mut client, (mut server, peer)) = tokio::try_join!(dialer.dial(&addr), listener.accept())?;
    println!("accepted a connection from {peer}");

    client.write_all(b"ping").await?;
    let mut buf = [0u8; 4];
    server.read_exact(&mut buf).await?;
    assert_eq!(&buf, b"ping");
    server.write_all(b"pong").await?;
    client.read_exact(&mut buf).await?;
    println!("client got: {}", String::from_utf8_lossy(&buf));
    Ok(())
}
