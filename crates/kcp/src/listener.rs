//! The server side: one UDP socket, sessions demultiplexed by the peer's address, a session created
//! by the first valid data packet from an unknown address, and removed when it ends.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::ValidConfig;
use crate::packet::peek_conv;
use crate::session::{Inbound, KcpStream, SessionLimits, Sink, Wiring};

/// Listener limits (not upstream options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// Per-session limits.
    pub session: SessionLimits,
    /// Concurrent sessions; datagrams from new addresses beyond this are dropped.
    pub max_sessions: usize,
    /// Sessions created but not yet accepted.
    pub backlog: usize,
    /// Datagrams queued per session before further ones are dropped.
    pub session_queue: usize,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            session: SessionLimits::default(),
            max_sessions: 4096,
            backlog: 128,
            session_queue: 1024,
        }
    }
}

/// Applies socket buffer sizes and, for IPv4, the DSCP bits. Failures only cost performance.
pub(crate) fn tune_socket(socket: &UdpSocket, sockbuf: usize, dscp: Option<u8>) {
    let s = socket2::SockRef::from(socket);
    if sockbuf > 0 {
        let _ = s.set_recv_buffer_size(sockbuf);
        let _ = s.set_send_buffer_size(sockbuf);
    }
    if let Some(d) = dscp.filter(|&d| d > 0) {
        let _ = s.set_tos_v4(u32::from(d) << 2);
    }
}

/// Live sessions by peer address: a serial number (so a session's exit cannot unregister a later
/// one from the same address) and the sender feeding its driver.
type Sessions = Arc<Mutex<HashMap<SocketAddr, (u64, mpsc::Sender<Vec<u8>>)>>>;

/// A KCP server socket yielding one [`KcpStream`] per client session.
#[derive(Debug)]
pub struct KcpListener {
    accept: tokio::sync::Mutex<mpsc::Receiver<KcpStream>>,
    local: SocketAddr,
    sessions: Sessions,
    task: JoinHandle<()>,
}

impl KcpListener {
    /// Binds `addr` and starts demultiplexing.
    pub async fn bind(
        addr: SocketAddr,
        cfg: ValidConfig,
        limits: ListenerLimits,
    ) -> io::Result<KcpListener> {
        let socket = UdpSocket::bind(addr).await?;
        tune_socket(&socket, cfg.sockbuf, None);
        let local = socket.local_addr()?;
        let (tx, rx) = mpsc::channel(limits.backlog.max(1));
        let sessions: Sessions = Arc::default();
        let task = tokio::spawn(demux(
            Arc::new(socket),
            cfg,
            limits,
            sessions.clone(),
            tx,
            local,
        ));
        Ok(KcpListener {
            accept: tokio::sync::Mutex::new(rx),
            local,
            sessions,
            task,
        })
    }

    /// The next new session.
    pub async fn accept(&self) -> io::Result<KcpStream> {
        self.accept
            .lock()
            .await
            .recv()
            .await
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "kcp listener stopped"))
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Sessions currently alive (accepted or not).
    pub fn session_count(&self) -> usize {
        self.sessions.lock().map_or(0, |m| m.len())
    }
}

impl Drop for KcpListener {
    fn drop(&mut self) {
        // Stop demultiplexing and drop every session's inbound sender: each driver sees its channel
        // close and ends the session (the socket is closed once the last driver is gone).
        self.task.abort();
        if let Ok(mut m) = self.sessions.lock() {
            m.clear();
        }
    }
}

async fn demux(
    socket: Arc<UdpSocket>,
    cfg: ValidConfig,
    limits: ListenerLimits,
    sessions: Sessions,
    accept: mpsc::Sender<KcpStream>,
    local: SocketAddr,
) {
    let mut buf = vec![0u8; 2048];
    let mut serial = 0u64;
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            // Per-datagram errors (e.g. ICMP feedback) must not stop the listener.
            Err(_) => continue,
        };
        let datagram = buf[..n].to_vec();
        let known = sessions
            .lock()
            .ok()
            .and_then(|m| m.get(&from).map(|(_, tx)| tx.clone()));
        if let Some(tx) = known {
            // Full queue: drop, like a congested network; KCP retransmits.
            let _ = tx.try_send(datagram);
            continue;
        }
        if sessions
            .lock()
            .map_or(true, |m| m.len() >= limits.max_sessions)
        {
            continue;
        }
        let mut probe = datagram.clone();
        let Ok(conv) = peek_conv(&cfg.crypt, &mut probe) else {
            continue;
        };
        let (tx, rx) = mpsc::channel(limits.session_queue.max(1));
        serial += 1;
        let id = serial;
        let registry = sessions.clone();
        let on_exit: Box<dyn FnOnce() + Send> = Box::new(move || {
            if let Ok(mut m) = registry.lock()
                && m.get(&from).is_some_and(|(i, _)| *i == id)
            {
                m.remove(&from);
            }
        });
        let wiring = Wiring {
            sink: Sink::To(socket.clone(), from),
            inbound: Inbound::Channel(rx),
            peer: from,
            local,
            on_exit: Some(on_exit),
        };
        let stream = match KcpStream::spawn(conv, &cfg, limits.session, wiring) {
            Ok(s) => s,
            Err(_) => continue,
        };
        let _ = tx.try_send(datagram);
        if let Ok(mut m) = sessions.lock() {
            m.insert(from, (id, tx));
        }
        // A full backlog drops the session; the client's retransmissions will try again.
        if accept.try_send(stream).is_err() && accept.is_closed() {
            return;
        }
    }
}
