//! A resolver over a real DNS server (dnsmasq on a free loopback port) by UDP and by TCP: a name only
//! that server knows is resolved, a first nameserver that fails is skipped, a name nobody knows is an
//! error naming the resolver, `Names` asks the hosts table before DNS, and answers are cached for `ttl`.

use std::net::IpAddr;
use std::time::Duration;

use gost_resolve::{Dns, Family, HostMapping, Hosts, HostsSpec, Names, NameserverSpec, Protocol};
use gost_test_support::dns::Dnsmasq;
use gost_transport::tcp::Resolver;

fn spec(addr: std::net::SocketAddr, protocol: Protocol) -> NameserverSpec {
    NameserverSpec {
        addr,
        protocol,
        server_name: None,
        family: Family::PreferIpv4,
        ttl: Some(Duration::from_secs(30)),
        timeout: Some(Duration::from_secs(2)),
    }
}

#[tokio::test]
async fn udp_and_tcp_nameservers_answer_names_only_they_know() {
    let Some(server) = Dnsmasq::start(&[("dns-only.test", "127.0.0.7")]) else {
        return;
    };
    let want: Vec<IpAddr> = vec!["127.0.0.7".parse().unwrap()];
    for protocol in [Protocol::Udp, Protocol::Tcp] {
        let dns = Dns::new("resolver-0", &[spec(server.addr, protocol.clone())], None).unwrap();
        assert_eq!(
            dns.resolve("dns-only.test").await.unwrap(),
            want,
            "{protocol:?}"
        );
        assert_eq!(
            dns.resolve("a.dns-only.test").await.unwrap(),
            want,
            "{protocol:?}"
        );
        let e = dns
            .resolve("unknown.invalid")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("resolver resolver-0"), "{e}");
    }
    // A dead first nameserver (a closed TCP port) is skipped for the next one.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dns = Dns::new(
        "r",
        &[spec(dead, Protocol::Tcp), spec(server.addr, Protocol::Udp)],
        None,
    )
    .unwrap();
    assert_eq!(dns.resolve("dns-only.test").await.unwrap(), want);

    let hosts = Hosts::start(HostsSpec {
        name: "h".into(),
        mappings: vec![HostMapping::new(
            "127.0.0.9".parse().unwrap(),
            "dns-only.test",
        )],
        ..HostsSpec::default()
    })
    .await;
    let dns = Dns::new("r", &[spec(server.addr, Protocol::Udp)], None).unwrap();
    let names = Names::new(Some(hosts)).with_dns(Some(dns.clone()));
    let got = names.lookup("dns-only.test", 80).await.unwrap().unwrap();
    assert_eq!(got[0].ip().to_string(), "127.0.0.9", "hosts before DNS");
    let names = Names::new(None).with_dns(Some(dns));
    let got = names.lookup("dns-only.test", 80).await.unwrap().unwrap();
    assert_eq!(got[0].to_string(), "127.0.0.7:80");
    assert!(
        names.lookup("unknown.invalid", 80).await.is_err(),
        "a resolver's failure is an error"
    );
}

#[tokio::test]
async fn answers_are_cached_for_the_configured_ttl() {
    let Some(server) = Dnsmasq::start(&[("cached.test", "127.0.0.8")]) else {
        return;
    };
    let dns = Dns::new("r", &[spec(server.addr, Protocol::Udp)], None).unwrap();
    let want: Vec<IpAddr> = vec!["127.0.0.8".parse().unwrap()];
    assert_eq!(dns.resolve("cached.test").await.unwrap(), want);
    // dnsmasq answers with TTL 0; `ttl: 30s` keeps the answer after the server is gone.
    drop(server);
    assert_eq!(dns.resolve("cached.test").await.unwrap(), want, "cached");
}
