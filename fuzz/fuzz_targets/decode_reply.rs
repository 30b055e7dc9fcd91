//! Fuzzes `Reply::decode`: no panic, sound round trip, every prefix of a message needs more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use socks_wire::Reply;

fuzz_target!(|data: &[u8]| gost_fuzz::check_decoder::<Reply>(data));
