//! Session configuration with xtaci/smux's defaults and its sanity rules.

use std::time::Duration;

/// Session settings. Field names follow xtaci/smux's `Config` so GOST's `mux.*` metadata maps 1:1.
///
/// Both ends must use the same [`version`](Config::version); the other fields are local.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Protocol version, 1 (GOST's default) or 2 (per-stream flow control).
    pub version: u8,
    /// Turns off sending NOPs and the dead-peer check.
    pub keep_alive_disabled: bool,
    /// How often a NOP is sent.
    pub keep_alive_interval: Duration,
    /// The session is closed when no frame at all arrived for this long.
    pub keep_alive_timeout: Duration,
    /// Largest PSH payload this side sends (the receiver accepts up to 65535 regardless).
    pub max_frame_size: usize,
    /// Session-wide limit of received-but-unread bytes; reading the connection pauses beyond it.
    pub max_receive_buffer: usize,
    /// Per-stream window advertised to the peer in version 2.
    pub max_stream_buffer: usize,
}

impl Default for Config {
    /// xtaci/smux's defaults as GOST uses them for MBIND (GOST forces version 1).
    fn default() -> Self {
        Config {
            version: 1,
            keep_alive_disabled: false,
            keep_alive_interval: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(30),
            max_frame_size: 32768,
            max_receive_buffer: 4 * 1024 * 1024,
            max_stream_buffer: 65536,
        }
    }
}

/// A [`Config`] that xtaci/smux would refuse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `version` is not 1 or 2.
    #[error("smux config: unsupported version {0} (must be 1 or 2)")]
    BadVersion(u8),
    /// Keepalive is on with a zero interval.
    #[error("smux config: keep-alive interval must be positive")]
    ZeroKeepAliveInterval,
    /// Keepalive is on and the timeout is shorter than the interval.
    #[error(
        "smux config: keep-alive timeout ({timeout:?}) must be at least the interval ({interval:?})"
    )]
    TimeoutBelowInterval {
        /// Configured interval.
        interval: Duration,
        /// Configured timeout.
        timeout: Duration,
    },
    /// `max_frame_size` is 0 or above 65535.
    #[error("smux config: max frame size {0} must be in 1..=65535")]
    BadMaxFrameSize(usize),
    /// `max_receive_buffer` is 0 or does not fit upstream's 32-bit signed counter.
    #[error("smux config: max receive buffer {0} must be in 1..=2147483647")]
    BadMaxReceiveBuffer(usize),
    /// `max_stream_buffer` is 0.
    #[error("smux config: max stream buffer must be positive")]
    ZeroMaxStreamBuffer,
    /// `max_stream_buffer` exceeds `max_receive_buffer`.
    #[error(
        "smux config: max stream buffer ({stream}) must not exceed max receive buffer ({receive})"
    )]
    StreamBufferAboveReceiveBuffer {
        /// Configured stream buffer.
        stream: usize,
        /// Configured receive buffer.
        receive: usize,
    },
}

impl Config {
    /// Checks the same rules xtaci/smux's `VerifyConfig` enforces.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.version != 1 && self.version != 2 {
            return Err(ConfigError::BadVersion(self.version));
        }
        if !self.keep_alive_disabled {
            if self.keep_alive_interval.is_zero() {
                return Err(ConfigError::ZeroKeepAliveInterval);
            }
            if self.keep_alive_timeout < self.keep_alive_interval {
                return Err(ConfigError::TimeoutBelowInterval {
                    interval: self.keep_alive_interval,
                    timeout: self.keep_alive_timeout,
                });
            }
        }
        if self.max_frame_size == 0 || self.max_frame_size > crate::frame::MAX_DATA_LEN {
            return Err(ConfigError::BadMaxFrameSize(self.max_frame_size));
        }
        if self.max_receive_buffer == 0 || self.max_receive_buffer > i32::MAX as usize {
            return Err(ConfigError::BadMaxReceiveBuffer(self.max_receive_buffer));
        }
        if self.max_stream_buffer == 0 {
            return Err(ConfigError::ZeroMaxStreamBuffer);
        }
        if self.max_stream_buffer > self.max_receive_buffer {
            return Err(ConfigError::StreamBufferAboveReceiveBuffer {
                stream: self.max_stream_buffer,
                receive: self.max_receive_buffer,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_gost() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!((c.version, c.max_frame_size), (1, 32768));
        assert_eq!(
            (c.max_receive_buffer, c.max_stream_buffer),
            (4194304, 65536)
        );
    }

    #[test]
    fn invalid_configs_are_named() {
        let bad = |f: fn(&mut Config)| {
            let mut c = Config::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert_eq!(bad(|c| c.version = 3), ConfigError::BadVersion(3));
        assert_eq!(
            bad(|c| c.keep_alive_interval = Duration::ZERO),
            ConfigError::ZeroKeepAliveInterval
        );
        assert!(matches!(
            bad(|c| c.keep_alive_interval = Duration::from_secs(60)),
            ConfigError::TimeoutBelowInterval { .. }
        ));
        assert_eq!(
            bad(|c| c.max_frame_size = 0),
            ConfigError::BadMaxFrameSize(0)
        );
        assert_eq!(
            bad(|c| c.max_frame_size = 65536),
            ConfigError::BadMaxFrameSize(65536)
        );
        assert_eq!(
            bad(|c| c.max_receive_buffer = 0),
            ConfigError::BadMaxReceiveBuffer(0)
        );
        assert_eq!(
            bad(|c| c.max_stream_buffer = 0),
            ConfigError::ZeroMaxStreamBuffer
        );
        assert!(matches!(
            bad(|c| c.max_stream_buffer = 8 << 20),
            ConfigError::StreamBufferAboveReceiveBuffer { .. }
        ));
        // A disabled keepalive ignores its timings, as upstream does.
        let mut c = Config {
            keep_alive_disabled: true,
            ..Config::default()
        };
        c.keep_alive_interval = Duration::ZERO;
        c.validate().unwrap();
    }
}
