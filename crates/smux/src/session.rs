//! The session handle: opens and accepts streams over one connection.

use std::fmt;
use std::pin::pin;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::Config;
use crate::error::{CloseReason, Error};
use crate::shared::{Ctrl, Shared, StreamState};
use crate::stream::Stream;

/// An smux session over one connection.
///
/// Creating a session spawns a tokio task that owns the connection, so it must be called inside a
/// tokio runtime. The session lives until [`close`](Session::close) is called, the connection
/// fails or reaches EOF, the keepalive timeout fires, or every `Session` clone and every
/// [`Stream`] has been dropped. A local close first tries (for at most 5 s) to deliver what was
/// already queued, then shuts the connection down.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use gost_smux::{Config, Session};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// let (a, b) = tokio::io::duplex(64 * 1024);
/// let client = Session::client(a, Config::default())?;
/// let server = Session::server(b, Config::default())?;
///
/// let mut out = client.open_stream().await?;
/// out.write_all(b"hello").await?;
///
/// let mut inc = server.accept_stream().await.expect("session open");
/// let mut buf = [0; 5];
/// inc.read_exact(&mut buf).await?;
/// assert_eq!((&buf, inc.id()), (b"hello", 3));
/// # Ok(())
/// # }
/// ```
pub struct Session {
    shared: Arc<Shared>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("version", &self.shared.config.version)
            .field("closed", &self.close_reason())
            .finish()
    }
}

impl Session {
    /// Starts the smux client side: opens odd stream ids 3, 5, 7, …
    pub fn client<T>(io: T, config: Config) -> Result<Session, Error>
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        Session::start(io, config, 1)
    }

    /// Starts the smux server side: opens even stream ids 2, 4, 6, …
    pub fn server<T>(io: T, config: Config) -> Result<Session, Error>
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        Session::start(io, config, 0)
    }

    fn start<T>(io: T, config: Config, first_id: u32) -> Result<Session, Error>
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        config.validate()?;
        let shared = Shared::new(config, first_id);
        tokio::spawn(crate::driver::run(io, Arc::clone(&shared)));
        Ok(Session { shared })
    }

    /// Opens a new stream. The SYN is queued ahead of any data, so the stream can be written at once.
    pub async fn open_stream(&self) -> Result<Stream, Error> {
        let mut g = self.shared.lock();
        if let Some(reason) = &g.closed {
            return Err(Error::Closed(reason.clone()));
        }
        let id = loop {
            let Some(id) = g.next_id.checked_add(2) else {
                return Err(Error::GoAway);
            };
            g.next_id = id;
            // Only a misbehaving peer opens ids of our parity; skip them rather than alias.
            if !g.streams.contains_key(&id) {
                break id;
            }
        };
        g.streams.insert(id, StreamState::new());
        g.ctrl.push_back(Ctrl::Syn(id));
        g.handles += 1;
        g.wake_driver();
        drop(g);
        Ok(Stream::new(id, Arc::clone(&self.shared)))
    }

    /// Waits for a stream opened by the peer; `None` once the session is closed and every stream
    /// the peer opened before that has been returned (their data can still be read).
    pub async fn accept_stream(&self) -> Option<Stream> {
        loop {
            let mut notified = pin!(self.shared.accept_notify.notified());
            notified.as_mut().enable();
            {
                let mut g = self.shared.lock();
                if let Some(id) = g.backlog.pop_front() {
                    g.handles += 1;
                    if g.recv_blocked {
                        g.wake_driver();
                    }
                    return Some(Stream::new(id, Arc::clone(&self.shared)));
                }
                if g.closed.is_some() {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Closes the session: every stream fails, the connection is shut down after queued frames
    /// are delivered (bounded wait).
    pub fn close(&self) {
        self.shared.close(CloseReason::Local);
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed.is_some()
    }

    /// Why the session closed, if it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.shared.lock().closed.clone()
    }

    /// Resolves when the session closes, with the reason.
    pub async fn closed(&self) -> CloseReason {
        loop {
            let mut notified = pin!(self.shared.closed_notify.notified());
            notified.as_mut().enable();
            if let Some(reason) = self.close_reason() {
                return reason;
            }
            notified.await;
        }
    }

    /// Streams currently known to the session (open, or opened by the peer and not yet accepted).
    pub fn num_streams(&self) -> usize {
        self.shared.lock().streams.len()
    }

    /// Received bytes not yet read by any stream; stays near `max_receive_buffer` at most.
    pub fn buffered_bytes(&self) -> usize {
        self.shared.lock().buffered
    }

    /// The configuration the session runs with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }
}

impl Clone for Session {
    fn clone(&self) -> Session {
        self.shared.lock().handles += 1;
        Session {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let last = {
            let mut g = self.shared.lock();
            g.handles -= 1;
            g.handles == 0
        };
        if last {
            self.shared.close(CloseReason::Local);
        }
    }
}
