//! `hosts`: a name only a hosts table knows is reached — CONNECT to `myname.test:PORT` through
//! `gost -L socks5://…?hosts=myname.test:127.0.0.1` (curl sends the name), through a chain whose
//! service resolves it before routing (the far proxy cannot), to a chain node named `proxy.test`
//! (hop-level `?hosts=` on `-F`), and with a YAML table read from a file; `resolver`: a name only a
//! DNS server on loopback (dnsmasq) answers is reached with `?resolver=udp://…` and `tcp://…`, and
//! with YAML `resolvers:` on a service (its hosts table answering first) and on a chain node.

mod support;

use gost_test_support::dns::Dnsmasq;
use support::{ConfigFile, Gost, assert_socks5h_body, curl, web_for_curl};

#[test]
fn a_service_table_maps_the_target_name() {
    let Some(web) = web_for_curl() else { return };
    let mut gost = Gost::spawn(&["-L", "socks5://127.0.0.1:0?hosts=myname.test:127.0.0.1"]);
    let proxy = gost.addr("service-0").to_string();
    let url = format!("http://myname.test:{}/", web.port());
    assert_socks5h_body(&proxy, &url, "mapped name");
    let other = format!("http://unmapped.invalid:{}/", web.port());
    let out = curl(&["--socks5-hostname", &proxy], &other);
    assert!(
        !out.status.success(),
        "an unmapped .invalid name cannot be reached"
    );
}

#[test]
fn through_a_chain_the_service_resolves_and_the_node_name_is_mapped() {
    let Some(web) = web_for_curl() else { return };
    let mut far = Gost::spawn(&["-L", "socks5://127.0.0.1:0"]);
    // The node is named, and only the hop's own table maps the name.
    let node = format!(
        "socks5://proxy.test:{}?hosts=proxy.test:127.0.0.1",
        far.addr("service-0").port()
    );
    let mut near = Gost::spawn(&[
        "-L",
        "socks5://127.0.0.1:0?hosts=myname.test:127.0.0.1",
        "-F",
        &node,
    ]);
    let proxy = near.addr("service-0").to_string();
    // The far proxy knows no myname.test: only the near service's table can have answered.
    let url = format!("http://myname.test:{}/", web.port());
    assert_socks5h_body(&proxy, &url, "through the chain");
    near.wait_connection_ok();
}

#[test]
fn a_yaml_table_from_a_file() {
    let Some(web) = web_for_curl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("hosts");
    std::fs::write(&table, "# ip names\n127.0.0.1 other.test .wild.test\n").unwrap();
    let config = ConfigFile::new(&format!(
        "services:\n- name: s\n  addr: 127.0.0.1:0\n  hosts: h\n  handler: {{type: socks5}}\n\
         hosts:\n- name: h\n  reload: 10s\n  file: {{path: {}}}\n",
        table.display()
    ));
    let mut gost = Gost::spawn(&["-C", config.arg()]);
    let proxy = gost.addr("s").to_string();
    for name in ["other.test", "a.b.wild.test"] {
        let url = format!("http://{name}:{}/", web.port());
        assert_socks5h_body(&proxy, &url, name);
    }
}

#[test]
fn a_resolver_answers_names_only_its_nameserver_knows() {
    let Some(web) = web_for_curl() else { return };
    let Some(dns) = Dnsmasq::start(&[("dns-only.test", "127.0.0.1")]) else {
        return;
    };
    for scheme in ["udp", "tcp"] {
        let listen = format!("socks5://127.0.0.1:0?resolver={scheme}://{}", dns.addr);
        let mut gost = Gost::spawn(&["-L", &listen]);
        let proxy = gost.addr("service-0").to_string();
        let url = format!("http://dns-only.test:{}/", web.port());
        assert_socks5h_body(&proxy, &url, scheme);
    }
}

#[test]
fn yaml_resolvers_on_a_service_after_its_hosts_and_on_a_chain_node() {
    let Some(web) = web_for_curl() else { return };
    // both.test: dnsmasq says 127.0.0.2, where nothing listens; the hosts table says 127.0.0.1. UDP:
    // each service has its own resolver, and dnsmasq serves one TCP connection at a time.
    let names = [
        ("dns-only.test", "127.0.0.1"),
        ("both.test", "127.0.0.2"),
        ("far.test", "127.0.0.1"),
    ];
    let Some(dns) = Dnsmasq::start(&names) else {
        return;
    };
    let mut far = Gost::spawn(&["-L", "socks5://127.0.0.1:0"]);
    let far_port = far.addr("service-0").port();
    let config = ConfigFile::new(&format!(
        "services:
- name: direct
  addr: 127.0.0.1:0
  resolver: r
  hosts: h
  handler: {{type: socks5}}
- name: chained
  addr: 127.0.0.1:0
  handler: {{type: socks5, chain: c}}
chains:
- name: c
  hops:
  - name: hop-0
    nodes:
    - name: far
      addr: far.test:{far_port}
      resolver: r
      connector: {{type: socks5}}
      dialer: {{type: tcp}}
resolvers:
- name: r
  nameservers:
  - addr: udp://{dns}
    prefer: ipv4
    ttl: 10s
    timeout: 2s
hosts:
- name: h
  mappings:
  - {{ip: 127.0.0.1, hostname: both.test}}
",
        dns = dns.addr
    ));
    let mut gost = Gost::spawn(&["-C", config.arg()]);
    let direct = gost.addr("direct").to_string();
    let chained = gost.addr("chained").to_string();
    for name in ["dns-only.test", "both.test"] {
        let url = format!("http://{name}:{}/", web.port());
        assert_socks5h_body(&direct, &url, name);
    }
    // The node's address far.test is known to dnsmasq alone.
    let url = format!("http://127.0.0.1:{}/", web.port());
    assert_socks5h_body(&chained, &url, "through far.test");
}
