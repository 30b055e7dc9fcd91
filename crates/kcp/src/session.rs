//! A KCP session over UDP as a tokio byte stream: one driver task per session runs the ARQ clock
//! and feeds it datagrams; reads and writes go straight to the shared state under a short lock.
//!
//! Datagrams are sent with non-blocking `try_send`: a full socket buffer drops the datagram, which
//! KCP then retransmits, exactly as if the network had lost it.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UdpSocket;
use tokio::sync::{Notify, mpsc};

use crate::arq::{Arq, CMD_PUSH, InputError, SegmentHeader};
use crate::config::{ArqSettings, ValidConfig};
use crate::packet::{PacketDecoder, PacketEncoder};

/// Session options that are not upstream KCP options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// A session that received nothing valid for this long is closed (its peer is gone). With smux
    /// keepalives every 10 s a live peer never comes close.
    pub idle_timeout: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Where a session's datagrams go.
#[derive(Debug, Clone)]
pub(crate) enum Sink {
    /// The dialer's own connected socket.
    Connected(Arc<UdpSocket>),
    /// The listener's shared socket and the peer's address.
    To(Arc<UdpSocket>, SocketAddr),
}

impl Sink {
    fn send(&self, datagram: &[u8]) {
        // Dropped datagrams (full buffer, ICMP errors) are recovered by KCP retransmission.
        let _ = match self {
            Sink::Connected(s) => s.try_send(datagram),
            Sink::To(s, peer) => s.try_send_to(datagram, *peer),
        };
    }
}

/// Why a session ended, as seen by reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Closed locally.
    Closed,
    /// Too many retransmissions.
    DeadLink,
    /// Nothing received within the idle timeout.
    Idle,
    /// The peer's address started another conversation (listener side).
    Replaced,
}

impl End {
    fn error(self) -> io::Error {
        match self {
            End::Closed => io::Error::new(io::ErrorKind::BrokenPipe, "kcp session closed"),
            End::DeadLink => io::Error::new(
                io::ErrorKind::ConnectionReset,
                "kcp peer unreachable (dead link)",
            ),
            End::Idle => io::Error::new(io::ErrorKind::TimedOut, "kcp peer silent for too long"),
            End::Replaced => io::Error::new(
                io::ErrorKind::ConnectionReset,
                "kcp peer restarted with a new conversation",
            ),
        }
    }
}

struct Core {
    arq: Arq,
    encoder: PacketEncoder,
    decoder: PacketDecoder,
    acknodelay: bool,
    end: Option<End>,
    last_recv: Instant,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

impl Core {
    fn wake_all(&mut self) {
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
        if let Some(w) = self.write_waker.take() {
            w.wake();
        }
    }

    fn writable(&self) -> bool {
        self.arq.wait_snd() < 2 * self.arq.snd_wnd()
    }
}

pub(crate) struct Shared {
    core: Mutex<Core>,
    sink: Sink,
    start: Instant,
    /// Wakes the driver after writes and on close.
    notify: Notify,
    limits: SessionLimits,
    peer: SocketAddr,
    local: SocketAddr,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Core> {
        // A panic while holding the lock cannot leave the ARQ half-updated in a way worse than
        // closing; keep serving so other handles see the end state.
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now_ms(&self) -> u32 {
        self.start.elapsed().as_millis() as u32
    }

    /// Runs `f` on the ARQ with an output callback that seals and sends datagrams.
    fn with_output(&self, core: &mut Core, f: impl FnOnce(&mut Arq, &mut dyn FnMut(&[u8]), u32)) {
        let now = self.now_ms();
        let rto = core.arq.rto();
        let Core { arq, encoder, .. } = core;
        let sink = &self.sink;
        f(
            arq,
            &mut |kcp| encoder.encode(kcp, now, rto, &mut |d| sink.send(d)),
            now,
        );
    }

    fn input(&self, datagram: &mut [u8]) {
        let mut core = self.lock();
        if core.end.is_some() {
            return;
        }
        let now = self.now_ms();
        let Core { arq, decoder, .. } = &mut *core;
        let (mut accepted, mut restarted) = (false, false);
        let ok = decoder.decode(datagram, &mut |kcp| match arq.input(kcp, now) {
            Ok(()) => accepted = true,
            Err(InputError::Conv(_)) => restarted |= starts_a_conversation(kcp),
            Err(_) => {}
        });
        if ok.is_ok() && restarted && matches!(self.sink, Sink::To(..)) {
            // kcp-go's listener rule: a valid first segment (PUSH, sn 0) of another conversation
            // from this address means the client restarted. End this session; once it is
            // unregistered the client's retransmission of that segment starts the new one.
            core.end = Some(End::Replaced);
            core.wake_all();
            drop(core);
            self.notify.notify_one();
            return;
        }
        if ok.is_err() || !accepted {
            return;
        }
        core.last_recv = Instant::now();
        if core.acknodelay {
            self.with_output(&mut core, |arq, emit, now| arq.flush_now(now, emit));
        }
        if core.arq.readable()
            && let Some(w) = core.read_waker.take()
        {
            w.wake();
        }
        if core.writable()
            && let Some(w) = core.write_waker.take()
        {
            w.wake();
        }
    }

    /// Sends the acknowledgements a burst of input earned (without ack-nodelay, which sent them
    /// already). kcp-go would hold them until the next tick (`interval`, 10 ms by default), and
    /// with the default 32-segment windows that wait, not the link, bounds a session's throughput:
    /// the sender sits on a full window for most of every tick. Acknowledging once per burst
    /// (every datagram waiting on the socket, at most [`BURST`]) gives the sender its window back
    /// within the round trip while adding at most one ACK packet per wake-up. The wire is unchanged;
    /// only when ACKs leave is.
    fn ack_burst(&self) {
        let mut core = self.lock();
        if core.end.is_none() && !core.acknodelay && core.arq.acks_pending() {
            self.with_output(&mut core, |arq, emit, now| arq.flush_now(now, emit));
        }
    }

    /// One clock tick; returns the next instant the driver must wake, or `None` once ended.
    fn tick(&self) -> Option<Instant> {
        let mut core = self.lock();
        if core.end.is_some() {
            core.wake_all();
            return None;
        }
        self.with_output(&mut core, |arq, emit, now| arq.update(now, emit));
        if core.arq.is_dead() {
            core.end = Some(End::DeadLink);
        } else if core.last_recv.elapsed() >= self.limits.idle_timeout {
            core.end = Some(End::Idle);
        }
        if core.end.is_some() {
            core.wake_all();
            return None;
        }
        if core.writable()
            && let Some(w) = core.write_waker.take()
        {
            w.wake();
        }
        let now = self.now_ms();
        let wait = core.arq.check(now).wrapping_sub(now).min(5000);
        let idle_deadline = core.last_recv + self.limits.idle_timeout;
        Some((Instant::now() + Duration::from_millis(u64::from(wait))).min(idle_deadline))
    }

    fn close(&self) {
        let mut core = self.lock();
        if core.end.is_none() {
            // Push out whatever the window allows; KCP has no FIN, smux carries stream ends.
            self.with_output(&mut core, |arq, emit, now| arq.flush_now(now, emit));
            core.end = Some(End::Closed);
        }
        core.wake_all();
        drop(core);
        self.notify.notify_one();
    }
}

/// Where the driver gets datagrams from.
pub(crate) enum Inbound {
    /// The dialer's connected socket.
    Socket(Arc<UdpSocket>),
    /// The listener's demultiplexer.
    Channel(mpsc::Receiver<Vec<u8>>),
}

async fn drive(
    shared: Arc<Shared>,
    mut inbound: Inbound,
    on_exit: Option<Box<dyn FnOnce() + Send>>,
) {
    let mut buf = vec![0u8; 2048];
    while let Some(deadline) = shared.tick() {
        let sleep = tokio::time::sleep_until(deadline.into());
        tokio::select! {
            _ = sleep => {}
            _ = shared.notify.notified() => {}
            got = recv(&mut inbound, &mut buf) => {
                let mut got = got;
                for _ in 0..BURST {
                    match got {
                        Some(Received::Owned(mut d)) => shared.input(&mut d),
                        Some(Received::InBuf(n)) => shared.input(&mut buf[..n]),
                        // The listener is gone: end the session.
                        Some(Received::Gone) => {
                            shared.close();
                            break;
                        }
                        None => break,
                    }
                    got = try_recv(&mut inbound, &mut buf);
                }
                shared.ack_burst();
            }
        }
    }
    if let Some(f) = on_exit {
        f();
    }
}

/// Datagrams taken in one wake-up before the ACKs they earned are sent ([`Shared::ack_burst`]).
const BURST: usize = 64;

enum Received {
    Owned(Vec<u8>),
    InBuf(usize),
    /// The listener dropped the session's channel.
    Gone,
}

async fn recv(inbound: &mut Inbound, buf: &mut [u8]) -> Option<Received> {
    match inbound {
        Inbound::Socket(s) => match s.recv(buf).await {
            Ok(n) => Some(Received::InBuf(n)),
            // ICMP port unreachable and friends: KCP decides liveness, keep going.
            Err(_) => {
                tokio::task::yield_now().await;
                None
            }
        },
        Inbound::Channel(rx) => Some(rx.recv().await.map_or(Received::Gone, Received::Owned)),
    }
}

/// The next datagram if one is already waiting (`None`: nothing waiting, or a socket error, which
/// [`recv`] reports on its next call).
fn try_recv(inbound: &mut Inbound, buf: &mut [u8]) -> Option<Received> {
    match inbound {
        Inbound::Socket(s) => s.try_recv(buf).ok().map(Received::InBuf),
        Inbound::Channel(rx) => match rx.try_recv() {
            Ok(d) => Some(Received::Owned(d)),
            Err(mpsc::error::TryRecvError::Empty) => None,
            Err(mpsc::error::TryRecvError::Disconnected) => Some(Received::Gone),
        },
    }
}

/// How a session is connected to its socket(s).
pub(crate) struct Wiring {
    /// Outgoing datagrams.
    pub sink: Sink,
    /// Incoming datagrams.
    pub inbound: Inbound,
    /// Peer address.
    pub peer: SocketAddr,
    /// Local address.
    pub local: SocketAddr,
    /// Runs when the driver stops (the listener unregisters the session).
    pub on_exit: Option<Box<dyn FnOnce() + Send>>,
}

/// One KCP session as an ordered, reliable byte stream (before snappy and smux).
///
/// Dropping it (or [`AsyncWrite::poll_shutdown`]) ends the session after flushing what the send
/// window allows.
pub struct KcpStream {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for KcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KcpStream")
            .field("peer", &self.shared.peer)
            .field("local", &self.shared.local)
            .finish_non_exhaustive()
    }
}

impl KcpStream {
    /// Creates a session and spawns its driver.
    pub(crate) fn spawn(
        conv: u32,
        cfg: &ValidConfig,
        limits: SessionLimits,
        wiring: Wiring,
    ) -> io::Result<KcpStream> {
        let Wiring {
            sink,
            inbound,
            peer,
            local,
            on_exit,
        } = wiring;
        let encoder = PacketEncoder::new(cfg.crypt.clone(), cfg.fec).map_err(io::Error::other)?;
        let decoder = PacketDecoder::new(cfg.crypt.clone(), cfg.fec).map_err(io::Error::other)?;
        let arq = new_arq(conv, cfg.mtu - encoder.overhead(), &cfg.arq);
        let shared = Arc::new(Shared {
            core: Mutex::new(Core {
                arq,
                encoder,
                decoder,
                acknodelay: cfg.arq.acknodelay,
                end: None,
                last_recv: Instant::now(),
                read_waker: None,
                write_waker: None,
            }),
            sink,
            start: Instant::now(),
            notify: Notify::new(),
            limits,
            peer,
            local,
        });
        tokio::spawn(drive(shared.clone(), inbound, on_exit));
        Ok(KcpStream { shared })
    }

    /// Dials `peer`: a fresh UDP socket and a random conversation id (no handshake; the first data
    /// packet creates the session on the server).
    pub async fn connect(
        peer: SocketAddr,
        cfg: &ValidConfig,
        limits: SessionLimits,
    ) -> io::Result<KcpStream> {
        let bind: SocketAddr = if peer.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let socket = UdpSocket::bind(bind).await?;
        crate::listener::tune_socket(&socket, cfg.sockbuf, peer.is_ipv4().then_some(cfg.dscp));
        socket.connect(peer).await?;
        let socket = Arc::new(socket);
        let local = socket.local_addr()?;
        let conv = rand::random::<u32>();
        let wiring = Wiring {
            sink: Sink::Connected(socket.clone()),
            inbound: Inbound::Socket(socket),
            peer,
            local,
            on_exit: None,
        };
        Self::spawn(conv, cfg, limits, wiring)
    }

    /// The peer's UDP address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.shared.peer
    }

    /// The local UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    /// The conversation id.
    pub fn conv(&self) -> u32 {
        self.shared.lock().arq.conv()
    }

    /// True once the session ended (closed, dead link or idle peer).
    pub fn is_closed(&self) -> bool {
        self.shared.lock().end.is_some()
    }
}

/// Whether `kcp` begins with the first data segment of a conversation (PUSH with sn 0).
fn starts_a_conversation(kcp: &[u8]) -> bool {
    SegmentHeader::parse(kcp).is_some_and(|(h, _, _)| h.cmd == CMD_PUSH && h.sn == 0)
}

fn new_arq(conv: u32, mtu: usize, s: &ArqSettings) -> Arq {
    let mut arq = Arq::new(conv, mtu);
    arq.set_nodelay(s.nodelay, s.interval, s.resend, s.nocwnd);
    arq.set_window(s.sndwnd, s.rcvwnd);
    arq
}

impl AsyncRead for KcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut core = self.shared.lock();
        if core.arq.readable() {
            let n = core.arq.recv(buf.initialize_unfilled());
            buf.advance(n);
            return Poll::Ready(Ok(()));
        }
        match core.end {
            Some(End::Closed) => Poll::Ready(Ok(())),
            Some(end) => Poll::Ready(Err(end.error())),
            None => {
                core.read_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for KcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let shared = &self.shared;
        let mut core = shared.lock();
        if let Some(end) = core.end {
            return Poll::Ready(Err(end.error()));
        }
        if !core.writable() {
            core.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        // At most what fits in the remaining queue allowance, so one write cannot balloon memory.
        let room = (2 * core.arq.snd_wnd() - core.arq.wait_snd()) * core.arq.mss();
        let n = buf.len().min(room.max(core.arq.mss()));
        core.arq.send(&buf[..n]);
        shared.with_output(&mut core, |arq, emit, now| arq.flush_now(now, emit));
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut core = self.shared.lock();
        if core.end.is_none() && core.arq.wait_snd() > 0 {
            // Let the queued bytes get acknowledged first; the driver wakes us as ACKs arrive.
            core.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        drop(core);
        self.shared.close();
        Poll::Ready(Ok(()))
    }
}

impl Drop for KcpStream {
    fn drop(&mut self) {
        self.shared.close();
    }
}
