//! `mux.*` metadata (the smux settings of MBIND, on a SOCKS5 handler or connector) onto gost-smux's
//! [`gost_smux::Config`]: the one place the two meet, so a key left out keeps gost-smux's default.

use gost_config::options::MuxOptions;

/// gost-smux's configuration with the values `written` sets.
pub(crate) fn smux_config(written: &MuxOptions) -> gost_smux::Config {
    let d = gost_smux::Config::default();
    gost_smux::Config {
        version: written.version.unwrap_or(d.version),
        keep_alive_disabled: written.keepalive_disabled,
        keep_alive_interval: written.keepalive_interval.unwrap_or(d.keep_alive_interval),
        keep_alive_timeout: written.keepalive_timeout.unwrap_or(d.keep_alive_timeout),
        max_frame_size: written.max_frame_size.unwrap_or(d.max_frame_size),
        max_receive_buffer: written.max_receive_buffer.unwrap_or(d.max_receive_buffer),
        max_stream_buffer: written.max_stream_buffer.unwrap_or(d.max_stream_buffer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn unwritten_keys_keep_smux_defaults() {
        assert_eq!(
            smux_config(&MuxOptions::default()),
            gost_smux::Config::default()
        );
        let written = MuxOptions {
            version: Some(2),
            keepalive_interval: Some(Duration::from_secs(5)),
            ..MuxOptions::default()
        };
        let c = smux_config(&written);
        assert_eq!(
            (c.version, c.keep_alive_interval),
            (2, Duration::from_secs(5))
        );
        assert_eq!(
            c.max_frame_size,
            gost_smux::Config::default().max_frame_size
        );
    }
}
