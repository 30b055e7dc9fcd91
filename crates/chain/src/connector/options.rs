//! Options of the connectors, with their defaults defined here once; gost-app fills them from a node's
//! `connector.metadata`, embedders from code.

use std::time::Duration;

/// SOCKS5 client options of one node.
#[derive(Debug, Clone)]
pub struct Socks5ConnectorOptions {
    /// Deadline for the handshake and the request (`timeout`); `None`: [`crate::DEFAULT_HANDSHAKE_TIMEOUT`].
    pub timeout: Option<Duration>,
    /// Do not offer GOST's TLS methods 0x80/0x82 (`notls`). Default false.
    pub notls: bool,
    /// UDP through standard UDP ASSOCIATE (`relay=udp`); false (default) uses UDP-TUN (0xF3).
    pub relay: bool,
    /// Datagram buffer of the `relay=udp` socket (`udpBufferSize`). Default 4096.
    pub udp_buffer_size: usize,
    /// Read deadline of the `relay=udp` socket (`udp.timeout`). Default none.
    pub udp_timeout: Option<Duration>,
    /// smux settings for MBIND (`mux.*`); both ends must use the same version.
    pub mux: gost_smux::Config,
}

impl Default for Socks5ConnectorOptions {
    fn default() -> Self {
        Socks5ConnectorOptions {
            timeout: None,
            notls: false,
            relay: false,
            udp_buffer_size: 4096,
            udp_timeout: None,
            mux: gost_smux::Config::default(),
        }
    }
}

/// SOCKS4/4A client options of one node.
#[derive(Debug, Clone, Default)]
pub struct Socks4ConnectorOptions {
    /// Deadline for request and reply (`timeout`); `None`: [`crate::DEFAULT_HANDSHAKE_TIMEOUT`].
    pub timeout: Option<Duration>,
    /// Resolve names here and send plain SOCKS4 (`disable4a`); default false: always the 4A form.
    pub disable4a: bool,
}
