//! Each way a message can be malformed gets its own error, whatever decoder meets it, and each
//! unencodable value gets its own encode error with nothing written.

use std::net::Ipv4Addr;

use socks_wire::{
    Address, Decode, DecodeError, Decoded, Domain, Encode, EncodeError, Method, MethodReply,
    MethodRequest, Reply, Request, Socks4Reply, Socks4Request, Socks4Target, UdpHeader,
    UdpTunFrame, UserPassRequest, UserPassResponse,
};

fn err<'a, T: Decode<'a> + std::fmt::Debug>(bytes: &'a [u8]) -> DecodeError {
    match T::decode(bytes) {
        Err(e) => e,
        other => panic!("{bytes:02x?} should be malformed, got {other:?}"),
    }
}

#[test]
fn wrong_version_bytes() {
    assert_eq!(
        err::<MethodRequest>(&[4, 1, 0]),
        DecodeError::Socks5Version(4)
    );
    assert_eq!(err::<MethodReply>(&[0, 0]), DecodeError::Socks5Version(0));
    assert_eq!(
        err::<Request>(&[0x16, 3, 1]),
        DecodeError::Socks5Version(0x16)
    );
    assert_eq!(err::<Reply>(&[4, 0x5a]), DecodeError::Socks5Version(4));
    assert_eq!(
        err::<Socks4Request>(&[5, 1, 0]),
        DecodeError::Socks4Version(5)
    );
    assert_eq!(
        err::<Socks4Reply>(&[4, 0x5a]),
        DecodeError::Socks4ReplyVersion(4)
    );
    assert_eq!(err::<UserPassRequest>(&[5, 1]), DecodeError::AuthVersion(5));
    assert_eq!(
        err::<UserPassResponse>(&[5, 0]),
        DecodeError::AuthVersion(5)
    );
}

#[test]
fn bad_address_types_in_every_message_that_carries_one() {
    for atyp in [0u8, 2, 5, 0xff] {
        let e = DecodeError::AddressType(atyp);
        assert_eq!(err::<Address>(&[atyp]), e);
        assert_eq!(err::<Request>(&[5, 1, 0, atyp]), e);
        assert_eq!(err::<Reply>(&[5, 0, 0, atyp]), e);
        assert_eq!(err::<UdpHeader>(&[0, 0, 0, atyp]), e);
        assert_eq!(err::<UdpTunFrame>(&[0, 1, 0xff, atyp]), e);
    }
}

#[test]
fn empty_domain_names() {
    assert_eq!(err::<Address>(&[3, 0]), DecodeError::EmptyDomain);
    assert_eq!(
        err::<Request>(&[5, 1, 0, 3, 0, 0, 80]),
        DecodeError::EmptyDomain
    );
    assert_eq!(err::<UdpHeader>(&[0, 0, 0, 3, 0]), DecodeError::EmptyDomain);
    assert_eq!(
        err::<UdpTunFrame>(&[0, 1, 0xff, 3, 0]),
        DecodeError::EmptyDomain
    );
}

#[test]
fn method_list_and_udp_specific_errors() {
    assert_eq!(err::<MethodRequest>(&[5, 0]), DecodeError::NoMethods);
    assert_eq!(err::<UdpHeader>(&[0, 1, 0]), DecodeError::UdpReserved(1));
    assert_eq!(
        err::<UdpHeader>(&[0x80, 0, 0]),
        DecodeError::UdpReserved(0x8000)
    );
    assert_eq!(err::<UdpTunFrame>(&[0, 0]), DecodeError::EmptyUdpTunFrame);
    assert_eq!(
        UdpHeader::split_datagram(&[0, 0, 0, 1, 127]),
        Err(DecodeError::Truncated)
    );
}

#[test]
fn socks4_field_limits() {
    let mut long_user = vec![4, 1, 0, 80, 10, 0, 0, 1];
    long_user.extend([b'u'; 256]);
    assert_eq!(
        err::<Socks4Request>(&long_user),
        DecodeError::Socks4UserIdTooLong
    );
    let mut long_host = vec![4, 1, 0, 80, 0, 0, 0, 7, 0];
    long_host.extend([b'h'; 256]);
    assert_eq!(
        err::<Socks4Request>(&long_host),
        DecodeError::Socks4HostnameTooLong
    );
    let empty_host = [4, 1, 0, 80, 0, 0, 0, 1, b'u', 0, 0];
    assert_eq!(
        err::<Socks4Request>(&empty_host),
        DecodeError::Socks4EmptyHostname
    );
    // 255 bytes without the NUL yet is still a prefix.
    let mut at_limit = vec![4, 1, 0, 80, 10, 0, 0, 1];
    at_limit.extend([b'u'; 255]);
    assert_eq!(Socks4Request::decode(&at_limit), Ok(Decoded::NeedMore(1)));
}

#[test]
fn errors_name_the_problem() {
    let text = DecodeError::AddressType(5).to_string();
    assert!(
        text.contains("address type") && text.contains("0x05"),
        "{text}"
    );
    let text = DecodeError::Socks4ReplyVersion(4).to_string();
    assert!(
        text.contains("SOCKS4 reply") && text.contains("0x00"),
        "{text}"
    );
}

/// Encodes into a 1 KiB zeroed buffer and checks that a failure left it untouched.
fn enc_err<T: Encode>(value: &T) -> EncodeError {
    let mut space = [0u8; 1024];
    let mut buf = &mut space[..];
    let e = value.encode(&mut buf).expect_err("should not encode");
    assert!(
        space.iter().all(|&b| b == 0),
        "nothing may be written on error"
    );
    e
}

#[test]
fn unencodable_values() {
    assert_eq!(
        enc_err(&MethodRequest { methods: vec![] }),
        EncodeError::NoMethods
    );
    let many = MethodRequest {
        methods: vec![Method::NoAuth; 300],
    };
    assert_eq!(enc_err(&many), EncodeError::TooManyMethods(300));
    let long_user = UserPassRequest {
        username: vec![b'u'; 256],
        password: vec![],
    };
    assert_eq!(
        enc_err(&long_user),
        EncodeError::FieldTooLong {
            field: "username",
            len: 256
        }
    );
    let marker = Socks4Request::connect(Socks4Target::Ip(Ipv4Addr::new(0, 0, 0, 1)), 80);
    assert_eq!(
        enc_err(&marker),
        EncodeError::Socks4ReservedIp(Ipv4Addr::new(0, 0, 0, 1))
    );
    let mut nul_user = Socks4Request::connect(Socks4Target::Ip(Ipv4Addr::LOCALHOST), 80);
    nul_user.user_id = b"a\0".to_vec();
    assert_eq!(enc_err(&nul_user), EncodeError::NulInField("SOCKS4 USERID"));
    let nul_host = Socks4Request::connect(Socks4Target::Domain(Domain::new(b"\0").unwrap()), 80);
    assert_eq!(
        enc_err(&nul_host),
        EncodeError::NulInField("SOCKS4A hostname")
    );
    let empty = UdpTunFrame::new(Address::UNSPECIFIED, b"");
    assert_eq!(enc_err(&empty), EncodeError::EmptyUdpTunPayload);
    let big = vec![1u8; 70_000];
    let mut out = Vec::new();
    assert_eq!(
        UdpTunFrame::new(Address::UNSPECIFIED, &big).encode(&mut out),
        Err(EncodeError::UdpTunPayloadTooLong(70_000))
    );
    assert!(out.is_empty());
}

#[test]
fn too_small_buffers() {
    let reply = Reply::failure(socks_wire::ReplyCode::GeneralFailure);
    let mut space = [0u8; 9];
    let short = EncodeError::BufferTooSmall {
        needed: 10,
        remaining: 9,
    };
    assert_eq!(reply.encode(&mut &mut space[..]), Err(short));
    // Nothing is written when the whole message does not fit.
    assert_eq!(space, [0; 9]);
}

#[test]
fn address_construction_errors() {
    use socks_wire::AddressError;
    assert_eq!(Domain::new(b""), Err(AddressError::EmptyDomain));
    assert_eq!(
        Domain::new(&[b'a'; 256]),
        Err(AddressError::DomainTooLong(256))
    );
    // Each error names the part that was wrong.
    for (text, error) in [
        ("host", AddressError::MissingPort("host".into())),
        ("host:", AddressError::InvalidPort("".into())),
        ("host:65536", AddressError::InvalidPort("65536".into())),
        ("[::1:80", AddressError::InvalidHost("[::1".into())),
    ] {
        assert_eq!(text.parse::<Address>(), Err(error), "{text:?}");
    }
}
