//! Loopback servers that tests talk to through a proxy: TCP echo (plain or counting its connections),
//! UDP echo, a one-page HTTP server, each on 127.0.0.1 port 0, plus free-port probes for configs that
//! must name a port up front. The async servers run as tokio tasks of the test's runtime and end with
//! it; [`blocking`] has thread-based twins for tests without a runtime.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A TCP server echoing every connection until EOF, then closing its side.
pub async fn echo_server() -> SocketAddr {
    counting_echo_server().await.0
}

/// An echo server and the number of connections it accepted so far.
pub async fn counting_echo_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let (mut r, mut w) = s.into_split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    (addr, count)
}

/// A UDP server echoing every datagram to its sender.
pub async fn udp_echo() -> SocketAddr {
    let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = s.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = s.recv_from(&mut buf).await {
            let _ = s.send_to(&buf[..n], from).await;
        }
    });
    addr
}

/// The body every request to an HTTP server of this module gets.
pub const BODY: &str = "hello from the test server\n";

/// An HTTP/1.1 server answering every request with 200 and [`BODY`], then closing the connection.
pub async fn http_server() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !end_of_head(&req) {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(http_response().as_bytes()).await;
            });
        }
    });
    addr
}

fn end_of_head(req: &[u8]) -> bool {
    req.windows(4).any(|w| w == b"\r\n\r\n")
}

fn http_response() -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    )
}

/// Sends the raw `request` to `addr` and returns all the server answers until it closes.
pub async fn http_exchange(addr: SocketAddr, request: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).await.unwrap();
    response
}

/// A loopback TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A port number free for both TCP and UDP on 127.0.0.1 a moment ago (for a tcp and a udp service
/// that must share one number, as iperf3's control connection and data do).
pub fn free_tcp_and_udp_port() -> u16 {
    for _ in 0..50 {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port number free for both TCP and UDP on 127.0.0.1");
}

/// Thread-based servers for tests that run no tokio runtime (e.g. those driving the `gost` binary).
/// Their threads end with the test process.
pub mod blocking {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
    use std::time::Duration;

    /// A TCP server echoing every connection until EOF.
    pub fn echo_server() -> SocketAddr {
        echo_server_on([127, 0, 0, 1])
    }

    /// [`echo_server`] on loopback address `ip` (e.g. 127.0.0.3, to tell targets apart by address).
    pub fn echo_server_on(ip: [u8; 4]) -> SocketAddr {
        let listener = TcpListener::bind(SocketAddr::from((ip, 0))).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                std::thread::spawn(move || {
                    let mut reader = conn.try_clone().unwrap();
                    let _ = std::io::copy(&mut reader, &mut conn);
                });
            }
        });
        addr
    }

    /// A UDP server echoing every datagram to its sender; its thread stops after 10 s without one.
    pub fn udp_echo() -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                let _ = socket.send_to(&buf[..n], from);
            }
        });
        addr
    }

    /// An HTTP/1.1 server answering every request with 200 and [`super::BODY`]; a client silent
    /// for `patience` is dropped.
    pub fn http_server(patience: Duration) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                std::thread::spawn(move || serve_http(conn, patience));
            }
        });
        addr
    }

    fn serve_http(mut conn: TcpStream, patience: Duration) {
        conn.set_read_timeout(Some(patience)).unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !super::end_of_head(&head) {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ = conn.write_all(super::http_response().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_echo_servers_echo_and_count() {
        let (tcp, count) = counting_echo_server().await;
        let mut s = tokio::net::TcpStream::connect(tcp).await.unwrap();
        s.write_all(b"ping").await.unwrap();
        s.shutdown().await.unwrap();
        let mut back = Vec::new();
        s.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"ping");
        assert_eq!(count.load(Ordering::SeqCst), 1);

        let udp = udp_echo().await;
        let c = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        c.send_to(b"dgram", udp).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = c.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"dgram"[..], udp));
    }

    #[tokio::test]
    async fn the_http_server_answers_with_its_body() {
        let resp = http_exchange(http_server().await, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
        assert!(resp.ends_with(&format!("\r\n\r\n{BODY}")), "{resp}");
    }

    #[test]
    fn the_blocking_echo_server_echoes() {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(blocking::echo_server()).unwrap();
        s.write_all(b"abc").unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut back = Vec::new();
        s.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"abc");
    }
}
