//! Every command-line example of `spec/features.md` and the seed scenarios S1–S8 of
//! `spec/gost-wire.md` §9.2 produces the same config as its YAML form (names normalised).

use gost_config::{Config, from_cli, from_yaml_str, validate};

/// Renames everything to the command line's scheme (`service-N`, `chain-N`, `hop-N`, `node-N`,
/// `target-N`), following chain references, so that only the meaning is compared.
fn normalise_names(mut c: Config) -> Config {
    let renames: Vec<(String, String)> = c
        .chains
        .iter()
        .enumerate()
        .map(|(i, ch)| (ch.name.clone(), format!("chain-{i}")))
        .collect();
    let rename = |name: &mut Option<String>| {
        if let Some(n) = name
            && let Some((_, new)) = renames.iter().find(|(old, _)| old == n)
        {
            *n = new.clone();
        }
    };
    for (i, s) in c.services.iter_mut().enumerate() {
        s.name = format!("service-{i}");
        rename(&mut s.handler.chain);
        rename(&mut s.listener.chain);
        for (j, t) in s
            .forwarder
            .iter_mut()
            .flat_map(|f| f.nodes.iter_mut())
            .enumerate()
        {
            t.name = format!("target-{j}");
        }
    }
    for (i, ch) in c.chains.iter_mut().enumerate() {
        ch.name = format!("chain-{i}");
        for (j, hop) in ch.hops.iter_mut().enumerate() {
            hop.name = format!("hop-{j}");
            for (k, node) in hop.nodes.iter_mut().enumerate() {
                node.name = format!("node-{k}");
            }
        }
    }
    c
}

#[track_caller]
fn assert_equivalent(services: &[&str], nodes: &[&str], yaml: &str) -> Config {
    let (cli, _) =
        from_cli(services, nodes).unwrap_or_else(|e| panic!("CLI {services:?} {nodes:?}: {e}"));
    let (file, warnings) = from_yaml_str(yaml).unwrap_or_else(|e| panic!("YAML: {e}\n{yaml}"));
    assert!(warnings.is_empty(), "YAML warnings: {warnings:?}");
    let (cli, file) = (normalise_names(cli), normalise_names(file));
    assert_eq!(
        cli,
        file,
        "CLI {services:?} {nodes:?}\nCLI as YAML:\n{}\nfile:\n{}",
        cli.to_yaml(),
        file.to_yaml()
    );
    cli
}

#[track_caller]
fn assert_valid(config: &Config) {
    if let Err(e) = validate(config) {
        panic!("{e}\n{}", config.to_yaml());
    }
}

#[test]
fn f1_socks4_server() {
    let c = assert_equivalent(
        &["socks4://:1080"],
        &[],
        "services:\n- name: service-0\n  addr: :1080\n  handler: {type: socks4}\n  listener: {type: tcp}\n",
    );
    assert_valid(&c);
}

#[test]
fn f2_socks5_server_with_auth() {
    let c = assert_equivalent(
        &["socks5://user:pass@:1080"],
        &[],
        r#"
services:
- name: service-0
  addr: :1080
  handler:
    type: socks5
    auth:
      username: user
      password: pass
  listener:
    type: tcp
"#,
    );
    assert_valid(&c);
}

#[test]
fn f3_bind() {
    let c = assert_equivalent(
        &["socks5://user:pass@:1080?bind=true"],
        &[],
        r#"
services:
- name: service-0
  addr: :1080
  handler:
    type: socks5
    auth: {username: user, password: pass}
    metadata:
      bind: true
  listener:
    type: tcp
"#,
    );
    assert_valid(&c);
}

#[test]
fn f4_udp_associate() {
    let c = assert_equivalent(
        &["socks5://:1080?udp=true&udpBufferSize=4096"],
        &[],
        "services:\n- name: service-0\n  addr: :1080\n  handler:\n    type: socks5\n    metadata:\n      udp: true\n      udpBufferSize: 4096\n  listener:\n    type: tcp\n",
    );
    assert_valid(&c);
}

#[test]
fn f5_udp_relay_client() {
    let c = assert_equivalent(
        &["udp://:1053/:53"],
        &["socks5://:1080?relay=udp&udpBufferSize=4096"],
        r#"
services:
- name: service-0
  addr: :1053
  handler:
    type: udp
    chain: chain-0
  listener:
    type: udp
  forwarder:
    nodes:
    - name: target-0
      addr: :53
chains:
- name: chain-0
  hops:
  - name: hop-0
    nodes:
    - name: node-0
      addr: :1080
      connector:
        type: socks5
        metadata:
          relay: udp
          udpBufferSize: 4096
      dialer:
        type: tcp
"#,
    );
    assert_valid(&c);
}

#[test]
fn f6_iperf_server() {
    let c = assert_equivalent(
        &["socks5://:1080?notls=true&udp=true&udpBufferSize=65535"],
        &[],
        "services:\n- name: service-0\n  addr: :1080\n  handler: {type: socks5, metadata: {notls: true, udp: true, udpBufferSize: 65535}}\n  listener: {type: tcp}\n",
    );
    assert_valid(&c);
}

#[test]
fn f6_iperf_client() {
    // `readBufferSize` is read by the udp listener and by the udp (forwarding) handler alike, so the
    // command line sets both, exactly as upstream's copy-to-every-map does.
    let c = assert_equivalent(
        &[
            "tcp://:15201/:5201",
            "udp://:15201/:5201?keepalive=true&readBufferSize=65535",
        ],
        &["socks5://:1080?relay=udp&udpBufferSize=65535"],
        r#"
services:
- name: service-0
  addr: ":15201"
  handler: {type: tcp, chain: chain-0}
  listener: {type: tcp}
  forwarder: {nodes: [{name: target-0, addr: ":5201"}]}
- name: service-1
  addr: ":15201"
  handler: {type: udp, chain: chain-0, metadata: {readBufferSize: 65535}}
  listener: {type: udp, metadata: {keepalive: true, readBufferSize: 65535}}
  forwarder: {nodes: [{name: target-0, addr: ":5201"}]}
chains:
- name: chain-0
  hops:
  - name: hop-0
    nodes:
    - name: node-0
      addr: ":1080"
      connector: {type: socks5, metadata: {relay: udp, udpBufferSize: 65535}}
      dialer: {type: tcp}
"#,
    );
    assert_valid(&c);
}

#[test]
fn f7_notls() {
    let c = assert_equivalent(
        &["socks5://user:pass@:1080?notls=true"],
        &[],
        "services:\n- name: service-0\n  addr: :1080\n  handler:\n    type: socks5\n    auth: {username: user, password: pass}\n    metadata: {notls: true}\n  listener: {type: tcp}\n",
    );
    assert_valid(&c);
}

#[test]
fn f8_mbind_server_and_rtcp_client() {
    assert_valid(&assert_equivalent(
        &["socks5://:1080?bind=true"],
        &[],
        "services:\n- name: service-0\n  addr: :1080\n  handler: {type: socks5, metadata: {bind: true}}\n  listener: {type: tcp}\n",
    ));
    let c = assert_equivalent(
        &["rtcp://:2222/:22"],
        &["socks5://:1080"],
        r#"
services:
- name: service-0
  addr: :2222
  handler:
    type: rtcp
  listener:
    type: rtcp
    chain: chain-0
  forwarder:
    nodes:
    - name: target-0
      addr: :22
chains:
- name: chain-0
  hops:
  - name: hop-0
    nodes:
    - name: node-0
      addr: :1080
      connector:
        type: socks5
      dialer:
        type: tcp
"#,
    );
    assert_valid(&c);
    assert_eq!(c.services[0].chain(), Some("chain-0"));
}

const F9_CHAIN: &str = r#"
chains:
- name: chain-0
  hops:
  - name: hop-0
    nodes:
    - name: node-0
      addr: :1080
      connector:
        type: socks5
      dialer:
        type: tcp
"#;

#[test]
fn f9_udp_tun_server_and_client() {
    assert_valid(&assert_equivalent(
        &["socks5://:1080?udp=true"],
        &[],
        "services:\n- name: service-0\n  addr: :1080\n  handler: {type: socks5, metadata: {udp: true}}\n  listener: {type: tcp}\n",
    ));
    let yaml = format!(
        "services:\n- name: service-0\n  addr: :10053\n  handler:\n    type: udp\n    chain: chain-0\n  listener:\n    type: udp\n  forwarder:\n    nodes:\n    - name: target-0\n      addr: :53\n{F9_CHAIN}"
    );
    let cli = assert_equivalent(&["udp://:10053/:53"], &["socks5://:1080"], &yaml);
    assert_valid(&cli);

    // The upstream docs write this example with `listener.chain`; it selects the same chain.
    let doc = format!(
        "services:\n- name: service-0\n  addr: :10053\n  handler:\n    type: udp\n  listener:\n    type: udp\n    chain: chain-0\n  forwarder:\n    nodes:\n    - name: target-0\n      addr: :53\n{F9_CHAIN}"
    );
    let (doc, _) = from_yaml_str(&doc).unwrap();
    let warnings = validate(&doc).unwrap();
    assert_eq!(doc.services[0].chain(), cli.services[0].chain());
    assert!(
        warnings
            .iter()
            .any(|w| w.message.contains("prefer handler.chain")),
        "{warnings:?}"
    );
}

#[test]
fn f10_socks_over_tls() {
    assert_valid(&assert_equivalent(
        &["socks4+tls://:8443"],
        &[],
        "services:\n- name: service-0\n  addr: :8443\n  handler: {type: socks4}\n  listener: {type: tls}\n",
    ));
    assert_valid(&assert_equivalent(
        &["socks5+tls://:8443?notls=true"],
        &[],
        "services:\n- name: service-0\n  addr: :8443\n  handler:\n    type: socks5\n    metadata:\n      notls: true\n  listener:\n    type: tls\n",
    ));
}

#[test]
fn f11_socks_over_websocket() {
    for kind in ["ws", "wss"] {
        assert_valid(&assert_equivalent(
            &[&format!("socks5+{kind}://:8080")],
            &[],
            &format!(
                "services:\n- name: service-0\n  addr: :8080\n  handler:\n    type: socks5\n  listener:\n    type: {kind}\n"
            ),
        ));
    }
}

#[test]
fn f12_socks_over_kcp() {
    assert_valid(&assert_equivalent(
        &["socks5+kcp://:8080"],
        &[],
        "services:\n- name: service-0\n  addr: :8080\n  handler:\n    type: socks5\n  listener:\n    type: kcp\n",
    ));
}

#[test]
fn f14_client_transports() {
    let node = |scheme_and_query: &str, dialer_yaml: &str, connector_md: &str| {
        let yaml = format!(
            "services:\n- {{name: service-0, addr: ':1080', handler: {{type: auto, chain: chain-0}}, listener: {{type: tcp}}}}\nchains:\n- name: chain-0\n  hops:\n  - name: hop-0\n    nodes:\n    - name: node-0\n      addr: example.com:8443\n      connector: {{type: socks5{connector_md}}}\n      dialer: {dialer_yaml}\n"
        );
        assert_valid(&assert_equivalent(&[":1080"], &[scheme_and_query], &yaml));
    };
    node(
        "socks5+tls://example.com:8443?notls=true",
        "{type: tls, tls: {serverName: example.com}}",
        ", metadata: {notls: true}",
    );
    node(
        "socks5+ws://example.com:8443?path=/ws",
        "{type: ws, metadata: {path: /ws}}",
        "",
    );
    node(
        "socks5+wss://example.com:8443?serverName=gost.run",
        "{type: wss, tls: {serverName: gost.run, secure: false}}",
        "",
    );
    node(
        "socks5+kcp://example.com:8443?kcp.key=secret&kcp.crypt=aes",
        "{type: kcp, metadata: {kcp.key: secret, kcp.crypt: aes}}",
        "",
    );
}

#[test]
fn s1_socks5_server_with_everything() {
    let c = assert_equivalent(
        &["socks5://user:pass@:1080?udp=true&bind=true&udpBufferSize=65535"],
        &[],
        r#"
services:
- name: service-0
  addr: ":1080"
  handler:
    type: socks5
    auth: {username: user, password: pass}
    metadata: {udp: true, bind: true, udpBufferSize: 65535}
  listener: {type: tcp}
"#,
    );
    assert_valid(&c);
}

#[test]
fn s2_socks4_with_user_id() {
    let c = assert_equivalent(
        &["socks4://alice@:1080"],
        &[],
        "services:\n- name: service-0\n  addr: \":1080\"\n  handler: {type: socks4, auth: {username: alice}}\n  listener: {type: tcp}\n",
    );
    assert_valid(&c);
}

#[test]
fn s3_servers_over_transports() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, "not parsed by the config crate").unwrap();
    std::fs::write(&key, "not parsed by the config crate").unwrap();
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let c = assert_equivalent(
        &[&format!(
            "socks5+tls://:8443?notls=true&certFile={cert}&keyFile={key}"
        )],
        &[],
        &format!(
            "services:\n- name: service-0\n  addr: \":8443\"\n  handler: {{type: socks5, metadata: {{notls: true}}}}\n  listener:\n    type: tls\n    tls: {{certFile: {cert}, keyFile: {key}}}\n"
        ),
    );
    assert_valid(&c);
    assert_valid(&assert_equivalent(
        &["socks5+ws://:8080?path=/ws"],
        &[],
        "services:\n- name: service-0\n  addr: \":8080\"\n  handler: {type: socks5}\n  listener:\n    type: ws\n    metadata: {path: /ws}\n",
    ));
    assert_valid(&assert_equivalent(
        &["socks5+kcp://:8388?kcp.key=secret&kcp.crypt=aes&kcp.mode=fast"],
        &[],
        "services:\n- name: service-0\n  addr: \":8388\"\n  handler: {type: socks5}\n  listener:\n    type: kcp\n    metadata: {kcp.key: secret, kcp.crypt: aes, kcp.mode: fast}\n",
    ));
}

#[test]
fn s4_tcp_forward_through_socks5() {
    let c = assert_equivalent(
        &["tcp://:15201/:5201"],
        &["socks5://user:pass@srv:1080"],
        r#"
services:
- name: service-0
  addr: ":15201"
  handler: {type: tcp, chain: chain-0}
  listener: {type: tcp}
  forwarder: {nodes: [{name: target-0, addr: ":5201"}]}
chains:
- name: chain-0
  hops:
  - name: hop-0
    nodes:
    - name: node-0
      addr: "srv:1080"
      connector: {type: socks5, auth: {username: user, password: pass}}
      dialer: {type: tcp}
"#,
    );
    assert_valid(&c);
}

#[test]
fn s5_udp_forward_through_socks5() {
    let yaml = |connector_md: &str| {
        format!(
            r#"
services:
- name: service-0
  addr: ":1053"
  handler: {{type: udp, chain: chain-0, metadata: {{readBufferSize: 4096}}}}
  listener: {{type: udp, metadata: {{keepalive: true, ttl: 30s, readBufferSize: 4096}}}}
  forwarder: {{nodes: [{{name: target-0, addr: ":53"}}]}}
chains:
- name: chain-0
  hops:
  - name: hop-0
    nodes:
    - name: node-0
      addr: "srv:1080"
      connector: {{type: socks5{connector_md}}}
      dialer: {{type: tcp}}
"#
        )
    };
    let l = ["udp://:1053/:53?keepalive=true&ttl=30s&readBufferSize=4096"];
    assert_valid(&assert_equivalent(&l, &["socks5://srv:1080"], &yaml("")));
    assert_valid(&assert_equivalent(
        &l,
        &["socks5://srv:1080?relay=udp&udpBufferSize=4096"],
        &yaml(", metadata: {relay: udp, udpBufferSize: 4096}"),
    ));
}

#[test]
fn s6_s7_remote_forwards() {
    for kind in ["rtcp", "rudp"] {
        let c = assert_equivalent(
            &[&format!("{kind}://:2222/:22")],
            &["socks5://srv:1080"],
            &format!(
                "services:\n- name: service-0\n  addr: \":2222\"\n  handler: {{type: {kind}}}\n  listener: {{type: {kind}, chain: chain-0}}\n  forwarder: {{nodes: [{{name: target-0, addr: \":22\"}}]}}\nchains:\n- name: chain-0\n  hops:\n  - name: hop-0\n    nodes:\n    - name: node-0\n      addr: \"srv:1080\"\n      connector: {{type: socks5}}\n      dialer: {{type: tcp}}\n"
            ),
        );
        assert_valid(&c);
    }
}

#[test]
fn s8_multi_hop() {
    let c = assert_equivalent(
        &[":1080"],
        &["socks5+tls://u:p@hop1:443?notls=true", "socks5://hop2:1080"],
        r#"
services:
- name: service-0
  addr: ":1080"
  handler: {type: auto, chain: chain-0}
  listener: {type: tcp}
chains:
- name: chain-0
  hops:
  - name: hop-0
    nodes:
    - name: node-0
      addr: "hop1:443"
      connector: {type: socks5, auth: {username: u, password: p}, metadata: {notls: true}}
      dialer: {type: tls, tls: {serverName: hop1}}
  - name: hop-1
    nodes:
    - name: node-0
      addr: "hop2:1080"
      connector: {type: socks5}
      dialer: {type: tcp}
"#,
    );
    assert_valid(&c);
}

#[test]
fn comma_addresses_make_several_nodes_and_selector_keys_a_selector() {
    let c = assert_equivalent(
        &["tcp://:8080/a:80,b:80?strategy=rand"],
        &["socks5://h1:1080,[::1]:1080?maxFails=3&failTimeout=1m"],
        r#"
services:
- name: service-0
  addr: ":8080"
  handler: {type: tcp, chain: chain-0}
  listener: {type: tcp}
  forwarder:
    selector: {strategy: rand, maxFails: 1, failTimeout: 30s}
    nodes: [{name: target-0, addr: "a:80"}, {name: target-1, addr: "b:80"}]
chains:
- name: chain-0
  hops:
  - name: hop-0
    selector: {strategy: round, maxFails: 3, failTimeout: 60s}
    nodes:
    - {name: node-0, addr: "h1:1080", connector: {type: socks5}, dialer: {type: tcp}}
    - {name: node-1, addr: "[::1]:1080", connector: {type: socks5}, dialer: {type: tcp}}
"#,
    );
    assert_valid(&c);
}

#[test]
fn climiter_on_the_command_line_is_a_service_wide_climiters_entry() {
    let c = assert_equivalent(
        &["socks5://:1080?climiter=100", "socks4://:1081"],
        &[],
        r#"
services:
- name: service-0
  addr: :1080
  climiter: climiter-0
  handler: {type: socks5}
  listener: {type: tcp}
- name: service-1
  addr: :1081
  handler: {type: socks4}
  listener: {type: tcp}
climiters:
- name: climiter-0
  limits: ["$ 100"]
"#,
    );
    assert_valid(&c);
    let limits = gost_config::climit::parse_lines(&c.climiters[0].limits).unwrap();
    assert_eq!(limits, [gost_config::climit::LimitLine::Service(Some(100))]);
    let (zero, _) = from_cli(&["socks5://:1080?climiter=0"], &[] as &[&str]).unwrap();
    assert!(zero.climiters.is_empty() && zero.services[0].climiter.is_none());
}

#[test]
fn hosts_on_a_service_and_on_a_hop() {
    assert_equivalent(
        &["socks5://:1080?hosts=example.org:127.0.0.1,example.org:::1"],
        &["socks5://proxy.test:1080?hosts=proxy.test:127.0.0.2"],
        "services:
- name: service-0
  addr: :1080
  hosts: hosts-1
  handler: {type: socks5, chain: chain-0}
  listener: {type: tcp}
chains:
- name: chain-0
  hops:
  - name: hop-0
    hosts: hosts-0
    nodes:
    - name: node-0
      addr: proxy.test:1080
      connector: {type: socks5}
      dialer: {type: tcp}
hosts:
- name: hosts-0
  mappings:
  - {ip: 127.0.0.2, hostname: proxy.test}
- name: hosts-1
  mappings:
  - {ip: 127.0.0.1, hostname: example.org}
  - {ip: '::1', hostname: example.org}
",
    );
    let bad = from_cli(
        &["socks5://:1080?hosts=example.org:not-an-ip"],
        &[] as &[&str],
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("hosts entry `example.org:not-an-ip` is not name:IP"),
        "{bad}"
    );
    let (c, _) = from_yaml_str(
        "services: [{name: s, addr: ':1', hosts: nope, handler: {type: socks5}}]\n\
         hosts: [{name: h, mappings: [{ip: 127.0.0.1, hostname: a.test, aliases: [b.test]}]}]",
    )
    .unwrap();
    let e = validate(&c).unwrap_err().to_string();
    assert!(
        e.contains("hosts `nope` is not defined (defined: h)"),
        "{e}"
    );
    let (c, _) =
        from_yaml_str("hosts: [{name: h, mappings: [{ip: 1.2.3, hostname: a.test}]}]").unwrap();
    let e = validate(&c).unwrap_err().to_string();
    assert!(
        e.contains("mappings[0].ip `1.2.3` is not an IPv4 or IPv6 address"),
        "{e}"
    );
}

#[test]
fn limiter_and_rlimiter_on_the_command_line_are_limiters_and_rlimiters_entries() {
    let c = assert_equivalent(
        &[
            "socks5://:1080?limiter.in=1MB&limiter.out=256KB&limiter.conn.out=64KB&rlimiter=10",
            "tcp://:1081/127.0.0.1:80?limiter.conn.in=2MB",
        ],
        &[],
        r#"
services:
- name: service-0
  addr: :1080
  limiter: limiter-0
  rlimiter: rlimiter-0
  handler: {type: socks5}
  listener: {type: tcp}
- name: service-1
  addr: :1081
  limiter: limiter-1
  handler: {type: tcp}
  listener: {type: tcp}
  forwarder:
    nodes: [{name: target-0, addr: "127.0.0.1:80"}]
limiters:
- name: limiter-0
  limits: ["$ 1MB 256KB", "$$ 0 64KB"]
- name: limiter-1
  limits: ["$$ 2MB 0"]
rlimiters:
- name: rlimiter-0
  limits: ["$ 10"]
"#,
    );
    assert_valid(&c);
    let (file, _) = from_yaml_str(
        "services: [{name: s, addr: ':1', limiter: limiter-0, handler: {type: socks5}}]\n\
         limiters: [{name: limiter-0, limits: ['$ 1KB'], reload: 10s, file: {path: /tmp/l}}]",
    )
    .unwrap();
    let mut merged = file.clone();
    merged.merge(c);
    assert_eq!(merged.limiters.len(), 3);
    // The command line's limiter-0 clashes with the file's and moves to limiter-1, pushing its
    // limiter-1 to limiter-2; the services follow.
    let names: Vec<_> = merged
        .services
        .iter()
        .map(|s| s.limiter.as_deref())
        .collect();
    assert_eq!(
        names,
        [Some("limiter-0"), Some("limiter-1"), Some("limiter-2")]
    );
    assert_eq!(merged.limiter("limiter-2").unwrap().limits, ["$$ 2MB 0"]);
    assert_valid(&merged);
}

#[test]
fn resolver_on_a_service_and_on_a_hop() {
    let cli = assert_equivalent(
        &["socks5://:1080?resolver=1.1.1.1,tcp://127.0.0.1:5353,https://1.0.0.1/dns-query"],
        &["socks5://proxy.test:1080?resolver=udp://127.0.0.1:53"],
        "services:
- name: service-0
  addr: :1080
  resolver: resolver-1
  handler: {type: socks5, chain: chain-0}
  listener: {type: tcp}
chains:
- name: chain-0
  hops:
  - name: hop-0
    resolver: resolver-0
    nodes:
    - name: node-0
      addr: proxy.test:1080
      connector: {type: socks5}
      dialer: {type: tcp}
resolvers:
- name: resolver-0
  nameservers:
  - addr: udp://127.0.0.1:53
- name: resolver-1
  nameservers:
  - addr: 1.1.1.1
  - addr: tcp://127.0.0.1:5353
  - addr: https://1.0.0.1/dns-query
",
    );
    // Merged into a file that has its own resolver-0, the command line's move up and their users follow.
    let (mut merged, _) = from_yaml_str(
        "services: [{name: s, addr: ':1', resolver: resolver-0, handler: {type: socks5}}]\n\
         resolvers: [{name: resolver-0, nameservers: [{addr: 9.9.9.9}]}]",
    )
    .unwrap();
    merged.merge(cli);
    assert_eq!(
        merged.chains[0].hops[0].resolver.as_deref(),
        Some("resolver-1")
    );
    let svc = merged.services.iter().find(|s| s.name != "s").unwrap();
    assert_eq!(svc.resolver.as_deref(), Some("resolver-2"));
    let ns = &merged.resolver("resolver-2").unwrap().nameservers;
    assert_eq!(ns[0].addr, "1.1.1.1");
    assert_valid(&merged);
    for (yaml, want) in [
        (
            "resolvers: [{name: r, nameservers: [{addr: 'quic://1.1.1.1:853'}]}]",
            "nameservers[0].addr `quic://1.1.1.1:853` has an unknown protocol",
        ),
        (
            "resolvers: [{name: r, nameservers: [{addr: 1.1.1.1, chain: c}]}]",
            "nameservers[0].chain `c` is not built",
        ),
        (
            "resolvers: [{name: r, nameservers: [{addr: 1.1.1.1, prefer: ipv5}]}]",
            "nameservers[0].prefer `ipv5` must be ipv4 or ipv6",
        ),
        (
            "services: [{name: s, addr: ':1', resolver: nope, handler: {type: socks5}}]",
            "resolver `nope` is not defined (defined: none)",
        ),
    ] {
        let (c, _) = from_yaml_str(yaml).unwrap();
        let e = validate(&c).unwrap_err().to_string();
        assert!(e.contains(want), "{yaml}: {e}");
    }
    // DoT and DoH are built; `clientIP` is not, and says so.
    let (c, warnings) = from_yaml_str(
        "resolvers: [{name: r, nameservers: [{addr: 'tls://1.1.1.1', hostname: one.one.one.one}, \
         {addr: 'https://1.0.0.1/dns-query', clientIP: 1.2.3.4}]}]",
    )
    .unwrap();
    validate(&c).unwrap();
    assert_eq!(
        c.resolver("r").unwrap().nameservers[0].hostname.as_deref(),
        Some("one.one.one.one")
    );
    assert!(
        warnings.iter().any(|w| w.path.contains("clientIP")),
        "{warnings:?}"
    );
}

#[test]
fn hop_bypass_from_the_command_line() {
    let c = assert_equivalent(
        &["socks5://:1080"],
        &["socks5://srv:1080?bypass=~10.0.0.0/8,*.corp.example"],
        r#"
services: [{name: service-0, addr: ":1080", handler: {type: socks5, chain: chain-0}, listener: {type: tcp}}]
chains:
- name: chain-0
  hops:
  - name: hop-0
    bypass: bypass-0
    nodes: [{name: node-0, addr: "srv:1080", connector: {type: socks5}, dialer: {type: tcp}}]
bypasses: [{name: bypass-0, whitelist: true, matchers: [10.0.0.0/8, "*.corp.example"]}]
"#,
    );
    assert_valid(&c);
    // Merged into a file that has its own bypass-0, the hop follows its list's new name.
    let (mut file, _) =
        from_yaml_str("bypasses: [{name: bypass-0, matchers: [example.com]}]").unwrap();
    file.merge(c);
    let hop = &file.chains[0].hops[0];
    assert_eq!(hop.bypass.as_deref(), Some("bypass-1"));
    assert!(file.bypass("bypass-1").unwrap().whitelist);
    assert_valid(&file);
    // A node's `bypasses` and a hop's `bypass` must name defined lists.
    let (undefined, _) = from_yaml_str(
        "chains: [{name: c, hops: [{name: h, nodes: [{name: n, addr: 'srv:1080', \
         connector: {type: socks5}, bypasses: [nowhere]}]}]}]",
    )
    .unwrap();
    let err = validate(&undefined).unwrap_err().to_string();
    assert!(err.contains("nowhere") && err.contains("node `n`"), "{err}");
}

#[test]
fn connector_auth_from_a_file() {
    let node = |auth: &str| {
        format!(
            "chains: [{{name: c, hops: [{{name: h, nodes: [{{name: n, addr: 'srv:1080', \
             connector: {{type: socks5, auth: {auth}}}}}]}}]}}]"
        )
    };
    let (c, warnings) = from_yaml_str(&node("{file: /etc/gost/node}")).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let auth = c.chains[0].hops[0].nodes[0]
        .connector
        .auth
        .as_ref()
        .unwrap();
    assert_eq!(auth.file.as_deref(), Some("/etc/gost/node"));
    assert_valid(&c);
    assert!(
        c.to_yaml().contains("file: /etc/gost/node"),
        "{}",
        c.to_yaml()
    );
    let (both, _) = from_yaml_str(&node("{file: /etc/gost/node, username: u}")).unwrap();
    let err = validate(&both).unwrap_err().to_string();
    assert!(err.contains("connector.auth.file"), "{err}");
}

#[test]
fn egress_on_a_service_and_on_a_hop() {
    use gost_config::options::EgressOptions;
    let c = assert_equivalent(
        &["socks5://:1080?interface=127.0.0.9&so_mark=100"],
        &["socks5://proxy.test:1080?interface=lo&so_mark=7"],
        "services:
- name: service-0
  addr: :1080
  handler: {type: socks5, chain: chain-0}
  listener: {type: tcp}
  metadata: {interface: 127.0.0.9, so_mark: '100'}
chains:
- name: chain-0
  hops:
  - name: hop-0
    metadata: {interface: lo, so_mark: '7'}
    nodes:
    - name: node-0
      addr: proxy.test:1080
      connector: {type: socks5}
      dialer: {type: tcp}
",
    );
    assert_valid(&c);
    // The fields mean what the metadata keys mean.
    let (fields, warnings) = from_yaml_str(
        "services: [{name: s, addr: ':1080', interface: 127.0.0.9, sockopts: {mark: 100}, \
         handler: {type: socks5}}]\n\
         chains: [{name: c, hops: [{name: h, interface: lo, \
         nodes: [{name: n, addr: 'proxy.test:1080', sockopts: {mark: 7}, connector: {type: socks5}}]}]}]",
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let service = |c: &Config| EgressOptions::of_service(&c.services[0]).unwrap();
    let node = |c: &Config| {
        let hop = &c.chains[0].hops[0];
        EgressOptions::of_node(hop, &hop.nodes[0]).unwrap()
    };
    assert_eq!(service(&fields), service(&c));
    assert_eq!(node(&fields), node(&c));
    assert_eq!(node(&c).interface.as_deref(), Some("lo"));
    assert_eq!(service(&c).mark, Some(100));
}
