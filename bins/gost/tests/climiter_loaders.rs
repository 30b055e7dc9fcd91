//! `climiters:` with loaders, as an operator runs them: the concurrent-connection limits come from a
//! file, a Redis set (merged with the inline lines) or an HTTP URL, re-read every second. A raised
//! limit lets a second concurrent client in, a lowered one refuses new clients while live ones keep
//! running; a source that goes away keeps the last good limits; a climiter whose source was never read
//! refuses every client (fail closed).

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gost_test_support::Redis;
use gost_test_support::servers::blocking::echo_server;
use support::{
    ConfigFile, Gost, Socks5Refusal, echo_round_trip, read_request_head, serve_each, socks5_connect,
};

/// How long a change may take to be seen: several reload periods of 1 s on a loaded machine.
const RELOAD_PATIENCE: Duration = Duration::from_secs(15);

/// A SOCKS5 service `proxy` limited by climiter `c`, whose `source` lines follow `limits`.
fn config(limits: &[&str], source: &str) -> String {
    let limits: Vec<String> = limits.iter().map(|l| format!("'{l}'")).collect();
    format!(
        "services:\n- name: proxy\n  addr: 127.0.0.1:0\n  climiter: c\n  handler: {{type: socks5}}\n\
         climiters:\n- name: c\n  limits: [{}]\n  reload: 1s\n  {source}\n",
        limits.join(", ")
    )
}

/// A client through `proxy` to `echo`: the relayed connection, or `None` when the proxy closed it
/// before its method reply (a climiter refusal).
fn client(proxy: SocketAddr, echo: SocketAddr) -> Option<TcpStream> {
    match socks5_connect([127, 0, 0, 1], proxy, None, echo) {
        Ok(mut c) => {
            echo_round_trip(&mut c, "ping");
            Some(c)
        }
        Err(Socks5Refusal::Closed) => None,
        Err(other) => panic!("CONNECT refused: {other:?}"),
    }
}

/// Tries a new client until one is relayed (bounded by [`RELOAD_PATIENCE`]).
fn until_accepted(proxy: SocketAddr, echo: SocketAddr, what: &str) -> TcpStream {
    let deadline = Instant::now() + RELOAD_PATIENCE;
    loop {
        if let Some(c) = client(proxy, echo) {
            return c;
        }
        assert!(Instant::now() < deadline, "{what}: still refused");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Tries new clients, each of which must be refused, until a refusal is logged with `limit` (the
/// service applies a reloaded, lower limit). Refusals are logged at most once per 5 s.
fn until_refused_at(gost: &mut Gost, proxy: SocketAddr, echo: SocketAddr, limit: usize) {
    let seen = gost.log.len();
    let needle = format!("limit={limit}");
    let deadline = Instant::now() + RELOAD_PATIENCE + Duration::from_secs(5);
    loop {
        assert!(
            client(proxy, echo).is_none(),
            "a client over the limit was served"
        );
        gost.drain_log();
        let logged = gost.log[seen..]
            .iter()
            .any(|l| l.contains("connection limit reached") && l.contains(&needle));
        if logged {
            return;
        }
        assert!(Instant::now() < deadline, "no refusal at {needle}");
    }
}

/// With `held` live connections and the service at its `$ N` limit, a new client is refused; once
/// one of them ends, a new client is accepted.
fn assert_full_then_freed(
    proxy: SocketAddr,
    echo: SocketAddr,
    mut held: Vec<TcpStream>,
    what: &str,
) -> Vec<TcpStream> {
    assert!(client(proxy, echo).is_none(), "{what}: over the limit");
    drop(held.pop());
    held.push(until_accepted(proxy, echo, what));
    held
}

#[test]
fn a_file_limit_raised_lets_a_second_client_in_and_a_removed_file_keeps_it() {
    let echo = echo_server();
    let limits = ConfigFile::new("# service-wide\n$ 1\n");
    let file = ConfigFile::new(&config(&[], &format!("file: {{path: '{}'}}", limits.arg())));
    let mut gost = Gost::spawn(&["-C", file.arg()]);
    let proxy = gost.addr("proxy");

    let first = client(proxy, echo).expect("the first client is served");
    assert!(client(proxy, echo).is_none(), "`$ 1`: a second is refused");
    gost.wait_for(&["connection limit reached", "scope=\"service\"", "limit=1"]);

    limits.write("$ 2\n");
    let second = until_accepted(proxy, echo, "`$ 2` read from the file");
    let held = vec![first, second];
    let held = assert_full_then_freed(proxy, echo, held, "`$ 2`");

    // The file goes away: the limits read last stay in force.
    std::fs::remove_file(limits.arg()).unwrap();
    gost.wait_for(&["cannot read source", "keeping its last good data"]);
    let mut held = assert_full_then_freed(proxy, echo, held, "`$ 2` kept");

    // A lowered limit refuses new clients; the live ones keep relaying and their slots, so a new
    // client waits until both have ended.
    limits.write("$ 1\n");
    until_refused_at(&mut gost, proxy, echo, 1);
    for (i, c) in held.iter_mut().enumerate() {
        echo_round_trip(c, &format!("live connection {i}"));
    }
    drop(held.pop());
    assert_full_then_freed(proxy, echo, held, "`$ 1` with one live connection");
}

#[test]
fn a_redis_set_adds_to_the_inline_lines_and_redis_going_away_keeps_them() {
    let Some(redis) = Redis::start() else { return };
    let key = "gost:climiters:c";
    redis.cli(&["SADD", key, "$ 1"]);
    let echo = echo_server();
    let source = format!("redis: {{addr: '127.0.0.1:{}', key: '{key}'}}", redis.port);
    // The inline `$$ 5` leaves room: the Redis line decides.
    let file = ConfigFile::new(&config(&["$$ 5"], &source));
    let mut gost = Gost::spawn(&["-C", file.arg()]);
    let proxy = gost.addr("proxy");

    let first = client(proxy, echo).expect("the first client is served");
    assert!(client(proxy, echo).is_none(), "`$ 1` from Redis");
    // One step, so that no reload sees the set without a `$` line.
    let swap = "redis.call('SREM', KEYS[1], '$ 1'); return redis.call('SADD', KEYS[1], '$ 2')";
    assert_eq!(redis.cli(&["EVAL", swap, "1", key]), "1");
    let second = until_accepted(proxy, echo, "`$ 2` from Redis");
    let held = assert_full_then_freed(proxy, echo, vec![first, second], "`$ 2`");

    drop(redis);
    gost.wait_for(&["cannot read source", "keeping its last good data"]);
    assert_full_then_freed(proxy, echo, held, "`$ 2` kept without Redis");
}

/// An HTTP server answering 200 with the body set in the returned handle, or 503 while it is `None`.
fn limits_url() -> (String, Arc<Mutex<Option<String>>>) {
    let body: Arc<Mutex<Option<String>>> = Arc::default();
    let served = body.clone();
    let addr = serve_each(move |mut conn| {
        if !read_request_head(&mut conn) {
            return;
        }
        let answer = match served.lock().unwrap().clone() {
            Some(b) => format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                b.len()
            ),
            None => {
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_owned()
            }
        };
        let _ = conn.write_all(answer.as_bytes());
    });
    (format!("http://{addr}/climits"), body)
}

#[test]
fn an_http_climiter_refuses_everyone_until_first_read_then_keeps_its_last_good_limits() {
    let echo = echo_server();
    let (url, body) = limits_url();
    let file = ConfigFile::new(&config(
        &[],
        &format!("http: {{url: '{url}', timeout: 2s}}"),
    ));
    let mut gost = Gost::spawn(&["-C", file.arg()]);
    let proxy = gost.addr("proxy");

    // Never read: fail closed.
    assert!(
        client(proxy, echo).is_none(),
        "served before the limits were read"
    );
    gost.wait_for(&["connection limits not loaded yet"]);

    *body.lock().unwrap() = Some("$ 1\n".into());
    let first = until_accepted(proxy, echo, "`$ 1` read over HTTP");
    assert!(client(proxy, echo).is_none(), "`$ 1` over HTTP");

    // The server fails: the last good `$ 1` stays.
    *body.lock().unwrap() = None;
    gost.wait_for(&["cannot read source", "keeping its last good data"]);
    assert_full_then_freed(proxy, echo, vec![first], "`$ 1` kept");
}
