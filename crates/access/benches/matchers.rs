//! How long one admission or bypass lookup takes against a 10 000-entry list (issue 15 asks for
//! O(log n) or hashed lookups): IPs/CIDRs, names with `.suffix`, and `*.name` wildcards.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{Criterion, criterion_group, criterion_main};
use gost_access::{IpSet, PatternSet, Target};

const N: u32 = 10_000;

fn ip(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + i * 7))
}

fn lookups(c: &mut Criterion) {
    let cidrs: Vec<String> = (0..N).map(|i| format!("{}/30", ip(i * 3))).collect();
    let (ips, _) = IpSet::from_ips_and_cidrs(cidrs.iter().map(String::as_str));
    c.bench_function("admission 10k CIDRs: hit", |b| {
        b.iter(|| ips.contains(black_box(ip(15_000))))
    });
    c.bench_function("admission 10k CIDRs: miss", |b| {
        b.iter(|| ips.contains(black_box(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1)))))
    });
    let names: Vec<String> = (0..N)
        .map(|i| match i % 3 {
            0 => format!("host{i}.example.com"),
            1 => format!(".zone{i}.example.org"),
            _ => format!("*.wild{i}.example.net"),
        })
        .collect();
    let (set, errors) = PatternSet::parse(&names);
    assert!(errors.is_empty());
    c.bench_function("bypass 10k names: suffix hit", |b| {
        b.iter(|| set.matches(black_box(Target::Name("a.b.zone9997.example.org", 443))))
    });
    c.bench_function("bypass 10k names: wildcard hit", |b| {
        b.iter(|| set.matches(black_box(Target::Name("x.wild9998.example.net", 443))))
    });
    c.bench_function("bypass 10k names: miss", |b| {
        b.iter(|| set.matches(black_box(Target::Name("www.not-listed.example", 443))))
    });
}

criterion_group!(benches, lookups);
criterion_main!(benches);
