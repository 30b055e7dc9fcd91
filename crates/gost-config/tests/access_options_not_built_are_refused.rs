//! Fail closed: every upstream option that grants or restricts access and that gost-rs does not
//! implement is an error naming the option and where it stands, on the command line, in YAML and in
//! component metadata — never a warning that leaves the service more open than configured.

use gost_config::{ConfigError, from_cli, from_yaml_str, validate};

/// Loads and validates; returns the error, which must be the fail-closed one.
fn refusal(loaded: Result<gost_config::Loaded, ConfigError>) -> (String, String) {
    let err = match loaded {
        Err(e) => e,
        Ok((config, warnings)) => match validate(&config) {
            Err(e) => e,
            Ok(_) => panic!("accepted; warnings: {warnings:?}"),
        },
    };
    let text = err.to_string();
    match err {
        ConfigError::AccessNotBuilt { path, option } => {
            assert!(
                text.contains("grants or restricts access"),
                "the message must say why it is refused: {text}"
            );
            (path, option)
        }
        other => panic!("not the fail-closed error: {other}"),
    }
}

/// `(YAML, the option named, a fragment of the place named)`.
const YAML_CASES: &[(&str, &str, &str)] = &[
    (
        "limiters:\n- name: l\n  plugin: {type: http, addr: http://127.0.0.1:8000/limiter}",
        "plugin",
        "limiters[0](l)",
    ),
    (
        "services:\n- name: s\n  addr: :1080\n  handler: {type: socks5}\n  listener: {type: tcp, auther: a}",
        "auther",
        "services[0](s).listener",
    ),
    (
        "services:\n- name: s\n  addr: :1080\n  handler: {type: socks5}\n  listener: {type: tcp, auth: {username: u, password: p}}",
        "auth",
        "services[0](s).listener",
    ),
    (
        "services:\n- name: s\n  addr: :1080\n  handler: {type: socks5, auth: {file: /etc/users}}",
        "file",
        "services[0](s).handler.auth",
    ),
    (
        "services:\n- name: f\n  addr: :1080\n  handler: {type: tcp}\n  forwarder:\n    nodes:\n    - name: t\n      addr: 127.0.0.1:80\n      bypass: byp",
        "bypass",
        "forwarder.nodes[0](t)",
    ),
    (
        "services:\n- name: f\n  addr: :1080\n  handler: {type: tcp}\n  forwarder:\n    nodes:\n    - name: t\n      addr: 127.0.0.1:80\n      auth: {username: u, password: p}",
        "auth",
        "forwarder.nodes[0](t)",
    ),
    (
        "climiters:\n- name: c\n  plugin: {type: http, addr: http://127.0.0.1:8000/climiter}",
        "plugin",
        "climiters[0](c)",
    ),
    (
        "climiters:\n- name: c\n  redis: {addr: 127.0.0.1:6379, key: gost:climiters, type: list}",
        "type",
        "climiters[0](c).redis",
    ),
    (
        "services:\n- name: s\n  addr: :1080\n  bypass: byp\n  handler: {type: socks5, metadata: {udp: true}}\nbypasses:\n- name: byp\n  matchers: [10.0.0.0/8]",
        "bypass together with udp=true",
        "service `s`",
    ),
    (
        "authers:\n- name: users\n  plugin: {addr: 127.0.0.1:8000}",
        "plugin.type grpc (the default)",
        "auther `users`",
    ),
    (
        "authers:\n- name: users\n  plugin: {type: http, addr: http://127.0.0.1:8000/auth, token: t}",
        "token",
        "authers[0](users).plugin",
    ),
    (
        "bypasses:\n- name: byp\n  reverse: true\n  matchers: [10.0.0.0/8]",
        "reverse",
        "bypasses[0](byp)",
    ),
];

#[test]
fn yaml_access_options_not_built_are_errors_naming_option_and_place() {
    for (yaml, option, place) in YAML_CASES {
        let (path, named) = refusal(from_yaml_str(yaml));
        assert_eq!(named, *option, "{yaml}");
        assert!(
            path.contains(place),
            "{yaml}: `{path}` does not name {place}"
        );
    }
}

#[test]
fn command_line_access_options_not_built_are_errors_naming_option_and_argument() {
    let (path, named) = refusal(from_cli(
        &["socks5://:1080"],
        &["socks5://127.0.0.1:1081?rlimiter=10"],
    ));
    assert_eq!(named, "rlimiter");
    assert!(path.starts_with("-F socks5://127.0.0.1:1081"), "{path}");
}

/// Once refused, now built: bandwidth and request-rate limiters on the forwarders.
#[test]
fn limiters_on_udp_associate_and_forwarding_services_are_accepted() {
    let forwarder = "forwarder: {nodes: [{name: t, addr: 127.0.0.1:53}]}";
    let limiters =
        "limiters:\n- name: l\n  limits: ['$ 1MB']\nrlimiters:\n- name: rl\n  limits: ['$ 10']";
    let services = [
        format!("{{type: udp}}\n  listener: {{type: udp}}\n  {forwarder}"),
        format!("{{type: rtcp, limiter: l}}\n  listener: {{type: rtcp}}\n  {forwarder}"),
        format!("{{type: rudp}}\n  listener: {{type: rudp}}\n  {forwarder}"),
        format!("{{type: forward}}\n  {forwarder}"),
    ];
    for handler in services {
        let yaml = format!(
            "services:\n- name: s\n  addr: :1080\n  limiter: l\n  rlimiter: rl\n  handler: {handler}\n{limiters}"
        );
        let (config, _) = from_yaml_str(&yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
        validate(&config).unwrap_or_else(|e| panic!("{yaml}: {e}"));
    }
    for svc in [
        "udp://:1053/127.0.0.1:53?rlimiter=10&limiter.in=1MB",
        "tcp://:2222/127.0.0.1:22?limiter.out=1MB&rlimiter=5",
    ] {
        let (config, _) = from_cli(&[svc], &[] as &[&str]).unwrap_or_else(|e| panic!("{svc}: {e}"));
        validate(&config).unwrap_or_else(|e| panic!("{svc}: {e}"));
    }
}

/// Once refused, now built: a climiter's file, Redis and HTTP loaders and `reload`.
#[test]
fn climiter_loaders_are_accepted() {
    let yaml = "services:\n- name: s\n  addr: :1080\n  climiter: c\n  handler: {type: socks5}\n\
                climiters:\n- name: c\n  limits: ['$$ 5']\n  reload: 10s\n  file: {path: /etc/gost/climits}\n  \
                redis: {addr: 127.0.0.1:6379, db: 1, key: gost:climiters:c}\n  \
                http: {url: http://127.0.0.1:8000/climits, timeout: 2s}";
    let (config, _) = from_yaml_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
    validate(&config).unwrap_or_else(|e| panic!("{yaml}: {e}"));
    let loaders = &config.climiters[0].loaders;
    assert_eq!(loaders.reload, Some(std::time::Duration::from_secs(10)));
    assert_eq!(
        loaders.redis.as_ref().unwrap().key.as_deref(),
        Some("gost:climiters:c")
    );
    let bad = yaml.replace("127.0.0.1:6379", "localhost");
    let err = validate(&from_yaml_str(&bad).unwrap().0)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("climiter `c`") && err.contains("redis.addr"),
        "{err}"
    );
}

#[test]
fn options_that_do_not_touch_access_still_only_warn() {
    let (config, warnings) = from_yaml_str(
        "services:\n- name: s\n  addr: :1080\n  observer: o\n  handler: {type: socks5}\n\
         routers:\n- name: r",
    )
    .unwrap();
    validate(&config).unwrap();
    let warned: Vec<&str> = warnings.iter().map(|w| w.path.as_str()).collect();
    for key in ["services[0](s).observer", "routers"] {
        assert!(warned.contains(&key), "{key} not warned about: {warned:?}");
    }
    let (_, warnings) = from_cli(&["socks5://:1080?retries=2"], &[] as &[&str]).unwrap();
    assert!(
        warnings.iter().any(|w| w.message.contains("`retries`")),
        "{warnings:?}"
    );
}
