//! Our ws server and client against `vectors/socks5_over_ws.jsonl`, recorded from upstream GOST 3.2.6:
//! the server's answers are reproduced byte for byte (its frames are unmasked and its accept key is derived
//! from the recorded request key), and the client's request differs only in the random key.

use gost_test_support::Vector;
use gost_transport::Stream;
use gost_transport::ws::{self, WsOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// The concatenated bytes of each direction of connection 1, and the individual chunks.
struct Session {
    c2s: Vec<Vec<u8>>,
    s2c: Vec<Vec<u8>>,
}

fn load() -> Session {
    let mut s = Session {
        c2s: Vec::new(),
        s2c: Vec::new(),
    };
    for r in Vector::load("socks5_over_ws").records {
        assert_eq!(r.conn, 1);
        match r.dir.as_str() {
            "c2s" => s.c2s.push(r.bytes),
            "s2c" => s.s2c.push(r.bytes),
            d => panic!("unexpected dir {d}"),
        }
    }
    s
}

fn duplex() -> (Stream, DuplexStream) {
    let (a, b) = tokio::io::duplex(1 << 16);
    (Stream::new(a, None, None), b)
}

/// The SOCKS5 messages carried in the session (client's, then server's), from the vector README.
const CLIENT_MSGS: [&[u8]; 3] = [
    b"\x05\x01\x00",
    b"\x05\x01\x00\x01\x7f\x00\x00\x01\x7d\x01",
    b"vector-1",
];
const SERVER_MSGS: [&[u8]; 3] = [
    b"\x05\x00",
    b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00",
    b"vector-1",
];

/// The payload of a masked client frame with a 7-bit length (2 header bytes, then the mask).
fn unmask(frame: &[u8]) -> Vec<u8> {
    let mask = &frame[2..6];
    frame[6..]
        .iter()
        .enumerate()
        .map(|(j, b)| b ^ mask[j % 4])
        .collect()
}

async fn read_exactly(r: &mut (impl AsyncReadExt + Unpin), n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    r.read_exact(&mut buf).await.unwrap();
    buf
}

#[tokio::test]
async fn server_answers_exactly_like_upstream() {
    let v = load();
    let (ours, mut client) = duplex();
    let server = tokio::spawn(async move { ws::accept(ours, &WsOptions::default()).await });
    // The recorded client: upgrade request first, then its masked frames.
    client.write_all(&v.c2s[0]).await.unwrap();
    let response = read_exactly(&mut client, v.s2c[0].len()).await;
    assert_eq!(
        String::from_utf8_lossy(&response),
        String::from_utf8_lossy(&v.s2c[0]),
        "101 response, accept key recomputed from the recorded key"
    );
    let mut ours = server.await.unwrap().unwrap();
    for (i, frame) in v.c2s[1..].iter().enumerate() {
        client.write_all(frame).await.unwrap();
        let got = read_exactly(&mut ours, CLIENT_MSGS[i].len()).await;
        assert_eq!(got, CLIENT_MSGS[i], "unmasked client message {i}");
        ours.write_all(SERVER_MSGS[i]).await.unwrap();
        let sent = read_exactly(&mut client, v.s2c[i + 1].len()).await;
        assert_eq!(
            sent,
            v.s2c[i + 1],
            "server frame {i}: one unmasked binary frame per write"
        );
    }
    // Upstream ends with a plain TCP close, no Close frame: a clean EOF for us.
    drop(client);
    assert_eq!(ours.read(&mut [0u8; 8]).await.unwrap(), 0);
}

#[tokio::test]
async fn client_request_matches_upstream_but_for_the_key() {
    let v = load();
    let recorded = String::from_utf8(v.c2s[0].clone()).unwrap();
    let (ours, mut server) = duplex();
    let client =
        tokio::spawn(
            async move { ws::connect(ours, "127.0.0.1:32201", &WsOptions::default()).await },
        );

    let mut request = Vec::new();
    while !request.ends_with(b"\r\n\r\n") {
        request.push(read_exactly(&mut server, 1).await[0]);
    }
    let request = String::from_utf8(request).unwrap();
    let key_of = |r: &str| {
        r.lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .expect("key header")
            .to_owned()
    };
    let key = key_of(&request);
    assert_eq!(
        request.replace(&key, "KEY"),
        recorded.replace(&key_of(&recorded), "KEY")
    );

    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    server.write_all(response.as_bytes()).await.unwrap();
    let mut ours = client.await.unwrap().unwrap();

    for (i, msg) in CLIENT_MSGS.iter().enumerate() {
        ours.write_all(msg).await.unwrap();
        let frame = read_exactly(&mut server, 2 + 4 + msg.len()).await;
        let recorded = &v.c2s[i + 1];
        assert_eq!(
            frame[..2],
            recorded[..2],
            "FIN+binary, MASK bit and length as upstream"
        );
        let payload = unmask(&frame);
        assert_eq!(payload, *msg);
        // The recorded server frames decode to the SOCKS replies.
        server.write_all(&v.s2c[i + 1]).await.unwrap();
        assert_eq!(
            read_exactly(&mut ours, SERVER_MSGS[i].len()).await,
            SERVER_MSGS[i]
        );
    }
}

#[test]
fn recorded_client_frames_unmask_to_the_socks_session() {
    let v = load();
    for (frame, msg) in v.c2s[1..].iter().zip(CLIENT_MSGS) {
        assert_eq!(frame[0], 0x82);
        assert_eq!(usize::from(frame[1] & 0x7f), msg.len());
        let payload = unmask(frame);
        assert_eq!(payload, msg);
    }
}
