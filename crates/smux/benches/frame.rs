//! Frame codec cost: encoding and decoding headers and whole frames.

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use gost_smux::{Cmd, Decoded, Frame, Header};
use std::hint::black_box;

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame");
    let psh = Frame::psh(1, 3, Bytes::from(vec![0xA5; 32768]));
    let mut wire = Vec::new();
    psh.encode(&mut wire).unwrap();
    let mut out = Vec::with_capacity(64 * 1024);

    g.bench_function("encode_header", |b| {
        let h = Header {
            version: 1,
            cmd: Cmd::Psh,
            length: 32768,
            stream_id: 3,
        };
        b.iter(|| {
            out.clear();
            black_box(h).encode(&mut out);
            black_box(out.len())
        })
    });
    g.bench_function("decode_header", |b| {
        b.iter(|| {
            Header::decode(black_box(&wire[..]))
                .unwrap()
                .unwrap()
                .length
        })
    });
    g.bench_function("encode_psh_32k", |b| {
        b.iter(|| {
            out.clear();
            black_box(&psh).encode(&mut out).unwrap();
            black_box(out.len())
        })
    });
    g.bench_function("decode_psh_32k_copy", |b| {
        b.iter(|| match Frame::decode(black_box(&wire[..])).unwrap() {
            Decoded::Frame { consumed, .. } => consumed,
            Decoded::NeedMore(n) => n,
        })
    });
    g.bench_function("decode_upd", |b| {
        let mut upd = Vec::new();
        Frame::upd(2, 3, 1 << 20, 65536).encode(&mut upd).unwrap();
        b.iter(|| match Frame::decode(black_box(&upd[..])).unwrap() {
            Decoded::Frame { frame, .. } => frame.upd_fields(),
            Decoded::NeedMore(_) => None,
        })
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
