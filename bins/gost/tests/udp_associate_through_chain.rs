//! Two `gost` processes: `gost -L "socks5://...?udp=true" -F NODE` in front of a SOCKS5 hop with
//! `udp=true`. A UDP ASSOCIATE client's datagrams reach a UDP echo through the chain (UDP-TUN over a
//! TLS hop, standard UDP ASSOCIATE with `relay=udp` over a TCP hop) and come back with the echo's
//! address in their header.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use gost_test_support::servers::blocking::udp_echo;
use gost_test_support::socks5::udp_datagram;
use support::{Gost, socks5_udp_associate};

/// The UDP relay header for `target` (no fragment).
fn header(target: SocketAddr) -> Vec<u8> {
    udp_datagram(0, target, &[])
}

/// Starts the hop (`hop`) and the front with `-F node` (`{}` = the hop's address), associates, and
/// checks 50 datagrams of mixed sizes round trip.
fn udp_through_chain(hop: &str, node: &str) {
    let echo = udp_echo();
    let mut hop = Gost::spawn(&["-L", hop]);
    let node = node.replace("{}", &hop.addr("service-0").to_string());
    let mut front = Gost::spawn(&["-L", "socks5://127.0.0.1:0?udp=true", "-F", &node]);
    let (_ctl, relay) = socks5_udp_associate(front.addr("service-0"));
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = vec![0u8; 65536];
    for i in 0..50usize {
        let len = [1, 64, 512, 1400, 4000][i % 5];
        let payload: Vec<u8> = (0..len).map(|j| (i * 7 + j) as u8).collect();
        let mut d = header(echo);
        d.extend_from_slice(&payload);
        client.send_to(&d, relay).unwrap();
        let (n, from) = client.recv_from(&mut buf).unwrap_or_else(|e| {
            panic!(
                "datagram {i} through {node}: {e}\nfront log:\n{}",
                front.log.join("\n")
            )
        });
        assert_eq!(from, relay);
        assert_eq!(buf[..10], header(echo)[..], "header of answer {i}");
        assert_eq!(&buf[10..n], &payload[..], "answer {i}");
    }
}

#[test]
fn udp_tun_through_a_tls_hop() {
    udp_through_chain("socks5+tls://127.0.0.1:0?udp=true", "socks5+tls://{}");
}

#[test]
fn relay_udp_through_a_tcp_hop() {
    udp_through_chain("socks5://127.0.0.1:0?udp=true", "socks5://{}?relay=udp");
}
