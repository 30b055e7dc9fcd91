//! Test helpers: a reader for the recorded upstream sessions in `shared/vectors/*.jsonl` and a
//! cursor that decodes a byte stream message by message, checking each one re-encodes exactly.

#![allow(dead_code)] // each test binary uses a different subset

use std::fmt::Debug;
use std::path::PathBuf;

pub mod strategies;

use serde_json::Value;
use socks_wire::{Decode, Decoded, Encode, UdpTunFrame};

/// One recorded session file.
pub struct Vector {
    pub name: String,
    pub header: Value,
    records: Vec<Value>,
}

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vectors")
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

impl Vector {
    /// Loads `<name>.jsonl`; a missing file is a test failure naming the path.
    pub fn load(name: &str) -> Vector {
        let path = vectors_dir().join(format!("{name}.jsonl"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read vector file {}: {e}", path.display()));
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header = serde_json::from_str(lines.next().expect("header line")).expect("header json");
        let records = lines
            .map(|l| serde_json::from_str(l).expect("record json"))
            .collect();
        Vector {
            name: name.to_owned(),
            header,
            records,
        }
    }

    fn matching<'a>(
        &'a self,
        proto: &'a str,
        conn: u64,
        dir: &'a str,
    ) -> impl Iterator<Item = Vec<u8>> + 'a {
        self.records
            .iter()
            .filter(move |r| r["proto"] == proto && r["conn"] == conn && r["dir"] == dir)
            .map(|r| unhex(r["hex"].as_str().expect("hex field")))
    }

    /// The TCP chunks of one connection and direction, as recv() returned them.
    pub fn chunks(&self, conn: u64, dir: &str) -> Vec<Vec<u8>> {
        self.matching("tcp", conn, dir).collect()
    }

    /// The TCP byte stream of one connection and direction (chunks concatenated).
    pub fn stream(&self, conn: u64, dir: &str) -> Vec<u8> {
        self.chunks(conn, dir).concat()
    }

    /// The UDP datagrams of one association and direction.
    pub fn datagrams(&self, conn: u64, dir: &str) -> Vec<Vec<u8>> {
        self.matching("udp", conn, dir).collect()
    }

    /// The TCP connection numbers present.
    pub fn conns(&self) -> Vec<u64> {
        let mut c: Vec<u64> = self
            .records
            .iter()
            .filter(|r| r["proto"] == "tcp")
            .filter_map(|r| r["conn"].as_u64())
            .collect();
        c.dedup();
        c.sort_unstable();
        c.dedup();
        c
    }

    /// A hex list from the header (e.g. `payloads_hex`), decoded.
    pub fn header_hex_list(&self, key: &str) -> Vec<Vec<u8>> {
        self.header[key]
            .as_array()
            .unwrap_or_else(|| panic!("{}: header has no {key}", self.name))
            .iter()
            .map(|v| unhex(v.as_str().expect("hex string")))
            .collect()
    }

    /// A hex string from the header, decoded.
    pub fn header_hex(&self, key: &str) -> Vec<u8> {
        unhex(self.header[key].as_str().expect("hex string"))
    }
}

/// Checks that every proper prefix of `msg` decodes as NeedMore with a count that does not
/// overshoot the message.
pub fn assert_prefixes_need_more<'a, T: Decode<'a> + Debug>(msg: &'a [u8]) {
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
pub struct Cursor {
    pub bytes: Vec<u8>,
    pub pos: usize,
}

impl Cursor {
    pub fn new(bytes: Vec<u8>) -> Cursor {
        Cursor { bytes, pos: 0 }
    }

    /// Decodes the next message as `T`, checks it re-encodes to exactly the bytes it used and
    /// that each of their prefixes needs more.
    pub fn next<T: for<'a> Decode<'a> + Encode + Debug>(&mut self) -> T {
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
    pub fn next_tun_frame(&mut self) -> (socks_wire::Address, Vec<u8>) {
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
    pub fn rest(&self) -> &[u8] {
        &self.bytes[self.pos..]
    }
}
