//! A KCP session over loopback UDP with GOST's default settings (AES, snappy framing): the client sends
//! a message, the server echoes it.
//!
//! ```text
//! cargo run -p gost-kcp --example echo_session
//! ```

use gost_kcp::{KcpConfig, KcpListener, KcpStream, ListenerLimits, SessionLimits, SnappyStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The configuration a default upstream GOST node uses (no `kcp.*` options given).
    let cfg = KcpConfig::default().validate()?;
    let listener = KcpListener::bind(
        "127.0.0.1:0".parse()?,
        cfg.clone(),
        ListenerLimits::default(),
    )
    .await?;
    let server_addr = listener.local_addr();

    let server = tokio::spawn(async move {
        // No handshake: the client's first data packet creates the session.
        let mut stream = SnappyStream::new(listener.accept().await?);
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).await?;
        stream.write_all(&buf[..n]).await?;
        stream.flush().await?;
        Ok::<_, std::io::Error>(())
    });

    let session = KcpStream::connect(server_addr, &cfg, SessionLimits::default()).await?;
    let mut client = SnappyStream::new(session); // unless `nocomp`
    client.write_all(b"hello over kcp").await?;
    client.flush().await?;
    let mut echoed = [0u8; 14];
    client.read_exact(&mut echoed).await?;
    println!("echoed: {}", String::from_utf8_lossy(&echoed));
    server.await??;
    Ok(())
}
