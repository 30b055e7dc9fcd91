//! Splitting one `-L`/`-F` argument into its parts, as Go's `net/url.Parse` does for upstream:
//! `scheme://[user[:pass]@]host[:port][/path][?query]`, with percent-decoding of the user info and
//! the query, IPv6 literals in brackets and `host:min-max` port ranges.

use percent_encoding::percent_decode_str;

/// The parts of one command-line URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CmdUrl {
    /// Lowercased scheme (`socks5+tls`); `auto` when the argument had none.
    pub scheme: String,
    /// Percent-decoded user name and optional password.
    pub user: Option<(String, Option<String>)>,
    /// The raw host part (may be a comma list for `-F`).
    pub host: String,
    /// The path without its leading/trailing `/` (forwarding targets for `-L`).
    pub path: String,
    /// Query pairs in order, percent-decoded (`+` is a space).
    pub query: Vec<(String, String)>,
}

/// Parses one argument. The error text says what is wrong; the caller prefixes the flag and argument.
pub(crate) fn parse(arg: &str) -> Result<CmdUrl, String> {
    let (scheme, rest) = match arg.split_once("://") {
        Some((scheme, rest)) => {
            if scheme.is_empty()
                || !scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            {
                return Err(format!(
                    "`{scheme}` is not a valid scheme (expected e.g. socks5, socks5+tls)"
                ));
            }
            (scheme.to_ascii_lowercase(), rest)
        }
        None => {
            // `socks5:/h:1080`: a scheme with one slash would otherwise read as a host called
            // `socks5` and fail later with a puzzling "missing port". (A port never starts with `/`.)
            if let Some((scheme, rest)) = arg.split_once(':')
                && rest.starts_with('/')
                && !scheme.is_empty()
                && !scheme.contains(['/', '@', '?'])
            {
                return Err(format!(
                    "missing `//` after `{scheme}:` (expected {scheme}://host:port, e.g. {scheme}://:1080)"
                ));
            }
            ("auto".to_owned(), arg)
        }
    };
    // A fragment is not part of anything GOST reads.
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = match before_query.find('/') {
        Some(i) => (&before_query[..i], &before_query[i..]),
        None => (before_query, ""),
    };
    let (user, host) = match authority.rfind('@') {
        Some(i) => (Some(parse_userinfo(&authority[..i])?), &authority[i + 1..]),
        None => (None, authority),
    };
    Ok(CmdUrl {
        scheme,
        user,
        host: host.to_owned(),
        path: path.trim_matches('/').to_owned(),
        query: parse_query(query)?,
    })
}

fn decode(text: &str, what: &str) -> Result<String, String> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format!("{what} is not valid UTF-8 after percent-decoding"))
}

fn parse_userinfo(info: &str) -> Result<(String, Option<String>), String> {
    if let Some(bad) = info
        .chars()
        .find(|c| matches!(c, '/' | '?' | '#' | '[' | ']' | ' '))
    {
        return Err(format!(
            "character `{bad}` in user:password must be percent-encoded"
        ));
    }
    check_escapes(info, "user:password")?;
    match info.split_once(':') {
        Some((user, pass)) => Ok((decode(user, "user name")?, Some(decode(pass, "password")?))),
        None => Ok((decode(info, "user name")?, None)),
    }
}

/// Go rejects `%` not followed by two hex digits.
fn check_escapes(text: &str, what: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let ok = bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !ok {
                return Err(format!(
                    "bad percent-escape in {what} (use %25 for a literal %)"
                ));
            }
        }
    }
    Ok(())
}

fn parse_query(query: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        if part.contains(';') {
            return Err("`;` is not a query separator; use `&`".to_owned());
        }
        check_escapes(part, "the query")?;
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let k = decode(&k.replace('+', " "), "a query key")?;
        let v = decode(&v.replace('+', " "), "a query value")?;
        pairs.push((k, v));
    }
    Ok(pairs)
}

/// A `host:port` or `host:min-max` split into host (brackets kept for IPv6) and port bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostPorts {
    pub host: String,
    pub first: u16,
    pub last: u16,
}

impl HostPorts {
    /// How many ports the range holds (1 for a single port).
    pub(crate) fn len(&self) -> usize {
        usize::from(self.last - self.first) + 1
    }

    /// Every `host:port` of the range.
    pub(crate) fn addrs(&self) -> impl Iterator<Item = String> + '_ {
        (self.first..=self.last).map(move |p| format!("{}:{p}", self.host))
    }
}

/// Splits `host:port` / `[v6]:port` / `host:min-max`; `allow_zero` permits port 0 (listen on any
/// free port).
pub(crate) fn split_host_ports(addr: &str, allow_zero: bool) -> Result<HostPorts, String> {
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let end = rest.find(']').ok_or("IPv6 address without closing `]`")?;
        let host = &addr[..end + 2];
        let after = &rest[end + 1..];
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| format!("missing `:port` after `{host}`"))?;
        if !host[1..host.len() - 1].contains(':') {
            return Err(format!("`{host}` is not an IPv6 address"));
        }
        (host, port)
    } else {
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| format!("missing port in `{addr}` (expected host:port, e.g. :1080)"))?;
        if host.contains(':') {
            return Err(format!(
                "IPv6 address in `{addr}` must be in brackets, e.g. [::1]:1080"
            ));
        }
        (host, port)
    };
    if host
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '/' | '@' | '?' | '%'))
    {
        return Err(format!("`{host}` is not a valid host"));
    }
    let lowest = u16::from(!allow_zero);
    let parse_port = |p: &str| -> Result<u16, String> {
        match p.parse::<u16>() {
            Ok(n) if n >= lowest => Ok(n),
            _ if p.is_empty() => Err(format!(
                "missing port in `{addr}` (expected host:port, e.g. :1080)"
            )),
            _ => Err(format!("bad port `{p}` (expected a number {lowest}-65535)")),
        }
    };
    let (first, last) = match port.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse_port(a)?, parse_port(b)?);
            if a > b {
                return Err(format!(
                    "bad port range `{port}` (the first port must not exceed the last)"
                ));
            }
            (a, b)
        }
        None => {
            let p = parse_port(port)?;
            (p, p)
        }
    };
    Ok(HostPorts {
        host: host.to_owned(),
        first,
        last,
    })
}

/// Standard base64 (with or without padding), as used by `?auth=`.
pub(crate) fn base64_decode(input: &str) -> Option<Vec<u8>> {
    let trimmed = input.trim_end_matches('=');
    if input.len() - trimmed.len() > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in trimmed.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A single leftover sextet cannot encode a byte.
    if bits >= 6 {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_full_url() {
        let u = parse("socks5+tls://us%40r:p%3Ass@[::1]:1080/a:1,b:2?x=1&y=a+b%26").unwrap();
        assert_eq!(u.scheme, "socks5+tls");
        assert_eq!(u.user, Some(("us@r".into(), Some("p:ss".into()))));
        assert_eq!(u.host, "[::1]:1080");
        assert_eq!(u.path, "a:1,b:2");
        assert_eq!(
            u.query,
            vec![("x".into(), "1".into()), ("y".into(), "a b&".into())]
        );
    }

    #[test]
    fn a_scheme_with_one_slash_is_missing_the_double_slash() {
        for arg in ["socks5:/127.0.0.1:1080", "socks5+tls:/:1080"] {
            let err = parse(arg).unwrap_err();
            assert!(
                err.starts_with("missing `//` after `socks5"),
                "{arg}: {err}"
            );
        }
        for arg in [
            "localhost:1080",
            "u:p@:1080",
            ":1080/127.0.0.1:80",
            "[::1]:1080",
        ] {
            assert!(parse(arg).is_ok(), "{arg}");
        }
    }

    #[test]
    fn no_scheme_means_auto() {
        let u = parse(":1080").unwrap();
        assert_eq!((u.scheme.as_str(), u.host.as_str()), ("auto", ":1080"));
        assert_eq!(
            parse("alice@:1080").unwrap().user,
            Some(("alice".into(), None))
        );
    }

    #[test]
    fn rejects_bad_parts() {
        assert!(parse("so cks://:1").is_err());
        assert!(parse("socks5://u%zz:p@:1").is_err());
        assert!(parse("socks5://:1?a=1;b=2").is_err());
    }

    #[test]
    fn host_ports() {
        let hp = split_host_ports(":8000-8002", false).unwrap();
        assert_eq!(hp.addrs().collect::<Vec<_>>(), [":8000", ":8001", ":8002"]);
        assert_eq!(split_host_ports("[::1]:1080", false).unwrap().host, "[::1]");
        assert_eq!(split_host_ports("h:0", true).unwrap().first, 0);
        for bad in [
            "h", "h:", "h:0", "h:65536", "h:x", "::1:80", "[::1]", "[::1]80", "h:9-8", "[abc]:1",
        ] {
            assert!(split_host_ports(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YQ").unwrap(), b"a");
        assert!(base64_decode("Y").is_none());
        assert!(base64_decode("**").is_none());
    }
}
