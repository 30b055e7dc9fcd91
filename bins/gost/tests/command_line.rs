//! The built `gost` binary: `-O` prints configs that load back, config sources (`-C` file, stdin,
//! inline JSON) merge with `-L`/`-F`, and a bad line is one readable error with exit status 2.

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use gost_config::{Config, from_json_str, from_yaml_str};
use support::ConfigFile;

fn gost(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gost"))
        .args(args)
        .env_remove("GOST_LOGGER_LEVEL")
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("run gost")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[track_caller]
fn printed_yaml(args: &[&str]) -> Config {
    let mut full = vec!["-O", "yaml"];
    full.extend_from_slice(args);
    let out = gost(&full);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    let text = stdout(&out);
    let (config, warnings) = from_yaml_str(&text)
        .unwrap_or_else(|e| panic!("{args:?} printed unloadable YAML ({e}):\n{text}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    gost_config::validate(&config).unwrap();
    config
}

/// Command lines of the seed (features.md, gost-wire §9.2 S1–S8).
const SEED_LINES: &[&[&str]] = &[
    &["-L", "socks4://:1080"],
    &["-L", "socks5://user:pass@:1080"],
    &["-L", "socks5://user:pass@:1080?bind=true"],
    &["-L", "socks5://:1080?udp=true&udpBufferSize=4096"],
    &[
        "-L",
        "udp://:1053/:53",
        "-F",
        "socks5://:1080?relay=udp&udpBufferSize=4096",
    ],
    &[
        "-L",
        "socks5://:1080?notls=true&udp=true&udpBufferSize=65535",
    ],
    &[
        "-L",
        "tcp://:15201/:5201",
        "-L",
        "udp://:15201/:5201?keepalive=true&readBufferSize=65535",
        "-F",
        "socks5://:1080?relay=udp&udpBufferSize=65535",
    ],
    &["-L", "socks5://user:pass@:1080?notls=true"],
    &["-L", "socks5://:1080?bind=true"],
    &["-L", "rtcp://:2222/:22", "-F", "socks5://:1080"],
    &["-L", "socks5://:1080?udp=true"],
    &["-L", "udp://:10053/:53", "-F", "socks5://:1080"],
    &["-L", "socks4+tls://:8443"],
    &["-L", "socks5+tls://:8443?notls=true"],
    &["-L", "socks5+ws://:8080"],
    &["-L", "socks5+wss://:8080"],
    &["-L", "socks5+kcp://:8080"],
    &[
        "-L",
        "socks5://user:pass@:1080?udp=true&bind=true&udpBufferSize=65535",
    ],
    &["-L", "socks4://alice@:1080"],
    &["-L", "socks5+ws://:8080?path=/ws"],
    &["-L", "socks5+kcp://:8388?kcp.key=secret&kcp.crypt=aes"],
    &["-L", ":1080", "-F", "socks5+tls://host:8443?notls=true"],
    &["-L", ":1080", "-F", "socks5+ws://host:8080?path=/ws"],
    &[
        "-L",
        ":1080",
        "-F",
        "socks5+wss://host:8443?serverName=example.com",
    ],
    &[
        "-L",
        ":1080",
        "-F",
        "socks5+kcp://host:8388?kcp.key=secret&kcp.crypt=aes",
    ],
    &[
        "-L",
        "tcp://:15201/:5201",
        "-F",
        "socks5://user:pass@srv:1080",
    ],
    &[
        "-L",
        "udp://:1053/:53?keepalive=true&ttl=30s&readBufferSize=4096",
        "-F",
        "socks5://srv:1080",
    ],
    &["-L", "rudp://:5353/:53", "-F", "socks5://srv:1080"],
    &[
        "-L",
        ":1080",
        "-F",
        "socks5+tls://u:p@hop1:443?notls=true",
        "-F",
        "socks5://hop2:1080",
    ],
];

#[test]
fn printed_yaml_of_every_seed_line_loads_back_to_the_same_config() {
    for args in SEED_LINES {
        let printed = printed_yaml(args);
        let services: Vec<&str> = args
            .chunks(2)
            .filter(|p| p[0] == "-L")
            .map(|p| p[1])
            .collect();
        let nodes: Vec<&str> = args
            .chunks(2)
            .filter(|p| p[0] == "-F")
            .map(|p| p[1])
            .collect();
        let (direct, _) = gost_config::from_cli(&services, &nodes).unwrap();
        assert_eq!(printed, direct, "{args:?}");
    }
}

#[test]
fn printed_json_loads_back() {
    let out = gost(&[
        "-O",
        "json",
        "-L",
        "socks5+wss://u:p@:8443?udp=true",
        "-F",
        "socks5://h:1080?relay=udp",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (config, _) = from_json_str(&stdout(&out)).unwrap();
    assert_eq!(config.services[0].listener.kind, "wss");
    assert_eq!(
        config.chains[0].hops[0].nodes[0]
            .connector
            .metadata
            .get("relay"),
        Some(&"udp".into())
    );
}

#[test]
fn features_example_prints_the_features_yaml() {
    let out = gost(&[
        "-O",
        "yaml",
        "-L",
        "socks5://user:pass@:1080?bind=true&udp=true",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = "\
services:
- name: service-0
  addr: \":1080\"
  handler:
    type: socks5
    auth:
      username: user
      password: pass
    metadata:
      bind: true
      udp: true
  listener:
    type: tcp
";
    assert_eq!(stdout(&out), expected);
}

#[test]
fn bad_line_is_one_error_and_exit_2() {
    for args in [
        &["-L", "sock5://:1080"][..],
        &["-L", "socks5://:1080?udpBufferSize=10"],
        &["-L", "socks5://:1080", "-F", "socks5://nowhere"],
        &["-C", "/nonexistent/gost.yaml"],
        &["-F", "socks5://h:1080"],
    ] {
        let out = gost(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("gost: "), "{err}");
        assert!(stdout(&out).is_empty());
    }
    let err = stderr(&gost(&["-L", "sock5://:1080"]));
    assert!(
        err.contains("handler.type `sock5`") && err.contains("did you mean `socks5`?"),
        "{err}"
    );
}

#[test]
fn config_file_is_merged_with_flags() {
    let file = ConfigFile::new(
        "services:\n- name: service-0\n  addr: :1081\n  handler: {type: socks4}\n  listener: {type: tcp}\nlog: {level: debug}\n",
    );
    let printed = printed_yaml(&["-C", file.arg(), "-L", "socks5://:1082"]);
    let addrs: Vec<(&str, &str)> = printed
        .services
        .iter()
        .map(|s| (s.name.as_str(), s.addr.as_str()))
        .collect();
    assert_eq!(addrs, [("service-0", ":1081"), ("service-1", ":1082")]);
}

#[test]
fn config_from_inline_json_and_stdin() {
    let printed = printed_yaml(&[
        "-C",
        r#"{"services": [{"name": "j", "addr": ":1090", "handler": {"type": "socks5"}}]}"#,
    ]);
    assert_eq!(printed.services[0].name, "j");

    let mut child = Command::new(env!("CARGO_BIN_EXE_gost"))
        .args(["-O", "json", "-C", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"services:\n- name: s\n  addr: :1091\n  handler: {type: socks5}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let (config, _) = from_json_str(&stdout(&out)).unwrap();
    assert_eq!(config.services[0].addr, ":1091");
}

#[test]
fn version_flag() {
    let out = gost(&["-V"]);
    assert!(out.status.success());
    assert!(stdout(&out).starts_with("gost "), "{}", stdout(&out));
}

#[test]
fn json_log_format_for_warnings() {
    let out = gost(&[
        "-O",
        "yaml",
        "--log-format",
        "json",
        "-L",
        "socks5://:1080?retries=2",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stderr(&out);
    assert!(
        line.trim_start().starts_with('{') && line.contains("not supported yet"),
        "{line}"
    );
}

/// Runs `gost -C FILE` with `yaml` in the file (or `args` alone when `yaml` is None) and returns its
/// stderr after checking it exited 2 without starting anything.
fn refused_with(yaml: Option<&str>, args: &[&str]) -> String {
    let file = yaml.map(ConfigFile::new);
    let mut full: Vec<&str> = args.to_vec();
    if let Some(f) = &file {
        full.extend(["-C", f.arg()]);
    }
    let out = gost(&full);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{full:?}: {err}");
    assert!(!err.contains("listening"), "{full:?} started: {err}");
    err
}

#[test]
fn config_mistakes_are_named_where_they_are() {
    // A config with no service would run nothing, silently.
    for yaml in ["", "services: []\n", "# only a comment\n"] {
        let err = refused_with(Some(yaml), &[]);
        assert!(
            err.contains("nothing to run: no service"),
            "{yaml:?}: {err}"
        );
    }
    // An indentation slip names the key with nothing under it, not a Rust type.
    let err = refused_with(
        Some("services:\n- name: a\n  addr: :1080\n  handler:\n  type: socks5\n"),
        &[],
    );
    assert!(
        err.contains("services[0](a).handler")
            && err.contains("indent")
            && !err.contains("HandlerConfig"),
        "{err}"
    );
    // The OS error once.
    let err = refused_with(None, &["-C", "/nonexistent/gost.yaml"]);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    // One slash after the scheme.
    let err = refused_with(None, &["-L", "socks5:/127.0.0.1:1080"]);
    assert!(err.contains("missing `//` after `socks5:`"), "{err}");
}

#[test]
fn a_user_without_password_and_unknown_options_are_warned_about_at_the_default_level() {
    let out = gost(&["-O", "yaml", "-L", "socks5://alice@:1080?fooBarBaz=1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("WARN")
            && err.contains("user `alice` has no password, so ANY password is accepted"),
        "{err}"
    );
    assert!(err.contains("fooBarBaz"), "{err}");
    // SOCKS4 checks only the user id: nothing to warn about.
    let out = gost(&["-O", "yaml", "-L", "socks4://alice@:1080"]);
    assert!(!stderr(&out).contains("no password"), "{}", stderr(&out));
}

#[test]
fn log_output_file_receives_the_log_and_rotation_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("logs/gost.log");
    let config = ConfigFile::new(&format!(
        "log:\n  output: {}\n  rotation: {{maxSize: 1, maxBackups: 3, maxAge: 7, localTime: true, compress: true}}\n\
         api: {{addr: ':18080'}}\n",
        log.display()
    ));
    let out = gost(&[
        "-C",
        config.arg(),
        "-L",
        "socks5://127.0.0.1:0",
        "-O",
        "yaml",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "the log goes to the file, not stderr");
    let written = std::fs::read_to_string(&log).expect("gost created the log file");
    assert!(
        written.contains("api") && written.contains("ignored"),
        "{written}"
    );
    let (printed, _) = from_yaml_str(&stdout(&out)).unwrap();
    let rotation = printed.log.unwrap().rotation.unwrap();
    assert_eq!(
        (rotation.max_size, rotation.max_backups, rotation.max_age),
        (1, 3, 7)
    );
    assert!(rotation.local_time && rotation.compress);
}
