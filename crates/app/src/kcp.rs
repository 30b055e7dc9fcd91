//! The KCP settings of a `kcp` listener or dialer: gost-config's [`KcpOptions`] (upstream's effective
//! values) set one by one on gost-kcp's [`KcpConfig`], which checks each.

use gost_config::options::KcpOptions;
use gost_transport::kcp::KcpConfig;

use crate::Error;

/// The KCP settings of a `kcp` listener or dialer from its parsed metadata (upstream's effective
/// values, see [`KcpOptions::from_metadata`]); out-of-range numbers and `kcp.tcp` are refused with
/// the option's name, in an error saying `what` ("listener kcp options").
pub fn kcp_config(opts: &KcpOptions, what: &'static str) -> Result<KcpConfig, Error> {
    let mut c = KcpConfig {
        key: opts.key.clone(),
        crypt: opts.crypt.clone(),
        mode: opts.mode.clone(),
        ..KcpConfig::default()
    };
    let numbers = [
        ("mtu", opts.mtu),
        ("sndwnd", opts.snd_wnd),
        ("rcvwnd", opts.rcv_wnd),
        ("datashard", opts.data_shard),
        ("parityshard", opts.parity_shard),
        ("dscp", opts.dscp),
        ("nodelay", opts.no_delay),
        ("interval", opts.interval),
        ("resend", opts.resend),
        ("nc", opts.no_congestion),
        ("sockbuf", opts.sock_buf),
        ("smuxver", opts.smux_ver),
        ("smuxbuf", opts.smux_buf),
        ("streambuf", opts.stream_buf),
        ("keepalive", opts.keepalive),
    ];
    let flags = [
        ("nocomp", opts.no_comp),
        ("acknodelay", opts.ack_nodelay),
        ("tcp", opts.tcp),
    ];
    let set = |c: &mut KcpConfig, name: &str, value: String| {
        c.set(name, &value).map_err(|e| Error::Options {
            what,
            source: Box::new(e),
        })
    };
    for (name, value) in numbers {
        set(&mut c, name, value.to_string())?;
    }
    for (name, value) in flags {
        set(&mut c, name, value.to_string())?;
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kcp_of(url: &str) -> Result<KcpConfig, Error> {
        let (config, _) = gost_config::from_cli(&[url], &[] as &[&str]).unwrap();
        let md = &config.services[0].listener.metadata;
        kcp_config(
            &KcpOptions::from_metadata(md).unwrap(),
            "listener kcp options",
        )
    }

    #[test]
    fn flags_reach_the_kcp_config() {
        let query = "kcp.key=s3cret&kcp.crypt=aes-128&kcp.mode=fast&kcp.sndwnd=128&kcp.rcvwnd=128";
        let c = kcp_of(&format!("socks5+kcp://127.0.0.1:0?{query}")).unwrap();
        assert_eq!(
            (c.key.as_str(), c.crypt.as_str(), c.mode.as_str()),
            ("s3cret", "aes-128", "fast")
        );
        assert_eq!((c.sndwnd, c.rcvwnd), (128, 128));
    }

    #[test]
    fn refused_values_name_the_option() {
        let e = kcp_of("socks5+kcp://127.0.0.1:0?kcp.tcp=true").unwrap_err();
        let text = crate::chain_of(&e);
        assert!(
            text.starts_with("listener kcp options: ") && text.contains("kcp.tcp"),
            "{text}"
        );
    }
}
