//! Helpers shared by the integration tests: session pairs over an in-memory duplex or a loopback
//! TCP socket, deterministic payloads and a raw frame reader for wire-level checks.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::time::Duration;

use gost_smux::{Config, Decoded, Frame, Session};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream};

pub(crate) fn config(version: u8) -> Config {
    Config {
        version,
        ..Config::default()
    }
}

/// A client and a server session over `tokio::io::duplex`.
pub(crate) fn duplex_pair(cfg: &Config) -> (Session, Session) {
    let (a, b) = tokio::io::duplex(256 * 1024);
    let client = Session::client(a, cfg.clone()).unwrap();
    let server = Session::server(b, cfg.clone()).unwrap();
    (client, server)
}

/// A client and a server session over a loopback TCP connection.
pub(crate) async fn tcp_pair(cfg: &Config) -> (Session, Session) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (dialed, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let dialed = dialed.unwrap();
    let accepted = accepted.unwrap().0;
    dialed.set_nodelay(true).unwrap();
    accepted.set_nodelay(true).unwrap();
    let client = Session::client(dialed, cfg.clone()).unwrap();
    let server = Session::server(accepted, cfg.clone()).unwrap();
    (client, server)
}

/// Echoes every accepted stream until the session closes.
pub(crate) fn spawn_echo_server(server: Session) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(mut s) = server.accept_stream().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if tokio::io::AsyncWriteExt::write_all(&mut s, &buf[..n])
                                .await
                                .is_err()
                            {
                                break;
                            }
                        }
                    }
                }
            });
        }
    })
}

/// Reads raw smux frames off the peer end of a connection.
pub(crate) struct FrameReader<T> {
    io: T,
    buf: Vec<u8>,
}

impl<T: AsyncRead + Unpin> FrameReader<T> {
    pub(crate) fn new(io: T) -> Self {
        FrameReader {
            io,
            buf: Vec::new(),
        }
    }

    /// The next frame, or `None` at EOF; fails the test after 60 s (virtual time in paused tests).
    pub(crate) async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Decoded::Frame { frame, consumed } = Frame::decode(&self.buf).unwrap() {
                self.buf.drain(..consumed);
                return Some(frame);
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(60), self.io.read(&mut chunk))
                .await
                .expect("frame within 60 s")
                .ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub(crate) fn get_mut(&mut self) -> &mut T {
        &mut self.io
    }
}
