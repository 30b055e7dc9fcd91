//! KCP listener/dialer options, including upstream's effective-defaults quirk (gost-wire §6.3.1).
//!
//! Upstream documents kcptun-style defaults (key `it's a secrect`, crypt `aes`, mode `fast`, mtu 1350,
//! windows 1024, …), but its KCP listener and dialer then overwrite thirteen fields from `kcp.*`
//! metadata keys **using zero values when a key is absent**. With no `kcp.*` keys, two GOST ends
//! therefore really run with an empty key, AES-256, mode "" (no preset: nodelay 0, interval 0 which
//! kcp-go clamps to 10 ms), mtu 0 (kcp-go keeps 1400), windows 0 (kcp-go keeps 32/32), FEC 10+3,
//! snappy on and smux v1 with buffers derived from sockbuf. [`KcpOptions::from_metadata`] reproduces
//! exactly that, because the wire must match upstream's, not its documentation.

use serde_json::Value;

use crate::metadata::{Metadata, MetadataError};
use crate::registry::keys;

/// The KCP parameters in effect, with upstream's (kcptun's) field meanings. Zero values are passed
/// to the KCP engine as upstream passes them; the engine ignores a zero `mtu`/window (keeping 1400 and
/// 32) and clamps `interval` to at least 10 ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KcpOptions {
    /// Pre-shared key (PBKDF2-HMAC-SHA1 password, salt `kcp-go`, 4096 rounds, 32 bytes).
    pub key: String,
    /// Cipher name: `aes`, `aes-128`, `aes-192`, `salsa20`, `blowfish`, `twofish`, `cast5`, `3des`,
    /// `xtea`, `tea`, `sm4`, `xor`, `none`; anything else (including empty) is AES-256.
    pub crypt: String,
    /// Preset: `normal`, `fast`, `fast2`, `fast3` or empty (no preset).
    pub mode: String,
    /// Maximum transmission unit (0: engine default 1400).
    pub mtu: i64,
    /// Send window in packets (0: engine default 32).
    pub snd_wnd: i64,
    /// Receive window in packets (0: engine default 32).
    pub rcv_wnd: i64,
    /// Reed-Solomon data shards (FEC header present when both shard counts are > 0).
    pub data_shard: i64,
    /// Reed-Solomon parity shards.
    pub parity_shard: i64,
    /// DSCP marking of UDP packets.
    pub dscp: i64,
    /// Disable snappy stream compression.
    pub no_comp: bool,
    /// Acknowledge immediately.
    pub ack_nodelay: bool,
    /// KCP nodelay flag.
    pub no_delay: i64,
    /// KCP update interval in ms.
    pub interval: i64,
    /// Fast-resend threshold.
    pub resend: i64,
    /// Disable congestion control (1).
    pub no_congestion: i64,
    /// Socket buffer size; also the default of `smux_buf` and twice that of `stream_buf`.
    pub sock_buf: i64,
    /// smux protocol version.
    pub smux_ver: i64,
    /// smux session receive buffer.
    pub smux_buf: i64,
    /// smux per-stream buffer.
    pub stream_buf: i64,
    /// smux keepalive interval in seconds (0: smux default 10 s).
    pub keepalive: i64,
    /// Fake-TCP (`tcpraw`) instead of UDP; not supported by gost-rs.
    pub tcp: bool,
}

impl KcpOptions {
    /// The defaults upstream documents (`DefaultConfig`). Only what a `kcp.config` map does not
    /// replace survives; see [`KcpOptions::from_metadata`].
    pub fn documented_defaults() -> Self {
        KcpOptions {
            key: "it's a secrect".into(),
            crypt: "aes".into(),
            mode: "fast".into(),
            mtu: 1350,
            snd_wnd: 1024,
            rcv_wnd: 1024,
            data_shard: 10,
            parity_shard: 3,
            dscp: 0,
            no_comp: false,
            ack_nodelay: false,
            no_delay: 0,
            interval: 50,
            resend: 0,
            no_congestion: 0,
            sock_buf: 4_194_304,
            smux_ver: 1,
            smux_buf: 4_194_304,
            stream_buf: 2_097_152,
            keepalive: 10,
            tcp: false,
        }
    }

    /// The parameters upstream's KCP listener/dialer really use for this metadata: start from the
    /// documented defaults, or from the `kcp.config` map (which replaces them: fields it omits are
    /// zero), overwrite the thirteen `kcp.*` fields (zero when absent), then apply the mode preset and
    /// fill `smux_ver ≤ 0 ⇒ 1`, `smux_buf ≤ 0 ⇒ sock_buf`, `stream_buf ≤ 0 ⇒ sock_buf / 2`.
    pub fn from_metadata(md: &Metadata) -> Result<Self, MetadataError> {
        let mut c = match md.get(keys::KCP_CONFIG[0]) {
            Some(Value::Object(map)) => from_config_map(map)?,
            Some(other) => {
                return Err(MetadataError::new(
                    keys::KCP_CONFIG[0],
                    other,
                    "a map of KCP settings",
                ));
            }
            None => KcpOptions::documented_defaults(),
        };
        let int = |k: &[&str]| md.get_int(k).map(Option::unwrap_or_default);
        let text = |k: &[&str]| md.get_string(k).map(Option::unwrap_or_default);
        let flag = |k: &[&str]| md.get_bool(k).map(Option::unwrap_or_default);
        c.tcp = flag(keys::KCP_TCP)?;
        c.key = text(keys::KCP_KEY)?;
        c.crypt = text(keys::KCP_CRYPT)?;
        c.mode = text(keys::KCP_MODE)?;
        c.keepalive = int(keys::KCP_KEEPALIVE)?;
        c.interval = int(keys::KCP_INTERVAL)?;
        c.mtu = int(keys::KCP_MTU)?;
        c.rcv_wnd = int(keys::KCP_RCVWND)?;
        c.snd_wnd = int(keys::KCP_SNDWND)?;
        c.smux_ver = int(keys::KCP_SMUXVER)?;
        c.smux_buf = int(keys::KCP_SMUXBUF)?;
        c.stream_buf = int(keys::KCP_STREAMBUF)?;
        c.no_comp = flag(keys::KCP_NOCOMP)?;
        c.apply_presets();
        Ok(c)
    }

    fn apply_presets(&mut self) {
        let preset = match self.mode.as_str() {
            "normal" => Some((0, 40, 2, 1)),
            "fast" => Some((0, 30, 2, 1)),
            "fast2" => Some((1, 20, 2, 1)),
            "fast3" => Some((1, 10, 2, 1)),
            _ => None,
        };
        if let Some((no_delay, interval, resend, nc)) = preset {
            (
                self.no_delay,
                self.interval,
                self.resend,
                self.no_congestion,
            ) = (no_delay, interval, resend, nc);
        }
        if self.smux_ver <= 0 {
            self.smux_ver = 1;
        }
        if self.smux_buf <= 0 {
            self.smux_buf = self.sock_buf;
        }
        if self.stream_buf <= 0 {
            self.stream_buf = self.sock_buf / 2;
        }
    }
}

/// A `kcp.config` map, with kcptun's JSON field names; omitted fields are zero.
fn from_config_map(map: &serde_json::Map<String, Value>) -> Result<KcpOptions, MetadataError> {
    let md: Metadata = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let int = |k: &str| md.get_int(&[k]).map(Option::unwrap_or_default);
    let text = |k: &str| md.get_string(&[k]).map(Option::unwrap_or_default);
    let flag = |k: &str| md.get_bool(&[k]).map(Option::unwrap_or_default);
    Ok(KcpOptions {
        key: text("key")?,
        crypt: text("crypt")?,
        mode: text("mode")?,
        mtu: int("mtu")?,
        snd_wnd: int("sndwnd")?,
        rcv_wnd: int("rcvwnd")?,
        data_shard: int("datashard")?,
        parity_shard: int("parityshard")?,
        dscp: int("dscp")?,
        no_comp: flag("nocomp")?,
        ack_nodelay: flag("acknodelay")?,
        no_delay: int("nodelay")?,
        interval: int("interval")?,
        resend: int("resend")?,
        no_congestion: int("nc")?,
        sock_buf: int("sockbuf")?,
        smux_ver: int("smuxver")?,
        smux_buf: int("smuxbuf")?,
        stream_buf: int("streambuf")?,
        keepalive: int("keepalive")?,
        tcp: flag("tcp")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn no_keys_gives_the_effective_not_the_documented_defaults() {
        let o = KcpOptions::from_metadata(&Metadata::new()).unwrap();
        assert_eq!(
            (o.key.as_str(), o.crypt.as_str(), o.mode.as_str()),
            ("", "", "")
        );
        assert_eq!(
            (o.mtu, o.snd_wnd, o.rcv_wnd, o.interval, o.no_delay),
            (0, 0, 0, 0, 0)
        );
        assert_eq!((o.data_shard, o.parity_shard), (10, 3));
        assert!(!o.no_comp);
        assert_eq!(
            (o.smux_ver, o.smux_buf, o.stream_buf, o.keepalive),
            (1, 4_194_304, 2_097_152, 0)
        );
    }

    #[test]
    fn keys_and_presets_apply() {
        let md: Metadata = serde_json::from_value(
            json!({"kcp.key": "secret", "kcp.crypt": "aes", "kcp.mode": "fast"}),
        )
        .unwrap();
        let o = KcpOptions::from_metadata(&md).unwrap();
        assert_eq!((o.key.as_str(), o.crypt.as_str()), ("secret", "aes"));
        assert_eq!(
            (o.no_delay, o.interval, o.resend, o.no_congestion),
            (0, 30, 2, 1)
        );
    }

    #[test]
    fn config_map_replaces_the_defaults() {
        let md: Metadata =
            serde_json::from_value(json!({"kcp.config": {"crypt": "aes", "datashard": 5}}))
                .unwrap();
        let o = KcpOptions::from_metadata(&md).unwrap();
        assert_eq!(
            (o.data_shard, o.parity_shard, o.sock_buf, o.smux_buf),
            (5, 0, 0, 0)
        );
        assert_eq!(
            o.crypt, "",
            "kcp.crypt is absent, so the map's crypt is overwritten"
        );
    }
}
