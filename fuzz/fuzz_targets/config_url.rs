//! Fuzzes the `-L`/`-F` command-line grammar: any argument list either parses or is a clear error,
//! and a parsed config (of up to 64 services) survives printing as YAML and JSON and reading back
//! unchanged, then validates without panicking.
//!
//! Input: lines of text; a line starting with `F` is a `-F` node (the rest of the line), any other
//! line a `-L` service.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (mut services, mut nodes) = (Vec::new(), Vec::new());
    for line in text.lines().take(8) {
        match line.strip_prefix('F') {
            Some(node) => nodes.push(node),
            None => services.push(line),
        }
    }
    match gost_config::from_cli(&services, &nodes) {
        // A port range expands to up to 4096 services, whose round trip takes a good part of a
        // second: the fuzzer would spend its time there instead of on the grammar. The largest
        // command line's round trip is a unit test of gost-config
        // (`the_largest_command_line_round_trips_through_yaml`).
        Ok((config, _warnings)) if config.services.len() > 64 => {
            if let Err(e) = gost_config::validate(&config) {
                assert!(!e.to_string().is_empty());
            }
        }
        Ok((config, _warnings)) => gost_fuzz::check_config_round_trip(&config),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
