//! The HTTP/1.1 Upgrade exchange of a WebSocket, byte-compatible with what upstream GOST sends.
//!
//! Upstream's client is gorilla/websocket on Go's `net/http` request writer: `Host`, then `User-Agent:
//! Go-http-client/1.1`, then every other header sorted by name. tungstenite writes its own fixed order, so
//! the head is built and parsed here and tungstenite only does the framing afterwards. The parser is small
//! and strict: a bounded head, UTF-8 lines, `Name: value` headers, no line folding.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::Error;

/// Longest request or response head accepted (upstream's requests are about 200 bytes).
pub(crate) const MAX_HEAD: usize = 16 * 1024;

/// What Go's `net/http` sends when no `User-Agent` is configured.
pub(crate) const GO_USER_AGENT: &str = "Go-http-client/1.1";

/// Bytes Go's `URL.EscapedPath` leaves alone in a path: letters, digits, `-_.~` and `$&+,/:;=@`.
const PATH_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b',')
    .remove(b'/')
    .remove(b':')
    .remove(b';')
    .remove(b'=')
    .remove(b'@');

/// Reads up to and including the blank line ending an HTTP head; returns the head and any bytes after it.
pub(crate) async fn read_head<S: AsyncRead + Unpin>(
    s: &mut S,
) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let mut buf = Vec::with_capacity(1024);
    let mut searched = 0;
    loop {
        if buf.len() >= MAX_HEAD {
            return Err(Error::Ws(format!(
                "HTTP header longer than {MAX_HEAD} bytes"
            )));
        }
        buf.reserve(1024.min(MAX_HEAD - buf.len()));
        if s.read_buf(&mut buf).await? == 0 {
            return Err(Error::Ws(
                "connection closed before the end of the HTTP header".into(),
            ));
        }
        if let Some(pos) = buf[searched..].windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(searched + pos + 4);
            return Ok((buf, rest));
        }
        searched = buf.len().saturating_sub(3);
    }
}

/// A parsed request or response head.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Head<'a> {
    /// Request: method, target, version. Response: version, status code, reason.
    pub start: [&'a str; 3],
    pub headers: Vec<(&'a str, &'a str)>,
}

impl<'a> Head<'a> {
    /// Parses a head as returned by [`read_head`]; the error says what is malformed.
    pub(crate) fn parse(head: &'a [u8]) -> Result<Head<'a>, &'static str> {
        let text = std::str::from_utf8(head).map_err(|_| "header is not UTF-8")?;
        let text = text
            .strip_suffix("\r\n\r\n")
            .ok_or("header does not end with a blank line")?;
        let mut lines = text.split("\r\n");
        let mut parts = lines.next().unwrap_or("").splitn(3, ' ');
        let mut start = [""; 3];
        for s in &mut start {
            *s = parts.next().ok_or("malformed first line")?;
        }
        let mut headers = Vec::new();
        for line in lines {
            let (name, value) = line.split_once(':').ok_or("header line without ':'")?;
            let valid_name = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
            if !valid_name {
                return Err("invalid header name");
            }
            headers.push((name, value.trim_matches([' ', '\t'])));
        }
        Ok(Head { start, headers })
    }

    /// The first value of a header (names compare case-insensitively).
    pub(crate) fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, v)| v)
    }

    /// Whether any value of the header lists `token` (comma-separated, case-insensitive).
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The request target's path, percent-decoded, without query; absolute-form targets are reduced too.
    pub(crate) fn path(&self) -> String {
        let target = self.start[1];
        let target = match target.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => target,
        };
        let path = target.split(['?', '#']).next().unwrap_or("");
        percent_decode_str(path).decode_utf8_lossy().into_owned()
    }
}

/// Go's `CanonicalMIMEHeaderKey`: `x-forwarded-for` becomes `X-Forwarded-For`.
pub(crate) fn canonical_name(name: &str) -> String {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !name.bytes().all(token) {
        return name.to_owned();
    }
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

/// The client's upgrade request, laid out as Go's `net/http` writes gorilla's request.
pub(crate) fn client_request(
    path: &str,
    host: &str,
    key: &str,
    extra: &[(String, String)],
) -> Result<Vec<u8>, Error> {
    let mut host = host.to_owned();
    let mut user_agent = GO_USER_AGENT.to_owned();
    let mut headers: Vec<(String, &str)> = vec![
        ("Connection".into(), "Upgrade"),
        ("Sec-WebSocket-Key".into(), key),
        ("Sec-WebSocket-Version".into(), "13"),
        ("Upgrade".into(), "websocket"),
    ];
    for (name, value) in extra {
        let name = canonical_name(name);
        check_header(&name, value)?;
        match name.as_str() {
            "Host" => host.clone_from(value),
            "User-Agent" => user_agent.clone_from(value),
            "Connection"
            | "Upgrade"
            | "Sec-Websocket-Key"
            | "Sec-Websocket-Version"
            | "Sec-Websocket-Extensions" => {
                return Err(Error::Ws(format!(
                    "header {name} is set by the WebSocket handshake and cannot be configured"
                )));
            }
            _ => headers.push((name, value)),
        }
    }
    // Go writes the remaining headers sorted by name (a stable sort keeps repeated names in order).
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    let mut req = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\n",
        utf8_percent_encode(&path, PATH_ESCAPE)
    );
    if !user_agent.is_empty() {
        req.push_str(&format!("User-Agent: {user_agent}\r\n"));
    }
    for (name, value) in &headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str("\r\n");
    Ok(req.into_bytes())
}

/// The server's `101 Switching Protocols`, in gorilla's order, with the configured extra headers.
pub(crate) fn switching_protocols(
    accept: &str,
    extra: &[(String, String)],
) -> Result<Vec<u8>, Error> {
    let mut resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
    );
    for (name, value) in extra {
        check_header(name, value)?;
        resp.push_str(&format!("{name}: {value}\r\n"));
    }
    resp.push_str("\r\n");
    Ok(resp.into_bytes())
}

/// A plain-text error response, as Go's `http.Error` writes it; the connection is closed afterwards.
pub(crate) fn error_response(status: u16, body: &str) -> Vec<u8> {
    let reason = match status {
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    };
    let version = if status == 400 {
        "Sec-Websocket-Version: 13\r\n"
    } else {
        ""
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n{version}X-Content-Type-Options: nosniff\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Rejects configured headers that would break the head (CR/LF injection, bad names).
fn check_header(name: &str, value: &str) -> Result<(), Error> {
    let bad_name = name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if bad_name || value.bytes().any(|b| b == b'\r' || b == b'\n') {
        return Err(Error::Ws(format!(
            "invalid configured header {name:?}: {value:?}"
        )));
    }
    Ok(())
}

/// Whether a `Sec-WebSocket-Key` is base64 of 16 bytes (what gorilla checks).
pub(crate) fn valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    b.len() == 24
        && b.ends_with(b"==")
        && b[..22]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_matches_upstream_layout() {
        let req =
            client_request("/ws", "127.0.0.1:32201", "JtJ8gJ7ytUjvpvp8BGF1iA==", &[]).unwrap();
        assert_eq!(
            String::from_utf8(req).unwrap(),
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:32201\r\nUser-Agent: Go-http-client/1.1\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: JtJ8gJ7ytUjvpvp8BGF1iA==\r\n\
             Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n\r\n"
        );
    }

    #[test]
    fn extra_headers_are_canonical_and_sorted() {
        let extra = vec![
            ("x-b".to_owned(), "2".to_owned()),
            ("authorization".to_owned(), "Basic x".to_owned()),
            ("host".to_owned(), "front.example".to_owned()),
            ("user-agent".to_owned(), "curl".to_owned()),
        ];
        let req = String::from_utf8(client_request("a b?", "h:1", "k", &extra).unwrap()).unwrap();
        assert_eq!(
            req,
            "GET /a%20b%3F HTTP/1.1\r\nHost: front.example\r\nUser-Agent: curl\r\nAuthorization: Basic x\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\
             Upgrade: websocket\r\nX-B: 2\r\n\r\n"
        );
    }

    #[test]
    fn handshake_headers_and_injection_are_refused() {
        for (n, v) in [("upgrade", "x"), ("X-A", "a\r\nEvil: 1"), ("Bad Name", "x")] {
            let e = client_request("/ws", "h", "k", &[(n.into(), v.into())]).unwrap_err();
            assert!(matches!(e, Error::Ws(_)), "{n}");
        }
    }

    #[test]
    fn parses_requests_and_paths() {
        let raw = b"GET http://h/ws%2Fx?y=1 HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n\r\n";
        let head = Head::parse(raw).unwrap();
        assert_eq!(head.start, ["GET", "http://h/ws%2Fx?y=1", "HTTP/1.1"]);
        assert_eq!(head.path(), "/ws/x");
        assert!(head.has_token("connection", "upgrade"));
        assert_eq!(head.header("HOST"), Some("h"));
        for bad in [
            &b"GET / HTTP/1.1\r\nNoColon\r\n\r\n"[..],
            b"GET /\r\n\r\n",
            b"\xff\r\n\r\n",
            b"GET / HTTP/1.1\r\n",
        ] {
            assert!(Head::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn go_canonical_names() {
        assert_eq!(canonical_name("x-forwarded-FOR"), "X-Forwarded-For");
        assert_eq!(canonical_name("sec-websocket-key"), "Sec-Websocket-Key");
        assert_eq!(canonical_name("a b"), "a b");
    }

    #[test]
    fn keys() {
        assert!(valid_key("JtJ8gJ7ytUjvpvp8BGF1iA=="));
        assert!(!valid_key("JtJ8gJ7ytUjvpvp8BGF1iA="));
        assert!(!valid_key("JtJ8gJ7ytUjvpvp8BGF1i*=="));
    }

    #[tokio::test]
    async fn head_reader_keeps_the_bytes_after_the_head() {
        let mut input: &[u8] = b"HTTP/1.1 101 OK\r\nA: b\r\n\r\n\x82\x02hi";
        let (head, rest) = read_head(&mut input).await.unwrap();
        assert!(head.ends_with(b"\r\n\r\n"));
        assert_eq!(rest, b"\x82\x02hi");
        let mut truncated: &[u8] = b"HTTP/1.1 101 OK\r\n";
        assert!(read_head(&mut truncated).await.is_err());
        let huge = vec![b'a'; MAX_HEAD + 10];
        let e = read_head(&mut huge.as_slice()).await.unwrap_err();
        assert!(e.to_string().contains("longer than"), "{e}");
    }
}
