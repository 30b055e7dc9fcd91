//! Replays every case of `negative.jsonl` (bad or refused requests sent to a real upstream GOST 3.2.6)
//! against our servers and compares the replies byte for byte. Where we answer differently on purpose,
//! the table below says what we send and why.

mod common;

use std::time::Duration;

use common::{expect_closed, serve};
use gost_service::{Socks4Handler, Socks4Options, Socks5Handler, Socks5Options, Users};
use gost_test_support::Vector;
use gost_test_support::unhex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Our replies where they deliberately differ from upstream's.
fn deviation(conn: u64) -> Option<(&'static [&'static str], bool)> {
    Some(match conn {
        // RFC 1928: never select a method the client did not offer.
        2 | 15 => (&["05ff"], true),
        // Bad ATYP gets reply 0x08 "address type not supported" instead of a silent close.
        3 => (&["0500", "05080001000000000000"], true),
        // A refused CONNECT is 0x05 "connection refused", not 0x03.
        10 => (&["0500", "05050001000000000000"], true),
        // SOCKS4 BIND and unknown commands get 0x5B (rejected) instead of a silent close.
        12 | 14 => (&["005b000000000000"], true),
        _ => return None,
    })
}

#[tokio::test]
async fn negative_cases_match_upstream_or_the_documented_deviation() {
    let header = Vector::load("negative").header;
    let socks5 = serve(Socks5Handler::new(Socks5Options::default())).await;
    let socks4 = serve(Socks4Handler::new(Socks4Options::default())).await;
    let authed = serve(Socks5Handler::new(Socks5Options {
        users: Users::new([("alice", "s3cret")]),
        ..Default::default()
    }))
    .await;
    // A port that is certainly closed, for the "CONNECT to a closed port" cases.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cases = header["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 16);
    for case in cases {
        let conn = case["conn"].as_u64().unwrap();
        let server = case["server"].as_str().unwrap();
        let addr = if server.contains("alice") {
            authed.addr
        } else if server.contains("socks4://") {
            socks4.addr
        } else {
            socks5.addr
        };
        let sent: Vec<Vec<u8>> = case["client_sent"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let mut b = unhex(h.as_str().unwrap());
                // The recorded closed port 32998 (0x80e6) is replaced by one known closed here.
                if case["case"].as_str().unwrap().contains("closed port") && b.len() >= 9 {
                    let at = if b[0] == 4 { 2 } else { b.len() - 2 };
                    b[at..at + 2].copy_from_slice(&closed_port.to_be_bytes());
                }
                b
            })
            .collect();
        let upstream: Vec<String> = case["server_replied_after_each_step"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let (expected, closes): (Vec<String>, bool) = match deviation(conn) {
            Some((ours, closes)) => (ours.iter().map(|s| s.to_string()).collect(), closes),
            None => (
                upstream,
                case["server_closed_connection"].as_bool().unwrap(),
            ),
        };
        let mut c = TcpStream::connect(addr).await.unwrap();
        for (step, want) in sent.iter().zip(&expected) {
            c.write_all(step).await.unwrap();
            let want = unhex(want);
            let mut got = vec![0u8; want.len()];
            tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut got))
                .await
                .unwrap_or_else(|_| panic!("case {conn}: no reply"))
                .unwrap_or_else(|e| panic!("case {conn}: {e}"));
            assert_eq!(got, want, "case {conn}: {}", case["case"]);
        }
        if closes {
            expect_closed(&mut c).await;
        }
    }
}
