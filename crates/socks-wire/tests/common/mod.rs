//! Test helpers: a cursor that decodes a byte stream (of a recorded upstream session, read with
//! `gost_test_support::Vector`) message by message, checking each one re-encodes exactly.

#![allow(dead_code)] // each test binary uses a different subset

use std::fmt::Debug;

pub(crate) mod strategies;

use socks_wire::{Decode, Decoded, Encode, UdpTunFrame};

/// Checks that every proper prefix of `msg` decodes as NeedMore with a count that does not
/// overshoot the message.
pub(crate) fn assert_prefixes_need_more<'a, T: Decode<'a> + Debug>(msg: &'a [u8]) {
    for k in 0..msg.len() {
        match T::decode(&msg[..k]) {
            Ok(Decoded::NeedMore(n)) => {
                assert!(
                    n >= 1 && k + n <= msg.len(),
                    "prefix {k}/{}: need {n}",
                    msg.len()
                )
            }
            other => panic!("prefix {k} of {msg:02x?}: {other:?}"),
        }
    }
}

/// Walks a byte stream message by message.
pub(crate) struct Cursor {
    pub bytes: Vec<u8>,
    pub pos: usize,
}

impl Cursor {
    pub(crate) fn new(bytes: Vec<u8>) -> Cursor {
        Cursor { bytes, pos: 0 }
    }

    /// Decodes the next message as `T`, checks it re-encodes to exactly the bytes it used and
    /// that each of their prefixes needs more.
    pub(crate) fn next<T: for<'a> Decode<'a> + Encode + Debug>(&mut self) -> T {
        let rest = &self.bytes[self.pos..];
        let (msg, len) = match T::decode(rest) {
            Ok(Decoded::Complete(m, len)) => (m, len),
            other => panic!(
                "expected a {} at offset {}: {other:?} (bytes {:02x?})",
                std::any::type_name::<T>(),
                self.pos,
                &rest[..rest.len().min(32)]
            ),
        };
        assert_eq!(msg.to_vec().unwrap(), rest[..len], "re-encoding {msg:?}");
        assert_eq!(msg.encoded_len(), len);
        assert_prefixes_need_more::<T>(&rest[..len]);
        self.pos += len;
        msg
    }

    /// Decodes the next UDP-TUN frame, with the same checks, returning (address, payload).
    pub(crate) fn next_tun_frame(&mut self) -> (socks_wire::Address, Vec<u8>) {
        let rest = &self.bytes[self.pos..];
        let Ok(Decoded::Complete(frame, len)) = UdpTunFrame::decode(rest) else {
            panic!("expected a UDP-TUN frame at offset {}", self.pos)
        };
        assert_eq!(frame.to_vec().unwrap(), rest[..len]);
        assert_prefixes_need_more::<UdpTunFrame>(&rest[..len]);
        self.pos += len;
        (frame.addr, frame.payload.to_vec())
    }

    /// The bytes not yet decoded.
    pub(crate) fn rest(&self) -> &[u8] {
        &self.bytes[self.pos..]
    }
}
