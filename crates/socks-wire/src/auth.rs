//! RFC 1929 username/password sub-negotiation: `01 ULEN UNAME PLEN PASSWD` and `01 STATUS`.

use std::fmt;

use bytes::BufMut;

use crate::reader::run;
use crate::{Decode, DecodeError, Decoded, Encode, EncodeError, ensure_room};

/// The client's credentials `01 ULEN UNAME PLEN PASSWD` (each field 0..=255 bytes).
///
/// `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UserPassRequest {
    /// UNAME.
    pub username: Vec<u8>,
    /// PASSWD.
    pub password: Vec<u8>,
}

impl UserPassRequest {
    /// Credentials from text.
    pub fn new(username: &str, password: &str) -> UserPassRequest {
        UserPassRequest {
            username: username.as_bytes().to_vec(),
            password: password.as_bytes().to_vec(),
        }
    }
}

impl fmt::Debug for UserPassRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserPassRequest")
            .field("username", &String::from_utf8_lossy(&self.username))
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Decode<'_> for UserPassRequest {
    fn decode(buf: &[u8]) -> Result<Decoded<Self>, DecodeError> {
        run(buf, |r| {
            r.version(0x01, 2, DecodeError::AuthVersion)?;
            let ulen = usize::from(r.take_then(1, 1)?[0]);
            let username = r.take_then(ulen, 1)?;
            let plen = usize::from(r.u8()?);
            let password = r.take(plen)?;
            Ok(UserPassRequest {
                username: username.to_vec(),
                password: password.to_vec(),
            })
        })
    }
}

impl Encode for UserPassRequest {
    fn encoded_len(&self) -> usize {
        3 + self.username.len() + self.password.len()
    }

    fn encode<B: BufMut>(&self, buf: &mut B) -> Result<usize, EncodeError> {
        for (field, value) in [("username", &self.username), ("password", &self.password)] {
            if value.len() > 255 {
                return Err(EncodeError::FieldTooLong {
                    field,
                    len: value.len(),
                });
            }
        }
        let len = ensure_room(buf, self.encoded_len())?;
        buf.put_u8(0x01);
        buf.put_u8(self.username.len() as u8);
        buf.put_slice(&self.username);
        buf.put_u8(self.password.len() as u8);
        buf.put_slice(&self.password);
        Ok(len)
    }
}

/// The server's verdict `01 STATUS`: 0x00 is success, anything else failure (upstream sends 0x01).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserPassResponse {
    /// STATUS.
    pub status: u8,
}

impl UserPassResponse {
    /// `01 00`.
    pub const SUCCESS: UserPassResponse = UserPassResponse { status: 0x00 };
    /// `01 01`, the failure status upstream sends.
    pub const FAILURE: UserPassResponse = UserPassResponse { status: 0x01 };

    /// True when STATUS is 0x00.
    pub fn is_success(self) -> bool {
        self.status == 0
    }
}

impl Decode<'_> for UserPassResponse {
    fn decode(buf: &[u8]) -> Result<Decoded<Self>, DecodeError> {
        run(buf, |r| {
            r.version(0x01, 1, DecodeError::AuthVersion)?;
            Ok(UserPassResponse { status: r.u8()? })
        })
    }
}

impl Encode for UserPassResponse {
    fn encoded_len(&self) -> usize {
        2
    }

    fn encode<B: BufMut>(&self, buf: &mut B) -> Result<usize, EncodeError> {
        let len = ensure_room(buf, 2)?;
        buf.put_u8(0x01);
        buf.put_u8(self.status);
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1929_request_round_trips() {
        let wire = b"\x01\x05alice\x06s3cret";
        let Ok(Decoded::Complete(r, n)) = UserPassRequest::decode(wire) else {
            panic!()
        };
        assert_eq!(n, wire.len());
        assert_eq!(r, UserPassRequest::new("alice", "s3cret"));
        assert_eq!(r.to_vec().unwrap(), wire);
        assert!(!format!("{r:?}").contains("s3cret"));
    }

    #[test]
    fn empty_fields_are_allowed() {
        assert_eq!(
            UserPassRequest::decode(&[1, 0, 0]),
            Ok(Decoded::Complete(UserPassRequest::new("", ""), 3))
        );
    }

    #[test]
    fn prefixes_and_errors() {
        assert_eq!(UserPassRequest::decode(&[1]), Ok(Decoded::NeedMore(2)));
        assert_eq!(
            UserPassRequest::decode(&[1, 2, b'a']),
            Ok(Decoded::NeedMore(2))
        );
        assert_eq!(
            UserPassRequest::decode(&[1, 1, b'a', 3]),
            Ok(Decoded::NeedMore(3))
        );
        assert_eq!(
            UserPassRequest::decode(&[5, 1]),
            Err(DecodeError::AuthVersion(5))
        );
        assert_eq!(
            UserPassResponse::decode(&[5, 0]),
            Err(DecodeError::AuthVersion(5))
        );
        let long = UserPassRequest {
            username: vec![],
            password: vec![0; 300],
        };
        assert!(matches!(
            long.to_vec(),
            Err(EncodeError::FieldTooLong {
                field: "password",
                ..
            })
        ));
    }

    #[test]
    fn response_codes() {
        assert_eq!(UserPassResponse::SUCCESS.to_vec().unwrap(), [1, 0]);
        assert_eq!(UserPassResponse::FAILURE.to_vec().unwrap(), [1, 1]);
        let Ok(Decoded::Complete(r, 2)) = UserPassResponse::decode(&[1, 7]) else {
            panic!()
        };
        assert!(!r.is_success());
    }
}
