//! Access control as an operator runs it: two gost processes share one real `redis-server` (users in a
//! hash, an admission blacklist in a set, reload 1 s): a user added there is accepted by both, a
//! removed one refused by both, an IP added to the blacklist refused by both while other clients are
//! served; services of one process naming one auther share its Redis connection, across reloads; and
//! the command line's `?bypass=` / `?admission=~` / `?skipauth=` with curl.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gost_sys::process::Signal;
use gost_test_support::Redis;
use gost_test_support::have_program;
use gost_test_support::servers::blocking::{echo_server, http_server};
use gost_test_support::servers::free_port;
use support::{
    ConfigFile, Gost, PATIENCE, Socks5Refusal, assert_body, curl, echo_round_trip, socks5_connect,
};

fn config(redis: u16) -> String {
    format!(
        "services:\n- name: socks\n  addr: 127.0.0.1:0\n  admission: blocked\n  handler:\n    type: socks5\n    auther: fleet\n\
         authers:\n- name: fleet\n  reload: 1s\n  redis: {{addr: 127.0.0.1:{redis}, key: 'gost:authers:fleet'}}\n\
         admissions:\n- name: blocked\n  reload: 1s\n  redis: {{addr: 127.0.0.1:{redis}, key: 'gost:admissions:blocked'}}\n"
    )
}

#[derive(Debug, PartialEq)]
enum Outcome {
    /// CONNECT succeeded and the echo came back.
    Relayed,
    /// RFC 1929 status 1.
    AuthRefused,
    /// Closed before the method reply.
    Closed,
}

/// A SOCKS5 CONNECT to `target` from `from` with `user`/`pass`.
fn attempt(
    from: [u8; 4],
    proxy: SocketAddr,
    user: &str,
    pass: &str,
    target: SocketAddr,
) -> Outcome {
    match socks5_connect(from, proxy, Some((user, pass)), target) {
        Ok(mut c) => {
            echo_round_trip(&mut c, "ping");
            Outcome::Relayed
        }
        Err(Socks5Refusal::Closed) => Outcome::Closed,
        Err(Socks5Refusal::Auth) => Outcome::AuthRefused,
        Err(refused) => panic!("CONNECT refused: {refused:?}"),
    }
}

/// Retries `check` until it holds for both proxies (bounded: several reload periods).
fn on_both(proxies: &[SocketAddr; 2], check: impl Fn(SocketAddr) -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    for p in proxies {
        while !check(*p) {
            assert!(Instant::now() < deadline, "{what}: not seen on {p}");
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

#[test]
fn two_gost_processes_share_users_and_a_blacklist_through_redis() {
    let Some(redis) = Redis::start() else { return };
    let echo = echo_server();
    let file = ConfigFile::new(&config(redis.port));
    let mut a = Gost::spawn(&["-C", file.arg()]);
    let mut b = Gost::spawn(&["-C", file.arg()]);
    let proxies = [a.addr("socks"), b.addr("socks")];
    let local = [127, 0, 0, 1];
    for p in proxies {
        assert_eq!(
            attempt(local, p, "alice", "s3cret", echo),
            Outcome::AuthRefused
        );
    }
    redis.cli(&["HSET", "gost:authers:fleet", "alice", "s3cret", "bob", "pw"]);
    on_both(
        &proxies,
        |p| attempt(local, p, "alice", "s3cret", echo) == Outcome::Relayed,
        "user added",
    );
    redis.cli(&["HDEL", "gost:authers:fleet", "alice"]);
    on_both(
        &proxies,
        |p| attempt(local, p, "alice", "s3cret", echo) == Outcome::AuthRefused,
        "user removed",
    );
    assert_eq!(
        attempt(local, proxies[0], "bob", "pw", echo),
        Outcome::Relayed
    );

    redis.cli(&["SADD", "gost:admissions:blocked", "127.0.0.2"]);
    on_both(
        &proxies,
        |p| attempt([127, 0, 0, 2], p, "bob", "pw", echo) == Outcome::Closed,
        "IP blacklisted",
    );
    for p in proxies {
        assert_eq!(
            attempt(local, p, "bob", "pw", echo),
            Outcome::Relayed,
            "others still served"
        );
    }
    for g in [&mut a, &mut b] {
        g.wait_for(&["client refused", "admission", "127.0.0.2:"]);
    }
}

/// Services on `ports` (named `s0`, `s1`, …) naming Redis-backed auther `fleet`, re-read every
/// `reload`.
fn shared_config(redis: u16, ports: &[u16], reload: &str) -> String {
    let mut text = String::from("services:\n");
    for (i, port) in ports.iter().enumerate() {
        text.push_str(&format!(
            "- name: s{i}\n  addr: 127.0.0.1:{port}\n  handler: {{type: socks5, auther: fleet}}\n"
        ));
    }
    text.push_str(&format!(
        "authers:\n- name: fleet\n  reload: {reload}\n  redis: {{addr: 127.0.0.1:{redis}, key: 'gost:authers:fleet'}}\n"
    ));
    text
}

#[test]
fn services_naming_one_auther_share_one_redis_connection_across_reloads() {
    let Some(redis) = Redis::start() else { return };
    redis.cli(&["HSET", "gost:authers:fleet", "alice", "s3cret"]);
    let echo = echo_server();
    let ports = [free_port(), free_port(), free_port()];
    let file = ConfigFile::new(&shared_config(redis.port, &ports[..2], "1s"));
    let mut g = Gost::spawn(&["-C", file.arg()]);
    let local = [127, 0, 0, 1];
    let proxies = [g.addr("s0"), g.addr("s1")];
    for p in proxies {
        assert_eq!(attempt(local, p, "alice", "s3cret", echo), Outcome::Relayed);
        assert_eq!(
            attempt(local, p, "alice", "wrong", echo),
            Outcome::AuthRefused
        );
    }
    let first = redis.client_ids();
    assert_eq!(
        first.len(),
        1,
        "one connection for both services: {first:?}"
    );

    // A service added by a reload gets the same auther: no new connection.
    file.write(&shared_config(redis.port, &ports, "1s"));
    g.signal(Signal::Hup);
    g.wait_for(&["configuration reloaded", "started=1"]);
    let added = g.addr("s2");
    redis.cli(&["HSET", "gost:authers:fleet", "bob", "pw"]);
    on_both(
        &[proxies[0], added],
        |p| attempt(local, p, "bob", "pw", echo) == Outcome::Relayed,
        "user added after the reload",
    );
    assert_eq!(
        redis.client_ids(),
        first,
        "the unchanged auther kept its loader"
    );

    // A changed auther is started afresh, once, and the old loader's connection goes away.
    file.write(&shared_config(redis.port, &ports, "2s"));
    g.signal(Signal::Hup);
    g.wait_for(&["configuration reloaded", "stopped=3"]);
    let ids = redis.wait_clients("old connection closed, one new", |ids| {
        ids.len() == 1 && ids != first.as_slice()
    });
    for p in [proxies[0], proxies[1], added] {
        assert_eq!(attempt(local, p, "bob", "pw", echo), Outcome::Relayed);
        assert_eq!(
            attempt(local, p, "bob", "wrong", echo),
            Outcome::AuthRefused
        );
    }
    assert_eq!(redis.client_ids(), ids);
}

#[test]
fn command_line_bypass_admission_and_skipauth_with_curl() {
    if !have_program("curl", "curl") {
        return;
    }
    let web = http_server(PATIENCE);
    let url = format!("http://{web}/");
    // Blacklisted target: refused with REP 0x02, never dialled.
    let mut g = Gost::spawn(&["-L", &format!("socks5://127.0.0.1:0?bypass={}", web.ip())]);
    let proxy = g.addr("service-0");
    let out = curl(&["--socks5", &proxy.to_string()], &url);
    assert!(!out.status.success(), "bypassed target was served");
    g.wait_for(&["error_kind", "bypass"]);
    // Whitelist admission: 127.0.0.1 is in, so curl is served.
    let mut g = Gost::spawn(&["-L", "socks5://127.0.0.1:0?admission=~127.0.0.1,10.0.0.0/8"]);
    let proxy = g.addr("service-0");
    assert_body(
        &curl(&["--socks5", &proxy.to_string()], &url),
        "whitelisted client",
    );
    let mut g = Gost::spawn(&["-L", "socks5://127.0.0.1:0?admission=~10.0.0.0/8"]);
    let proxy = g.addr("service-0");
    assert!(
        !curl(&["--socks5", &proxy.to_string()], &url)
            .status
            .success()
    );
    g.wait_for(&["client refused", "admission"]);
    // skipauth: any credentials from 127.0.0.1 pass; the user list still applies elsewhere.
    let mut g = Gost::spawn(&["-L", "socks5://alice:s3cret@127.0.0.1:0?skipauth=127.0.0.1"]);
    let proxy = g.addr("service-0");
    assert_body(
        &curl(
            &[
                "--socks5",
                &proxy.to_string(),
                "--proxy-user",
                "anyone:wrong",
            ],
            &url,
        ),
        "skipauth client",
    );
}
