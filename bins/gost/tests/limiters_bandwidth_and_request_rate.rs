//! `limiter` and `rlimiter` end to end: a 1 MiB download through a service limited to 256 KB/s out
//! takes about 4 s (command line and YAML, service and IP scopes) while one through an unlimited
//! service of the same process is fast; a client over `rlimiter` is closed at once, logged at a
//! bounded rate.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::{BLOB_SIZE, ConfigFile, Gost, PATIENCE, assert_limited, blob_server, curl};

/// Downloads the blob through the SOCKS5 proxy `proxy`; returns how long it took.
fn download(proxy: SocketAddr, web: SocketAddr) -> Duration {
    let start = Instant::now();
    let out = curl(
        &[
            "--socks5",
            &proxy.to_string(),
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
        ],
        &format!("http://{web}/blob"),
    );
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), BLOB_SIZE.to_string());
    took
}

#[test]
fn a_download_keeps_to_limiter_out_and_an_unlimited_one_does_not() {
    let web = blob_server();
    let mut gost = Gost::spawn(&[
        "-L",
        "socks5://127.0.0.1:0?limiter.out=256KB",
        "-L",
        "socks5://127.0.0.1:0",
    ]);
    let (limited, free) = (gost.addr("service-0"), gost.addr("service-1"));
    let yaml = ConfigFile::new(
        "services:\n\
         - name: by-ip\n  addr: 127.0.0.1:0\n  handler: {type: socks5, limiter: per-ip}\n\
         limiters:\n\
         - name: per-ip\n  limits: ['$ 0', '127.0.0.0/8 0 256KB']\n",
    );
    let mut from_yaml = Gost::spawn(&["-C", yaml.arg()]);
    let by_ip = from_yaml.addr("by-ip");

    let fast = download(free, web);
    assert!(
        fast < Duration::from_secs(2),
        "unlimited download took {fast:?}"
    );
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| download(limited, web));
        let b = s.spawn(|| download(by_ip, web));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_limited(a, "limiter.out on the command line");
    assert_limited(b, "an IP scope in limiters:");
    let fast = download(free, web);
    assert!(
        fast < Duration::from_secs(2),
        "unlimited download took {fast:?}"
    );
}

/// Opens a connection and sends a SOCKS5 greeting; `true` when the method reply comes back, `false`
/// when the proxy closes the connection instead.
fn greeted(proxy: SocketAddr) -> bool {
    let mut c = TcpStream::connect(proxy).unwrap();
    c.set_read_timeout(Some(PATIENCE)).unwrap();
    let _ = c.write_all(&[5, 1, 0]);
    let mut reply = [0u8; 2];
    match c.read(&mut reply) {
        Ok(2) => reply == [5, 0],
        Ok(0) | Err(_) => false,
        Ok(n) => panic!("{n}-byte reply"),
    }
}

#[test]
fn a_client_over_rlimiter_is_closed_at_once_and_logged_at_a_bounded_rate() {
    let mut gost = Gost::spawn(&["-L", "socks5://127.0.0.1:0?rlimiter=1"]);
    let proxy = gost.addr("service-0");
    let start = Instant::now();
    let served: Vec<bool> = (0..10).map(|_| greeted(proxy)).collect();
    let took = start.elapsed();
    let refused = served.iter().filter(|s| !**s).count();
    assert!(served[0], "the first request is within the rate");
    // One request a second: ten in a row cannot all pass, and refusals do not wait.
    assert!(refused >= 5, "{served:?} in {took:?}");
    assert!(took < Duration::from_secs(5), "refusals took {took:?}");
    gost.wait_for(&["client refused", "reason=\"rlimiter\""]);
    let lines = gost
        .log
        .iter()
        .filter(|l| l.contains("reason=\"rlimiter\""))
        .count();
    assert!(lines <= 2, "{lines} refusal lines for {refused} refusals");
}
