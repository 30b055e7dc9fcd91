//! Decode + encode cost of the hot-path messages: a CONNECT request, an RFC 1928 UDP header and a
//! UDP-TUN frame.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use socks_wire::{Decode, Decoded, Encode, Request, UdpHeader, UdpTunFrame};

const CONNECT_IPV4: &[u8] = &[5, 1, 0, 1, 127, 0, 0, 1, 0x7d, 0x01];
const CONNECT_DOMAIN: &[u8] = b"\x05\x01\x00\x03\x0bexample.com\x01\xbb";
const UDP_HEADER: &[u8] = &[0, 0, 0, 1, 127, 0, 0, 1, 0x7d, 0x02];

fn udp_tun_frame(payload_len: usize) -> Vec<u8> {
    let mut wire = vec![0, 0, 0xFF, 1, 127, 0, 0, 1, 0x7d, 0x02];
    wire[..2].copy_from_slice(&(payload_len as u16).to_be_bytes());
    wire.extend((0..payload_len).map(|i| i as u8));
    wire
}

/// Decodes a message and re-encodes it into a reused buffer.
fn round_trip<'a, T: Decode<'a> + Encode>(wire: &'a [u8], out: &mut Vec<u8>) -> usize {
    out.clear();
    match T::decode(black_box(wire)) {
        Ok(Decoded::Complete(msg, _)) => msg.encode(out).unwrap_or(0),
        _ => 0,
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode+encode");
    g.throughput(Throughput::Elements(1));
    let mut out = Vec::with_capacity(2048);
    g.bench_function("connect_request_ipv4", |b| {
        b.iter(|| round_trip::<Request>(CONNECT_IPV4, &mut out))
    });
    g.bench_function("connect_request_domain", |b| {
        b.iter(|| round_trip::<Request>(CONNECT_DOMAIN, &mut out))
    });
    g.bench_function("udp_header", |b| {
        b.iter(|| round_trip::<UdpHeader>(UDP_HEADER, &mut out))
    });
    for len in [5, 1400] {
        let frame = udp_tun_frame(len);
        g.bench_function(format!("udp_tun_frame_{len}B"), |b| {
            b.iter(|| round_trip::<UdpTunFrame>(&frame, &mut out))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
