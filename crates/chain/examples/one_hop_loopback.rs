//! A router that dials through a one-node chain, all on loopback: a minimal one-connection SOCKS5
//! proxy (socks-wire's server state machine over tokio) stands in for a GOST node, and the client
//! reaches an echo target through it.
//!
//! ```text
//! cargo run -p gost-chain --example one_hop_loopback
//! ```

use std::error::Error;
use std::sync::Arc;

use gost_chain::Socks5ConnectorOptions;
use gost_chain::{Chain, Connector, Hop, Node, Router, Selector, Socks5Connector};
use gost_transport::tcp::{TcpDialer, TcpOptions};
use gost_transport::tls::ClientTls;
use socks_wire::{Address, Encode, Reply, ReplyCode, ServerConfig, ServerEvent, ServerHandshake};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type BoxError = Box<dyn Error + Send + Sync>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let target = TcpListener::bind("127.0.0.1:0").await?;
    let target_addr = target.local_addr()?;
    let echo = tokio::spawn(async move {
        let (conn, _) = target.accept().await?;
        let (mut r, mut w) = conn.into_split();
        tokio::io::copy(&mut r, &mut w).await
    });
    let proxy = TcpListener::bind("127.0.0.1:0").await?;
    let proxy_addr = Address::from(proxy.local_addr()?);
    let node_task = tokio::spawn(socks5_node(proxy));

    // The chain: one hop with one SOCKS5 node reached over plain TCP.
    let opts = Socks5ConnectorOptions {
        notls: true, // offer only 0x00, as `?notls=true` does on a GOST node
        ..Default::default()
    };
    let connector = Connector::Socks5(Socks5Connector::new(opts, None, ClientTls::insecure()));
    let dialer = Arc::new(TcpDialer::new(TcpOptions::default()));
    let node = Node::new("node-0", proxy_addr, connector, dialer);
    let hop = Hop::new("hop-0", vec![node], Selector::default())?;
    let router = Router::new(Some(Chain::new("chain-0", vec![hop])?));

    let mut stream = router.dial(&Address::from(target_addr)).await?; // CONNECT through the node
    stream.write_all(b"hello through the chain").await?;
    stream.shutdown().await?;
    let mut echoed = Vec::new();
    stream.read_to_end(&mut echoed).await?;
    println!("echoed: {}", String::from_utf8_lossy(&echoed));
    assert_eq!(echoed, b"hello through the chain");

    node_task.await??;
    echo.await??;
    Ok(())
}

/// Serves one SOCKS5 CONNECT (no authentication, IP targets only), then relays until both sides close.
async fn socks5_node(listener: TcpListener) -> Result<(), BoxError> {
    let (mut client, _) = listener.accept().await?;
    let mut handshake = ServerHandshake::new(ServerConfig::default());
    let (mut input, mut out) = (Vec::new(), Vec::new());
    let request = loop {
        let step = handshake.advance(&input, &mut out)?;
        client.write_all(&out).await?;
        out.clear();
        input.drain(..step.consumed);
        match step.event {
            ServerEvent::NeedMore(_) => {
                let mut buf = [0u8; 512];
                let n = client.read(&mut buf).await?;
                if n == 0 {
                    return Err("client closed during the handshake".into());
                }
                input.extend_from_slice(&buf[..n]);
            }
            ServerEvent::Request(request) => break request,
            other => return Err(format!("not served by this example: {other:?}").into()),
        }
    };
    let Address::Ip(addr) = request.addr else {
        return Err("this example resolves no domain names".into());
    };
    let mut upstream = TcpStream::connect(addr).await?;
    Reply::new(ReplyCode::Succeeded, "0.0.0.0:0".parse::<Address>()?).encode(&mut out)?;
    client.write_all(&out).await?;
    upstream.write_all(&input).await?; // anything the client sent early
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}
