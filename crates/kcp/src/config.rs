//! KCP options with upstream GOST's names, their effective defaults and the resolution rules
//! (mode presets, zero means "library default") that turn them into concrete engine settings.

use std::time::Duration;

use crate::crypt::{BlockCrypt, CryptMethod};
use crate::error::ConfigError;

/// kcp-go's default MTU (`IKCP_MTU_DEF`), used when `mtu` is 0.
pub const DEFAULT_MTU: usize = 1400;
/// kcp-go refuses larger MTUs (its receive buffers are this big).
pub const MAX_MTU: usize = 1500;
/// kcp-go refuses MTUs below 50 bytes.
pub const MIN_MTU: usize = 50;
/// kcp-go's default send/receive window in segments, used when `sndwnd`/`rcvwnd` are 0.
pub const DEFAULT_WINDOW: u16 = 32;
/// Largest window accepted; bounds per-session memory (window × MTU).
pub const MAX_WINDOW: u16 = 32768;

/// Every KCP option upstream GOST understands, under upstream's names (`kcp.key`, `kcp.crypt`, ...).
///
/// [`KcpConfig::default`] is what upstream GOST **actually** runs with when no `kcp.*` keys are given
/// (gost-wire §6.3.1: its metadata parser overwrites the documented defaults with zero values), so a
/// default-configured gost-rs node talks to a default-configured GOST node. [`KcpConfig::documented`]
/// is upstream's `DefaultConfig` as written in its docs, for users who copy settings from there.
///
/// Zero means "library default" for `mtu` (1400), `sndwnd`/`rcvwnd` (32), `interval` (10 ms),
/// `smuxver` (1), `smuxbuf` (= `sockbuf`), `streambuf` (= `sockbuf / 2`) and `keepalive` (10 s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KcpConfig {
    /// Pre-shared password; the cipher key is PBKDF2-HMAC-SHA1(key, "kcp-go", 4096, 32).
    pub key: String,
    /// Block cipher name (`aes`, `aes-128`, `aes-192`, `none`, `xor`, ...); unknown or empty ⇒ AES-256.
    pub crypt: String,
    /// Preset for nodelay/interval/resend/nc: `normal`, `fast`, `fast2`, `fast3`; anything else
    /// (`manual`, empty) keeps the explicit values.
    pub mode: String,
    /// Maximum UDP payload size (crypt and FEC headers included).
    pub mtu: usize,
    /// Send window in segments.
    pub sndwnd: u16,
    /// Receive window in segments.
    pub rcvwnd: u16,
    /// Reed-Solomon data shards per FEC group (0 with `parityshard` 0 disables FEC).
    pub datashard: usize,
    /// Reed-Solomon parity shards per FEC group.
    pub parityshard: usize,
    /// DSCP value for outgoing datagrams (dialer side only, like upstream).
    pub dscp: u8,
    /// Disable the snappy framing layer.
    pub nocomp: bool,
    /// Flush ACKs immediately after each received packet instead of on the next tick.
    pub acknodelay: bool,
    /// ikcp nodelay (0 off, 1 on, 2 on with gentler back-off).
    pub nodelay: u32,
    /// ikcp internal update interval in milliseconds (clamped to 10..=5000).
    pub interval: u32,
    /// Fast-retransmit after this many duplicate ACKs (0 off).
    pub resend: u32,
    /// 1 disables congestion control.
    pub nc: u32,
    /// UDP socket buffer size in bytes; also the base of `smuxbuf`/`streambuf`.
    pub sockbuf: usize,
    /// smux protocol version (1 or 2).
    pub smuxver: u8,
    /// smux session receive buffer in bytes.
    pub smuxbuf: usize,
    /// smux per-stream buffer in bytes.
    pub streambuf: usize,
    /// smux keepalive interval in seconds.
    pub keepalive: u64,
}

impl Default for KcpConfig {
    /// The configuration upstream GOST effectively uses with no `kcp.*` keys (gost-wire §6.3.1).
    fn default() -> Self {
        KcpConfig {
            key: String::new(),
            crypt: String::new(),
            mode: String::new(),
            mtu: 0,
            sndwnd: 0,
            rcvwnd: 0,
            datashard: 10,
            parityshard: 3,
            dscp: 0,
            nocomp: false,
            acknodelay: false,
            nodelay: 0,
            interval: 0,
            resend: 0,
            nc: 0,
            sockbuf: 4 * 1024 * 1024,
            smuxver: 0,
            smuxbuf: 0,
            streambuf: 0,
            keepalive: 0,
        }
    }
}

/// Concrete ikcp engine settings after mode presets and clamping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArqSettings {
    /// ikcp nodelay flag.
    pub nodelay: u32,
    /// Update interval in milliseconds, within 10..=5000.
    pub interval: u32,
    /// Fast-resend threshold (0 off).
    pub resend: u32,
    /// Congestion control disabled.
    pub nocwnd: bool,
    /// Send window in segments.
    pub sndwnd: u16,
    /// Receive window in segments.
    pub rcvwnd: u16,
    /// Flush ACKs right after input.
    pub acknodelay: bool,
}

impl KcpConfig {
    /// Upstream's documented `DefaultConfig` (key "it's a secrect", mode fast, mtu 1350, windows 1024,
    /// interval 50). Upstream never actually applies it when `kcp.*` metadata is absent; see
    /// [`KcpConfig::default`].
    pub fn documented() -> Self {
        KcpConfig {
            key: "it's a secrect".to_owned(),
            crypt: "aes".to_owned(),
            mode: "fast".to_owned(),
            mtu: 1350,
            sndwnd: 1024,
            rcvwnd: 1024,
            interval: 50,
            smuxver: 1,
            smuxbuf: 4 * 1024 * 1024,
            streambuf: 2 * 1024 * 1024,
            keepalive: 10,
            ..KcpConfig::default()
        }
    }

    /// Sets one option from its upstream name (with or without the `kcp.` prefix) and textual value,
    /// as found in URL query strings and YAML metadata. Booleans accept true/false/1/0/yes/no/on/off.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let name = name.strip_prefix("kcp.").unwrap_or(name);
        let bad = || ConfigError::BadValue {
            name: name.to_owned(),
            value: value.to_owned(),
        };
        let num = |v: &str| v.trim().parse::<u64>().map_err(|_| bad());
        let flag = |v: &str| match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" | "" => Ok(false),
            _ => Err(bad()),
        };
        let narrow = |n: u64| u32::try_from(n).map_err(|_| bad());
        match name {
            "key" => self.key = value.to_owned(),
            "crypt" => self.crypt = value.to_owned(),
            "mode" => self.mode = value.to_owned(),
            "mtu" => self.mtu = num(value)? as usize,
            "sndwnd" => self.sndwnd = u16::try_from(num(value)?).map_err(|_| bad())?,
            "rcvwnd" => self.rcvwnd = u16::try_from(num(value)?).map_err(|_| bad())?,
            "datashard" => self.datashard = num(value)? as usize,
            "parityshard" => self.parityshard = num(value)? as usize,
            "dscp" => self.dscp = u8::try_from(num(value)?).map_err(|_| bad())?,
            "nocomp" => self.nocomp = flag(value)?,
            "acknodelay" => self.acknodelay = flag(value)?,
            "nodelay" => self.nodelay = narrow(num(value)?)?,
            "interval" => self.interval = narrow(num(value)?)?,
            "resend" => self.resend = narrow(num(value)?)?,
            "nc" => self.nc = narrow(num(value)?)?,
            "sockbuf" => self.sockbuf = num(value)? as usize,
            "smuxver" => self.smuxver = u8::try_from(num(value)?).map_err(|_| bad())?,
            "smuxbuf" => self.smuxbuf = num(value)? as usize,
            "streambuf" => self.streambuf = num(value)? as usize,
            "keepalive" => self.keepalive = num(value)?,
            "tcp" if flag(value)? => {
                return Err(ConfigError::Unsupported("kcp.tcp (fake-TCP)".into()));
            }
            "tcp" => {}
            _ => return Err(ConfigError::UnknownOption(name.to_owned())),
        }
        Ok(())
    }

    /// Checks every value and builds the cipher. Call once per listener/dialer: the key derivation
    /// runs 4096 PBKDF2 rounds.
    pub fn validate(&self) -> Result<ValidConfig, ConfigError> {
        let method = CryptMethod::from_name(&self.crypt)?;
        let mtu = self.effective_mtu()?;
        if self.datashard + self.parityshard > 255 {
            return Err(ConfigError::BadValue {
                name: "datashard+parityshard".into(),
                value: (self.datashard + self.parityshard).to_string(),
            });
        }
        if !matches!(self.smux_version(), 1 | 2) {
            return Err(ConfigError::BadValue {
                name: "smuxver".into(),
                value: self.smuxver.to_string(),
            });
        }
        if self.smux_receive_buffer() == 0 {
            return Err(ConfigError::BadValue {
                name: "smuxbuf".into(),
                value: "0 (and sockbuf 0)".into(),
            });
        }
        if self.smux_stream_buffer() > self.smux_receive_buffer() {
            return Err(ConfigError::BadValue {
                name: "streambuf".into(),
                value: format!(
                    "{} > smuxbuf {}",
                    self.smux_stream_buffer(),
                    self.smux_receive_buffer()
                ),
            });
        }
        Ok(ValidConfig {
            crypt: BlockCrypt::new(method, &self.key),
            mtu,
            fec: self.fec_shards(),
            arq: self.arq_settings(),
            nocomp: self.nocomp,
            dscp: self.dscp,
            sockbuf: self.sockbuf,
        })
    }

    /// MTU in effect: 0 ⇒ 1400; outside 50..=1500 is an error (kcp-go would ignore it silently).
    pub fn effective_mtu(&self) -> Result<usize, ConfigError> {
        match self.mtu {
            0 => Ok(DEFAULT_MTU),
            m if (MIN_MTU..=MAX_MTU).contains(&m) => Ok(m),
            m => Err(ConfigError::BadValue {
                name: "mtu".into(),
                value: format!("{m} (allowed {MIN_MTU}..={MAX_MTU})"),
            }),
        }
    }

    /// `(datashard, parityshard)` when FEC is on (both positive), else `None`.
    pub fn fec_shards(&self) -> Option<(usize, usize)> {
        (self.datashard > 0 && self.parityshard > 0).then_some((self.datashard, self.parityshard))
    }

    /// ARQ settings after the `mode` preset (normal/fast/fast2/fast3 override nodelay, interval,
    /// resend and nc exactly like upstream's `Config.Init`).
    pub fn arq_settings(&self) -> ArqSettings {
        let (nodelay, interval, resend, nc) = match self.mode.as_str() {
            "normal" => (0, 40, 2, 1),
            "fast" => (0, 30, 2, 1),
            "fast2" => (1, 20, 2, 1),
            "fast3" => (1, 10, 2, 1),
            _ => (self.nodelay, self.interval, self.resend, self.nc),
        };
        let window = |w: u16| {
            if w == 0 {
                DEFAULT_WINDOW
            } else {
                w.min(MAX_WINDOW)
            }
        };
        ArqSettings {
            nodelay,
            interval: interval.clamp(10, 5000),
            resend,
            nocwnd: nc != 0,
            sndwnd: window(self.sndwnd),
            rcvwnd: window(self.rcvwnd),
            acknodelay: self.acknodelay,
        }
    }

    /// smux version in effect (0 ⇒ 1).
    pub fn smux_version(&self) -> u8 {
        if self.smuxver == 0 { 1 } else { self.smuxver }
    }

    /// smux MaxReceiveBuffer in effect (0 ⇒ sockbuf).
    pub fn smux_receive_buffer(&self) -> usize {
        if self.smuxbuf == 0 {
            self.sockbuf
        } else {
            self.smuxbuf
        }
    }

    /// smux MaxStreamBuffer in effect (0 ⇒ sockbuf / 2).
    pub fn smux_stream_buffer(&self) -> usize {
        if self.streambuf == 0 {
            self.sockbuf / 2
        } else {
            self.streambuf
        }
    }

    /// smux keepalive interval in effect (0 ⇒ smux's default of 10 s).
    pub fn smux_keepalive(&self) -> Duration {
        Duration::from_secs(if self.keepalive == 0 {
            10
        } else {
            self.keepalive
        })
    }
}

/// A checked configuration with the derived cipher, ready to build sessions from (cheap to clone).
#[derive(Debug, Clone)]
pub struct ValidConfig {
    /// Packet cipher with the derived key.
    pub crypt: BlockCrypt,
    /// MTU in effect (UDP payload size limit).
    pub mtu: usize,
    /// FEC shard counts when FEC is on.
    pub fec: Option<(usize, usize)>,
    /// ARQ engine settings.
    pub arq: ArqSettings,
    /// Snappy framing disabled.
    pub nocomp: bool,
    /// DSCP for dialer sockets.
    pub dscp: u8,
    /// UDP socket buffer size.
    pub sockbuf: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_what_upstream_runs_with() {
        let c = KcpConfig::default();
        assert_eq!(c.effective_mtu().unwrap(), 1400);
        assert_eq!(c.fec_shards(), Some((10, 3)));
        let a = c.arq_settings();
        assert_eq!(
            (a.nodelay, a.interval, a.resend, a.nocwnd),
            (0, 10, 0, false)
        );
        assert_eq!((a.sndwnd, a.rcvwnd), (32, 32));
        assert_eq!(c.smux_version(), 1);
        assert_eq!(c.smux_receive_buffer(), 4 * 1024 * 1024);
        assert_eq!(c.smux_stream_buffer(), 2 * 1024 * 1024);
        assert_eq!(c.smux_keepalive(), Duration::from_secs(10));
        assert_eq!(c.validate().unwrap().crypt.method(), CryptMethod::Aes256);
    }

    #[test]
    fn mode_presets_override_manual_values() {
        let mut c = KcpConfig::documented();
        assert_eq!(c.arq_settings().interval, 30);
        c.set("kcp.mode", "fast3").unwrap();
        let a = c.arq_settings();
        assert_eq!(
            (a.nodelay, a.interval, a.resend, a.nocwnd),
            (1, 10, 2, true)
        );
        c.set("mode", "manual").unwrap();
        c.set("interval", "20").unwrap();
        assert_eq!(c.arq_settings().interval, 20);
    }

    #[test]
    fn set_rejects_bad_values_with_the_option_name() {
        let mut c = KcpConfig::default();
        let e = c.set("sndwnd", "70000").unwrap_err();
        assert!(e.to_string().contains("sndwnd"), "{e}");
        assert!(c.set("bogus", "1").is_err());
        assert!(c.set("tcp", "true").is_err());
        c.set("mtu", "40").unwrap();
        assert!(c.validate().is_err());
        c.set("mtu", "1350").unwrap();
        c.set("nocomp", "true").unwrap();
        assert!(c.validate().unwrap().nocomp);
    }
}
