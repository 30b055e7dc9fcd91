//! [`Credentials`]: a user → password map in upstream's file format, checked with a constant-time
//! password comparison.

use std::collections::HashMap;

use subtle::ConstantTimeEq;

/// Users and passwords. A user with an empty password is identified by name alone (upstream; SOCKS4
/// userids need this).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    users: HashMap<Vec<u8>, Vec<u8>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print passwords.
        f.debug_struct("Credentials")
            .field("users", &self.users.len())
            .finish()
    }
}

/// The `(user, password)` entries of a text in upstream's auth file format, in order.
fn entries(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    text.lines().filter_map(|line| {
        let line = line.replace('\t', " ");
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        Some(match line.split_once(' ') {
            Some((u, p)) => (u.trim().to_owned(), p.trim().to_owned()),
            None => (line.to_owned(), String::new()),
        })
    })
}

/// Compared against when the user does not exist, so a wrong name costs as long as a wrong password.
const ABSENT: &[u8] = &[0; 32];

impl Credentials {
    /// From `(user, password)` pairs; a later pair for the same user wins (upstream's precedence).
    pub fn from_pairs<U: Into<Vec<u8>>, P: Into<Vec<u8>>>(
        pairs: impl IntoIterator<Item = (U, P)>,
    ) -> Credentials {
        let mut c = Credentials::default();
        c.extend(pairs);
        c
    }

    /// Adds pairs, replacing the password of users already present.
    pub fn extend<U: Into<Vec<u8>>, P: Into<Vec<u8>>>(
        &mut self,
        pairs: impl IntoIterator<Item = (U, P)>,
    ) {
        self.users
            .extend(pairs.into_iter().map(|(u, p)| (u.into(), p.into())));
    }

    /// Parses upstream's auth file format: one `user password` per line (tabs count as spaces, the
    /// password is the rest of the line, trimmed; a user alone has an empty password); blank lines and
    /// lines starting with `#` are skipped. `#` elsewhere is part of the value (`admin #123456`).
    pub fn parse_text(text: &str) -> Credentials {
        Credentials::from_pairs(entries(text))
    }

    /// The first `(user, password)` of a text in the format of [`Credentials::parse_text`]: what
    /// upstream's `auth.file` gives a node's connector.
    pub fn first_in_text(text: &str) -> Option<(String, String)> {
        entries(text).next()
    }

    /// The pairs, consuming the set.
    pub fn into_pairs(self) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> {
        self.users.into_iter()
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there is no user (nobody can log in).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Whether `user` exists and its password is empty or equals `password`. The password comparison
    /// is constant-time, and a missing user costs one comparison too; the user lookup itself is a hash
    /// lookup.
    pub fn check(&self, user: &[u8], password: &[u8]) -> bool {
        match self.users.get(user) {
            Some(p) if p.is_empty() => true,
            Some(p) => p.as_slice().ct_eq(password).into(),
            None => {
                let _ = ABSENT.ct_eq(password);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upstreams_examples() {
        let c = Credentials::parse_text(
            "# username password\n\nadmin           #123456\ntest\\user001    123456\n\
             test.user@002\t12345678\nsolo\n  # indented comment\n",
        );
        assert_eq!(c.len(), 4);
        assert!(c.check(b"admin", b"#123456"));
        assert!(c.check(b"test\\user001", b"123456"));
        assert!(c.check(b"test.user@002", b"12345678"));
        assert!(c.check(b"solo", b"anything"));
        assert!(!c.check(b"admin", b"123456"));
        assert!(!c.check(b"nobody", b""));
        assert!(!format!("{c:?}").contains("123456"));
    }

    #[test]
    fn first_entry_skips_comments_and_blank_lines() {
        let text = "# node credentials\n\n  test\\user001\tp@ss word\nsecond pw\n";
        assert_eq!(
            Credentials::first_in_text(text),
            Some(("test\\user001".to_owned(), "p@ss word".to_owned()))
        );
        assert_eq!(Credentials::first_in_text("# only a comment\n"), None);
    }

    #[test]
    fn later_pairs_win() {
        let mut c = Credentials::from_pairs([("a", "1")]);
        c.extend([("a", "2")]);
        assert!(c.check(b"a", b"2") && !c.check(b"a", b"1"));
    }
}
