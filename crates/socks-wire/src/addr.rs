//! SOCKS addresses: the `ATYP ADDR PORT` triple shared by SOCKS5 requests, replies and UDP headers,
//! plus the domain-name type that enforces its 1..=255 byte length.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::str::FromStr;

use bytes::BufMut;
use thiserror::Error;

use crate::reader::{Reader, Stop, run};
use crate::{Decode, DecodeError, Decoded, Encode, EncodeError, ensure_room};

const ATYP_IPV4: u8 = 0x01;
const ATYP_DOMAIN: u8 = 0x03;
const ATYP_IPV6: u8 = 0x04;

/// A value that cannot become an [`Address`] or a [`Domain`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AddressError {
    /// A domain name of length 0.
    #[error("empty domain name")]
    EmptyDomain,
    /// A domain name longer than the 255 bytes its length byte can express.
    #[error("domain name is {0} bytes long, at most 255 fit")]
    DomainTooLong(usize),
    /// A `host:port` string without a `:port` part.
    #[error("missing ':port' in {0:?}")]
    MissingPort(String),
    /// A port that is not a decimal number in 0..=65535.
    #[error("invalid port {0:?}")]
    InvalidPort(String),
    /// A bracketed host that is not an IPv6 literal, or an unbracketed host containing ':'.
    #[error("invalid host {0:?} (IPv6 literals go in brackets: [::1]:80)")]
    InvalidHost(String),
}

/// A domain name as carried by SOCKS: 1 to 255 arbitrary bytes (usually ASCII), no terminator.
///
/// The bytes are kept as received, so a name that is not UTF-8 still round-trips exactly;
/// [`Domain::as_str`] gives the text when it is UTF-8.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(Box<[u8]>);

impl Domain {
    /// Makes a domain from raw bytes, checking the 1..=255 length.
    ///
    /// ```
    /// # use socks_wire::Domain;
    /// assert_eq!(Domain::new(b"example.com").unwrap().as_str(), Some("example.com"));
    /// assert!(Domain::new(b"").is_err());
    /// ```
    pub fn new(name: &[u8]) -> Result<Domain, AddressError> {
        match name.len() {
            0 => Err(AddressError::EmptyDomain),
            1..=255 => Ok(Domain(name.into())),
            n => Err(AddressError::DomainTooLong(n)),
        }
    }

    /// The raw bytes of the name.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The name as text, or `None` when the bytes are not UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// Length in bytes (1..=255).
    #[allow(clippy::len_without_is_empty)] // a Domain is never empty
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl TryFrom<&str> for Domain {
    type Error = AddressError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Domain::new(s.as_bytes())
    }
}

impl TryFrom<String> for Domain {
    type Error = AddressError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Domain::new(s.as_bytes())
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&String::from_utf8_lossy(&self.0), f)
    }
}

impl fmt::Debug for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Domain({:?})", String::from_utf8_lossy(&self.0))
    }
}

/// A SOCKS address: an IP socket address (ATYP 0x01 / 0x04) or a domain name and port (ATYP 0x03).
///
/// The `From` conversions and [`Address::from_host_port`] follow upstream GOST's rule and turn an
/// IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) into plain IPv4 (ATYP 0x01). Build
/// `Address::Ip(..)` directly to send such an address as ATYP 0x04. Flow info and scope id of an
/// IPv6 socket address are not carried on the wire and decode as 0.
///
/// ```
/// use socks_wire::Address;
/// let a: Address = "example.com:443".parse().unwrap();
/// assert_eq!(a.port(), 443);
/// assert_eq!(a.to_string(), "example.com:443");
/// assert_eq!(Address::from_host_port("", 80).unwrap().to_string(), "0.0.0.0:80");
/// assert_eq!("[::ffff:127.0.0.1]:1".parse::<Address>().unwrap().to_string(), "127.0.0.1:1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// An IPv4 or IPv6 address and port.
    Ip(SocketAddr),
    /// A domain name and port, resolved by the receiver.
    Domain(Domain, u16),
}

/// Unmaps `::ffff:a.b.c.d` to `a.b.c.d`, as upstream does when it prints and re-parses addresses.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl Address {
    /// `0.0.0.0:0`, ATYP 0x01: what SOCKS sends when an address field carries no information.
    pub const UNSPECIFIED: Address =
        Address::Ip(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)));

    /// Builds an address from a host string and a port with upstream's rule: an empty host is
    /// `0.0.0.0`, an IP literal (IPv6 optionally in brackets) is an IP address, anything else is
    /// a domain name (at most 255 bytes).
    pub fn from_host_port(host: &str, port: u16) -> Result<Address, AddressError> {
        if host.is_empty() {
            return Ok(Address::Ip(SocketAddr::new(
                Ipv4Addr::UNSPECIFIED.into(),
                port,
            )));
        }
        let unbracketed = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(Address::from((ip, port)));
        }
        Ok(Address::Domain(Domain::try_from(host)?, port))
    }

    /// The host part as text: the IP address (IPv6 without brackets) or the domain name (lossily as
    /// UTF-8). What a TLS client names as the server, or a SOCKS4A request carries.
    ///
    /// ```
    /// # use socks_wire::Address;
    /// assert_eq!("[::1]:443".parse::<Address>().unwrap().host(), "::1");
    /// assert_eq!("example.com:443".parse::<Address>().unwrap().host(), "example.com");
    /// ```
    pub fn host(&self) -> String {
        match self {
            Address::Ip(sa) => sa.ip().to_string(),
            Address::Domain(d, _) => d.to_string(),
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        match self {
            Address::Ip(sa) => sa.port(),
            Address::Domain(_, port) => *port,
        }
    }

    /// The IP address, when this is not a domain name.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Address::Ip(sa) => Some(sa.ip()),
            Address::Domain(..) => None,
        }
    }

    /// The domain name, when this is one.
    pub fn domain(&self) -> Option<&Domain> {
        match self {
            Address::Ip(_) => None,
            Address::Domain(d, _) => Some(d),
        }
    }

    /// The socket address, when this is not a domain name.
    pub fn to_socket_addr(&self) -> Option<SocketAddr> {
        match self {
            Address::Ip(sa) => Some(*sa),
            Address::Domain(..) => None,
        }
    }

    /// True for `0.0.0.0:0`-style "no information" addresses: an unspecified IP and port 0.
    pub fn is_unspecified(&self) -> bool {
        matches!(self, Address::Ip(sa) if sa.ip().is_unspecified() && sa.port() == 0)
    }

    /// Reads `ATYP ADDR PORT`; when the rest of the address is known to be missing, asks for it
    /// plus `tail` bytes that follow the address.
    pub(crate) fn read_then(r: &mut Reader<'_>, tail: usize) -> Result<Address, Stop> {
        let atyp = r.u8()?;
        match atyp {
            ATYP_IPV4 => {
                let b = r.take_then(6, tail)?;
                let ip = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
                let port = u16::from_be_bytes([b[4], b[5]]);
                Ok(Address::Ip(SocketAddr::V4(SocketAddrV4::new(ip, port))))
            }
            ATYP_IPV6 => {
                let b = r.take_then(18, tail)?;
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&b[..16]);
                let port = u16::from_be_bytes([b[16], b[17]]);
                let sa = SocketAddrV6::new(Ipv6Addr::from(octets), port, 0, 0);
                Ok(Address::Ip(SocketAddr::V6(sa)))
            }
            ATYP_DOMAIN => {
                let len = usize::from(r.take_then(1, 1 + 2 + tail)?[0]);
                if len == 0 {
                    return Err(Stop::Bad(DecodeError::EmptyDomain));
                }
                let b = r.take_then(len + 2, tail)?;
                let port = u16::from_be_bytes([b[len], b[len + 1]]);
                Ok(Address::Domain(Domain(b[..len].into()), port))
            }
            other => Err(Stop::Bad(DecodeError::AddressType(other))),
        }
    }

    /// Writes `ATYP ADDR PORT`; the caller has checked the room.
    pub(crate) fn write<B: BufMut>(&self, buf: &mut B) {
        match self {
            Address::Ip(SocketAddr::V4(sa)) => {
                buf.put_u8(ATYP_IPV4);
                buf.put_slice(&sa.ip().octets());
                buf.put_u16(sa.port());
            }
            Address::Ip(SocketAddr::V6(sa)) => {
                buf.put_u8(ATYP_IPV6);
                buf.put_slice(&sa.ip().octets());
                buf.put_u16(sa.port());
            }
            Address::Domain(d, port) => {
                buf.put_u8(ATYP_DOMAIN);
                // Domain guarantees 1..=255 bytes.
                buf.put_u8(d.len() as u8);
                buf.put_slice(d.as_bytes());
                buf.put_u16(*port);
            }
        }
    }
}

impl Decode<'_> for Address {
    /// Decodes a bare `ATYP ADDR PORT`.
    fn decode(buf: &[u8]) -> Result<Decoded<Self>, DecodeError> {
        run(buf, |r| Address::read_then(r, 0))
    }
}

impl Encode for Address {
    fn encoded_len(&self) -> usize {
        match self {
            Address::Ip(SocketAddr::V4(_)) => 1 + 4 + 2,
            Address::Ip(SocketAddr::V6(_)) => 1 + 16 + 2,
            Address::Domain(d, _) => 1 + 1 + d.len() + 2,
        }
    }

    fn encode<B: BufMut>(&self, buf: &mut B) -> Result<usize, EncodeError> {
        let len = ensure_room(buf, self.encoded_len())?;
        self.write(buf);
        Ok(len)
    }
}

impl From<SocketAddr> for Address {
    fn from(sa: SocketAddr) -> Self {
        Address::from((sa.ip(), sa.port()))
    }
}

impl From<SocketAddrV4> for Address {
    fn from(sa: SocketAddrV4) -> Self {
        Address::Ip(SocketAddr::V4(sa))
    }
}

impl From<SocketAddrV6> for Address {
    fn from(sa: SocketAddrV6) -> Self {
        Address::from(SocketAddr::V6(sa))
    }
}

impl From<(IpAddr, u16)> for Address {
    fn from((ip, port): (IpAddr, u16)) -> Self {
        Address::Ip(SocketAddr::new(canonical(ip), port))
    }
}

impl TryFrom<(&str, u16)> for Address {
    type Error = AddressError;
    fn try_from((host, port): (&str, u16)) -> Result<Self, Self::Error> {
        Address::from_host_port(host, port)
    }
}

impl FromStr for Address {
    type Err = AddressError;

    /// Parses `host:port` (IPv6 literals in brackets) with the rule of [`Address::from_host_port`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| AddressError::MissingPort(s.to_owned()))?;
        let port_ok = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|_| port_ok)
            .ok_or_else(|| AddressError::InvalidPort(port.to_owned()))?;
        if let Some(inner) = host.strip_prefix('[') {
            let ip = inner
                .strip_suffix(']')
                .and_then(|h| h.parse::<Ipv6Addr>().ok())
                .ok_or_else(|| AddressError::InvalidHost(host.to_owned()))?;
            return Ok(Address::from((IpAddr::V6(ip), port)));
        }
        if host.contains(':') {
            return Err(AddressError::InvalidHost(host.to_owned()));
        }
        Address::from_host_port(host, port)
    }
}

impl fmt::Display for Address {
    /// `host:port`, IPv6 in brackets, domain names lossily as UTF-8.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Ip(SocketAddr::V4(sa)) => write!(f, "{}:{}", sa.ip(), sa.port()),
            Address::Ip(SocketAddr::V6(sa)) => write!(f, "[{}]:{}", sa.ip(), sa.port()),
            Address::Domain(d, port) => write!(f, "{d}:{port}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(b: &[u8]) -> Result<Decoded<Address>, DecodeError> {
        Address::decode(b)
    }

    #[test]
    fn decodes_each_type_and_reencodes() {
        let cases: [&[u8]; 3] = [
            &[1, 127, 0, 0, 1, 0x7d, 0x01],
            &[3, 3, b'a', b'.', b'b', 0, 80],
            &[4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 22],
        ];
        for bytes in cases {
            let Ok(Decoded::Complete(a, n)) = dec(bytes) else {
                panic!("{bytes:?}")
            };
            assert_eq!(n, bytes.len());
            assert_eq!(a.to_vec().unwrap(), bytes);
        }
    }

    #[test]
    fn need_more_is_exact_once_the_type_is_known() {
        assert_eq!(dec(&[]), Ok(Decoded::NeedMore(1)));
        assert_eq!(dec(&[1, 127]), Ok(Decoded::NeedMore(5)));
        assert_eq!(dec(&[4]), Ok(Decoded::NeedMore(18)));
        assert_eq!(dec(&[3]), Ok(Decoded::NeedMore(4)));
        assert_eq!(dec(&[3, 5, b'a']), Ok(Decoded::NeedMore(6)));
    }

    #[test]
    fn rejects_bad_type_and_empty_domain() {
        assert_eq!(dec(&[5, 0, 0]), Err(DecodeError::AddressType(5)));
        assert_eq!(dec(&[0]), Err(DecodeError::AddressType(0)));
        assert_eq!(dec(&[3, 0, 0, 80]), Err(DecodeError::EmptyDomain));
    }

    #[test]
    fn host_port_rule_matches_upstream() {
        let a = Address::from_host_port("", 7).unwrap();
        assert_eq!(a, Address::Ip("0.0.0.0:7".parse().unwrap()));
        let a = Address::from_host_port("10.1.2.3", 7).unwrap();
        assert_eq!(a.to_vec().unwrap()[0], ATYP_IPV4);
        let a = Address::from_host_port("::1", 7).unwrap();
        assert_eq!(a.to_vec().unwrap()[0], ATYP_IPV6);
        let a = Address::from_host_port("[::1]", 7).unwrap();
        assert_eq!(a.ip(), Some("::1".parse().unwrap()));
        let a = Address::from_host_port("::ffff:1.2.3.4", 7).unwrap();
        assert_eq!(a.to_vec().unwrap()[0], ATYP_IPV4);
        let a = Address::from_host_port("example.org", 7).unwrap();
        assert_eq!(a.domain().and_then(Domain::as_str), Some("example.org"));
        let long = "a".repeat(256);
        assert_eq!(
            Address::from_host_port(&long, 1),
            Err(AddressError::DomainTooLong(256))
        );
    }

    #[test]
    fn socket_addr_conversion_unmaps_ipv4_mapped() {
        let v6: SocketAddr = "[::ffff:127.0.0.1]:9".parse().unwrap();
        assert_eq!(
            Address::from(v6),
            Address::Ip("127.0.0.1:9".parse().unwrap())
        );
        let real6: SocketAddr = "[2001:db8::1]:9".parse().unwrap();
        assert_eq!(Address::from(real6).to_socket_addr(), Some(real6));
    }

    #[test]
    fn parses_and_displays_host_port_strings() {
        for s in [
            "1.2.3.4:80",
            "[2001:db8::1]:443",
            "example.com:0",
            "0.0.0.0:65535",
        ] {
            assert_eq!(s.parse::<Address>().unwrap().to_string(), s);
        }
        let err = |s: &str| s.parse::<Address>().unwrap_err();
        assert!(matches!(err("example.com"), AddressError::MissingPort(_)));
        assert!(matches!(err("a:99999"), AddressError::InvalidPort(_)));
        assert!(matches!(err("a:+1"), AddressError::InvalidPort(_)));
        assert!(matches!(err("::1:80"), AddressError::InvalidHost(_)));
        assert!(matches!(err("[a.b]:80"), AddressError::InvalidHost(_)));
        assert_eq!(":80".parse::<Address>().unwrap().to_string(), "0.0.0.0:80");
    }

    #[test]
    fn encode_refuses_a_too_small_buffer_without_writing() {
        let mut space = [0u8; 6];
        let mut slice = &mut space[..];
        let a = Address::from(("1.2.3.4".parse::<IpAddr>().unwrap(), 1));
        assert_eq!(
            a.encode(&mut slice),
            Err(EncodeError::BufferTooSmall {
                needed: 7,
                remaining: 6
            })
        );
        assert_eq!(space, [0; 6]);
    }
}
