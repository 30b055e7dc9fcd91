//! Fail closed, as an operator sees it: a command line or config file that uses an access-control option
//! gost-rs does not implement exits 2 naming the option and the service (also with `-O`), and a SIGHUP
//! reload that adds one is rejected while the running configuration keeps serving.

mod support;

use std::net::{SocketAddr, TcpStream};

use gost_sys::process::Signal;
use gost_test_support::servers::blocking::echo_server;
use support::{ConfigFile, Gost, PATIENCE, echo_round_trip};

/// Runs `gost ARGS`, expects exit status 2 with nothing listening, and returns the log.
fn refused(args: &[&str]) -> String {
    let mut gost = Gost::spawn(args);
    let status = gost.wait_exit(PATIENCE).expect("gost kept running");
    let log = gost.log.join("\n");
    assert_eq!(status.code(), Some(2), "{args:?}: {log}");
    assert!(
        !log.contains("listening"),
        "{args:?} started a service: {log}"
    );
    assert!(
        log.contains("grants or restricts access"),
        "{args:?}: {log}"
    );
    log
}

#[test]
fn command_line_access_options_not_built_exit_2() {
    // A hop-level rlimiter is not built (a service's `?rlimiter=` is).
    for (arg, option) in [("socks5://127.0.0.1:1?rlimiter=10", "`rlimiter`")] {
        for extra in [&[][..], &["-O", "yaml"][..]] {
            let mut args = vec!["-L", "socks5://127.0.0.1:0", "-F", arg];
            args.extend_from_slice(extra);
            let log = refused(&args);
            assert!(log.contains(option) && log.contains(arg), "{log}");
        }
    }
}

#[test]
fn config_file_access_options_not_built_exit_2() {
    let cases = [
        (
            "services:\n- name: fwd\n  addr: 127.0.0.1:0\n  limiter: office\n  handler: {type: udp}\n  \
             listener: {type: udp}\n  forwarder: {nodes: [{name: t, addr: 127.0.0.1:53}]}\n\
             limiters:\n- name: office\n  plugin: {type: http, addr: http://127.0.0.1:8000/limiter}\n",
            "limiters[0](office): `plugin`",
        ),
        (
            "services:\n- name: proxy\n  addr: 127.0.0.1:0\n  handler: {type: socks5, auther: users}\n\
             authers:\n- name: users\n  plugin: {type: grpc, addr: 127.0.0.1:8000}\n",
            "auther `users`: `plugin.type grpc`",
        ),
    ];
    for (yaml, named) in cases {
        let file = ConfigFile::new(yaml);
        for extra in [&[][..], &["-O", "json"][..]] {
            let mut args = vec!["-C", file.arg()];
            args.extend_from_slice(extra);
            let log = refused(&args);
            assert!(log.contains(named), "{log}");
        }
    }
}

fn forward_service(port: u16, target: SocketAddr, extra: &str) -> String {
    format!(
        "services:\n- name: fwd\n  addr: 127.0.0.1:{port}\n{extra}  handler: {{type: tcp}}\n  listener: {{type: tcp}}\n  \
         forwarder:\n    nodes:\n    - name: target\n      addr: {target}\n"
    )
}

#[test]
fn reload_adding_an_access_option_not_built_is_rejected_and_the_old_config_keeps_serving() {
    let echo = echo_server();
    let port = gost_test_support::free_port();
    let file = ConfigFile::new(&forward_service(port, echo, ""));
    let mut gost = Gost::spawn(&["-C", file.arg()]);
    gost.addr("fwd");
    let mut live = TcpStream::connect(("127.0.0.1", port)).unwrap();
    echo_round_trip(&mut live, "before reload");

    file.write(&forward_service(port, echo, "  bypass: internal\n"));
    gost.signal(Signal::Hup);
    let line = gost.wait_for(&["reload failed"]);
    assert!(
        line.contains("bypass") && line.contains("grants or restricts access"),
        "{line}"
    );
    echo_round_trip(&mut live, "after the rejected reload");
    let mut fresh = TcpStream::connect(("127.0.0.1", port)).unwrap();
    echo_round_trip(&mut fresh, "new connection after the rejected reload");
}
