//! Fuzzes the gost-smux frame codec: `Frame::decode` and `Frame::decode_buf` agree, a decoded
//! frame re-encodes to exactly the bytes it came from, every prefix of a frame asks for more, and a
//! stream of frames decodes until the first error without panicking.
#![no_main]

use bytes::BytesMut;
use gost_smux::{Decoded, Frame, HEADER_LEN, Header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    // A session reads frames back to back; walk the input the same way.
    while !rest.is_empty() {
        match check_one(rest) {
            Some(consumed) => rest = &rest[consumed..],
            None => break,
        }
    }
});

/// Checks the frame at the start of `buf`; returns its length, or `None` at an error or a partial frame.
fn check_one(buf: &[u8]) -> Option<usize> {
    let mut owned = BytesMut::from(buf);
    let via_buf = Frame::decode_buf(&mut owned);
    match Frame::decode(buf) {
        Ok(Decoded::Frame { frame, consumed }) => {
            assert_eq!(consumed, frame.encoded_len());
            let mut encoded = Vec::new();
            frame
                .encode(&mut encoded)
                .expect("a decoded frame must encode");
            assert_eq!(&encoded[..], &buf[..consumed], "re-encoding is exact");
            assert_eq!(via_buf, Ok(Some(frame.clone())));
            assert_eq!(&owned[..], &buf[consumed..], "decode_buf leaves the rest");
            let header = Header::decode(buf).unwrap().unwrap();
            assert_eq!(header.to_bytes()[..], buf[..HEADER_LEN]);
            assert_eq!(header.frame_len(), consumed);
            if let Some((consumed_bytes, window)) = frame.upd_fields() {
                let upd = Frame::upd(frame.version, frame.stream_id, consumed_bytes, window);
                assert_eq!(upd, frame);
            }
            for k in 0..consumed {
                match Frame::decode(&buf[..k]) {
                    Ok(Decoded::NeedMore(n)) => assert!(n >= 1 && k + n <= consumed),
                    other => panic!("prefix {k} of a {consumed}-byte frame: {other:?}"),
                }
            }
            Some(consumed)
        }
        Ok(Decoded::NeedMore(n)) => {
            assert!(n >= 1);
            assert_eq!(via_buf, Ok(None));
            assert_eq!(&owned[..], buf, "decode_buf keeps a partial frame");
            None
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert_eq!(via_buf, Err(e));
            None
        }
    }
}
