//! `auth: {file: …}` on a node's connector, as upstream: the file's first `user password` entry is
//! the credential the node is sent. Two `gost` processes on loopback: a SOCKS5 server with one user,
//! and a front whose chain node reads that user from a file (comments and blank lines before it).

mod support;

use std::net::SocketAddr;

use gost_test_support::servers::blocking::echo_server;
use support::{ConfigFile, Gost, PATIENCE, Socks5Refusal, echo_round_trip, socks5_connect};

fn front_config(server: SocketAddr, file: &str) -> String {
    format!(
        "services:\n- name: front\n  addr: 127.0.0.1:0\n  handler: {{type: socks5, chain: c}}\n\
         chains:\n- name: c\n  hops:\n  - name: hop-0\n    nodes:\n    - name: server\n      \
         addr: '{server}'\n      connector:\n        type: socks5\n        auth: {{file: '{file}'}}\n"
    )
}

/// A SOCKS5 CONNECT to `target` through `proxy` (no credentials); the reply code.
fn connect(proxy: SocketAddr, target: SocketAddr) -> u8 {
    match socks5_connect([127, 0, 0, 1], proxy, None, target) {
        Ok(mut c) => {
            echo_round_trip(&mut c, "with the file's credential");
            0
        }
        Err(Socks5Refusal::Reply(code)) => code,
        Err(refused) => panic!("{refused:?}"),
    }
}

#[test]
fn a_connector_takes_its_credential_from_the_first_entry_of_a_file() {
    let echo = echo_server();
    // `node\user:p@ss word`, base64 as upstream's `?auth=` takes it.
    let listen = "socks5://127.0.0.1:0?auth=bm9kZVx1c2VyOnBAc3Mgd29yZA==";
    let mut server = Gost::spawn(&["-L", listen]);
    let server_addr = server.addr("service-0");
    // The credentials file (any name will do): comments and blank lines are skipped.
    let users = ConfigFile::new("# the upstream proxy\n\nnode\\user\tp@ss word\nsomeone else\n");
    let file = ConfigFile::new(&front_config(server_addr, users.arg()));
    let mut front = Gost::spawn(&["-C", file.arg()]);
    assert_eq!(
        connect(front.addr("front"), echo),
        0,
        "CONNECT through the node"
    );
    server.wait_connection_ok();

    // The second entry is not the one sent: with it first, the server refuses the login.
    users.write("someone else\nnode\\user p@ss word\n");
    let mut wrong = Gost::spawn(&["-C", file.arg()]);
    assert_ne!(connect(wrong.addr("front"), echo), 0);

    // A file that cannot be read stops the start.
    let missing = ConfigFile::new(&front_config(server_addr, "/nonexistent/credentials"));
    let mut refused = Gost::spawn(&["-C", missing.arg()]);
    let status = refused.wait_exit(PATIENCE).expect("gost exits");
    assert!(!status.success());
    assert!(
        refused
            .log
            .iter()
            .any(|l| l.contains("connector.auth.file")),
        "{}",
        refused.log.join("\n")
    );
}
