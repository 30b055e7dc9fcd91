//! Fixtures shared by the tests of every gost-rs crate, written once: loopback echo, sink and HTTP
//! servers ([`servers`]), deterministic payloads and a stream checksum ([`data`]), the recorded
//! upstream sessions under `vectors/` ([`vectors`]), the rule for third-party programs
//! ([`programs`]), a private `redis-server` ([`redis`]), log capture ([`logs`]), the process's resource counters ([`resources`]), a
//! cancel-on-drop guard for server tasks ([`running`]), byte exchanges and bounded waits
//! ([`exchange`]) and a raw SOCKS5 client ([`socks5`]).
//!
//! A dev-dependency only (`publish = false`): it depends on no workspace member, so any member can use
//! it without a cycle. Helpers that only one test file needs stay in that file.

pub mod data;
pub mod dns;
pub mod exchange;
pub mod logs;
pub mod programs;
pub mod redis;
pub mod resources;
pub mod running;
pub mod servers;
pub mod socks5;
pub mod vectors;

pub use data::{Checksum, pattern};
pub use logs::Logs;
pub use programs::{have, have_program, locate};
pub use redis::Redis;
pub use resources::{Footprint, OutOfFds, fd_count, limit_child_nofile, raise_nofile, serial};
pub use running::Running;
pub use servers::{
    BODY, counting_echo_server, echo_server, free_port, free_tcp_and_udp_port, http_exchange,
    http_server, udp_echo,
};
pub use vectors::Vector;

/// Decodes a lowercase or uppercase hex string; panics on a bad digit or an odd length (test data).
pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0x7f, 0x80, 0xff];
        assert_eq!(super::hex(&bytes), "00017f80ff");
        assert_eq!(super::unhex("00017F80ff"), bytes);
    }
}
