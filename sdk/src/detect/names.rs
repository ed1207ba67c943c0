//! Secrets found by the name of the field that holds them (`password`, `api_key`, …).
//!
//! A [`NameMatcher`] holds name patterns. Names compare case-insensitively with `-` equal
//! to `_` (`API-Key` matches `api_key`), and `*` in a pattern stands for any run of
//! characters (`*_secret` matches `client_secret`; `*password*` matches `new_password_2`).
//! A pattern without `*` must match the whole name: `password` does not match
//! `password_changed`.

/// A sensible default list: the usual names of credentials, tokens and card data.
pub const DEFAULT_SECRET_NAMES: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "*_password",
    "secret",
    "*_secret",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "auth_token",
    "session_token",
    "api_key",
    "apikey",
    "*_api_key",
    "x_api_key",
    "authorization",
    "proxy_authorization",
    "cookie",
    "set_cookie",
    "private_key",
    "*_private_key",
    "aws_secret_access_key",
    "credentials",
    "card_number",
    "pan",
    "cvv",
    "cvc",
    "ssn",
];

/// A pattern that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamePatternError {
    /// The pattern is the empty string.
    #[error("name pattern #{0} is empty")]
    Empty(usize),
    /// The pattern is only `*`s: it would match every field.
    #[error("name pattern #{index} ({pattern:?}) matches every name")]
    MatchesEverything {
        /// Position in the list (from 0).
        index: usize,
        /// The pattern as given.
        pattern: String,
    },
}

/// Decides whether a field name is one of the configured secret names.
#[derive(Debug, Clone, Default)]
pub struct NameMatcher {
    /// Normalized names without `*`, compared whole.
    exact: Vec<Vec<u8>>,
    /// Normalized patterns with at least one `*`.
    globs: Vec<Vec<u8>>,
}

/// Lowercases and turns `-` into `_`.
pub fn normalize(name: &str) -> String {
    name.chars().map(|c| if c == '-' { '_' } else { c }).flat_map(char::to_lowercase).collect()
}

/// The normalized form of one ASCII byte.
fn fold(b: u8) -> u8 {
    if b == b'-' { b'_' } else { b.to_ascii_lowercase() }
}

impl NameMatcher {
    /// A matcher for `patterns`; an empty list matches nothing.
    pub fn new<S: AsRef<str>>(patterns: impl IntoIterator<Item = S>) -> Result<Self, NamePatternError> {
        let mut matcher = Self::default();
        for (index, pattern) in patterns.into_iter().enumerate() {
            let pattern = pattern.as_ref();
            if pattern.is_empty() {
                return Err(NamePatternError::Empty(index));
            }
            if pattern.bytes().all(|b| b == b'*') {
                return Err(NamePatternError::MatchesEverything { index, pattern: pattern.to_string() });
            }
            let normalized = normalize(pattern).into_bytes();
            if normalized.contains(&b'*') {
                matcher.globs.push(normalized);
            } else {
                matcher.exact.push(normalized);
            }
        }
        Ok(matcher)
    }

    /// A matcher for [`DEFAULT_SECRET_NAMES`].
    pub fn secrets() -> Self {
        Self::new(DEFAULT_SECRET_NAMES).unwrap_or_default()
    }

    /// Whether no pattern was given.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.globs.is_empty()
    }

    /// Whether `name` matches one of the patterns.
    ///
    /// ASCII names (nearly all) are folded byte by byte without allocating; other names
    /// are normalized first.
    pub fn matches(&self, name: &str) -> bool {
        if name.is_ascii() {
            self.matches_folded(name.as_bytes(), fold)
        } else {
            self.matches_folded(normalize(name).as_bytes(), |b| b)
        }
    }

    fn matches_folded(&self, name: &[u8], fold: impl Fn(u8) -> u8 + Copy) -> bool {
        self.exact.iter().any(|p| p.len() == name.len() && p.iter().zip(name).all(|(&p, &n)| p == fold(n)))
            || self.globs.iter().any(|p| glob(p, name, fold))
    }
}

/// Wildcard match of a whole name: `*` matches any run of bytes (greedy with backtracking
/// to the last `*`, linear for the short patterns used here).
fn glob(pattern: &[u8], name: &[u8], fold: impl Fn(u8) -> u8) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if p < pattern.len() && pattern[p] == fold(name[n]) {
            p += 1;
            n += 1;
        } else if let Some((sp, sn)) = star {
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(patterns: &[&str]) -> NameMatcher {
        match NameMatcher::new(patterns) {
            Ok(m) => m,
            Err(e) => panic!("{patterns:?}: {e}"),
        }
    }

    #[test]
    fn exact_names_ignore_case_and_dash() {
        let m = matcher(&["api_key", "Set-Cookie", "MOT_DE_PASSE_É"]);
        for yes in ["api_key", "API-KEY", "Api_Key", "set_cookie", "SET-COOKIE", "mot-de-passe-é"] {
            assert!(m.matches(yes), "{yes}");
        }
        for no in ["apikey", "api_key_id", "api", "x-api-key", ""] {
            assert!(!m.matches(no), "{no}");
        }
    }

    #[test]
    fn globs() {
        let m = matcher(&["*_secret", "*password*", "x-*-token", "pre*"]);
        for yes in [
            "client_secret",
            "CLIENT-SECRET",
            "_secret",
            "password",
            "new_password_2",
            "OldPassword",
            "x-auth-token",
            "X_Refresh_Token",
            "x--token",
            "prefix",
            "pre",
        ] {
            assert!(m.matches(yes), "{yes}");
        }
        for no in ["secret", "client_secrets", "passwor", "x-token", "y-auth-token", "apre"] {
            assert!(!m.matches(no), "{no}");
        }
        assert!(glob(b"a*b*c", b"axxbyyc", |b| b));
        assert!(glob(b"a*b*c", b"abbbc", |b| b));
        assert!(!glob(b"a*b*c", b"acb", |b| b));
        assert!(glob(b"**", b"", |b| b));
    }

    #[test]
    fn defaults_cover_common_secrets_but_not_their_neighbours() {
        let m = NameMatcher::secrets();
        for yes in [
            "password",
            "new_password",
            "client_secret",
            "Authorization",
            "Set-Cookie",
            "x-api-key",
            "stripe_api_key",
            "AWS_SECRET_ACCESS_KEY",
            "ssh_private_key",
            "refresh-token",
        ] {
            assert!(m.matches(yes), "{yes}");
        }
        for no in [
            "passwords_changed",
            "password_changed",
            "tokenizer",
            "method",
            "user",
            "secretary",
            "token_count",
        ] {
            assert!(!m.matches(no), "{no}");
        }
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert_eq!(NameMatcher::new(["ok", ""]).err(), Some(NamePatternError::Empty(1)));
        assert_eq!(
            NameMatcher::new(["**"]).err().map(|e| e.to_string()),
            Some("name pattern #0 (\"**\") matches every name".to_string())
        );
        assert!(NameMatcher::new(Vec::<String>::new()).is_ok_and(|m| m.is_empty() && !m.matches("password")));
    }
}
