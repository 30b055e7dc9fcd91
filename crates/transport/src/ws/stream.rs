//! A WebSocket connection seen as a byte stream, the way upstream GOST maps it.
//!
//! Reads concatenate the payloads of binary and text messages, ignoring message boundaries; each
//! `poll_write` sends one binary message (at most [`MAX_MESSAGE_OUT`] bytes, the rest is left to the next
//! call); pings are answered by tungstenite, a Close message or a connection closed without one is a clean
//! EOF. Shutdown closes the underlying stream's write side without a Close frame, as upstream does when it
//! closes, so the peer sees EOF while data can still flow towards us (half-close). tungstenite treats EOF
//! of the underlying stream as the end of the whole connection and refuses to write afterwards, so
//! [`EofGuard`] hides that EOF from it and [`WsStream`] reports it to the reader instead.
//!
//! With keepalive on (upstream's client `keepalive`/`ttl`), a Ping goes out every interval while the
//! stream is being read, and the stream fails with `TimedOut` once nothing at all arrived for two intervals
//! (upstream: a read deadline of twice the interval, refreshed by pongs). The read side sends those pings;
//! it borrows tokio-tungstenite's write-waker slot to do so, so it wakes the writer afterwards, which then
//! registers itself again.
//!
//! Outgoing payloads are staged in one reusable buffer: tungstenite copies each message into its output
//! buffer at once, so the staging allocation is reclaimed on the next write instead of allocating per chunk.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Sink, Stream as _};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Largest message one `poll_write` sends (upstream's relay writes at most 32 KiB at a time).
pub(crate) const MAX_MESSAGE_OUT: usize = 64 * 1024;

/// Largest message or frame accepted from the peer: bounds what one connection can make us buffer.
pub(crate) const MAX_MESSAGE_IN: usize = 16 << 20;

/// tungstenite settings: every message is written to the socket at once (no hidden buffering that would
/// need a flush), incoming sizes bounded.
pub(crate) fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .write_buffer_size(0)
        .max_write_buffer_size(4 * MAX_MESSAGE_OUT)
        .max_message_size(Some(MAX_MESSAGE_IN))
        .max_frame_size(Some(MAX_MESSAGE_IN))
}

/// Wraps the stream under tungstenite: EOF is recorded and shown to tungstenite as "no data yet".
///
/// Nothing waits on that `Pending`: [`WsStream::poll_read`] checks [`EofGuard::eof`] whenever tungstenite
/// returns `Pending` and never polls for reading again once it is set.
pub(crate) struct EofGuard<S> {
    inner: S,
    eof: bool,
}

impl<S> EofGuard<S> {
    pub(crate) fn new(inner: S) -> Self {
        EofGuard { inner, eof: false }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for EofGuard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.eof {
            return Poll::Pending;
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if buf.filled().len() == before && buf.remaining() > 0 {
            this.eof = true;
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for EofGuard<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Pings and the dead-peer check (see the module docs).
struct KeepAlive {
    tick: Interval,
    interval: Duration,
    /// When the last frame of any kind arrived.
    last_rx: Instant,
    ping_due: bool,
}

/// The byte-stream view of a [`WebSocketStream`].
pub(crate) struct WsStream<S> {
    ws: WebSocketStream<EofGuard<S>>,
    /// Unread rest of the current incoming message.
    read: Bytes,
    eof: bool,
    /// Staging buffer for outgoing payloads (see the module docs).
    write: BytesMut,
    keepalive: Option<KeepAlive>,
    /// The last task that wrote, woken after the reader sent a ping.
    writer: Option<Waker>,
}

impl<S> WsStream<S> {
    /// `keepalive`: ping interval, or `None` for no pings and no dead-peer check.
    pub(crate) fn new(ws: WebSocketStream<EofGuard<S>>, keepalive: Option<Duration>) -> Self {
        let keepalive = keepalive.filter(|d| !d.is_zero()).map(|interval| {
            let mut tick = tokio::time::interval_at(Instant::now() + interval, interval);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            KeepAlive {
                tick,
                interval,
                last_rx: Instant::now(),
                ping_due: false,
            }
        });
        WsStream {
            ws,
            read: Bytes::new(),
            eof: false,
            write: BytesMut::new(),
            keepalive,
            writer: None,
        }
    }

    fn note_writer(&mut self, cx: &Context<'_>) {
        if self.keepalive.is_some() {
            crate::stream::register(&mut self.writer, cx);
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsStream<S> {
    /// Runs the keepalive timer from the read side: queues pings, detects a silent peer.
    fn poll_keepalive(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let Some(ka) = &mut self.keepalive else {
            return Ok(());
        };
        while ka.tick.poll_tick(cx).is_ready() {
            let silent = ka.last_rx.elapsed();
            if silent >= 2 * ka.interval {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("ws keepalive: nothing received from the peer for {silent:?}"),
                ));
            }
            ka.ping_due = true;
        }
        if !ka.ping_due {
            return Ok(());
        }
        let sent = match Pin::new(&mut self.ws).poll_ready(cx) {
            Poll::Ready(r) => {
                r.map_err(to_io)?;
                Pin::new(&mut self.ws)
                    .start_send(Message::Ping(Bytes::new()))
                    .map_err(to_io)?;
                if let Poll::Ready(Err(e)) = Pin::new(&mut self.ws).poll_flush(cx) {
                    return Err(to_io(e));
                }
                true
            }
            Poll::Pending => false,
        };
        ka.ping_due = !sent;
        if let Some(w) = &self.writer {
            w.wake_by_ref();
        }
        Ok(())
    }
}

fn to_io(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        WsError::ConnectionClosed
        | WsError::AlreadyClosed
        | WsError::Protocol(ProtocolError::SendAfterClosing) => {
            io::Error::new(io::ErrorKind::BrokenPipe, "ws connection closed")
        }
        other => io::Error::new(io::ErrorKind::InvalidData, format!("ws: {other}")),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if !this.read.is_empty() {
                let n = this.read.len().min(buf.remaining());
                buf.put_slice(&this.read[..n]);
                this.read.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            this.poll_keepalive(cx)?;
            let next = match Pin::new(&mut this.ws).poll_next(cx) {
                Poll::Ready(next) => next,
                Poll::Pending if this.ws.get_ref().eof => {
                    this.eof = true;
                    continue;
                }
                Poll::Pending => return Poll::Pending,
            };
            if let (Some(Ok(_)), Some(ka)) = (&next, &mut this.keepalive) {
                ka.last_rx = Instant::now();
            }
            match next {
                Some(Ok(Message::Binary(b))) => this.read = b,
                Some(Ok(Message::Text(t))) => this.read = t.into(),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) => {
                    this.eof = true;
                    // Push out tungstenite's Close reply if the socket takes it now; EOF either way.
                    let _ = Pin::new(&mut this.ws).poll_flush(cx);
                }
                None
                | Some(Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake))) => {
                    this.eof = true;
                }
                Some(Err(e)) => return Poll::Ready(Err(to_io(e))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let this = self.get_mut();
        this.note_writer(cx);
        ready!(Pin::new(&mut this.ws).poll_ready(cx)).map_err(to_io)?;
        let n = buf.len().min(MAX_MESSAGE_OUT);
        this.write.reserve(n);
        this.write.extend_from_slice(&buf[..n]);
        let payload = this.write.split().freeze();
        Pin::new(&mut this.ws)
            .start_send(Message::Binary(payload))
            .map_err(to_io)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.note_writer(cx);
        Pin::new(&mut this.ws).poll_flush(cx).map_err(to_io)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.note_writer(cx);
        ready!(Pin::new(&mut this.ws).poll_flush(cx)).map_err(to_io)?;
        Pin::new(&mut this.ws.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::protocol::Role;

    async fn pair() -> (
        WsStream<tokio::io::DuplexStream>,
        WebSocketStream<tokio::io::DuplexStream>,
    ) {
        let (a, b) = tokio::io::duplex(1 << 20);
        let ours =
            WebSocketStream::from_raw_socket(EofGuard::new(a), Role::Client, Some(config())).await;
        let theirs = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
        (WsStream::new(ours, None), theirs)
    }

    #[tokio::test]
    async fn reads_span_messages_and_accept_text() {
        use futures_util::SinkExt;
        let (mut ours, mut theirs) = pair().await;
        theirs.send(Message::binary(&b"hel"[..])).await.unwrap();
        theirs.send(Message::binary(Bytes::new())).await.unwrap();
        theirs.send(Message::text("lo ")).await.unwrap();
        theirs
            .send(Message::Ping(Bytes::from_static(b"p")))
            .await
            .unwrap();
        theirs.send(Message::binary(&b"world"[..])).await.unwrap();
        theirs.close(None).await.unwrap();
        let mut got = Vec::new();
        ours.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello world");
    }

    #[tokio::test]
    async fn each_write_is_one_binary_message() {
        use futures_util::StreamExt;
        let (mut ours, mut theirs) = pair().await;
        ours.write_all(b"\x05\x01\x00").await.unwrap();
        let big = vec![7u8; MAX_MESSAGE_OUT + 10];
        assert_eq!(ours.write(&big).await.unwrap(), MAX_MESSAGE_OUT);
        assert_eq!(
            theirs.next().await.unwrap().unwrap(),
            Message::binary(&b"\x05\x01\x00"[..])
        );
        match theirs.next().await.unwrap().unwrap() {
            Message::Binary(b) => assert_eq!(b.len(), MAX_MESSAGE_OUT),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn peer_closing_without_close_frame_is_eof() {
        let (mut ours, theirs) = pair().await;
        drop(theirs);
        let mut got = Vec::new();
        ours.read_to_end(&mut got).await.unwrap();
        assert!(got.is_empty());
    }

    #[tokio::test]
    async fn oversized_message_is_an_error_not_a_buffer() {
        use futures_util::SinkExt;
        let (mut ours, mut theirs) = pair().await;
        let sender = tokio::spawn(async move {
            // Stalls once `ours` stops reading; it is aborted below.
            let _ = theirs
                .send(Message::binary(vec![0u8; MAX_MESSAGE_IN + 1]))
                .await;
        });
        let e = ours.read(&mut [0u8; 16]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("ws:"), "{e}");
        sender.abort();
    }
}
