//! Fuzzes the SOCKS5 client handshake: no panic, errors final, and the same outcome whether the
//! server's bytes arrive in the fuzzed read sizes or in one read.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(script) = gost_fuzz::Script::parse(data) {
        gost_fuzz::check_client(&script);
    }
});
