//! A table of wrong command lines and config files, each checked for an error that names the place,
//! the key, the bad value and what would be valid.

use gost_config::{ConfigError, from_cli, from_json_str, from_yaml_str, validate};

fn cli_error(services: &[&str], nodes: &[&str]) -> Option<String> {
    match from_cli(services, nodes) {
        Err(e) => Some(e.to_string()),
        Ok((config, _)) => validate(&config).err().map(|e: ConfigError| e.to_string()),
    }
}

fn yaml_error(yaml: &str) -> Option<String> {
    match from_yaml_str(yaml) {
        Err(e) => Some(e.to_string()),
        Ok((config, _)) => validate(&config).err().map(|e| e.to_string()),
    }
}

/// `(-L args, -F args, fragments the error must contain)`.
const CLI_CASES: &[(&[&str], &[&str], &[&str])] = &[
    (
        &["sock5://:1080"],
        &[],
        &[
            "service `service-0`",
            "handler.type `sock5`",
            "valid: socks5",
            "did you mean `socks5`?",
        ],
    ),
    (
        &["socks5+tlss://:1080"],
        &[],
        &[
            "listener.type `tlss`",
            "valid: tcp, tls",
            "did you mean `tls`?",
        ],
    ),
    (
        &["http://:8080"],
        &[],
        &["handler.type `http` is not a supported handler type"],
    ),
    (
        &["socks5://:abc"],
        &[],
        &["-L `socks5://:abc`", "bad port `abc`", "0-65535"],
    ),
    (
        &["socks5://localhost"],
        &[],
        &["missing port in `localhost`", ":1080"],
    ),
    (&["socks5://:70000"], &[], &["bad port `70000`"]),
    (
        &["socks5://::1:1080"],
        &[],
        &["must be in brackets", "[::1]:1080"],
    ),
    (
        &["socks5://:8010-8000"],
        &[],
        &["bad port range `8010-8000`"],
    ),
    (
        &["tcp://:8080"],
        &[],
        &[
            "forwarder.nodes",
            "handler `tcp` forwards to targets",
            "tcp://:PORT/HOST:PORT",
        ],
    ),
    (
        &["tcp://:8080/:abc"],
        &[],
        &["forwarding target `:abc`", "bad port `abc`"],
    ),
    (
        &["socks5://:1080?udpBufferSize=100"],
        &[],
        &[
            "handler.metadata.udpBufferSize `100` is out of range",
            "1024..=",
        ],
    ),
    (
        &["socks5://:1080?udp=maybe"],
        &[],
        &["handler.metadata.udp `maybe` is not a boolean"],
    ),
    (
        &["socks5://:1080?readTimeout=soon"],
        &[],
        &["readTimeout `soon` is not a duration", "10s"],
    ),
    (
        &["socks5://:1080?udpBuferSize=4096"],
        &[],
        &[
            "unknown option `udpBuferSize`",
            "did you mean `udpBufferSize`?",
        ],
    ),
    (
        &["socks5://:1080", "socks4://0.0.0.0:1080"],
        &[],
        &[
            "service `service-1`",
            "addr `0.0.0.0:1080`",
            "conflicts with service `service-0`",
        ],
    ),
    (
        &["socks5://:1080?auth=!!!"],
        &[],
        &["auth `!!!` is not base64 of user:pass"],
    ),
    (
        &["socks5+tls://:8443?certFile=/nonexistent/c.pem&keyFile=/nonexistent/k.pem"],
        &[],
        &["listener.tls.certFile `/nonexistent/c.pem` does not exist"],
    ),
    (
        &["socks5+tls://:8443?keyFile=k.pem"],
        &[],
        &["keyFile/caFile given without certFile"],
    ),
    (
        &["socks5+tls+ws://:1"],
        &[],
        &["scheme `socks5+tls+ws` must be `name` or `name+transport`"],
    ),
    (
        &["socks5://u%zz@:1"],
        &[],
        &["bad percent-escape in user:password"],
    ),
    (
        &["udp://:53/:53?readBufferSize=10"],
        &[],
        &["readBufferSize `10` is out of range"],
    ),
    (
        &["socks5+ws://:8080?path=ws"],
        &[],
        &["listener.metadata.path `ws` must start with `/`"],
    ),
    (
        &["socks5+kcp://:8388?kcp.crypt=aes256"],
        &[],
        &[
            "kcp.crypt `aes256` is not a supported KCP cipher",
            "aes-128",
        ],
    ),
    (
        &["socks5+kcp://:8388?kcp.tcp=true"],
        &[],
        &["not supported yet (fake-TCP KCP)"],
    ),
    (
        &["socks5://:1080?mux.version=3"],
        &[],
        &["mux.version `3` is not a smux version (1 or 2)"],
    ),
    (
        &["socks5://:1080?a=1;b=2"],
        &[],
        &["`;` is not a query separator"],
    ),
    (
        &[":1080"],
        &["sokcs5://h:1080"],
        &[
            "chain `chain-0` hop `hop-0` node `node-0`",
            "connector.type `sokcs5`",
            "did you mean `socks5`?",
        ],
    ),
    (
        &[":1080"],
        &["socks5+tcpp://h:1"],
        &["dialer.type `tcpp`", "valid: tcp, tls, ws, wss, kcp"],
    ),
    (
        &[":1080"],
        &["socks5://h:1080?relay=true"],
        &[
            "connector.metadata.relay `true`",
            "`udp` for standard UDP ASSOCIATE",
        ],
    ),
    (
        &[":1080"],
        &["socks5://h:1080", "socks5+kcp://h2:1"],
        &[
            "hop `hop-1`",
            "dialer.type `kcp` can only be used in the first hop",
        ],
    ),
    (
        &[":1080"],
        &["socks5://h:1080?udpBufferSize=64"],
        &["connector.metadata.udpBufferSize `64` is out of range"],
    ),
    (
        &[":1080"],
        &["socks5://h"],
        &["-F `socks5://h`", "missing port"],
    ),
    (&[":1080"], &["socks5://h:0"], &["bad port `0`", "1-65535"]),
    (
        &[":1080"],
        &["socks5://h:1?strategy=roundrobin"],
        &["selector.strategy `roundrobin`", "valid: round, rr"],
    ),
    (
        &[":1080"],
        &["socks5+tls://h:1?secure=maybe"],
        &["secure `maybe` is not a boolean"],
    ),
    (
        &[":1080"],
        &["socks5://h:1/path"],
        &["unexpected path `/path`"],
    ),
    (
        &[":1080"],
        &["socks5://h:1?timeout=later"],
        &["connector.metadata.timeout `later` is not a duration"],
    ),
    (
        &[":1080"],
        &["socks5+ws://h:1?header=x"],
        &["dialer.metadata.header `x` is not a map"],
    ),
    (
        &["socks5://:1080?climiter=lots"],
        &[],
        &[
            "-L `socks5://:1080?climiter=lots`",
            "climiter",
            "lots",
            "integer",
        ],
    ),
];

const YAML_CASES: &[(&str, &[&str])] = &[
    (
        "services: [{name: a, addr: ':1', handlr: {type: socks5}}]",
        &["services[0](a).handlr: unknown key; did you mean `handler`?"],
    ),
    (
        "servics: []",
        &["servics: unknown key; did you mean `services`?"],
    ),
    (
        "services: [{name: a, addr: ':1', handler: {type: socks5, chain: nope}}]",
        &["service `a`: handler.chain `nope` is not a defined chain (defined: none)"],
    ),
    (
        "services: [{name: a, handler: {type: socks5}}]",
        &["service `a`: addr: is missing", "`:1080`"],
    ),
    (
        "services: [{name: a, addr: ':1'}, {name: a, addr: ':2'}]",
        &["service `a`: name `a` is used twice"],
    ),
    (
        "services: [{addr: ':1'}]",
        &["service #0: name: is missing"],
    ),
    (
        "services: [{name: a, addr: ':1', handler: {type: socks5}, listener: {type: tls, tls: {certFile: /nope/c.pem, keyFile: /nope/k.pem}}}]",
        &["listener.tls.certFile `/nope/c.pem` does not exist"],
    ),
    (
        "services: [{name: a, addr: ':1', handler: {type: socks5, auther: users}}]",
        &["handler.auther `users` is not defined in `authers:`"],
    ),
    ("chains: [{name: c}]", &["chain `c`: hops: is empty"]),
    (
        "chains: [{name: c, hops: [{name: h}]}]",
        &["chain `c` hop `h`: nodes: is empty"],
    ),
    (
        "chains: [{name: c, hops: [{name: h, nodes: [{name: n, connector: {type: socks5}}]}]}]",
        &["node `n`: addr: is missing"],
    ),
    (
        "chains: [{name: c, hops: [{name: h, nodes: [{name: n, addr: 'h:1'}]}]}]",
        &["connector.type `http` is not a supported connector type"],
    ),
    (
        "services: {name: a}",
        &["services: `{\"name\":\"a\"}` is not a list"],
    ),
    ("services: [", &["YAML syntax error"]),
    (
        "metrics: {path: /metrics}",
        &["metrics: metrics.addr: is missing", "`:9000`"],
    ),
    (
        "metrics: {addr: ':9000', path: metrics}",
        &["metrics.path `metrics` must start with `/`"],
    ),
    (
        "metrics: {addr: ':99999'}",
        &["metrics.addr `:99999` is not valid"],
    ),
    (
        "metrics: {addr: ':9000', pth: /m}",
        &["did you mean `path`?"],
    ),
    (
        "log: {output: /tmp/g.log, rotation: {maxBackups: -1}}",
        &[
            "log.rotation.maxBackups `-1` must be 0 (upstream's default) or a positive number of files",
        ],
    ),
    (
        "log: {rotation: {maxsize: ten}}",
        &["log.rotation.maxSize", "an integer"],
    ),
    (
        "log: {rotation: {maxSise: 10}}",
        &["did you mean `maxSize`?"],
    ),
    (
        "log: {level: loud}",
        &[
            "log: log.level `loud` is not a supported value",
            "debug, info",
        ],
    ),
    (
        "services: [{name: a, addr: ':1', handler: {type: udp}, forwarder: {nodes: [{addr: ':53'}]}}]",
        &[
            "listener.type `tcp` does not work here",
            "`udp` go together",
        ],
    ),
    (
        "services: [{name: a, addr: ':1080-1090', handler: {type: socks5}}]",
        &["addr `:1080-1090` is a port range"],
    ),
    (
        "services: [{name: a, addr: ':1', handler: {type: socks5, metadata: {udpBufferSize: -1}}}]",
        &["udpBufferSize `-1` is not a non-negative integer"],
    ),
    (
        "services: [{name: a, addr: ':1', handler: {type: socks5, auth: {password: x}}}]",
        &["handler.auth.username: is missing"],
    ),
    (
        "services: [{Name: a, name: b}]",
        &["services[0](a).name: key given twice"],
    ),
    (
        "chains: [{name: c, hops: [{name: h, selector: {maxFails: abc}}]}]",
        &["selector.maxFails: `abc` is not an integer"],
    ),
    (
        "services: [{name: a, addr: ':1', handler: {type: socks5, metadata: {bind: 'yes'}}}]",
        &["handler.metadata.bind `yes` is not a boolean"],
    ),
    (
        "chains: [{name: c, hops: [{name: h, nodes: [{name: n, addr: 'h:1', connector: {type: socks5}, dialer: {type: tls, tls: {secure: maybe}}}]}]}]",
        &["dialer.tls.secure: `maybe` is not a boolean"],
    ),
    (
        "services: [{name: a, addr: ':1', handler: {type: socks5, metadata: {notsl: true}}}]",
        &["handler.metadata.notsl", "did you mean `notls`?"],
    ),
    (
        "services: [{name: a, addr: ':1', listener: {type: kcp, metadata: {kcp.config: {crypt: aes}}}}]",
        &["kcp.config", "kcp.smuxbuf and kcp.streambuf"],
    ),
    (
        "services: [{name: s, addr: ':1', climiter: nope}]\nclimiters: [{name: c, limits: ['$ 1']}]",
        &[
            "service `s`",
            "climiter `nope`",
            "not defined in `climiters:`",
            "defined: c",
        ],
    ),
    (
        "climiters: [{name: c, limits: ['$ 1', '$$ many']}]",
        &[
            "climiter `c`",
            "limits[1] `$$ many`",
            "limit `many` is not an integer",
        ],
    ),
    (
        "climiters: [{name: c, limits: ['host.example 3']}]",
        &[
            "climiter `c`",
            "limits[0]",
            "scope `host.example` is not `$`, `$$`, an IP",
        ],
    ),
    (
        "climiters: [{name: c, limits: ['10.0.0.0/40 3']}]",
        &["limits[0] `10.0.0.0/40 3`", "prefix length must be 0..=32"],
    ),
    (
        "climiters: [{name: c, limits: ['$$']}]",
        &["limits[0] `$$`", "limit is missing"],
    ),
    (
        "climiters: [{name: c, limits: {a: 1}}]",
        &["climiters[0](c).limits", "a list"],
    ),
    (
        "climiters: [{name: c, limits: ['$ 1']}, {name: c, limits: ['$ 2']}]",
        &["climiter `c`", "used twice"],
    ),
];

#[test]
fn command_line_mistakes() {
    let mut failures = Vec::new();
    for (services, nodes, fragments) in CLI_CASES {
        match cli_error(services, nodes) {
            None => failures.push(format!("{services:?} {nodes:?}: accepted")),
            Some(err) => {
                if let Some(missing) = fragments.iter().find(|f| !err.contains(**f)) {
                    failures.push(format!("{services:?} {nodes:?}: `{err}` lacks `{missing}`"));
                }
            }
        }
    }
    assert!(CLI_CASES.len() >= 30);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn config_file_mistakes() {
    let mut failures = Vec::new();
    for (yaml, fragments) in YAML_CASES {
        match yaml_error(yaml) {
            None => failures.push(format!("{yaml}: accepted")),
            Some(err) => {
                if let Some(missing) = fragments.iter().find(|f| !err.contains(**f)) {
                    failures.push(format!("{yaml}: `{err}` lacks `{missing}`"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn json_mistakes() {
    let err = from_json_str("{\"services\": [").unwrap_err().to_string();
    assert!(err.starts_with("JSON syntax error"), "{err}");
    let err = from_json_str(r#"{"services": [{"name": "a", "adr": ":1"}]}"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("services[0](a).adr: unknown key; did you mean `addr`?"),
        "{err}"
    );
}

#[test]
fn errors_are_one_line() {
    for (services, nodes, _) in CLI_CASES {
        let err = cli_error(services, nodes).unwrap_or_default();
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn socks4_passwords_are_flagged() {
    let (config, _) = from_cli(
        &["socks4://alice:secret@:1080"],
        &["socks4://bob:pw@h:1080"],
    )
    .unwrap();
    let warnings = validate(&config).unwrap();
    let text: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|w| w.contains("handler.auth") && w.contains("can never authenticate")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|w| w.contains("connector.auth.password")),
        "{text:?}"
    );
}

/// Options upstream reads that change nothing in gost-rs are accepted (a config written for upstream
/// still starts) with one warning each naming the key and why; the same option set to what gost-rs
/// does, or written where gost-rs reads it, gives none.
#[test]
fn options_without_effect_are_warned_about() {
    let warnings = |services: &[&str]| -> Vec<String> {
        let (config, _) = from_cli(services, &[] as &[&str]).unwrap();
        validate(&config)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    let w = warnings(&["tcp://:8080/127.0.0.1:80?readTimeout=5s"]);
    assert!(
        w.iter()
            .any(|w| w.contains("handler.metadata.readTimeout") && w.contains("do not sniff")),
        "{w:?}"
    );
    let w = warnings(&["udp://:5353/127.0.0.1:53?bufferSize=8192&backlog=64"]);
    assert!(
        w.iter().any(|w| w.contains("handler.metadata.bufferSize")),
        "{w:?}"
    );
    assert!(
        w.iter().any(|w| w.contains("listener.metadata.backlog")),
        "{w:?}"
    );
    let w = warnings(&["socks5+ws://:8443?enableCompression=true&backlog=64"]);
    assert!(
        w.iter().any(
            |w| w.contains("listener.metadata.enableCompression") && w.contains("uncompressed")
        ),
        "{w:?}"
    );
    assert!(
        !w.iter().any(|w| w.contains("backlog")),
        "ws backlog is used: {w:?}"
    );
    // Service-level keys upstream reads and gost-rs does not build (they were dropped silently).
    let w = warnings(&["socks5://:1080?netns=ns1&proxyProtocol=1"]);
    for key in ["metadata.netns", "metadata.proxyProtocol"] {
        assert!(
            w.iter().any(|w| w.contains(key) && w.contains("ignored")),
            "{key}: {w:?}"
        );
    }
    for quiet in [
        "udp://:5353/127.0.0.1:53?readBufferSize=8192",
        "socks5+ws://:8443?enableCompression=false",
        "socks5://:1080?readTimeout=5s",
    ] {
        let w = warnings(&[quiet]);
        assert!(w.is_empty(), "{quiet}: {w:?}");
    }
}
