//! The recorded upstream GOST sessions in `vectors/` at the repository root (one copy for every crate's
//! tests): each file is a JSON header line, then one record per captured chunk (`dir` `c2s`/`s2c`,
//! `proto` `tcp`/`udp`, `conn`, `hex`). `GOST_VECTORS` names another folder of the same files.

use std::path::PathBuf;

use serde_json::Value;

use crate::unhex;

/// The folder holding the vector files.
pub fn dir() -> PathBuf {
    match std::env::var_os("GOST_VECTORS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vectors"),
    }
}

/// One captured chunk: a `recv()` of TCP bytes or one UDP datagram.
#[derive(Debug, Clone)]
pub struct Record {
    /// `c2s` (client to server) or `s2c`.
    pub dir: String,
    /// `tcp` or `udp`.
    pub proto: String,
    /// The connection (TCP) or association (UDP) number, from 1.
    pub conn: u64,
    /// The bytes of this record, decoded from hex.
    pub bytes: Vec<u8>,
}

/// One recorded session file.
pub struct Vector {
    /// The file name without its extension.
    pub name: String,
    /// The JSON header line of the file, as recorded.
    pub header: Value,
    /// The records, in capture order.
    pub records: Vec<Record>,
}

impl Vector {
    /// Loads `<name>.jsonl`; a missing or malformed file fails the test naming the path.
    pub fn load(name: &str) -> Vector {
        let path = dir().join(format!("{name}.jsonl"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read vector file {}: {e}", path.display()));
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header = serde_json::from_str(lines.next().expect("header line")).expect("header json");
        let records = lines
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("record json");
                Record {
                    dir: v["dir"].as_str().expect("dir field").to_owned(),
                    proto: v["proto"].as_str().unwrap_or("tcp").to_owned(),
                    conn: v["conn"].as_u64().unwrap_or(0),
                    bytes: unhex(v["hex"].as_str().expect("hex field")),
                }
            })
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
    ) -> impl Iterator<Item = &'a Record> + 'a {
        self.records
            .iter()
            .filter(move |r| r.proto == proto && r.conn == conn && r.dir == dir)
    }

    /// The TCP chunks of one connection and direction, as recv() returned them.
    pub fn chunks(&self, conn: u64, dir: &str) -> Vec<Vec<u8>> {
        self.matching("tcp", conn, dir)
            .map(|r| r.bytes.clone())
            .collect()
    }

    /// The TCP byte stream of one connection and direction (chunk boundaries are not messages).
    pub fn stream(&self, conn: u64, dir: &str) -> Vec<u8> {
        self.chunks(conn, dir).concat()
    }

    /// The UDP datagrams of one association and direction.
    pub fn datagrams(&self, conn: u64, dir: &str) -> Vec<Vec<u8>> {
        self.matching("udp", conn, dir)
            .map(|r| r.bytes.clone())
            .collect()
    }

    /// The TCP connection numbers present, ascending.
    pub fn conns(&self) -> Vec<u64> {
        let mut c: Vec<u64> = self
            .records
            .iter()
            .filter(|r| r.proto == "tcp")
            .map(|r| r.conn)
            .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_session_loads_with_both_protocols() {
        let v = Vector::load("socks5_udp_relay");
        assert_eq!(v.header["scenario"], "socks5_udp_relay");
        assert_eq!(v.conns()[0], 1);
        // Upstream's UDP ASSOCIATE reply follows the method reply on the control connection.
        assert_eq!(&v.stream(1, "s2c")[2..6], &[5, 0, 0, 1]);
        assert_eq!(v.datagrams(1, "c2s").len(), 1);
    }

    #[test]
    #[should_panic(expected = "cannot read vector file")]
    fn a_missing_file_names_its_path() {
        Vector::load("no_such_vector");
    }
}
