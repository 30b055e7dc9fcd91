//! The users a service accepts, checked in constant time.

use subtle::{Choice, ConstantTimeEq};

/// Username/password pairs (upstream `auth` / `auths`). Order does not matter; names may repeat.
#[derive(Clone, Default)]
pub struct Users {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print passwords.
        f.debug_struct("Users")
            .field("count", &self.entries.len())
            .finish()
    }
}

impl Users {
    /// Builds the set from `(username, password)` pairs.
    pub fn new<U, P>(pairs: impl IntoIterator<Item = (U, P)>) -> Users
    where
        U: Into<Vec<u8>>,
        P: Into<Vec<u8>>,
    {
        Users {
            entries: pairs
                .into_iter()
                .map(|(u, p)| (u.into(), p.into()))
                .collect(),
        }
    }

    /// Whether no user is configured (authentication off).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `user` exists and its password is empty or equals `password`, as upstream's authenticator
    /// decides. Every entry is compared, without early exit, so timing does not tell which part was wrong.
    pub fn check(&self, user: &[u8], password: &[u8]) -> bool {
        let mut ok = Choice::from(0);
        for (u, p) in &self.entries {
            let pass_ok = Choice::from(u8::from(p.is_empty())) | p.as_slice().ct_eq(password);
            ok |= u.as_slice().ct_eq(user) & pass_ok;
        }
        ok.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_every_user() {
        let users = Users::new([("alice", "s3cret"), ("bob", "hunter2"), ("carol", "")]);
        assert!(users.check(b"alice", b"s3cret"));
        assert!(users.check(b"bob", b"hunter2"));
        assert!(!users.check(b"bob", b"s3cret"));
        assert!(!users.check(b"alice", b"s3cre"));
        assert!(!users.check(b"mallory", b""));
        // A user configured without a password is identified by name only (upstream; SOCKS4 needs this).
        assert!(users.check(b"carol", b""));
        assert!(users.check(b"carol", b"anything"));
        assert!(!format!("{users:?}").contains("s3cret"));
    }
}
