//! Property tests: no command line or config text makes the parsers panic, credentials and option
//! values of any content survive the URL grammar and a YAML round trip, and Go durations print and
//! parse back exactly; `climiters:` limit lines of any content parse or fail cleanly.

use std::time::Duration;

use gost_config::duration::{format_go_duration, parse_go_duration};
use gost_config::{from_cli, from_json_str, from_yaml_str, validate};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_flags_never_panic(l in ".{0,60}", f in ".{0,60}") {
        if let Ok((config, _)) = from_cli(&[l.as_str()], &[f.as_str()]) {
            let _ = validate(&config);
            let (again, _) = from_yaml_str(&config.to_yaml()).unwrap();
            prop_assert_eq!(again, config);
        }
    }

    #[test]
    fn url_shaped_flags_never_panic(
        scheme in "(socks5|socks4|tcp|udp|rtcp|rudp|auto|x)(\\+(tls|ws|wss|kcp|udp|y))?",
        host in "(|[a-z.]{1,10}|\\[::1\\]|1\\.2\\.3\\.4)",
        port in "[0-9-]{0,7}",
        path in "(|/[:0-9a-z,.-]{0,12})",
        query in "(|\\?[a-zA-Z.=&%0-9]{0,30})",
    ) {
        let arg = format!("{scheme}://{host}:{port}{path}{query}");
        if let Ok((config, _)) = from_cli(&[arg.as_str()], &[arg.as_str()]) {
            let _ = validate(&config);
        }
    }

    #[test]
    fn limit_lines_never_panic_and_read_canonically(
        scope in "(\\$|\\$\\$|[0-9.:a-f]{1,20}(/[0-9]{1,3})?|.{0,12})",
        limit in "(-?[0-9]{1,4}|.{0,6})",
    ) {
        let line = format!("{scope} {limit}");
        if let Ok(lines) = gost_config::climit::parse_lines(&[line.as_str()]) {
            for l in lines {
                prop_assert!(l.limit().is_none_or(|n| n > 0));
                if let gost_config::climit::LimitLine::Host { addr, .. } = l {
                    prop_assert_eq!(addr, addr.to_canonical());
                }
            }
        }
    }

    #[test]
    fn arbitrary_yaml_and_json_never_panic(text in "[ -~\\n]{0,120}") {
        let _ = from_yaml_str(&text).map(|(c, _)| validate(&c));
        let _ = from_json_str(&text).map(|(c, _)| validate(&c));
    }

    #[test]
    fn credentials_and_values_survive_cli_and_yaml(user in "\\PC{1,12}", pass in "\\PC{0,12}", value in "\\PC{0,16}") {
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let arg = format!("socks5://{}:{}@:1080?publicAddr={}", enc(&user), enc(&pass), enc(&value));
        let (config, _) = from_cli(&[arg.as_str()], &[] as &[&str]).unwrap();
        let auth = config.services[0].handler.auth.clone().unwrap();
        prop_assert_eq!(&auth.username, &user);
        prop_assert_eq!(&auth.password, &pass);
        let printed = config.to_yaml();
        let (again, _) = from_yaml_str(&printed).unwrap();
        prop_assert_eq!(&again, &config, "{}", printed);
        let (again, _) = from_json_str(&config.to_json()).unwrap();
        prop_assert_eq!(again, config);
    }

    #[test]
    fn go_durations_round_trip(nanos in 0u64..=i64::MAX as u64) {
        let text = format_go_duration(Duration::from_nanos(nanos));
        prop_assert_eq!(parse_go_duration(&text), Ok(i128::from(nanos)));
    }
}
