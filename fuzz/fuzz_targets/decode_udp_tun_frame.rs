//! Fuzzes `UdpTunFrame::decode`: no panic, sound round trip, every prefix of a frame needs more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use socks_wire::{Decode, Decoded, Encode, UdpTunFrame};

fuzz_target!(|data: &[u8]| {
    gost_fuzz::check_borrowing_decoder::<UdpTunFrame>(data, |frame, encoded| {
        match UdpTunFrame::decode(encoded) {
            Ok(Decoded::Complete(again, len)) => {
                assert_eq!(&again, frame);
                assert_eq!(len, encoded.len());
                assert_eq!(again.to_vec().expect("re-encode"), encoded);
            }
            other => panic!("re-decoding {frame:?} gave {other:?}"),
        }
    })
});
