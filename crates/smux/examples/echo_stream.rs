//! One smux session over a loopback TCP connection: the client opens a stream, the server echoes it.
//!
//! ```text
//! cargo run -p gost-smux --example echo_stream
//! ```

use gost_smux::{Config, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let (dialed, accepted) = tokio::join!(
        TcpStream::connect(listener.local_addr()?),
        listener.accept()
    );
    // Version 1 is GOST's default; both ends must use the same one.
    let client = Session::client(dialed?, Config::default())?;
    let server = Session::server(accepted?.0, Config::default())?;

    // The server echoes every stream the client opens until the client half-closes it.
    let echo = tokio::spawn(async move {
        while let Some(stream) = server.accept_stream().await {
            let (mut r, mut w) = tokio::io::split(stream);
            tokio::io::copy(&mut r, &mut w).await?;
            w.shutdown().await?;
        }
        Ok::<_, std::io::Error>(())
    });

    let mut stream = client.open_stream().await?;
    stream.write_all(b"hello over smux").await?;
    stream.shutdown().await?; // FIN: a half-close, as in TCP
    let mut echoed = Vec::new();
    stream.read_to_end(&mut echoed).await?;
    println!("echoed: {}", String::from_utf8_lossy(&echoed));
    assert_eq!(echoed, b"hello over smux");

    client.close(); // the server's accept_stream then returns None
    echo.await??;
    Ok(())
}
