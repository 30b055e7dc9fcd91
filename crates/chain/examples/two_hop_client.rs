//! A client that reaches a target through two SOCKS5 proxies in a row (hop 1 connects to hop 2, which
//! connects to the target), sends an HTTP request and prints the answer.
//!
//! ```text
//! cargo run -p gost-chain --example two_hop_client -- 127.0.0.1:1080 127.0.0.1:1081 example.com:80
//! ```

use std::error::Error;
use std::sync::Arc;

use gost_chain::Socks5ConnectorOptions;
use gost_chain::addr::target_address;
use gost_chain::{Chain, Connector, Hop, Node, Router, Selector, Socks5Connector};
use gost_transport::tcp::{TcpDialer, TcpOptions};
use gost_transport::tls::ClientTls;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A SOCKS5 node at `addr` reached over plain TCP, with optional `(user, password)`.
fn socks5_node(
    name: &str,
    addr: &str,
    credentials: Option<(String, String)>,
) -> Result<Node, gost_chain::Error> {
    let opts = Socks5ConnectorOptions {
        notls: true,
        ..Default::default()
    };
    let connector = Connector::Socks5(Socks5Connector::new(
        opts,
        credentials,
        ClientTls::insecure(),
    ));
    let dialer = Arc::new(TcpDialer::new(TcpOptions::default()));
    // Addresses are parsed once, here; the router and connectors pass the parsed form on.
    Ok(Node::new(name, target_address(addr)?, connector, dialer))
}

/// A router whose every dial goes through `first`, then `second`.
pub(crate) fn two_hop_router(first: &str, second: &str) -> Result<Router, gost_chain::Error> {
    let hops = vec![
        Hop::new(
            "hop-0",
            vec![socks5_node("first", first, None)?],
            Selector::default(),
        )?,
        Hop::new(
            "hop-1",
            vec![socks5_node("second", second, None)?],
            Selector::default(),
        )?,
    ];
    Ok(Router::new(Some(Chain::new("two-hops", hops)?)))
}

/// Sends `GET / HTTP/1.0` to `target` (`host:port`) through the chain and returns the whole response.
pub(crate) async fn fetch(
    router: &Router,
    target: &str,
) -> Result<Vec<u8>, Box<dyn Error + Send + Sync>> {
    let mut stream = router.dial(&target_address(target)?).await?;
    let host = target.rsplit_once(':').map_or(target, |(h, _)| h);
    let request = format!("GET / HTTP/1.0\r\nHost: {host}\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    Ok(response)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [first, second, target] = args.as_slice() else {
        return Err("usage: two_hop_client FIRST_PROXY SECOND_PROXY TARGET_HOST:PORT".into());
    };
    let router = two_hop_router(first, second)?;
    let response = fetch(&router, target).await?;
    println!("{}", String::from_utf8_lossy(&response));
    Ok(())
}
