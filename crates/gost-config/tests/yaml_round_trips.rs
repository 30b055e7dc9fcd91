//! YAML → model → YAML (and JSON) gives back the same model, including strings that look like other
//! YAML types, and printed configs use upstream's key spelling.

use gost_config::{Config, from_json_str, from_yaml_str};

const FULL: &str = r##"
services:
- name: service-0
  addr: "[::1]:1080"
  handler:
    type: socks5
    chain: chain-0
    auth: {username: "n", password: "yes"}
    auther: users
    authers: [users, more]
    tls: {certFile: h.pem, keyFile: h.key}
    metadata:
      udp: true
      udpBufferSize: 65535
      readTimeout: 10s
      publicAddr: "1080"
      weird: "true"
      empty: ""
      tilde: "~"
      hash: "#x"
      colon: "a: b"
      octal: "0755"
      unicode: "ünïcødé"
      nested: {a: [1, 2.5, "x"]}
  listener:
    type: tls
    tls: {certFile: l.pem, keyFile: l.key, caFile: ca.pem}
    metadata: {backlog: 64}
  forwarder:
    selector: {strategy: fifo, maxFails: 2, failTimeout: 1m30s}
    nodes:
    - {name: target-0, addr: ":22"}
  climiter: limits-0
  metadata: {interface: eth0}
climiters:
- name: limits-0
  limits: ["$ 1000", "$$ 100", "192.168.1.1  10", "10.0.0.0/8 5", "$$ 0"]
chains:
- name: chain-0
  metadata: {x: 1}
  hops:
  - name: hop-0
    selector: {strategy: hash, maxFails: 1, failTimeout: 10s}
    metadata: {y: "off"}
    nodes:
    - name: node-0
      addr: "example.com:443"
      connector:
        type: socks5
        auth: {username: u, password: "p@ss:w0rd"}
        tls: {secure: true, serverName: example.com, caFile: ca.pem}
        metadata: {notls: true, relay: udp}
      dialer:
        type: wss
        tls: {serverName: example.com, certFile: c.pem, keyFile: c.key}
        metadata: {path: /ws, header: {X-A: b}}
authers:
- name: users
  auths:
  - {username: alice, password: a}
  - {username: bob, password: b}
- name: more
  auths: [{username: carol}]
tls: {certFile: cert.pem, keyFile: key.pem}
log: {level: debug, format: json, output: stderr}
metrics: {addr: "127.0.0.1:9000", path: /m, auth: {username: prom, password: s3cret}}
"##;

fn load(yaml: &str) -> Config {
    let (config, warnings) = from_yaml_str(yaml).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    config
}

#[test]
fn yaml_model_yaml() {
    let first = load(FULL);
    let printed = first.to_yaml();
    let second = load(&printed);
    assert_eq!(first, second, "printed:\n{printed}");
    assert_eq!(second.to_yaml(), printed, "printing is stable");
    let md = &second.services[0].handler.metadata;
    assert_eq!(md.get("weird"), Some(&"true".into()));
    assert_eq!(md.get("octal"), Some(&"0755".into()));
    assert_eq!(md.get("publicAddr"), Some(&"1080".into()));
    assert_eq!(
        second.services[0].handler.auth.as_ref().unwrap().username,
        "n"
    );
}

#[test]
fn json_model_json() {
    let first = load(FULL);
    let (second, _) = from_json_str(&first.to_json()).unwrap();
    assert_eq!(first, second);
}

#[test]
fn printed_keys_use_upstream_spelling() {
    let printed = load(FULL).to_yaml();
    for key in [
        "certFile:",
        "keyFile:",
        "caFile:",
        "serverName:",
        "maxFails:",
        "failTimeout: 1m30s",
        "secure: true",
        "climiter: limits-0",
        "climiters:",
    ] {
        assert!(printed.contains(key), "missing {key} in\n{printed}");
    }
    assert!(
        !printed.contains("cert_file") && !printed.contains("kind"),
        "{printed}"
    );
}

#[test]
fn keys_of_any_case_load_the_same() {
    let lower = load(
        &FULL
            .replace("certFile", "certfile")
            .replace("maxFails", "MAXFAILS")
            .replace("handler:", "Handler:"),
    );
    assert_eq!(lower, load(FULL));
}

#[test]
fn yaml_11_booleans_are_strings_as_in_go_yaml_v3() {
    let c =
        load("services: [{name: s, addr: ':1', handler: {type: socks5, metadata: {bind: yes}}}]");
    assert_eq!(
        c.services[0].handler.metadata.get("bind"),
        Some(&"yes".into())
    );
}
