//! Bypass on chain hops and nodes, with upstream's client-side meaning, run as `gost` processes on
//! loopback. The proxy server in the chain refuses 127.0.0.3 (its own service-level bypass), so a
//! request for a target there only succeeds when the front does not send it through that server:
//! `-F …?bypass=127.0.0.3` (hop level) dials it directly, while other targets still go through the
//! server; in YAML, a node whose bypass covers the target is never picked for it.

mod support;

use std::net::SocketAddr;

use gost_test_support::servers::blocking::echo_server_on;
use support::{ConfigFile, Gost, Socks5Refusal, echo_round_trip, socks5_connect};

/// A SOCKS5 CONNECT to `target` through `proxy` and an echo through it; the reply code otherwise.
fn connect(proxy: SocketAddr, target: SocketAddr) -> Result<(), u8> {
    match socks5_connect([127, 0, 0, 1], proxy, None, target) {
        Ok(mut c) => {
            echo_round_trip(&mut c, "through the chain");
            Ok(())
        }
        Err(Socks5Refusal::Reply(code)) => Err(code),
        Err(refused) => panic!("{refused:?}"),
    }
}

/// A gost SOCKS5 server that refuses targets on 127.0.0.3 (REP 0x02) and serves the others.
fn server_refusing_127_0_0_3() -> (Gost, SocketAddr) {
    let mut server = Gost::spawn(&["-L", "socks5://127.0.0.1:0?bypass=127.0.0.3"]);
    let addr = server.addr("service-0");
    (server, addr)
}

#[test]
fn a_hop_bypass_on_the_command_line_dials_its_targets_directly() {
    let (inner, outer) = (
        echo_server_on([127, 0, 0, 3]),
        echo_server_on([127, 0, 0, 1]),
    );
    let (mut server, server_addr) = server_refusing_127_0_0_3();
    // Without the hop's bypass, the server refuses the target: the test's premise.
    let mut plain = Gost::spawn(&[
        "-L",
        "socks5://127.0.0.1:0",
        "-F",
        &format!("socks5://{server_addr}"),
    ]);
    assert!(connect(plain.addr("service-0"), inner).is_err());

    let node = format!("socks5://{server_addr}?bypass=127.0.0.3");
    let mut front = Gost::spawn(&["-L", "socks5://127.0.0.1:0", "-F", &node]);
    let proxy = front.addr("service-0");
    assert_eq!(
        connect(proxy, inner),
        Ok(()),
        "the bypassed target is dialled directly"
    );
    assert_eq!(
        connect(proxy, outer),
        Ok(()),
        "other targets go through the server"
    );
    server.wait_for(&["connection", &outer.to_string()]);
}

#[test]
fn a_node_whose_bypass_covers_the_target_is_never_picked() {
    let inner = echo_server_on([127, 0, 0, 3]);
    let (_refusing, refusing_addr) = server_refusing_127_0_0_3();
    let mut open = Gost::spawn(&["-L", "socks5://127.0.0.1:0"]);
    let open_addr = open.addr("service-0");
    let file = ConfigFile::new(&format!(
        "services:\n- name: front\n  addr: 127.0.0.1:0\n  handler: {{type: socks5, chain: c}}\n\
         chains:\n- name: c\n  hops:\n  - name: hop-0\n    nodes:\n\
         \x20   - name: refusing\n      addr: '{refusing_addr}'\n      connector: {{type: socks5}}\n      bypass: inner\n\
         \x20   - name: open\n      addr: '{open_addr}'\n      connector: {{type: socks5}}\n\
         bypasses:\n- name: inner\n  matchers: [127.0.0.3]\n"
    ));
    let mut front = Gost::spawn(&["-C", file.arg()]);
    let proxy = front.addr("front");
    // Round-robin would send every other request to the refusing node; its bypass keeps it out.
    for i in 0..4 {
        assert_eq!(connect(proxy, inner), Ok(()), "request {i}");
    }
    open.wait_for(&["connection", &inner.to_string()]);
}

#[test]
fn sighup_applies_a_changed_hop_bypass() {
    let inner = echo_server_on([127, 0, 0, 3]);
    let (_server, server_addr) = server_refusing_127_0_0_3();
    let config = |matcher: &str| {
        format!(
            "services:\n- name: front\n  addr: 127.0.0.1:{{port}}\n  handler: {{type: socks5, chain: c}}\n\
             chains:\n- name: c\n  hops:\n  - name: hop-0\n    bypass: direct\n    nodes:\n\
             \x20   - name: server\n      addr: '{server_addr}'\n      connector: {{type: socks5}}\n\
             bypasses:\n- name: direct\n  matchers: ['{matcher}']\n"
        )
    };
    let port = gost_test_support::servers::free_port().to_string();
    let file = ConfigFile::new(&config("127.0.0.9").replace("{port}", &port));
    let mut front = Gost::spawn(&["-C", file.arg()]);
    let proxy = front.addr("front");
    assert!(
        connect(proxy, inner).is_err(),
        "carried to the refusing server"
    );

    // Only the list the hop names changes; the service must still be rebuilt with it.
    file.write(&config("127.0.0.3").replace("{port}", &port));
    front.signal(gost_sys::process::Signal::Hup);
    front.wait_for(&["configuration reloaded"]);
    assert_eq!(
        connect(proxy, inner),
        Ok(()),
        "dialled directly after the reload"
    );
}
