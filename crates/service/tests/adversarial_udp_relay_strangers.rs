//! The UDP relay only serves its client: datagrams from another source port, from another loopback
//! IP (127.0.0.2, even with the client's own port number), and answers from hosts the client never
//! contacted are dropped and never answered, under a flood of them, while the client's own
//! datagrams keep flowing; afterwards descriptors and tasks are back at baseline.

mod adversarial_support;
mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adversarial_support::Fenced;
use common::{read_reply, request, serve, socks5_noauth};
use gost_service::{Socks5Handler, Socks5Options};
use gost_test_support::resources::Footprint;
use tokio::io::AsyncWriteExt;
use tokio::net::UdpSocket;
use tokio::time::timeout;

fn datagram(target: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut d = request(0, target);
    d[..3].copy_from_slice(&[0, 0, 0]);
    d.extend_from_slice(payload);
    d
}

async fn recv_within(s: &UdpSocket, ms: u64) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = vec![0u8; 65536];
    match timeout(Duration::from_millis(ms), s.recv_from(&mut buf)).await {
        Ok(Ok((n, from))) => Some((buf[..n].to_vec(), from)),
        _ => None,
    }
}

/// A UDP echo target recording every payload and source it receives.
async fn recording_target() -> (SocketAddr, Arc<Mutex<Vec<(Vec<u8>, SocketAddr)>>>) {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = s.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = s.recv_from(&mut buf).await {
            log.lock().unwrap().push((buf[..n].to_vec(), from));
            let _ = s.send_to(&buf[..n], from).await;
        }
    });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_cannot_use_or_hijack_an_association() {
    let (target, seen) = recording_target().await;
    let fence = Fenced::new([target]);
    let proxy = serve(Socks5Handler::with_outbound(
        Socks5Options {
            udp: true,
            ..Default::default()
        },
        fence,
    ))
    .await;
    let before = Footprint::now();
    {
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = client.local_addr().unwrap().port();
        let mut ctl = socks5_noauth(proxy.addr).await;
        ctl.write_all(&request(3, client.local_addr().unwrap()))
            .await
            .unwrap();
        let (rep, relay) = read_reply(&mut ctl).await;
        assert_eq!(rep, 0);

        let mut strangers = vec![
            UdpSocket::bind("127.0.0.2:0")
                .await
                .expect("127.0.0.2 is loopback on Linux"),
            UdpSocket::bind(("127.0.0.2", port))
                .await
                .expect("the client's port on 127.0.0.2"),
        ];
        for _ in 0..6 {
            strangers.push(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        }
        // Interleave a flood of strangers' datagrams with the client's own.
        for round in 0..50u32 {
            for (i, s) in strangers.iter().enumerate() {
                let msg = format!("stranger {i} round {round}");
                s.send_to(&datagram(target, msg.as_bytes()), relay)
                    .await
                    .unwrap();
            }
            let msg = format!("client round {round}");
            client
                .send_to(&datagram(target, msg.as_bytes()), relay)
                .await
                .unwrap();
            let (echoed, from) = recv_within(&client, 5000).await.expect("client answered");
            assert_eq!(from, relay);
            assert!(echoed.ends_with(msg.as_bytes()), "{echoed:02x?}");
        }
        // The target heard only the client, through one relay socket.
        let heard = seen.lock().unwrap().clone();
        assert_eq!(heard.len(), 50);
        assert!(heard.iter().all(|(p, _)| p.starts_with(b"client round")));
        let relay_out: HashSet<SocketAddr> = heard.iter().map(|(_, from)| *from).collect();
        assert_eq!(relay_out.len(), 1);
        let relay_out = *relay_out.iter().next().unwrap();
        for s in &strangers {
            assert!(
                recv_within(s, 20).await.is_none(),
                "a stranger got an answer"
            );
        }

        // Hosts the client never contacted cannot inject answers through the relay's outbound
        // socket, not even from the target's IP.
        let intruder = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for _ in 0..20 {
            intruder.send_to(b"injected", relay_out).await.unwrap();
        }
        client
            .send_to(&datagram(target, b"after the injection"), relay)
            .await
            .unwrap();
        let (echoed, _) = recv_within(&client, 5000).await.unwrap();
        assert!(echoed.ends_with(b"after the injection"), "{echoed:02x?}");
        assert!(
            recv_within(&client, 100).await.is_none(),
            "an injected datagram got through"
        );
    }
    before
        .wait_back(Duration::from_secs(5), "after the association ended")
        .await;
}
