//! Property tests: every message type encodes to `encoded_len` bytes, decodes back to itself
//! (leaving trailing bytes alone), and every proper prefix of its encoding needs more bytes,
//! with a need count that never overshoots the message.

mod common;

use std::fmt::Debug;

use common::strategies::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use socks_wire::{Decode, Decoded, Encode, UdpTunFrame};

const TAIL: [u8; 7] = [0xA5; 7];

/// Round-trips `value`; a failure is prefixed with `what` (the message type).
fn check<T>(what: &str, value: &T) -> Result<(), TestCaseError>
where
    T: for<'a> Decode<'a> + Encode + PartialEq + Debug,
{
    round_trip(value).map_err(|e| TestCaseError::fail(format!("{what}: {e}")))
}

fn round_trip<T>(value: &T) -> Result<(), TestCaseError>
where
    T: for<'a> Decode<'a> + Encode + PartialEq + Debug,
{
    let bytes = value
        .to_vec()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(bytes.len(), value.encoded_len());
    let mut with_tail = bytes.clone();
    with_tail.extend_from_slice(&TAIL);
    match T::decode(&with_tail) {
        Ok(Decoded::Complete(decoded, len)) => {
            prop_assert_eq!(&decoded, value);
            prop_assert_eq!(len, bytes.len());
        }
        other => return Err(TestCaseError::fail(format!("{other:?}"))),
    }
    check_prefixes::<T>(&bytes)
}

fn check_prefixes<'a, T: Decode<'a> + Debug>(bytes: &'a [u8]) -> Result<(), TestCaseError> {
    for k in 0..bytes.len() {
        match T::decode(&bytes[..k]) {
            Ok(Decoded::NeedMore(n)) => prop_assert!(n >= 1 && k + n <= bytes.len()),
            other => return Err(TestCaseError::fail(format!("prefix {k}: {other:?}"))),
        }
    }
    Ok(())
}

/// Domain names that `FromStr` reads back as the same domain: no ':' (port separator), not an
/// IP literal, not bracketed.
fn domain_text_round_trips(s: &str) -> bool {
    let bracketed = s.starts_with('[') && s.ends_with(']');
    !(s.contains(':') || bracketed || s.parse::<std::net::IpAddr>().is_ok())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// One case per message type, drawn together; a failure names the type.
    #[test]
    fn every_message_type_round_trips(
        address in address(),
        socks4_request in socks4_request(),
        socks4_reply in socks4_reply(),
        method_request in method_request(),
        method_reply in method_reply(),
        request in request(),
        reply in reply(),
        user_pass_request in user_pass_request(),
        user_pass_response in user_pass_response(),
        udp_header in udp_header(),
    ) {
        check("address", &address)?;
        check("socks4 request", &socks4_request)?;
        check("socks4 reply", &socks4_reply)?;
        check("method request", &method_request)?;
        check("method reply", &method_reply)?;
        check("request", &request)?;
        check("reply", &reply)?;
        check("user/pass request", &user_pass_request)?;
        check("user/pass response", &user_pass_response)?;
        check("udp header", &udp_header)?;
    }

    #[test]
    fn udp_tun_frame_round_trips((addr, payload) in udp_tun_parts()) {
        let frame = UdpTunFrame::new(addr, &payload);
        let bytes = frame.to_vec().unwrap();
        prop_assert_eq!(bytes.len(), frame.encoded_len());
        let mut with_tail = bytes.clone();
        with_tail.extend_from_slice(&TAIL);
        match UdpTunFrame::decode(&with_tail) {
            Ok(Decoded::Complete(decoded, len)) => {
                prop_assert_eq!(&decoded, &frame);
                prop_assert_eq!(len, bytes.len());
            }
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        }
        check_prefixes::<UdpTunFrame>(&bytes)?;
        let mut header = Vec::new();
        frame.encode_header(&mut header).unwrap();
        prop_assert_eq!(&header[..], &bytes[..frame.header_len()]);
    }

    /// Address strings round-trip through `Display` and `FromStr` (domains that are valid text
    /// without ':' and not IP literals).
    #[test]
    fn address_text_round_trips(v in address()) {
        let text_ok = match &v {
            socks_wire::Address::Domain(d, _) => d.as_str().is_some_and(domain_text_round_trips),
            socks_wire::Address::Ip(sa) => sa.ip().to_canonical() == sa.ip(),
        };
        if text_ok {
            let parsed: socks_wire::Address = v.to_string().parse().unwrap();
            prop_assert_eq!(parsed, v);
        }
    }
}
