//! proptest strategies producing every message type, valid by construction.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::collection::vec;
use proptest::prelude::*;
use socks_wire::{
    Address, Command, Domain, Method, MethodReply, MethodRequest, Reply, ReplyCode, Request,
    Socks4Command, Socks4Reply, Socks4ReplyCode, Socks4Request, Socks4Target, UdpHeader,
    UserPassRequest, UserPassResponse,
};

pub(crate) fn domain() -> impl Strategy<Value = Domain> {
    vec(any::<u8>(), 1..=255).prop_map(|b| Domain::new(&b).unwrap())
}

pub(crate) fn address() -> impl Strategy<Value = Address> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, p)| Address::Ip(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), p))),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, p)| Address::Ip(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), p))),
        (domain(), any::<u16>()).prop_map(|(d, p)| Address::Domain(d, p)),
    ]
}

fn no_nul(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(1u8..=255, 0..=max)
}

pub(crate) fn socks4_request() -> impl Strategy<Value = Socks4Request> {
    let target = prop_oneof![
        any::<[u8; 4]>()
            .prop_filter("0.0.0.x is the 4A marker", |o| o[..3] != [0, 0, 0]
                || o[3] == 0)
            .prop_map(|o| Socks4Target::Ip(Ipv4Addr::from(o))),
        vec(1u8..=255, 1..=255).prop_map(|b| Socks4Target::Domain(Domain::new(&b).unwrap())),
    ];
    (any::<u8>(), any::<u16>(), target, no_nul(255)).prop_map(|(cd, port, target, user_id)| {
        Socks4Request {
            command: Socks4Command::from(cd),
            port,
            target,
            user_id,
        }
    })
}

pub(crate) fn socks4_reply() -> impl Strategy<Value = Socks4Reply> {
    (any::<u8>(), any::<[u8; 4]>(), any::<u16>()).prop_map(|(cd, ip, port)| Socks4Reply {
        code: Socks4ReplyCode::from(cd),
        addr: std::net::SocketAddrV4::new(ip.into(), port),
    })
}

pub(crate) fn method_request() -> impl Strategy<Value = MethodRequest> {
    vec(any::<u8>().prop_map(Method::from), 1..=255).prop_map(|methods| MethodRequest { methods })
}

pub(crate) fn method_reply() -> impl Strategy<Value = MethodReply> {
    any::<u8>().prop_map(|b| MethodReply {
        method: Method::from(b),
    })
}

pub(crate) fn request() -> impl Strategy<Value = Request> {
    (any::<u8>(), address()).prop_map(|(c, a)| Request::new(Command::from(c), a))
}

pub(crate) fn reply() -> impl Strategy<Value = Reply> {
    (any::<u8>(), address()).prop_map(|(c, a)| Reply::new(ReplyCode::from(c), a))
}

pub(crate) fn user_pass_request() -> impl Strategy<Value = UserPassRequest> {
    (vec(any::<u8>(), 0..=255), vec(any::<u8>(), 0..=255))
        .prop_map(|(username, password)| UserPassRequest { username, password })
}

pub(crate) fn user_pass_response() -> impl Strategy<Value = UserPassResponse> {
    any::<u8>().prop_map(|status| UserPassResponse { status })
}

pub(crate) fn udp_header() -> impl Strategy<Value = UdpHeader> {
    (any::<u8>(), address()).prop_map(|(frag, addr)| UdpHeader { frag, addr })
}

/// A UDP-TUN frame as (address, payload of 1..=2000 bytes).
pub(crate) fn udp_tun_parts() -> impl Strategy<Value = (Address, Vec<u8>)> {
    (address(), vec(any::<u8>(), 1..=2000))
}
