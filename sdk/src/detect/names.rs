//! Secrets found by the name of the field that holds them (`password`, `X-Auth-Token`,
//! `clientSecret`, `PGPASSWORD`, …).
//!
//! # The rule
//!
//! Names are compared as people write them, so a name is first split into lowercase
//! **words**: at every character that is not a letter or digit (`-`, `_`, `.`, space, …),
//! at camelCase boundaries (`clientSecret` → `client secret`, `APIKey` → `api key`) and
//! between letters and digits (`cvv2` → `cvv 2`). Then a name is secret when:
//!
//! 1. its words contain a **secret word or phrase** ([`DEFAULT_SECRET_WORDS`]: `password`,
//!    `token`, `auth`, `cookie`, `api key`, `private key`, …; a phrase also matches written
//!    as one word, `apikey`), or one of its words **ends in** a secret word
//!    ([`SUFFIX_WORDS`]: `PGPASSWORD`, `mysqlpassword`, `bearertoken`);
//! 2. **unless** it only *describes* the secret: every word after the last secret word is a
//!    [descriptor](DESCRIPTOR_WORDS) (`password_policy`, `token_count`,
//!    `auth_method`, `password_changed_at`), its first word makes it a yes/no flag
//!    (`has_password`, `is_secret`), or the whole name is a **known harmless compound**
//!    ([`DEFAULT_HARMLESS_NAMES`]: `max_tokens`, `cookie_consent`, …). The common prefixes
//!    `X-` and `HTTP_` are dropped before that comparison (`HTTP_X_TOKEN_COUNT` is
//!    `token_count`).
//!
//! Words are whole: `author` is not `auth`, `tokenizer` is not `token`, `secretary` is not
//! `secret`, `monkey` holds no `key`.
//!
//! # Configured names
//!
//! [`NameMatcher::builder`] takes more secret names (each is split into words the same way
//! and becomes one more secret phrase: `"card_holder"` also matches `cardHolder` and
//! `X-Card-Holder`), patterns with `*` (matched against the name's words joined with `_`:
//! `"*_pin_*"`), and more harmless names. By default they **extend** the built-in lists;
//! replacing the built-in lists is an explicit choice ([`Builder::replace_secret_words`],
//! [`Builder::replace_harmless_names`]); [`NameMatcher::missing_defaults`] reports which
//! built-in secret words a replacement gave up.

/// The built-in secret words and phrases (words separated by a space). A phrase also
/// matches when written as one word (`api key` matches `apikey`, `ApiKey`, `API_KEY`).
pub const DEFAULT_SECRET_WORDS: &[&str] = &[
    // The most common first: a warning about a replaced list names the first few.
    "password",
    "secret",
    "token",
    "api key",
    "auth",
    "authorization",
    "cookie",
    "credential",
    "credentials",
    "private key",
    "access key",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "passcode",
    "pin",
    "otp",
    "passwords",
    "secrets",
    "tokens",
    "creds",
    "cookies",
    "connection string",
    // Keys that are secrets (a bare `key` is not: `key_id`, `sort_key`, `public_key`).
    "secret key",
    "session key",
    "signing key",
    "encryption key",
    "master key",
    "client key",
    "account key",
    "shared key",
    "app key",
    "auth key",
    "license key",
    "subscription key",
    "ssh key",
    "psk",
    // Card and identity numbers.
    "card number",
    "credit card",
    "cc number",
    "pan",
    "cvv",
    "cvc",
    "cvn",
    "security code",
    "ssn",
    "social security number",
    // Passwords in a few other languages.
    "passwort",
    "kennwort",
    "mot de passe",
    "contrasena",
    "contraseña",
    "senha",
    "wachtwoord",
    "haslo",
    "hasło",
];

/// Secret words that also count at the end of a longer word (`PGPASSWORD`,
/// `mysqlpassword`, `bearertoken`, `awsaccesskey`): long enough that the ending is not an
/// accident of another word (`pan` ends `japan`, `pin` ends `spin`, so they are not here).
pub const SUFFIX_WORDS: &[&str] = &[
    "password",
    "passwords",
    "passwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "tokens",
    "credential",
    "credentials",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
];

/// Words that, following the last secret word of a name, make the name *about* the secret
/// rather than the secret itself: `password_policy`, `token_count`, `auth_method`,
/// `token_expires_at`, `secret_name`. `id` is deliberately absent (Vault's `secret_id` is a
/// credential), and so are `hash`, `hint`, `value` and `header`.
pub const DESCRIPTOR_WORDS: &[&str] = &[
    "accepted",
    "age",
    "alg",
    "algorithm",
    "arn",
    "at",
    "attempt",
    "attempts",
    "by",
    "changed",
    "complexity",
    "consent",
    "count",
    "counts",
    "created",
    "date",
    "disabled",
    "enabled",
    "endpoint",
    "errors",
    "expiration",
    "expired",
    "expires",
    "expiry",
    "failed",
    "failures",
    "field",
    "fields",
    "file",
    "fingerprint",
    "format",
    "in",
    "kind",
    "label",
    "last",
    "len",
    "length",
    "level",
    "lifetime",
    "location",
    "max",
    "method",
    "methods",
    "min",
    "mode",
    "name",
    "names",
    "on",
    "path",
    "policies",
    "policy",
    "provider",
    "rate",
    "realm",
    "ref",
    "required",
    "requirements",
    "result",
    "retries",
    "rotated",
    "rotation",
    "rules",
    "scheme",
    "score",
    "size",
    "source",
    "state",
    "status",
    "strength",
    "success",
    "time",
    "timestamp",
    "ts",
    "ttl",
    "type",
    "updated",
    "uri",
    "url",
    "valid",
    "verified",
    "version",
];

/// First words that make a name a yes/no flag about a secret: `has_password`,
/// `is_secret`, `requires_auth`.
pub const FLAG_WORDS: &[&str] = &["has", "is", "was", "needs", "require", "requires"];

/// Whole names (words joined with `_`, after the prefixes `X-`/`HTTP_`) known to hold no
/// secret although they contain a secret word.
pub const DEFAULT_HARMLESS_NAMES: &[&str] = &[
    "password_policy",
    "token_count",
    "token_bucket",
    "max_tokens",
    "min_tokens",
    "num_tokens",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cookie_consent",
    "cookies_accepted",
];

/// Leading words dropped before a name is compared with the harmless names: `X-` of
/// custom HTTP headers and `HTTP_` of CGI-style header variables.
pub const IGNORED_PREFIXES: &[&str] = &["x", "http"];

/// A name or pattern that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamePatternError {
    /// The entry is empty or has no letter or digit.
    #[error("name #{0} is empty (it has no letter or digit)")]
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

/// A secret phrase: its words, and the same words joined (`api key` → `apikey`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Phrase {
    words: Vec<String>,
    joined: String,
}

impl Phrase {
    fn new(words: Vec<String>) -> Self {
        let joined = words.concat();
        Self { words, joined }
    }

    /// The number of words of `name` from `at` this phrase covers, if it matches there.
    fn match_at(&self, name: &[&str], at: usize) -> Option<usize> {
        let rest = &name[at..];
        if rest.len() >= self.words.len() && self.words.iter().zip(rest).all(|(p, w)| p == w) {
            return Some(self.words.len());
        }
        (self.words.len() > 1 && rest.first() == Some(&self.joined.as_str())).then_some(1)
    }
}

/// Decides whether a field name names a secret (see the [module](self) documentation for
/// the rule).
#[derive(Debug, Clone, Default)]
pub struct NameMatcher {
    phrases: Vec<Phrase>,
    suffixes: Vec<String>,
    harmless: Vec<String>,
    /// Normalized patterns with at least one `*`, matched against the `_`-joined words.
    globs: Vec<Vec<u8>>,
    /// The built-in entries left out by a replacing configuration.
    missing: Vec<&'static str>,
}

/// Builds a [`NameMatcher`] from the built-in lists and configured entries.
#[derive(Debug, Default)]
pub struct Builder {
    secret: Vec<String>,
    harmless: Vec<String>,
    replace_secret: bool,
    replace_harmless: bool,
}

impl Builder {
    /// Adds secret names (`"card_holder"`) or patterns (`"*_pin"`).
    pub fn secret_names<S: AsRef<str>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.secret.extend(names.into_iter().map(|s| s.as_ref().to_string()));
        self
    }

    /// Adds names never masked by name (values are still searched by the detectors).
    pub fn harmless_names<S: AsRef<str>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.harmless.extend(names.into_iter().map(|s| s.as_ref().to_string()));
        self
    }

    /// The configured secret names replace [`DEFAULT_SECRET_WORDS`] and [`SUFFIX_WORDS`]
    /// instead of extending them.
    pub fn replace_secret_words(mut self, replace: bool) -> Self {
        self.replace_secret = replace;
        self
    }

    /// The configured harmless names replace [`DEFAULT_HARMLESS_NAMES`] (and the
    /// descriptor and flag rules stay).
    pub fn replace_harmless_names(mut self, replace: bool) -> Self {
        self.replace_harmless = replace;
        self
    }

    /// The matcher; an error names the entry (by its position in the secret names, then
    /// the harmless names) that cannot be used.
    pub fn build(self) -> Result<NameMatcher, NamePatternError> {
        let mut m = NameMatcher::default();
        if !self.replace_secret {
            m.phrases.extend(DEFAULT_SECRET_WORDS.iter().map(|w| Phrase::new(words(w))));
            m.suffixes.extend(SUFFIX_WORDS.iter().map(|s| s.to_string()));
        }
        for (index, entry) in self.secret.iter().enumerate() {
            if entry.contains('*') {
                if entry.bytes().all(|b| b == b'*') {
                    return Err(NamePatternError::MatchesEverything { index, pattern: entry.clone() });
                }
                m.globs.push(normalize_glob(entry).into_bytes());
            } else {
                let split = words(entry);
                if split.is_empty() {
                    return Err(NamePatternError::Empty(index));
                }
                m.phrases.push(Phrase::new(split));
            }
        }
        if !self.replace_harmless {
            m.harmless.extend(DEFAULT_HARMLESS_NAMES.iter().map(|s| s.to_string()));
        }
        for (i, entry) in self.harmless.iter().enumerate() {
            let split = words(entry);
            if split.is_empty() {
                return Err(NamePatternError::Empty(self.secret.len() + i));
            }
            m.harmless.push(snake(strip_prefixes(&split.iter().map(String::as_str).collect::<Vec<_>>())));
        }
        m.phrases.dedup();
        m.missing = DEFAULT_SECRET_WORDS.iter().copied().filter(|&d| !m.covers_default(d)).collect();
        Ok(m)
    }
}

impl NameMatcher {
    /// A builder starting from the built-in lists.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The built-in rule alone.
    pub fn secrets() -> Self {
        Self::builder().build().unwrap_or_default()
    }

    /// A matcher for exactly `names` (no built-in secret words; the built-in harmless
    /// names, descriptors and flags still apply).
    pub fn new<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Result<Self, NamePatternError> {
        Self::builder().secret_names(names).replace_secret_words(true).build()
    }

    /// Whether the matcher can match nothing at all.
    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty() && self.suffixes.is_empty() && self.globs.is_empty()
    }

    /// The built-in secret words this matcher no longer masks because a configuration
    /// replaced the built-in list. Empty when the built-in list was extended (the
    /// default). (Replacing the harmless names only ever masks more, so it is not
    /// reported.)
    pub fn missing_defaults(&self) -> &[&'static str] {
        &self.missing
    }

    /// Whether the built-in secret word or phrase `entry` is still masked.
    fn covers_default(&self, entry: &str) -> bool {
        let split = words(entry);
        let refs: Vec<&str> = split.iter().map(String::as_str).collect();
        self.matches_words(&refs)
    }

    /// Whether `name` names a secret.
    pub fn matches(&self, name: &str) -> bool {
        with_words(name, |w| self.matches_words(w))
    }

    /// [`NameMatcher::matches`] on a name already split into lowercase words.
    pub fn matches_words(&self, name: &[&str]) -> bool {
        let Some(end) = self.secret_end(name).or_else(|| self.glob_match(name).then_some(name.len())) else {
            return false;
        };
        !self.describes(name, end)
    }

    /// Where the last secret word or phrase of `name` ends (in words), if it has one.
    fn secret_end(&self, name: &[&str]) -> Option<usize> {
        let mut end = None;
        for at in 0..name.len() {
            let phrase = self.phrases.iter().filter_map(|p| p.match_at(name, at)).max();
            if let Some(len) = phrase {
                end = Some(at + len);
            } else if self.suffixes.iter().any(|s| name[at].len() > s.len() && name[at].ends_with(s.as_str()))
            {
                end = Some(at + 1);
            }
        }
        end
    }

    /// Whether a configured `*` pattern matches the `_`-joined words of `name`.
    fn glob_match(&self, name: &[&str]) -> bool {
        if self.globs.is_empty() {
            return false;
        }
        let joined = snake(name);
        self.globs.iter().any(|g| glob(g, joined.as_bytes()))
    }

    /// Whether `name`, whose last secret word ends at word `end`, only describes the
    /// secret (descriptor words after it, a flag word first, or a harmless compound).
    fn describes(&self, name: &[&str], end: usize) -> bool {
        let after = &name[end.min(name.len())..];
        if !after.is_empty() && after.iter().all(|w| DESCRIPTOR_WORDS.binary_search(w).is_ok()) {
            return true;
        }
        if name.len() > 1 && name.first().is_some_and(|w| FLAG_WORDS.contains(w)) {
            return true;
        }
        if self.harmless.is_empty() {
            return false;
        }
        let stripped = snake(strip_prefixes(name));
        self.harmless.contains(&stripped)
    }
}

/// `name` without the leading [`IGNORED_PREFIXES`] (when words remain after them).
fn strip_prefixes<'a, 'b>(mut name: &'a [&'b str]) -> &'a [&'b str] {
    while name.len() > 1 && IGNORED_PREFIXES.contains(&name[0]) {
        name = &name[1..];
    }
    name
}

/// Words joined with `_`.
fn snake(name: &[&str]) -> String {
    name.join("_")
}

/// A `*` pattern in the form names are compared in: its words joined with `_`, the `*`s
/// kept (`X-*-Token` → `x_*_token`).
fn normalize_glob(pattern: &str) -> String {
    let parts: Vec<String> = pattern.split('*').map(snake_keep_edges).collect();
    parts.join("*")
}

/// The `_`-joined words of `part`, keeping a leading or trailing separator as `_` so that
/// `*_secret` still needs a word boundary before `secret`.
fn snake_keep_edges(part: &str) -> String {
    let w = words(part);
    let refs: Vec<&str> = w.iter().map(String::as_str).collect();
    let mut out = String::new();
    if part.starts_with(|c: char| !c.is_alphanumeric()) && !refs.is_empty() {
        out.push('_');
    }
    out.push_str(&snake(&refs));
    if part.ends_with(|c: char| !c.is_alphanumeric()) && !part.is_empty() {
        out.push('_');
    }
    out
}

/// The lowercase words of `name` (see the [module](self) documentation).
pub fn words(name: &str) -> Vec<String> {
    with_words(name, |w| w.iter().map(|s| s.to_string()).collect())
}

/// The longest ASCII name split without allocating; longer or non-ASCII names allocate.
const INLINE_BYTES: usize = 96;
/// The most words of a name split without allocating.
const INLINE_WORDS: usize = 24;

/// Calls `f` with the lowercase words of `name`. ASCII names of up to [`INLINE_BYTES`]
/// bytes and [`INLINE_WORDS`] words (nearly all) are split on the stack: this runs for
/// every member name of every event.
fn with_words<R>(name: &str, f: impl FnOnce(&[&str]) -> R) -> R {
    if name.is_ascii() && name.len() <= INLINE_BYTES {
        let mut buf = [0u8; INLINE_BYTES];
        let mut bounds = [(0u8, 0u8); INLINE_WORDS];
        let mut count = 0usize;
        let mut len = 0usize;
        let mut overflow = false;
        split_ascii(name.as_bytes(), |word| {
            if count == INLINE_WORDS {
                overflow = true;
                return;
            }
            let start = len;
            for &b in word {
                buf[len] = b.to_ascii_lowercase();
                len += 1;
            }
            // Both fit in u8: len <= INLINE_BYTES < 256.
            bounds[count] = (start as u8, len as u8);
            count += 1;
        });
        if !overflow {
            let mut refs: [&str; INLINE_WORDS] = [""; INLINE_WORDS];
            for (r, &(s, e)) in refs.iter_mut().zip(&bounds[..count]) {
                // Lowercased ASCII letters and digits: always valid UTF-8.
                *r = std::str::from_utf8(&buf[s as usize..e as usize]).unwrap_or("");
            }
            return f(&refs[..count]);
        }
    }
    let owned = split_chars(name);
    let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
    f(&refs)
}

/// What kind of character a byte or char is, for word boundaries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Lower,
    Upper,
    Digit,
    Other,
}

fn class_of(c: char) -> Class {
    if c.is_ascii_digit() || (c.is_numeric() && !c.is_ascii()) {
        Class::Digit
    } else if c.is_uppercase() {
        Class::Upper
    } else if c.is_alphabetic() {
        Class::Lower
    } else {
        Class::Other
    }
}

/// Whether a word boundary falls before `cur`, given the characters around it.
fn boundary(prev: Class, cur: Class, next: Class) -> bool {
    match (prev, cur) {
        (Class::Lower, Class::Upper) => true,
        (Class::Upper, Class::Upper) => next == Class::Lower,
        (Class::Digit, Class::Lower | Class::Upper) | (Class::Lower | Class::Upper, Class::Digit) => true,
        _ => false,
    }
}

/// Calls `emit` with each word of an ASCII `name`, in its original case.
fn split_ascii(name: &[u8], mut emit: impl FnMut(&[u8])) {
    let class = |i: usize| name.get(i).map_or(Class::Other, |&b| class_of(char::from(b)));
    let mut start: Option<usize> = None;
    for i in 0..name.len() {
        let cur = class(i);
        if cur == Class::Other {
            if let Some(s) = start.take() {
                emit(&name[s..i]);
            }
            continue;
        }
        match start {
            None => start = Some(i),
            Some(s) if boundary(class(i - 1), cur, class(i + 1)) => {
                emit(&name[s..i]);
                start = Some(i);
            }
            Some(_) => {}
        }
    }
    if let Some(s) = start {
        emit(&name[s..]);
    }
}

/// The lowercase words of any name (the general path of [`with_words`]).
fn split_chars(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let class = |i: usize| chars.get(i).map_or(Class::Other, |&c| class_of(c));
    let mut out: Vec<String> = Vec::new();
    let mut word = String::new();
    for (i, c) in chars.iter().enumerate() {
        let cur = class(i);
        if cur == Class::Other {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            continue;
        }
        if !word.is_empty() && i > 0 && boundary(class(i - 1), cur, class(i + 1)) {
            out.push(std::mem::take(&mut word));
        }
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Wildcard match of a whole name: `*` matches any run of bytes (greedy with backtracking
/// to the last `*`, linear for the short patterns used here).
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if p < pattern.len() && pattern[p] == name[n] {
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
mod tests;
