//! Access options follow a SIGHUP reload: after the auther's user is changed in the configuration
//! file, the old credentials are refused and the new ones accepted, with the same `gost` process.
//! (A reload adding an access option gost-rs does not build is rejected while the old configuration
//! keeps serving: `access_options_not_built_refuse_to_start`.)

mod support;

use std::net::SocketAddr;

use gost_sys::process::Signal;
use gost_test_support::servers::blocking::echo_server;
use gost_test_support::servers::free_port;
use support::{ConfigFile, Gost, Socks5Refusal, echo_round_trip, socks5_connect};

fn config(port: u16, user: &str, pass: &str) -> String {
    format!(
        "services:\n- name: socks\n  addr: 127.0.0.1:{port}\n  handler: {{type: socks5, auther: users}}\n\
         authers:\n- name: users\n  auths:\n  - {{username: {user}, password: {pass}}}\n"
    )
}

/// A SOCKS5 CONNECT to `target` with `user`/`pass`: whether the proxy accepted the credentials (and
/// then relayed an echo).
fn logs_in(proxy: SocketAddr, user: &str, pass: &str, target: SocketAddr) -> bool {
    match socks5_connect([127, 0, 0, 1], proxy, Some((user, pass)), target) {
        Ok(mut c) => {
            echo_round_trip(&mut c, "logged in");
            true
        }
        Err(Socks5Refusal::Auth) => false,
        Err(refused) => panic!("{refused:?}"),
    }
}

#[test]
fn sighup_applies_a_changed_auther_user() {
    let echo = echo_server();
    let port = free_port();
    let file = ConfigFile::new(&config(port, "alice", "old-secret"));
    let mut gost = Gost::spawn(&["-C", file.arg()]);
    let proxy = gost.addr("socks");
    assert!(logs_in(proxy, "alice", "old-secret", echo));
    assert!(!logs_in(proxy, "bob", "new-secret", echo));

    file.write(&config(port, "bob", "new-secret"));
    gost.signal(Signal::Hup);
    gost.wait_for(&["configuration reloaded"]);
    assert!(
        !logs_in(proxy, "alice", "old-secret", echo),
        "the old user still logs in after the reload"
    );
    assert!(logs_in(proxy, "bob", "new-secret", echo));
}
