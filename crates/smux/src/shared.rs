//! State shared by a session's driver task, its `Session` handles and its `Stream`s.
//!
//! Everything lives behind one short-held mutex. Every queue here is bounded: control frames are
//! deduplicated per stream, outgoing data stops being accepted at [`DATA_HIGH_WATER`], received
//! data is limited by the session-wide receive budget and unaccepted streams by [`ACCEPT_BACKLOG`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Waker};

use bytes::{BufMut, BytesMut};
use tokio::sync::Notify;

use crate::config::Config;
use crate::error::CloseReason;
use crate::frame::{Cmd, HEADER_LEN, Header};

/// Window assumed for the peer before its first UPD (xtaci's `initialPeerWindow`).
pub(crate) const INITIAL_PEER_WINDOW: u32 = 262_144;
/// Streams opened by the peer and not yet accepted; reading pauses beyond this (upstream: 1024).
pub(crate) const ACCEPT_BACKLOG: usize = 1024;
/// Outgoing data buffered for the driver before writers have to wait.
pub(crate) const DATA_HIGH_WATER: usize = 256 * 1024;
/// Most bytes one `poll_write` takes, so that streams share the outgoing buffer fairly.
pub(crate) const WRITE_CHUNK: usize = 64 * 1024;

/// A control frame waiting to be written ahead of all data.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ctrl {
    Syn(u32),
    /// Encoded with the stream's consumption at the moment it is written.
    Upd(u32),
}

/// Per-stream state.
pub(crate) struct StreamState {
    /// Received, not yet read.
    pub recv: BytesMut,
    pub read_waker: Option<Waker>,
    /// Woken for window updates, buffer space, flush progress and FIN.
    pub write_waker: Option<Waker>,
    pub fin_received: bool,
    pub fin_sent: bool,
    /// Queued in `Inner::io_waiters`.
    pub waiting_io: bool,
    /// `Inner::enqueued` right after this stream's last frame: flushed once `Inner::flushed` passes it.
    pub last_pos: u64,
    // Version 2 flow control, all modular u32 as upstream.
    pub num_read: u32,
    pub incr: u32,
    pub num_written: u32,
    pub peer_consumed: u32,
    pub peer_window: u32,
    pub upd_queued: bool,
}

impl StreamState {
    pub(crate) fn new() -> StreamState {
        StreamState {
            recv: BytesMut::new(),
            read_waker: None,
            write_waker: None,
            fin_received: false,
            fin_sent: false,
            waiting_io: false,
            last_pos: 0,
            num_read: 0,
            incr: 0,
            num_written: 0,
            peer_consumed: 0,
            peer_window: INITIAL_PEER_WINDOW,
            upd_queued: false,
        }
    }

    pub(crate) fn wake_all(&mut self, out: &mut Vec<Waker>) {
        out.extend(self.read_waker.take());
        out.extend(self.write_waker.take());
    }
}

/// Stores `cx`'s waker in `slot` unless it is already there.
pub(crate) fn register(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// The mutable session state.
pub(crate) struct Inner {
    pub streams: HashMap<u32, StreamState>,
    pub closed: Option<CloseReason>,
    /// Last id handed out by this side.
    pub next_id: u32,
    /// Peer-opened streams waiting for `accept_stream`.
    pub backlog: VecDeque<u32>,
    pub ctrl: VecDeque<Ctrl>,
    pub nop_pending: bool,
    /// Encoded PSH and FIN frames, in stream write order, waiting for the driver.
    pub data: Vec<u8>,
    /// Bytes ever appended to `data`.
    pub enqueued: u64,
    /// Bytes of `data` the driver has written and flushed.
    pub flushed: u64,
    /// Streams waiting for buffer space or a flush.
    pub io_waiters: Vec<u32>,
    pub driver_waker: Option<Waker>,
    /// Received bytes not yet read, across all streams.
    pub buffered: usize,
    /// The driver stopped reading the connection (receive budget or accept backlog full).
    pub recv_blocked: bool,
    /// Live `Session` and `Stream` handles; the session closes when the last one goes.
    pub handles: usize,
}

impl Inner {
    /// Appends one frame header (and payload) to the outgoing data buffer.
    pub(crate) fn push_data_frame(&mut self, version: u8, cmd: Cmd, id: u32, payload: &[u8]) {
        Header {
            version,
            cmd,
            // Callers split payloads at max_frame_size (≤ 65535).
            length: payload.len() as u16,
            stream_id: id,
        }
        .encode(&mut self.data);
        self.data.put_slice(payload);
        self.enqueued += (HEADER_LEN + payload.len()) as u64;
    }

    /// Queues an UPD for stream `id` unless one is already pending.
    pub(crate) fn queue_upd(&mut self, id: u32) {
        if let Some(st) = self.streams.get_mut(&id)
            && !st.upd_queued
        {
            st.upd_queued = true;
            self.ctrl.push_back(Ctrl::Upd(id));
        }
    }

    /// Registers stream `id` for a wake-up when the driver frees buffer space or finishes a flush.
    pub(crate) fn wait_io(&mut self, id: u32, cx: &Context<'_>) {
        if let Some(st) = self.streams.get_mut(&id) {
            register(&mut st.write_waker, cx);
            if !st.waiting_io {
                st.waiting_io = true;
                self.io_waiters.push(id);
            }
        }
    }

    /// Moves the wakers of all streams waiting for I/O progress into `out`.
    pub(crate) fn take_io_waiters(&mut self, out: &mut Vec<Waker>) {
        for id in self.io_waiters.drain(..) {
            if let Some(st) = self.streams.get_mut(&id) {
                st.waiting_io = false;
                out.extend(st.write_waker.take());
            }
        }
    }

    /// Whether the driver must stop taking frames off the connection.
    pub(crate) fn recv_stalled(&self, config: &Config) -> bool {
        self.buffered >= config.max_receive_buffer || self.backlog.len() >= ACCEPT_BACKLOG
    }

    /// Wakes the driver.
    pub(crate) fn wake_driver(&self) {
        if let Some(w) = &self.driver_waker {
            w.wake_by_ref();
        }
    }
}

/// Shared between the driver, the session handles and the streams.
pub(crate) struct Shared {
    pub inner: Mutex<Inner>,
    pub config: Config,
    /// Signalled when a stream is queued for accepting or the session closes.
    pub accept_notify: Notify,
    /// Signalled when the session closes.
    pub closed_notify: Notify,
}

impl Shared {
    pub(crate) fn new(config: Config, first_id: u32) -> Arc<Shared> {
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                streams: HashMap::new(),
                closed: None,
                next_id: first_id,
                backlog: VecDeque::new(),
                ctrl: VecDeque::new(),
                nop_pending: false,
                data: Vec::new(),
                enqueued: 0,
                flushed: 0,
                io_waiters: Vec::new(),
                driver_waker: None,
                buffered: 0,
                recv_blocked: false,
                handles: 1,
            }),
            config,
            accept_notify: Notify::new(),
            closed_notify: Notify::new(),
        })
    }

    /// Locks the state. A panic while the lock was held cannot leave it inconsistent in a way
    /// that matters more than losing the session, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes the session for `reason` (the first reason wins) and wakes everyone.
    pub(crate) fn close(&self, reason: CloseReason) {
        let mut wakers = Vec::new();
        {
            let mut g = self.lock();
            if g.closed.is_some() {
                return;
            }
            g.closed = Some(reason);
            for st in g.streams.values_mut() {
                st.wake_all(&mut wakers);
            }
            wakers.extend(g.driver_waker.take());
        }
        for w in wakers {
            w.wake();
        }
        self.accept_notify.notify_waiters();
        self.closed_notify.notify_waiters();
    }
}
