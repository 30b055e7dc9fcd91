//! The `-L` (service) and `-F` (chain node) command-line forms mapped onto the same [`Config`] a
//! YAML file produces (gost-wire §8.2, §8.3).
//!
//! Query keys are routed like upstream (TLS keys to `tls`, selector keys to the selector,
//! `handler.`/`listener.`/`service.`/`hop.`/`node.`/`connector.`/`dialer.` prefixes to that map) with
//! one refinement: an unprefixed key goes only to the components that read it (`udp` to a `socks5`
//! handler, `path` to a `ws` listener), where upstream copies it into every map and lets each
//! component ignore what it does not read. Keys no supported component reads are still copied
//! everywhere, as upstream does. Values of boolean and integer keys become YAML booleans and
//! integers, so `-O yaml` prints what one would write by hand.

mod node;
mod query;
mod service;

use crate::climit::LimitLine;
use crate::error::{ConfigError, Warning};
use crate::model::*;

/// Builds a config from `-L` and `-F` arguments, in order.
///
/// All `-F` arguments form one chain `chain-0` (one hop per `-F`); every service uses it.
///
/// ```
/// let (config, _warnings) = gost_config::from_cli(&["socks5://user:pass@:1080?udp=true"], &[] as &[&str]).unwrap();
/// let svc = &config.services[0];
/// assert_eq!((svc.name.as_str(), svc.addr.as_str(), svc.handler.kind.as_str()), ("service-0", ":1080", "socks5"));
/// assert_eq!(svc.handler.auth.as_ref().unwrap().password, "pass");
/// ```
pub fn from_cli(
    services: &[impl AsRef<str>],
    nodes: &[impl AsRef<str>],
) -> Result<(Config, Vec<Warning>), ConfigError> {
    let mut config = Config::default();
    let mut warnings = Vec::new();
    if !nodes.is_empty() {
        let mut chain = ChainConfig {
            name: "chain-0".into(),
            ..Default::default()
        };
        for (i, arg) in nodes.iter().enumerate() {
            let (mut hop, lists) = node::build_hop(arg.as_ref(), i, &mut warnings)?;
            hop.hosts = lists.hosts.map(|m| add_hosts(&mut config, m));
            hop.resolver = lists.resolver.map(|r| add_resolver(&mut config, r));
            hop.bypass = lists
                .bypass
                .map(|list| add_list(&mut config.bypasses, "bypass", list));
            chain.hops.push(hop);
        }
        config.chains.push(chain);
    }
    let mut room = service::MAX_EXPANSION;
    for arg in services {
        let (built, climit, lists) =
            service::build_services(arg.as_ref(), &mut room, &mut warnings)?;
        for mut svc in built {
            svc.name = format!("service-{}", config.services.len());
            if let Some(list) = &lists.admission {
                svc.admission = Some(add_list(&mut config.admissions, "admission", list.clone()));
            }
            if let Some(list) = &lists.bypass {
                svc.bypass = Some(add_list(&mut config.bypasses, "bypass", list.clone()));
            }
            if !lists.limiter.is_empty() {
                let limits = lists.limiter.clone();
                svc.limiter = Some(add_limiter(&mut config.limiters, "limiter", limits));
            }
            if !lists.rlimiter.is_empty() {
                let limits = lists.rlimiter.clone();
                svc.rlimiter = Some(add_limiter(&mut config.rlimiters, "rlimiter", limits));
            }
            if let Some(mappings) = &lists.hosts {
                svc.hosts = Some(add_hosts(&mut config, mappings.clone()));
            }
            if let Some(addrs) = &lists.resolver {
                svc.resolver = Some(add_resolver(&mut config, addrs.clone()));
            }
            if let Some(n) = climit {
                // One limiter per service, named as upstream names them.
                let limits = vec![LimitLine::Service(Some(n)).to_string()];
                svc.climiter = Some(add_limiter(&mut config.climiters, "climiter", limits));
            }
            if !config.chains.is_empty() {
                if matches!(svc.listener.kind.as_str(), "rtcp" | "rudp" | "runix") {
                    svc.listener.chain = Some("chain-0".into());
                } else {
                    svc.handler.chain = Some("chain-0".into());
                }
            }
            config.services.push(svc);
        }
    }
    crate::load::fill_defaults(&mut config);
    Ok((config, warnings))
}

/// Appends the entry `make` builds for the name upstream gives the entries its command line makes
/// (`prefix-N`, N counting from 0 in `list`); returns the name.
fn add_named<T>(list: &mut Vec<T>, prefix: &str, make: impl FnOnce(String) -> T) -> String {
    let name = format!("{prefix}-{}", list.len());
    list.push(make(name.clone()));
    name
}

/// An `admissions:` or `bypasses:` entry of `(whitelist, matchers)`; returns its name.
fn add_list(
    list: &mut Vec<ListConfig>,
    prefix: &str,
    (whitelist, matchers): (bool, Vec<String>),
) -> String {
    add_named(list, prefix, |name| ListConfig {
        name,
        whitelist,
        matchers,
        ..ListConfig::default()
    })
}

/// A `climiters:`, `limiters:` or `rlimiters:` entry of `limits` lines; returns its name.
fn add_limiter(list: &mut Vec<LimiterConfig>, prefix: &str, limits: Vec<String>) -> String {
    add_named(list, prefix, |name| LimiterConfig {
        name,
        limits,
        ..LimiterConfig::default()
    })
}

/// A `hosts:` table of `mappings`; returns its name.
fn add_hosts(config: &mut Config, mappings: Vec<HostMappingConfig>) -> String {
    add_named(&mut config.hosts, "hosts", |name| HostsConfig {
        name,
        mappings,
        ..HostsConfig::default()
    })
}

/// A `resolvers:` entry with nameservers `addrs`; returns its name.
fn add_resolver(config: &mut Config, addrs: Vec<String>) -> String {
    let nameservers = addrs
        .into_iter()
        .map(|addr| NameserverConfig {
            addr,
            ..NameserverConfig::default()
        })
        .collect();
    add_named(&mut config.resolvers, "resolver", |name| ResolverConfig {
        name,
        nameservers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cli(l: &[&str], f: &[&str]) -> Config {
        from_cli(l, f).unwrap().0
    }

    #[test]
    fn single_name_schemes() {
        let kinds = |arg: &str| {
            let c = cli(&[arg], &[]);
            (
                c.services[0].handler.kind.clone(),
                c.services[0].listener.kind.clone(),
            )
        };
        assert_eq!(kinds("socks5://:1080"), ("socks5".into(), "tcp".into()));
        assert_eq!(kinds("tls://:443"), ("auto".into(), "tls".into()));
        assert_eq!(kinds(":1080"), ("auto".into(), "tcp".into()));
        assert_eq!(kinds("udp://:53"), ("udp".into(), "udp".into()));
        assert_eq!(kinds("rtcp://:22/:22"), ("rtcp".into(), "rtcp".into()));
        assert_eq!(
            kinds("socks5+tls://:22/:22"),
            ("forward".into(), "tls".into())
        );
    }

    #[test]
    fn port_range_makes_one_service_per_port() {
        let c = cli(&["socks5://:8000-8002", "socks4://:9000"], &[]);
        let names: Vec<_> = c
            .services
            .iter()
            .map(|s| (s.name.as_str(), s.addr.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("service-0", ":8000"),
                ("service-1", ":8001"),
                ("service-2", ":8002"),
                ("service-3", ":9000")
            ]
        );
    }

    /// A range slip must not ask for billions of config objects (the fuzzer ran out of memory on
    /// `tcp://:1-100/h:1-65535`); up to the limit, ranges still expand, and the limit counts the whole
    /// command line.
    #[test]
    fn port_ranges_expand_within_a_limit() {
        let refused: [&[&str]; 5] = [
            &["tcp://:1-65535"],
            &["tcp://:1000-1001/h:1-65535"],
            &["tcp://:1-100/h:1-100"],
            &["tcp://:1/h:1-3000,h:20000-21500"],
            &["tcp://:1-4000", "socks5://:5000-5096"],
        ];
        for args in refused {
            let e = from_cli(args, &[] as &[&str]).unwrap_err().to_string();
            assert!(e.contains("expand to more than 4096"), "{args:?}: {e}");
        }
        let c = cli(&["tcp://:1000-1031/h:1-100", "socks5://:2000-2895"], &[]);
        assert_eq!(c.services.len(), 32 + 896);
        let targets = &c.services[31].forwarder.as_ref().unwrap().nodes;
        assert_eq!(targets.len(), 100);
    }

    /// The largest command line, with every per-service list, prints as YAML that loads back (the
    /// YAML reader's default node budget refused it).
    #[test]
    fn the_largest_command_line_round_trips_through_yaml() {
        let c = cli(
            &[
                "socks5://:2000-6095?admission=~10.0.0.0/8,127.0.0.1&bypass=a.com,.b.org\
               &limiter.in=1MB&limiter.out=2MB&rlimiter=10&climiter=5\
               &hosts=a:1.2.3.4,b:5.6.7.8&resolver=udp://127.0.0.1:53&udp=true",
            ],
            &[],
        );
        assert_eq!(c.services.len(), service::MAX_EXPANSION);
        let (again, _) = crate::from_yaml_str(&c.to_yaml()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn keys_go_where_they_are_read() {
        let c = cli(
            &["socks5+ws://:8080?path=/x&udp=true&foo=bar&listener.udp=1"],
            &[],
        );
        let s = &c.services[0];
        assert_eq!(s.handler.metadata.get("udp"), Some(&json!(true)));
        assert_eq!(s.listener.metadata.get("path"), Some(&json!("/x")));
        assert_eq!(s.listener.metadata.get("udp"), Some(&json!("1")));
        assert_eq!(s.metadata.get("foo"), Some(&json!("bar")));
        assert_eq!(s.handler.metadata.get("foo"), Some(&json!("bar")));
    }

    #[test]
    fn auth_from_query_overrides_userinfo() {
        let c = cli(&["socks5://a:b@:1080?auth=dXNlcjpwYXNz"], &[]);
        assert_eq!(
            c.services[0].handler.auth,
            Some(AuthConfig {
                username: "user".into(),
                password: "pass".into(),
                file: None,
            })
        );
    }

    #[test]
    fn nodes_form_one_chain() {
        let c = cli(
            &[":1080"],
            &[
                "socks5+tls://u:p@h1:443,h2:443?notls=true&maxFails=3",
                "socks4://h3:1080",
            ],
        );
        let chain = &c.chains[0];
        assert_eq!(chain.hops.len(), 2);
        assert_eq!(chain.hops[0].nodes.len(), 2);
        assert_eq!(
            chain.hops[0].nodes[1]
                .dialer
                .tls
                .as_ref()
                .unwrap()
                .server_name
                .as_deref(),
            Some("h2")
        );
        assert_eq!(chain.hops[0].selector.as_ref().unwrap().max_fails, Some(3));
        assert_eq!(chain.hops[1].nodes[0].connector.kind, "socks4");
        assert_eq!(c.services[0].handler.chain.as_deref(), Some("chain-0"));
    }

    #[test]
    fn typo_in_option_is_an_error() {
        let err = from_cli(&["socks5://:1080?udpBuferSize=1"], &[] as &[&str])
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `udpBufferSize`"), "{err}");
    }
}
