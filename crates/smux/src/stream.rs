//! One multiplexed stream: `AsyncRead` + `AsyncWrite` over the session.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Buf;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::CloseReason;
use crate::frame::Cmd;
use crate::shared::{DATA_HIGH_WATER, Inner, Shared, WRITE_CHUNK, register};

/// A drained receive buffer larger than this is released instead of kept for reuse.
const KEEP_RECV_CAPACITY: usize = 256 * 1024;

/// A stream of a [`Session`](crate::Session).
///
/// Each `poll_write` call becomes its own PSH frame(s), split at `max_frame_size` and never
/// merged with the data of another call (a call may accept only part of its buffer).
///
/// # Closing
///
/// FIN is a half-close, as in TCP: [`shutdown`](tokio::io::AsyncWriteExt::shutdown) sends FIN
/// ("no more data from me") and waits until it is written; reading stays possible until the peer's
/// FIN. Once the peer's FIN arrived, reads return the buffered data and then EOF, and writes still
/// go out until this side's own FIN, so a reply to a half-closed request is not lost. An xtaci/smux
/// (Go) peer treats FIN as the end of the whole stream: its writes fail after our FIN and it drops
/// what we send after its own, so through it a half-close ends both directions.
/// Dropping a `Stream` sends FIN (if not sent yet) and discards unread data.
///
/// When the session closes, pending and later operations fail with an error whose
/// [`kind`](io::Error::kind) reflects the reason (`TimedOut` for a keepalive timeout,
/// `InvalidData` for a protocol error, `ConnectionAborted` for a closed session or connection);
/// data already received can still be read first.
pub struct Stream {
    id: u32,
    shared: Arc<Shared>,
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream").field("id", &self.id).finish()
    }
}

impl Stream {
    /// Wraps an id whose state already exists and whose handle has been counted.
    pub(crate) fn new(id: u32, shared: Arc<Shared>) -> Stream {
        Stream { id, shared }
    }

    /// The stream id (odd for streams the smux client opened, even for the server's).
    pub fn id(&self) -> u32 {
        self.id
    }
}

fn closed_error(reason: Option<&CloseReason>) -> io::Error {
    reason.map_or_else(|| CloseReason::Local.to_io(), |r| r.to_io())
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let shared = &*self.shared;
        let cfg = &shared.config;
        let mut g = shared.lock();
        let g = &mut *g;
        let Some(st) = g.streams.get_mut(&self.id) else {
            return Poll::Ready(Err(closed_error(g.closed.as_ref())));
        };
        if !st.recv.is_empty() {
            let n = buf.remaining().min(st.recv.len());
            buf.put_slice(&st.recv[..n]);
            st.recv.advance(n);
            if st.recv.is_empty() && st.recv.capacity() > KEEP_RECV_CAPACITY {
                st.recv = bytes::BytesMut::new();
            }
            let mut queue_upd = false;
            if cfg.version == 2 && n > 0 {
                st.num_read = st.num_read.wrapping_add(n as u32);
                st.incr = st.incr.wrapping_add(n as u32);
                // Upstream also announces the window on the very first read.
                if st.incr >= (cfg.max_stream_buffer / 2) as u32 || st.num_read == n as u32 {
                    st.incr = 0;
                    queue_upd = true;
                }
            }
            g.buffered -= n;
            if queue_upd {
                g.queue_upd(self.id);
                g.wake_driver();
            } else if g.recv_blocked && !g.recv_stalled(cfg) {
                g.wake_driver();
            }
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() == 0 || st.fin_received {
            return Poll::Ready(Ok(()));
        }
        if let Some(reason) = &g.closed {
            return Poll::Ready(Err(reason.to_io()));
        }
        register(&mut st.read_waker, cx);
        Poll::Pending
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let id = self.id;
        let cfg = &self.shared.config;
        let mut g = self.shared.lock();
        let g = &mut *g;
        if let Some(reason) = &g.closed {
            return Poll::Ready(Err(reason.to_io()));
        }
        let Some(st) = g.streams.get_mut(&id) else {
            return Poll::Ready(Err(closed_error(None)));
        };
        if st.fin_sent {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                format!("smux stream {id}: write after shutdown"),
            )));
        }
        let mut n = buf.len().min(WRITE_CHUNK);
        if cfg.version == 2 {
            // Modular arithmetic as upstream: what the peer has not consumed yet is in flight.
            let inflight = st.num_written.wrapping_sub(st.peer_consumed) as i32;
            if inflight < 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    CloseReason::BadWindowUpdate(id),
                )));
            }
            let win = (st.peer_window as i32).wrapping_sub(inflight);
            if win <= 0 {
                register(&mut st.write_waker, cx);
                return Poll::Pending;
            }
            n = n.min(win as usize);
        }
        if g.data.len() >= DATA_HIGH_WATER {
            g.wait_io(id, cx);
            return Poll::Pending;
        }
        for chunk in buf[..n].chunks(cfg.max_frame_size) {
            g.push_data_frame(cfg.version, Cmd::Psh, id, chunk);
        }
        let pos = g.enqueued;
        if let Some(st) = g.streams.get_mut(&id) {
            st.last_pos = pos;
            st.num_written = st.num_written.wrapping_add(n as u32);
        }
        g.wake_driver();
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut g = self.shared.lock();
        poll_flushed(&mut g, self.id, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let version = self.shared.config.version;
        let mut g = self.shared.lock();
        if g.closed.is_none() && g.streams.get(&self.id).is_some_and(|st| !st.fin_sent) {
            g.push_data_frame(version, Cmd::Fin, self.id, &[]);
            let pos = g.enqueued;
            if let Some(st) = g.streams.get_mut(&self.id) {
                st.fin_sent = true;
                st.last_pos = pos;
            }
            g.wake_driver();
        }
        poll_flushed(&mut g, self.id, cx)
    }
}

/// Ready once every frame this stream queued has been written and flushed by the driver.
fn poll_flushed(g: &mut Inner, id: u32, cx: &Context<'_>) -> Poll<io::Result<()>> {
    let flushed = g.flushed;
    let Some(st) = g.streams.get(&id) else {
        return Poll::Ready(Err(closed_error(g.closed.as_ref())));
    };
    if flushed >= st.last_pos {
        return Poll::Ready(Ok(()));
    }
    if let Some(reason) = &g.closed {
        return Poll::Ready(Err(reason.to_io()));
    }
    g.wait_io(id, cx);
    Poll::Pending
}

impl Drop for Stream {
    fn drop(&mut self) {
        let version = self.shared.config.version;
        let last = {
            let mut g = self.shared.lock();
            if let Some(st) = g.streams.remove(&self.id) {
                g.buffered -= st.recv.len();
                if !st.fin_sent && g.closed.is_none() {
                    g.push_data_frame(version, Cmd::Fin, self.id, &[]);
                }
            }
            g.wake_driver();
            g.handles -= 1;
            g.handles == 0
        };
        if last {
            self.shared.close(CloseReason::Local);
        }
    }
}
