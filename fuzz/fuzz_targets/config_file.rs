//! Fuzzes the YAML and JSON config loaders: any text either loads or is a clear error, and a loaded
//! config survives printing and reading back unchanged, then validates without panicking.
//!
//! Input: byte 0 picks YAML (even) or JSON (odd); the rest is the file's text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let loaded = if kind & 1 == 0 {
        gost_config::from_yaml_str(text)
    } else {
        gost_config::from_json_str(text)
    };
    match loaded {
        Ok((config, _warnings)) => gost_fuzz::check_config_round_trip(&config),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
