//! The task that owns the connection: it parses incoming frames into stream buffers, writes
//! queued frames (control first), sends keepalives and detects a silent peer.
//!
//! One task does both directions by polling the connection's read and write halves from the same
//! `poll`, so no split lock is needed on the connection.

use std::collections::hash_map::Entry;
use std::future::poll_fn;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::error::CloseReason;
use crate::frame::{self, Cmd, HEADER_LEN, Header, MAX_DATA_LEN, UPD_DATA_LEN};
use crate::shared::{Ctrl, Inner, Shared, StreamState};

/// Room for two maximal frames, so a partial frame can always be completed after compaction.
const READ_BUF_LEN: usize = 2 * (HEADER_LEN + MAX_DATA_LEN);
/// Loop iterations before the driver yields to other tasks.
const POLL_BUDGET: usize = 32;
/// How long a locally closed session keeps trying to deliver what was already queued.
const CLOSE_LINGER: Duration = Duration::from_secs(5);

/// Runs the session on `io` until it closes.
pub(crate) async fn run<T>(io: T, shared: Arc<Shared>)
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut d = Driver::new(io, shared);
    let reason = poll_fn(|cx| d.poll(cx)).await;
    d.shared.close(reason.clone());
    if reason == CloseReason::Local {
        // Deliver frames queued before the close (data, FINs), then close the connection; a peer
        // that does not read only delays the release of the connection by CLOSE_LINGER.
        let _ = tokio::time::timeout(CLOSE_LINGER, poll_fn(|cx| d.poll_linger(cx))).await;
    }
}

struct Driver<T> {
    io: T,
    shared: Arc<Shared>,
    rbuf: Box<[u8]>,
    rpos: usize,
    rend: usize,
    /// Control frames of the batch being written, then `wdata` (the swapped-out data buffer).
    wctrl: Vec<u8>,
    wdata: Vec<u8>,
    /// Bytes of `wctrl` + `wdata` already written.
    wpos: usize,
    in_batch: bool,
    /// `Inner::enqueued` when the batch was taken.
    batch_end: u64,
    ping: Option<Interval>,
    timeout: Option<Interval>,
    /// A frame arrived since the last timeout tick.
    data_ready: bool,
    /// Reused list of wakers to call once the lock is released.
    wake: Vec<Waker>,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Driver<T> {
    fn new(io: T, shared: Arc<Shared>) -> Self {
        let cfg = &shared.config;
        let (ping, timeout) = if cfg.keep_alive_disabled {
            (None, None)
        } else {
            (
                Some(ticker(cfg.keep_alive_interval)),
                Some(ticker(cfg.keep_alive_timeout)),
            )
        };
        Driver {
            io,
            rbuf: vec![0; READ_BUF_LEN].into_boxed_slice(),
            rpos: 0,
            rend: 0,
            wctrl: Vec::new(),
            wdata: Vec::new(),
            wpos: 0,
            in_batch: false,
            batch_end: 0,
            ping,
            timeout,
            data_ready: false,
            wake: Vec::new(),
            shared,
        }
    }

    /// Drives the session; resolves with the reason it ended.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<CloseReason> {
        {
            let mut g = self.shared.lock();
            if let Some(reason) = &g.closed {
                return Poll::Ready(reason.clone());
            }
            crate::shared::register(&mut g.driver_waker, cx);
        }
        for _ in 0..POLL_BUDGET {
            match self.step(cx) {
                Ok(true) => {}
                Ok(false) => return Poll::Pending,
                Err(reason) => return Poll::Ready(reason),
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// One round over timers, the read side and the write side; true if anything moved.
    fn step(&mut self, cx: &mut Context<'_>) -> Result<bool, CloseReason> {
        // `|`, not `||`: every part must run to register its waker.
        Ok(self.poll_timers(cx)? | self.poll_recv(cx)? | self.poll_send(cx)?)
    }

    /// After a local close: finish writing what is queued, then shut the connection down.
    fn poll_linger(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self.poll_send(cx) {
            Err(_) => return Poll::Ready(()),
            // poll_send only stops inside a batch when the connection is not ready.
            Ok(_) if self.in_batch => return Poll::Pending,
            Ok(_) => {}
        }
        Pin::new(&mut self.io).poll_shutdown(cx).map(|_| ())
    }

    /// Keepalive: queue a NOP every interval; give up on a peer silent for a whole timeout.
    fn poll_timers(&mut self, cx: &mut Context<'_>) -> Result<bool, CloseReason> {
        let mut progress = false;
        if let Some(ping) = &mut self.ping {
            while ping.poll_tick(cx).is_ready() {
                let mut g = self.shared.lock();
                g.nop_pending = true;
                progress = true;
            }
        }
        if let Some(timeout) = &mut self.timeout {
            while timeout.poll_tick(cx).is_ready() {
                if std::mem::take(&mut self.data_ready) {
                    continue;
                }
                // Not reading because the application is slow is not the peer's silence
                // (upstream makes the same exception when its receive bucket is empty).
                if !self.shared.lock().recv_blocked {
                    return Err(CloseReason::KeepAliveTimeout);
                }
            }
        }
        Ok(progress)
    }

    /// Dispatches buffered frames and reads the connection once; true if anything moved.
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Result<bool, CloseReason> {
        let mut progress = self.dispatch()?;
        if self.shared.lock().recv_blocked {
            return Ok(progress);
        }
        // Keep room for a whole maximal frame after `rend`: the leftover is a partial frame, so
        // moving it to the front copies less than one frame.
        if self.rpos == self.rend {
            self.rpos = 0;
            self.rend = 0;
        } else if self.rbuf.len() - self.rend < HEADER_LEN + MAX_DATA_LEN {
            self.rbuf.copy_within(self.rpos..self.rend, 0);
            self.rend -= self.rpos;
            self.rpos = 0;
        }
        let mut rb = ReadBuf::new(&mut self.rbuf[self.rend..]);
        match Pin::new(&mut self.io).poll_read(cx, &mut rb) {
            Poll::Pending => {}
            Poll::Ready(Err(e)) => return Err(CloseReason::from_io(&e)),
            Poll::Ready(Ok(())) if rb.filled().is_empty() => return Err(CloseReason::PeerClosed),
            Poll::Ready(Ok(())) => {
                self.rend += rb.filled().len();
                progress = true;
            }
        }
        Ok(progress)
    }

    /// Handles every complete frame in the read buffer, unless receiving is stalled.
    fn dispatch(&mut self) -> Result<bool, CloseReason> {
        let shared = Arc::clone(&self.shared);
        let cfg = &shared.config;
        let mut g = shared.lock();
        let mut progress = false;
        let result = loop {
            if g.recv_stalled(cfg) {
                g.recv_blocked = true;
                break Ok(());
            }
            g.recv_blocked = false;
            let buf = &self.rbuf[self.rpos..self.rend];
            let h = match Header::decode(buf) {
                Ok(Some(h)) => h,
                Ok(None) => break Ok(()),
                Err(e) => break Err(CloseReason::Protocol(e)),
            };
            if h.version != cfg.version {
                break Err(CloseReason::VersionMismatch {
                    local: cfg.version,
                    peer: h.version,
                });
            }
            if buf.len() < h.frame_len() {
                break Ok(());
            }
            let payload = &buf[HEADER_LEN..h.frame_len()];
            self.rpos += h.frame_len();
            self.data_ready = true;
            progress = true;
            if handle_frame(&mut g, &h, payload, &mut self.wake) {
                shared.accept_notify.notify_waiters();
            }
        };
        drop(g);
        for w in self.wake.drain(..) {
            w.wake();
        }
        result.map(|()| progress)
    }

    /// Writes queued frames: each batch is the pending control frames followed by all queued data.
    /// Returns with `in_batch` still set only when the connection is not ready for more.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Result<bool, CloseReason> {
        let mut progress = false;
        loop {
            if !self.in_batch && !self.take_batch() {
                return Ok(progress);
            }
            while self.wpos < self.wctrl.len() + self.wdata.len() {
                let (c, d) = if self.wpos < self.wctrl.len() {
                    (&self.wctrl[self.wpos..], &self.wdata[..])
                } else {
                    (&[][..], &self.wdata[self.wpos - self.wctrl.len()..])
                };
                let bufs = [IoSlice::new(c), IoSlice::new(d)];
                let slices = if c.is_empty() { &bufs[1..] } else { &bufs[..] };
                match Pin::new(&mut self.io).poll_write_vectored(cx, slices) {
                    Poll::Pending => return Ok(progress),
                    Poll::Ready(Ok(0)) => {
                        return Err(CloseReason::Io {
                            kind: std::io::ErrorKind::WriteZero,
                            message: "connection accepted no more bytes".into(),
                        });
                    }
                    Poll::Ready(Ok(n)) => {
                        self.wpos += n;
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => return Err(CloseReason::from_io(&e)),
                }
            }
            match Pin::new(&mut self.io).poll_flush(cx) {
                Poll::Pending => return Ok(progress),
                Poll::Ready(Err(e)) => return Err(CloseReason::from_io(&e)),
                Poll::Ready(Ok(())) => {}
            }
            {
                let mut g = self.shared.lock();
                g.flushed = self.batch_end;
                g.take_io_waiters(&mut self.wake);
            }
            for w in self.wake.drain(..) {
                w.wake();
            }
            self.wctrl.clear();
            self.wdata.clear();
            self.wpos = 0;
            self.in_batch = false;
            progress = true;
        }
    }

    /// Moves queued control frames and data into the driver's batch; false if nothing is queued.
    fn take_batch(&mut self) -> bool {
        let version = self.shared.config.version;
        let window = self.shared.config.max_stream_buffer as u32;
        let mut g = self.shared.lock();
        if g.ctrl.is_empty() && !g.nop_pending && g.data.is_empty() {
            return false;
        }
        let Inner { ctrl, streams, .. } = &mut *g;
        for c in ctrl.drain(..) {
            match c {
                Ctrl::Syn(id) => header(version, Cmd::Syn, id, 0).encode(&mut self.wctrl),
                Ctrl::Upd(id) => {
                    let Some(st) = streams.get_mut(&id) else {
                        continue;
                    };
                    st.upd_queued = false;
                    header(version, Cmd::Upd, id, UPD_DATA_LEN).encode(&mut self.wctrl);
                    self.wctrl.extend_from_slice(&st.num_read.to_le_bytes());
                    self.wctrl.extend_from_slice(&window.to_le_bytes());
                }
            }
        }
        if std::mem::take(&mut g.nop_pending) {
            header(version, Cmd::Nop, 0, 0).encode(&mut self.wctrl);
        }
        std::mem::swap(&mut g.data, &mut self.wdata);
        self.batch_end = g.enqueued;
        g.take_io_waiters(&mut self.wake);
        drop(g);
        for w in self.wake.drain(..) {
            w.wake();
        }
        self.in_batch = true;
        self.wpos = 0;
        true
    }
}

fn header(version: u8, cmd: Cmd, stream_id: u32, len: usize) -> Header {
    Header {
        version,
        cmd,
        length: len as u16,
        stream_id,
    }
}

/// A ticker whose first tick is one period from now.
fn ticker(period: Duration) -> Interval {
    let mut i = tokio::time::interval_at(Instant::now() + period, period);
    i.set_missed_tick_behavior(MissedTickBehavior::Delay);
    i
}

/// Applies one incoming frame to the session state. Returns true if a stream was queued for
/// accepting. Frames for unknown streams are dropped, as upstream does.
fn handle_frame(g: &mut Inner, h: &Header, payload: &[u8], wake: &mut Vec<Waker>) -> bool {
    let id = h.stream_id;
    match h.cmd {
        Cmd::Nop => {}
        Cmd::Syn => {
            if let Entry::Vacant(v) = g.streams.entry(id) {
                v.insert(StreamState::new());
                g.backlog.push_back(id);
                return true;
            }
        }
        Cmd::Fin => {
            if let Some(st) = g.streams.get_mut(&id) {
                st.fin_received = true;
                st.wake_all(wake);
            }
        }
        Cmd::Psh => {
            if let Some(st) = g.streams.get_mut(&id)
                && !payload.is_empty()
            {
                st.recv.extend_from_slice(payload);
                wake.extend(st.read_waker.take());
                g.buffered += payload.len();
            }
        }
        Cmd::Upd => {
            if let Some(st) = g.streams.get_mut(&id)
                && let Some(d) = payload.first_chunk::<UPD_DATA_LEN>()
            {
                (st.peer_consumed, st.peer_window) = frame::upd_fields(d);
                wake.extend(st.write_waker.take());
            }
        }
    }
    false
}
