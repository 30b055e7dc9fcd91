//! Fuzzes the SOCKS5 server handshake: no panic, bounded output, errors final, and the same
//! outcome whether the input arrives in the fuzzed read sizes or in one read.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(script) = gost_fuzz::Script::parse(data) {
        gost_fuzz::check_server(&script);
    }
});
