//! The ikcp ARQ engine (stream mode), wire-compatible with skywind3000/kcp and kcp-go: segment
//! codec, send/receive windows, RTO estimation, fast resend, congestion window, window probing.
//!
//! Written for hostile input: every sequence comparison wraps, every timer saturates, and memory is
//! bounded by the windows (the caller bounds the send queue via [`Arq::wait_snd`]).

use std::collections::VecDeque;

/// Segment header length.
pub const OVERHEAD: usize = 24;
/// Command: data.
pub const CMD_PUSH: u8 = 81;
/// Command: acknowledgement.
pub const CMD_ACK: u8 = 82;
/// Command: window probe request.
pub const CMD_WASK: u8 = 83;
/// Command: window size announcement.
pub const CMD_WINS: u8 = 84;

const RTO_NODELAY_MIN: u32 = 30;
const RTO_MIN: u32 = 100;
const RTO_DEFAULT: u32 = 200;
const RTO_MAX: u32 = 60_000;
const ASK_SEND: u8 = 1;
const ASK_TELL: u8 = 2;
const THRESH_INIT: u32 = 2;
const THRESH_MIN: u32 = 2;
const PROBE_INIT: u32 = 7_000;
const PROBE_LIMIT: u32 = 120_000;
const FASTACK_LIMIT: u32 = 5;
/// A segment sent this many times without ACK declares the link dead.
pub const DEAD_LINK: u32 = 20;

fn diff(later: u32, earlier: u32) -> i32 {
    later.wrapping_sub(earlier) as i32
}

/// A parsed segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Conversation id.
    pub conv: u32,
    /// Command (81..=84).
    pub cmd: u8,
    /// Fragment countdown (always 0 in stream mode).
    pub frg: u8,
    /// Sender's free receive window.
    pub wnd: u16,
    /// Timestamp (ms).
    pub ts: u32,
    /// Sequence number.
    pub sn: u32,
    /// Sender's next expected sequence number.
    pub una: u32,
    /// Payload length.
    pub len: u32,
}

impl SegmentHeader {
    /// Splits the first segment off `buf`: its header and payload, and the rest. `None` when the
    /// header is short, the command unknown or the payload truncated.
    pub fn parse(buf: &[u8]) -> Option<(SegmentHeader, &[u8], &[u8])> {
        let h = buf.get(..OVERHEAD)?;
        let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let hdr = SegmentHeader {
            conv: u32_at(0),
            cmd: h[4],
            frg: h[5],
            wnd: u16::from_le_bytes([h[6], h[7]]),
            ts: u32_at(8),
            sn: u32_at(12),
            una: u32_at(16),
            len: u32_at(20),
        };
        if !(CMD_PUSH..=CMD_WINS).contains(&hdr.cmd) {
            return None;
        }
        let rest = &buf[OVERHEAD..];
        let len = usize::try_from(hdr.len).ok().filter(|&l| l <= rest.len())?;
        Some((hdr, &rest[..len], &rest[len..]))
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.conv.to_le_bytes());
        out.push(self.cmd);
        out.push(self.frg);
        out.extend_from_slice(&self.wnd.to_le_bytes());
        out.extend_from_slice(&self.ts.to_le_bytes());
        out.extend_from_slice(&self.sn.to_le_bytes());
        out.extend_from_slice(&self.una.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
    }
}

#[derive(Debug, Default)]
struct Segment {
    sn: u32,
    ts: u32,
    resend_at: u32,
    rto: u32,
    fastack: u32,
    xmit: u32,
    acked: bool,
    data: Vec<u8>,
}

/// Why [`Arq::input`] rejected a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputError {
    /// Malformed segment (short header, unknown command, truncated payload).
    Malformed,
    /// A segment of another conversation.
    Conv(u32),
}

/// One KCP conversation's state machine. Time is a caller-supplied millisecond clock.
#[derive(Debug)]
pub struct Arq {
    conv: u32,
    mtu: usize,
    mss: usize,
    dead: bool,
    snd_una: u32,
    snd_nxt: u32,
    rcv_nxt: u32,
    ssthresh: u32,
    rx_rttval: u32,
    rx_srtt: u32,
    rx_rto: u32,
    rx_minrto: u32,
    snd_wnd: u32,
    rcv_wnd: u32,
    rmt_wnd: u32,
    cwnd: u32,
    incr: usize,
    probe: u8,
    current: u32,
    interval: u32,
    ts_flush: u32,
    nodelay: u32,
    updated: bool,
    ts_probe: u32,
    probe_wait: u32,
    fastresend: u32,
    nocwnd: bool,
    snd_queue: VecDeque<Segment>,
    snd_buf: VecDeque<Segment>,
    rcv_buf: VecDeque<Segment>,
    rcv_queue: VecDeque<Segment>,
    /// Bytes of the front `rcv_queue` segment already read.
    rcv_offset: usize,
    acklist: Vec<(u32, u32)>,
    out: Vec<u8>,
}

impl Arq {
    /// A conversation `conv` whose output buffers hold at most `mtu` bytes (the KCP share of the
    /// datagram: link MTU minus crypt and FEC headers).
    pub fn new(conv: u32, mtu: usize) -> Self {
        let mtu = mtu.max(OVERHEAD + 1);
        Arq {
            conv,
            mtu,
            mss: mtu - OVERHEAD,
            dead: false,
            snd_una: 0,
            snd_nxt: 0,
            rcv_nxt: 0,
            ssthresh: THRESH_INIT,
            rx_rttval: 0,
            rx_srtt: 0,
            rx_rto: RTO_DEFAULT,
            rx_minrto: RTO_MIN,
            snd_wnd: 32,
            rcv_wnd: 32,
            rmt_wnd: 32,
            cwnd: 0,
            incr: 0,
            probe: 0,
            current: 0,
            interval: 100,
            ts_flush: 100,
            nodelay: 0,
            updated: false,
            ts_probe: 0,
            probe_wait: 0,
            fastresend: 0,
            nocwnd: false,
            snd_queue: VecDeque::new(),
            snd_buf: VecDeque::new(),
            rcv_buf: VecDeque::new(),
            rcv_queue: VecDeque::new(),
            rcv_offset: 0,
            acklist: Vec::new(),
            out: Vec::with_capacity(mtu),
        }
    }

    /// ikcp `nodelay`: nodelay mode, update interval (clamped to 10..=5000 ms), fast-resend
    /// threshold (0 off) and congestion control off.
    pub fn set_nodelay(&mut self, nodelay: u32, interval: u32, resend: u32, nocwnd: bool) {
        self.nodelay = nodelay;
        self.rx_minrto = if nodelay != 0 {
            RTO_NODELAY_MIN
        } else {
            RTO_MIN
        };
        self.interval = interval.clamp(10, 5000);
        self.fastresend = resend;
        self.nocwnd = nocwnd;
    }

    /// Send and receive windows in segments (0 keeps the current value).
    pub fn set_window(&mut self, snd: u16, rcv: u16) {
        if snd > 0 {
            self.snd_wnd = u32::from(snd);
        }
        if rcv > 0 {
            self.rcv_wnd = u32::from(rcv);
        }
    }

    /// Conversation id.
    pub fn conv(&self) -> u32 {
        self.conv
    }

    /// Maximum payload bytes per segment.
    pub fn mss(&self) -> usize {
        self.mss
    }

    /// Current retransmission timeout in ms.
    pub fn rto(&self) -> u32 {
        self.rx_rto
    }

    /// Send window in segments.
    pub fn snd_wnd(&self) -> usize {
        self.snd_wnd as usize
    }

    /// Segments queued or in flight (the caller stops writing at about twice the send window).
    pub fn wait_snd(&self) -> usize {
        self.snd_buf.len() + self.snd_queue.len()
    }

    /// True when a segment was retransmitted [`DEAD_LINK`] times without acknowledgement.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// True when received bytes are ready for [`Arq::recv`].
    pub fn readable(&self) -> bool {
        !self.rcv_queue.is_empty()
    }

    /// Queues stream bytes, filling up the last unsent segment first.
    pub fn send(&mut self, mut data: &[u8]) {
        if let Some(last) = self.snd_queue.back_mut() {
            let room = self.mss.saturating_sub(last.data.len());
            let n = room.min(data.len());
            last.data.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        for chunk in data.chunks(self.mss) {
            self.snd_queue.push_back(Segment {
                data: chunk.to_vec(),
                ..Segment::default()
            });
        }
    }

    /// Copies received in-order bytes into `buf`; returns the count (0 when nothing is ready).
    pub fn recv(&mut self, buf: &mut [u8]) -> usize {
        let window_was_full = self.rcv_queue.len() >= self.rcv_wnd as usize;
        let mut n = 0;
        while n < buf.len() {
            let Some(front) = self.rcv_queue.front() else {
                break;
            };
            let avail = &front.data[self.rcv_offset..];
            let k = avail.len().min(buf.len() - n);
            buf[n..n + k].copy_from_slice(&avail[..k]);
            n += k;
            self.rcv_offset += k;
            if self.rcv_offset == front.data.len() {
                self.rcv_queue.pop_front();
                self.rcv_offset = 0;
            }
        }
        self.move_to_queue();
        if window_was_full && self.rcv_queue.len() < self.rcv_wnd as usize {
            // Tell the peer right away that the window reopened.
            self.probe |= ASK_TELL;
        }
        n
    }

    fn move_to_queue(&mut self) {
        while let Some(seg) = self.rcv_buf.front() {
            if seg.sn != self.rcv_nxt || self.rcv_queue.len() >= self.rcv_wnd as usize {
                break;
            }
            self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
            if let Some(seg) = self.rcv_buf.pop_front()
                && !seg.data.is_empty()
            {
                self.rcv_queue.push_back(seg);
            }
        }
    }

    fn update_rtt(&mut self, rtt: u32) {
        let rtt = rtt.min(RTO_MAX);
        if self.rx_srtt == 0 {
            self.rx_srtt = rtt;
            self.rx_rttval = rtt / 2;
        } else {
            let delta = rtt.abs_diff(self.rx_srtt);
            self.rx_rttval = (3 * self.rx_rttval + delta) / 4;
            self.rx_srtt = ((7 * self.rx_srtt + rtt) / 8).max(1);
        }
        let rto = self.rx_srtt + self.interval.max(4 * self.rx_rttval);
        self.rx_rto = rto.clamp(self.rx_minrto, RTO_MAX);
    }

    fn shrink_buf(&mut self) {
        while self.snd_buf.front().is_some_and(|s| s.acked) {
            self.snd_buf.pop_front();
        }
        self.snd_una = self.snd_buf.front().map_or(self.snd_nxt, |s| s.sn);
    }

    fn ack_sn(&mut self, sn: u32) {
        if diff(sn, self.snd_una) < 0 || diff(sn, self.snd_nxt) >= 0 {
            return;
        }
        // snd_buf holds consecutive sequence numbers, so the segment's index is its offset.
        let Some(front) = self.snd_buf.front() else {
            return;
        };
        let idx = sn.wrapping_sub(front.sn) as usize;
        if let Some(seg) = self.snd_buf.get_mut(idx) {
            seg.acked = true;
            seg.data = Vec::new();
        }
    }

    fn ack_una(&mut self, una: u32) {
        while self.snd_buf.front().is_some_and(|s| diff(una, s.sn) > 0) {
            self.snd_buf.pop_front();
        }
    }

    fn count_fastack(&mut self, sn: u32, ts: u32) {
        if diff(sn, self.snd_una) < 0 || diff(sn, self.snd_nxt) >= 0 {
            return;
        }
        for seg in self.snd_buf.iter_mut() {
            if diff(sn, seg.sn) < 0 {
                break;
            }
            if sn != seg.sn && !seg.acked && diff(ts, seg.ts) >= 0 {
                seg.fastack = seg.fastack.saturating_add(1);
            }
        }
    }

    fn accept_push(&mut self, sn: u32, data: &[u8]) {
        if diff(sn, self.rcv_nxt.wrapping_add(self.rcv_wnd)) >= 0 || diff(sn, self.rcv_nxt) < 0 {
            return;
        }
        let mut at = self.rcv_buf.len();
        for seg in self.rcv_buf.iter().rev() {
            if seg.sn == sn {
                return;
            }
            if diff(sn, seg.sn) > 0 {
                break;
            }
            at -= 1;
        }
        let seg = Segment {
            sn,
            data: data.to_vec(),
            ..Segment::default()
        };
        self.rcv_buf.insert(at, seg);
        self.move_to_queue();
    }

    /// Feeds the KCP bytes of one datagram (one or more segments) at time `now`.
    pub fn input(&mut self, mut buf: &[u8], now: u32) -> Result<(), InputError> {
        if buf.len() < OVERHEAD {
            return Err(InputError::Malformed);
        }
        self.current = now;
        let prev_una = self.snd_una;
        let mut max_ack: Option<(u32, u32)> = None;
        while buf.len() >= OVERHEAD {
            let (h, data, rest) = SegmentHeader::parse(buf).ok_or(InputError::Malformed)?;
            if h.conv != self.conv {
                return Err(InputError::Conv(h.conv));
            }
            buf = rest;
            self.rmt_wnd = u32::from(h.wnd);
            self.ack_una(h.una);
            self.shrink_buf();
            match h.cmd {
                CMD_ACK => {
                    let rtt = diff(self.current, h.ts);
                    if rtt >= 0 {
                        self.update_rtt(rtt as u32);
                    }
                    self.ack_sn(h.sn);
                    self.shrink_buf();
                    match max_ack {
                        Some((sn, _)) if diff(h.sn, sn) <= 0 => {}
                        _ => max_ack = Some((h.sn, h.ts)),
                    }
                }
                CMD_PUSH if diff(h.sn, self.rcv_nxt.wrapping_add(self.rcv_wnd)) < 0 => {
                    // Bounded: only in-window segments are acknowledged, a few times each.
                    if self.acklist.len() < 4 * self.rcv_wnd as usize + 64 {
                        self.acklist.push((h.sn, h.ts));
                    }
                    self.accept_push(h.sn, data);
                }
                CMD_WASK => self.probe |= ASK_TELL,
                _ => {}
            }
        }
        if let Some((sn, ts)) = max_ack {
            self.count_fastack(sn, ts);
        }
        if diff(self.snd_una, prev_una) > 0 && self.cwnd < self.rmt_wnd {
            self.grow_cwnd();
        }
        Ok(())
    }

    fn grow_cwnd(&mut self) {
        let mss = self.mss;
        if self.cwnd < self.ssthresh {
            self.cwnd += 1;
            self.incr += mss;
        } else {
            self.incr = self.incr.max(mss);
            self.incr += mss * mss / self.incr + mss / 16;
            if (self.cwnd as usize + 1) * mss <= self.incr {
                self.cwnd = self.incr.div_ceil(mss) as u32;
            }
        }
        if self.cwnd > self.rmt_wnd {
            self.cwnd = self.rmt_wnd;
            self.incr = self.rmt_wnd as usize * mss;
        }
    }

    fn wnd_unused(&self) -> u16 {
        let free = self.rcv_wnd.saturating_sub(self.rcv_queue.len() as u32);
        free.min(u32::from(u16::MAX)) as u16
    }

    fn push_segment(&mut self, h: &SegmentHeader, data: &[u8], emit: &mut dyn FnMut(&[u8])) {
        if self.out.len() + OVERHEAD + data.len() > self.mtu && !self.out.is_empty() {
            emit(&self.out);
            self.out.clear();
        }
        h.write(&mut self.out);
        self.out.extend_from_slice(data);
    }

    /// Sends pending ACKs, probes and due (re)transmissions; each output buffer (≤ mtu bytes)
    /// goes to `emit`.
    pub fn flush(&mut self, emit: &mut dyn FnMut(&[u8])) {
        if !self.updated {
            return;
        }
        let mut h = SegmentHeader {
            conv: self.conv,
            cmd: CMD_ACK,
            frg: 0,
            wnd: self.wnd_unused(),
            ts: 0,
            sn: 0,
            una: self.rcv_nxt,
            len: 0,
        };
        let acks = std::mem::take(&mut self.acklist);
        for &(sn, ts) in &acks {
            h.sn = sn;
            h.ts = ts;
            self.push_segment(&h, &[], emit);
        }
        self.acklist = acks;
        self.acklist.clear();

        self.update_probe();
        h.sn = 0;
        h.ts = 0;
        for (bit, cmd) in [(ASK_SEND, CMD_WASK), (ASK_TELL, CMD_WINS)] {
            if self.probe & bit != 0 {
                h.cmd = cmd;
                self.push_segment(&h, &[], emit);
            }
        }
        self.probe = 0;

        let mut cwnd = self.snd_wnd.min(self.rmt_wnd);
        if !self.nocwnd {
            cwnd = cwnd.min(self.cwnd);
        }
        while diff(self.snd_nxt, self.snd_una.wrapping_add(cwnd)) < 0 {
            let Some(mut seg) = self.snd_queue.pop_front() else {
                break;
            };
            seg.sn = self.snd_nxt;
            seg.ts = self.current;
            seg.resend_at = self.current;
            seg.rto = self.rx_rto;
            self.snd_nxt = self.snd_nxt.wrapping_add(1);
            self.snd_buf.push_back(seg);
        }

        let resent = if self.fastresend > 0 {
            self.fastresend
        } else {
            u32::MAX
        };
        let rtomin = if self.nodelay == 0 {
            self.rx_rto >> 3
        } else {
            0
        };
        let (mut lost, mut fast) = (false, false);
        h.cmd = CMD_PUSH;
        let mut buf = std::mem::take(&mut self.snd_buf);
        for seg in buf.iter_mut().filter(|s| !s.acked) {
            let mut send = false;
            if seg.xmit == 0 {
                send = true;
                seg.xmit = 1;
                seg.rto = self.rx_rto;
                seg.resend_at = self.current.wrapping_add(seg.rto + rtomin);
            } else if diff(self.current, seg.resend_at) >= 0 {
                send = true;
                seg.xmit += 1;
                let step = if self.nodelay == 0 {
                    seg.rto.max(self.rx_rto)
                } else if self.nodelay < 2 {
                    seg.rto / 2
                } else {
                    self.rx_rto / 2
                };
                seg.rto = seg.rto.saturating_add(step).min(RTO_MAX);
                seg.resend_at = self.current.wrapping_add(seg.rto);
                lost = true;
            } else if seg.fastack >= resent && seg.xmit <= FASTACK_LIMIT {
                send = true;
                seg.xmit += 1;
                seg.fastack = 0;
                seg.resend_at = self.current.wrapping_add(seg.rto);
                fast = true;
            }
            if send {
                seg.ts = self.current;
                h.ts = seg.ts;
                h.sn = seg.sn;
                h.len = seg.data.len() as u32;
                self.push_segment(&h, &seg.data, emit);
                if seg.xmit >= DEAD_LINK {
                    self.dead = true;
                }
            }
        }
        self.snd_buf = buf;
        if !self.out.is_empty() {
            emit(&self.out);
            self.out.clear();
        }

        if fast {
            let inflight = self.snd_nxt.wrapping_sub(self.snd_una);
            self.ssthresh = (inflight / 2).max(THRESH_MIN);
            self.cwnd = self.ssthresh.saturating_add(resent);
            self.incr = self.cwnd as usize * self.mss;
        }
        if lost {
            self.ssthresh = (cwnd / 2).max(THRESH_MIN);
            self.cwnd = 1;
            self.incr = self.mss;
        }
        if self.cwnd < 1 {
            self.cwnd = 1;
            self.incr = self.mss;
        }
    }

    fn update_probe(&mut self) {
        if self.rmt_wnd != 0 {
            self.ts_probe = 0;
            self.probe_wait = 0;
        } else if self.probe_wait == 0 {
            self.probe_wait = PROBE_INIT;
            self.ts_probe = self.current.wrapping_add(self.probe_wait);
        } else if diff(self.current, self.ts_probe) >= 0 {
            self.probe_wait = self.probe_wait.max(PROBE_INIT);
            self.probe_wait = (self.probe_wait + self.probe_wait / 2).min(PROBE_LIMIT);
            self.ts_probe = self.current.wrapping_add(self.probe_wait);
            self.probe |= ASK_SEND;
        }
    }

    /// Advances the clock; flushes when the interval elapsed.
    pub fn update(&mut self, now: u32, emit: &mut dyn FnMut(&[u8])) {
        self.current = now;
        if !self.updated {
            self.updated = true;
            self.ts_flush = now;
        }
        let mut slap = diff(now, self.ts_flush);
        if !(-10_000..10_000).contains(&slap) {
            self.ts_flush = now;
            slap = 0;
        }
        if slap >= 0 {
            self.ts_flush = self.ts_flush.wrapping_add(self.interval);
            if diff(now, self.ts_flush) >= 0 {
                self.ts_flush = now.wrapping_add(self.interval);
            }
            self.flush(emit);
        }
    }

    /// Whether received segments wait for their acknowledgement.
    pub fn acks_pending(&self) -> bool {
        !self.acklist.is_empty()
    }

    /// Flushes right away (after a write or, with ack-nodelay, after input).
    pub fn flush_now(&mut self, now: u32, emit: &mut dyn FnMut(&[u8])) {
        self.current = now;
        self.updated = true;
        self.flush(emit);
    }

    /// The time at which [`Arq::update`] next has work to do.
    pub fn check(&self, now: u32) -> u32 {
        if !self.updated {
            return now;
        }
        let mut ts_flush = self.ts_flush;
        if !(-10_000..10_000).contains(&diff(now, ts_flush)) {
            ts_flush = now;
        }
        if diff(now, ts_flush) >= 0 {
            return now;
        }
        let mut next = diff(ts_flush, now) as u32;
        for seg in self.snd_buf.iter().filter(|s| !s.acked) {
            let d = diff(seg.resend_at, now);
            if d <= 0 {
                return now;
            }
            next = next.min(d as u32);
        }
        now.wrapping_add(next.min(self.interval))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two engines joined by a lossy in-memory link.
    fn pump(a: &mut Arq, b: &mut Arq, now: u32, drop_every: usize, counter: &mut usize) {
        let mut ab = Vec::new();
        a.update(now, &mut |p| ab.push(p.to_vec()));
        let mut ba = Vec::new();
        b.update(now, &mut |p| ba.push(p.to_vec()));
        for p in ab {
            *counter += 1;
            if drop_every == 0 || !(*counter).is_multiple_of(drop_every) {
                assert!(p.len() <= 1372);
                b.input(&p, now).unwrap();
            }
        }
        for p in ba {
            *counter += 1;
            if drop_every == 0 || !(*counter).is_multiple_of(drop_every) {
                a.input(&p, now).unwrap();
            }
        }
    }

    fn transfer(drop_every: usize, nodelay: u32) {
        let mut a = Arq::new(7, 1372);
        let mut b = Arq::new(7, 1372);
        for e in [&mut a, &mut b] {
            e.set_nodelay(nodelay, 10, 2, true);
            e.set_window(128, 128);
        }
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut sent = 0;
        let mut got = Vec::new();
        let mut counter = 0;
        let mut now = 0u32;
        while got.len() < data.len() {
            if sent < data.len() && a.wait_snd() < 2 * a.snd_wnd() {
                let n = (data.len() - sent).min(5000);
                a.send(&data[sent..sent + n]);
                sent += n;
            }
            pump(&mut a, &mut b, now, drop_every, &mut counter);
            let mut buf = [0u8; 4096];
            loop {
                let n = b.recv(&mut buf);
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            now += 10;
            assert!(now < 600_000, "transfer stalled at {} bytes", got.len());
        }
        assert_eq!(got, data);
        assert!(!a.is_dead());
    }

    #[test]
    fn stream_transfer_is_intact_without_loss() {
        transfer(0, 0);
    }

    #[test]
    fn stream_transfer_is_intact_with_loss() {
        transfer(7, 1);
        transfer(3, 0);
    }

    #[test]
    fn segments_round_trip_through_the_parser() {
        let h = SegmentHeader {
            conv: 1,
            cmd: CMD_PUSH,
            frg: 0,
            wnd: 32,
            ts: 9,
            sn: 3,
            una: 2,
            len: 3,
        };
        let mut out = Vec::new();
        h.write(&mut out);
        out.extend_from_slice(b"abcX");
        let (p, data, rest) = SegmentHeader::parse(&out).unwrap();
        assert_eq!((p, data, rest), (h, &b"abc"[..], &b"X"[..]));
        out[4] = 99;
        assert!(SegmentHeader::parse(&out).is_none());
    }

    #[test]
    fn wrong_conv_and_garbage_are_rejected() {
        let mut a = Arq::new(1, 1400);
        let h = SegmentHeader {
            conv: 2,
            cmd: CMD_ACK,
            frg: 0,
            wnd: 1,
            ts: 0,
            sn: 0,
            una: 0,
            len: 0,
        };
        let mut out = Vec::new();
        h.write(&mut out);
        assert_eq!(a.input(&out, 0), Err(InputError::Conv(2)));
        assert_eq!(a.input(&[1, 2, 3], 0), Err(InputError::Malformed));
    }
}
