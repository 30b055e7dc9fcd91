//! Access options follow a SIGHUP reload: after the auther's user is changed in the configuration
//! file, the old credentials are refused and the new ones accepted, with the same `gost` process.
//! (A reload adding an access option gost-rs does not build is rejected while the old configuration
//! keeps serving: `access_options_not_built_refuse_to_start`.)

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use gost_sys::process::Signal;
use gost_test_support::servers::blocking::echo_server;
use gost_test_support::servers::free_port;
use support::{ConfigFile, Gost, PATIENCE, echo_round_trip};

fn config(port: u16, user: &str, pass: &str) -> String {
    format!(
        "services:\n- name: socks\n  addr: 127.0.0.1:{port}\n  handler: {{type: socks5, auther: users}}\n\
         authers:\n- name: users\n  auths:\n  - {{username: {user}, password: {pass}}}\n"
    )
}

/// A SOCKS5 CONNECT to `target` with `user`/`pass`: whether the proxy accepted the credentials (and
/// then relayed an echo).
fn logs_in(proxy: SocketAddr, user: &str, pass: &str, target: SocketAddr) -> bool {
    let mut c = TcpStream::connect(proxy).unwrap();
    c.set_read_timeout(Some(PATIENCE)).unwrap();
    c.write_all(&[5, 1, 2]).unwrap();
    let mut m = [0u8; 2];
    c.read_exact(&mut m).unwrap();
    assert_eq!(m, [5, 2]);
    let mut msg = vec![1, user.len() as u8];
    msg.extend_from_slice(user.as_bytes());
    msg.push(pass.len() as u8);
    msg.extend_from_slice(pass.as_bytes());
    c.write_all(&msg).unwrap();
    c.read_exact(&mut m).unwrap();
    if m[1] != 0 {
        return false;
    }
    let SocketAddr::V4(t) = target else {
        unreachable!()
    };
    let mut req = vec![5, 1, 0, 1];
    req.extend_from_slice(&t.ip().octets());
    req.extend_from_slice(&t.port().to_be_bytes());
    c.write_all(&req).unwrap();
    let mut reply = [0u8; 10];
    c.read_exact(&mut reply).unwrap();
    assert_eq!(reply[1], 0, "CONNECT reply");
    echo_round_trip(&mut c, "logged in");
    true
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
