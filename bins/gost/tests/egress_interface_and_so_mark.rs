//! Egress (`interface`, `so_mark`), as the target sees it on loopback: with `interface=127.0.0.9` a
//! SOCKS5 CONNECT through the service reaches the target from 127.0.0.9 (command line, YAML field and
//! YAML metadata), and so does a `udp://` forwarder's datagram; a chain node's `interface` (on `-F`, a
//! YAML hop or node) makes the node see the connection from 127.0.0.9; a device name (`lo`) and
//! `so_mark` are applied (root here; without the capabilities the dial fails naming the option);
//! values that cannot be honoured stop gost with exit status 2.

mod support;

use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsFd;

use support::{ConfigFile, Gost, PATIENCE, Socks5Refusal, field, socks5_connect};

const EGRESS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 9));

/// SOCKS5 CONNECT through `proxy` to a fresh loopback listener; the source address the target saw.
fn source_seen_by_target(proxy: SocketAddr) -> IpAddr {
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let rep = connect_reply(proxy, target.local_addr().unwrap());
    assert_eq!(rep, 0, "CONNECT succeeds");
    let (_conn, peer) = target.accept().unwrap();
    peer.ip()
}

/// The REP field of a SOCKS5 CONNECT through `proxy` to `to`.
fn connect_reply(proxy: SocketAddr, to: SocketAddr) -> u8 {
    match socks5_connect([127, 0, 0, 1], proxy, None, to) {
        Ok(_) => 0,
        Err(Socks5Refusal::Reply(code)) => code,
        Err(e) => panic!("CONNECT through {proxy}: {e:?}"),
    }
}

#[test]
fn direct_connections_leave_from_the_interface_address() {
    let mut plain = Gost::spawn(&["-L", "socks5://127.0.0.1:0"]);
    let ip = source_seen_by_target(plain.addr("service-0"));
    assert_eq!(ip, IpAddr::from([127, 0, 0, 1]), "without interface");

    let mut cli = Gost::spawn(&["-L", "socks5://127.0.0.1:0?interface=127.0.0.9"]);
    assert_eq!(source_seen_by_target(cli.addr("service-0")), EGRESS, "CLI");

    for (what, egress) in [
        ("YAML field", "  interface: 127.0.0.9\n"),
        ("YAML metadata", "  metadata: {interface: 127.0.0.9}\n"),
    ] {
        let config = ConfigFile::new(&format!(
            "services:\n- name: s\n  addr: 127.0.0.1:0\n{egress}  handler: {{type: socks5}}\n"
        ));
        let mut gost = Gost::spawn(&["-C", config.arg()]);
        assert_eq!(source_seen_by_target(gost.addr("s")), EGRESS, "{what}");
    }
}

#[test]
fn a_device_name_and_a_mark_are_applied() {
    // With CAP_NET_RAW and CAP_NET_ADMIN (root here) both apply and the target is reached; without
    // them the dial fails and the log names the option.
    let probe = TcpListener::bind("127.0.0.1:0").unwrap();
    let capable = gost_sys::sockopt::set_mark(probe.as_fd(), 7).is_ok()
        && gost_sys::sockopt::bind_device(probe.as_fd(), "lo").is_ok();
    let mut gost = Gost::spawn(&["-L", "socks5://127.0.0.1:0?interface=lo&so_mark=7"]);
    let proxy = gost.addr("service-0");
    if capable {
        assert_eq!(source_seen_by_target(proxy), IpAddr::from([127, 0, 0, 1]));
        gost.wait_connection_ok();
    } else {
        assert_ne!(connect_reply(proxy, probe.local_addr().unwrap()), 0);
        let line = gost.wait_for(&["connection", "outcome="]);
        assert!(
            line.contains("interface lo") || line.contains("so_mark 7"),
            "{line}"
        );
    }
}

#[test]
fn a_udp_forwarder_sends_from_the_interface_address() {
    let target = UdpSocket::bind("127.0.0.1:0").unwrap();
    target.set_read_timeout(Some(PATIENCE)).unwrap();
    let to = target.local_addr().unwrap();
    let arg = format!("udp://127.0.0.1:0/{to}?interface=127.0.0.9");
    let mut gost = Gost::spawn(&["-L", &arg]);
    let port = gost.addr("service-0");
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.send_to(b"ping", port).unwrap();
    let mut buf = [0u8; 8];
    let (n, from) = target.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from.ip()), (&b"ping"[..], EGRESS));
}

/// The chain node (a second gost) logs the client address it saw.
fn node_saw(near_args: &[&str], far: &mut Gost) -> String {
    let mut near = Gost::spawn(near_args);
    let name = match near_args.contains(&"-C") {
        true => "s",
        false => "service-0",
    };
    let proxy = near.addr(name);
    source_seen_by_target(proxy);
    let line = far.wait_connection_ok();
    field(&line, "client").unwrap().to_owned()
}

#[test]
fn a_chain_node_is_reached_from_its_interface_address() {
    let mut far = Gost::spawn(&["-L", "socks5://127.0.0.1:0"]);
    let far_addr = far.addr("service-0");
    let node = format!("socks5://{far_addr}?interface=127.0.0.9");
    let client = node_saw(&["-L", "socks5://127.0.0.1:0", "-F", &node], &mut far);
    assert!(client.starts_with("127.0.0.9:"), "CLI: {client}");

    for (what, hop, node) in [
        ("YAML hop", "    interface: 127.0.0.9\n", ""),
        ("YAML node", "", "      interface: 127.0.0.9\n"),
        (
            "YAML node metadata",
            "",
            "      metadata: {interface: 127.0.0.9}\n",
        ),
    ] {
        let config = ConfigFile::new(&format!(
            "services:\n- name: s\n  addr: 127.0.0.1:0\n  handler: {{type: socks5, chain: c}}\n\
             chains:\n- name: c\n  hops:\n  - name: h\n{hop}    nodes:\n    - name: n\n      \
             addr: {far_addr}\n{node}      connector: {{type: socks5}}\n"
        ));
        let client = node_saw(&["-C", config.arg()], &mut far);
        assert!(client.starts_with("127.0.0.9:"), "{what}: {client}");
    }
}

#[test]
fn options_that_cannot_be_honoured_exit_2() {
    for (args, needle) in [
        (
            vec!["-L", "socks5://127.0.0.1:0?so_mark=-1"],
            "metadata.so_mark",
        ),
        (
            vec!["-L", "socks5://127.0.0.1:0?interface=10.0.0.1,10.0.0.2"],
            "lists of several are not supported",
        ),
        (
            vec![
                "-L",
                "socks5://127.0.0.1:0",
                "-F",
                "socks5+kcp://127.0.0.1:1?interface=127.0.0.9",
            ],
            "kcp dialer",
        ),
    ] {
        let mut gost = Gost::spawn(&args);
        let status = gost.wait_exit(PATIENCE).expect("gost kept running");
        let log = gost.log.join("\n");
        assert_eq!(status.code(), Some(2), "{args:?}: {log}");
        assert!(log.contains(needle), "{args:?}: {log}");
    }
}
