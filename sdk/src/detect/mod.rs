//! Ready detectors for secrets and personal data inside string values.
//!
//! Each detector is a hand-written scanner that returns the byte [`Span`]s it found, so a
//! policy can mask only the secret part of a value (`"Bearer [REDACTED:bearer]"`). They run
//! on every string of every event, so [`Detectors::scan`] first takes one cheap pass over
//! the bytes (which bytes occur, how many digits) and skips every detector that cannot
//! match; the survivors find their anchors with `memchr`/`memmem`.
//!
//! ```
//! use auditgate_sdk::detect::{self, Detectors, Kind};
//!
//! let text = "retrying with Authorization: Bearer abc.def-123_456 for alice@example.com";
//! let spans = Detectors::all().scan(text);
//! let kinds: Vec<Kind> = spans.iter().map(|s| s.kind).collect();
//! assert_eq!(kinds, [Kind::Bearer, Kind::Email]);
//! assert_eq!(&text[spans[0].range()], "abc.def-123_456");
//!
//! let masked = detect::redact(text, &spans, detect::default_marker);
//! assert_eq!(masked, "retrying with Authorization: Bearer [REDACTED:bearer] for [REDACTED:email]");
//! ```
//!
//! Secrets found by the *name* of the field that holds them (`password`, `api_key`, …) are
//! the job of [`names::NameMatcher`].

pub mod auth;
pub mod card;
pub mod cloud;
pub mod email;
pub mod iban;
pub mod inline;
pub mod jwt;
pub mod names;
pub mod pem;
mod scan;
pub mod ssn;
pub mod tokens;

use std::fmt;
use std::ops::Range;

/// What a detector found.
///
/// `kind as usize` is the kind's position in [`Kind::ALL`], handy to index per-kind
/// tables. The order of the variants is the order of preference when two detectors claim the
/// same bytes: the more specific first (a GitHub token after `Bearer ` is reported as
/// [`Kind::GithubToken`], not [`Kind::Bearer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A PEM private key block (`-----BEGIN … PRIVATE KEY-----` … `-----END …-----`).
    PrivateKey,
    /// A JSON Web Token (`eyJ…`.`…`.`…`).
    Jwt,
    /// An AWS access key id (`AKIA…`, `ASIA…`).
    AwsKeyId,
    /// An AWS secret access key (40 base64 characters after a label or next to a key id).
    AwsSecret,
    /// A Google Cloud API key (`AIza…`).
    GcpKey,
    /// An Azure storage account key or SAS signature (`AccountKey=…`, `SharedAccessKey=…`, `sig=…`).
    AzureKey,
    /// A GitHub token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`).
    GithubToken,
    /// A Slack token (`xoxa-`, `xoxb-`, `xoxp-`, `xoxr-`, `xoxs-`).
    SlackToken,
    /// A Stripe secret or restricted key (`sk_live_`, `rk_live_`, `sk_test_`, `rk_test_`).
    StripeKey,
    /// The credential of a `Bearer` authorization.
    Bearer,
    /// The credential of a `Basic` authorization (base64 of `user:password`).
    BasicAuth,
    /// A payment card number (13–19 digits, Luhn-valid, spaces or dashes allowed).
    Card,
    /// An international bank account number (country length and mod-97 checked).
    Iban,
    /// A US social security number (`123-45-6789`, invalid ranges excluded).
    Ssn,
    /// A value a text names as secret: `?token=…`, `X-Api-Key: …` on a header line,
    /// `DB_PASSWORD=…`, `"password": "…"`, the password of `scheme://user:password@host`
    /// ([`inline`]; names judged by a [`names::NameMatcher`]).
    NamedSecret,
    /// An e-mail address.
    Email,
}

impl Kind {
    /// Every kind, in order of preference.
    pub const ALL: [Kind; 16] = [
        Kind::PrivateKey,
        Kind::Jwt,
        Kind::AwsKeyId,
        Kind::AwsSecret,
        Kind::GcpKey,
        Kind::AzureKey,
        Kind::GithubToken,
        Kind::SlackToken,
        Kind::StripeKey,
        Kind::Bearer,
        Kind::BasicAuth,
        Kind::Card,
        Kind::Iban,
        Kind::Ssn,
        Kind::NamedSecret,
        Kind::Email,
    ];

    /// The short name used in configuration, markers and tags: `card`, `jwt`, `bearer`, …
    pub fn name(self) -> &'static str {
        match self {
            Kind::PrivateKey => "private_key",
            Kind::Jwt => "jwt",
            Kind::AwsKeyId => "aws_key_id",
            Kind::AwsSecret => "aws_secret",
            Kind::GcpKey => "gcp_key",
            Kind::AzureKey => "azure_key",
            Kind::GithubToken => "github_token",
            Kind::SlackToken => "slack_token",
            Kind::StripeKey => "stripe_key",
            Kind::Bearer => "bearer",
            Kind::BasicAuth => "basic_auth",
            Kind::Card => "card",
            Kind::Iban => "iban",
            Kind::Ssn => "ssn",
            Kind::NamedSecret => "named_secret",
            Kind::Email => "email",
        }
    }

    /// The kind named `name` (as [`Kind::name`] spells it).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Runs this detector alone over `text`, appending what it finds to `out` (in text
    /// order, without the prefilter and overlap resolution of [`Detectors::scan`]).
    /// [`Kind::NamedSecret`] judges names by the built-in rule.
    pub fn find(self, text: &str, out: &mut Vec<Span>) {
        self.find_named(text, inline::default_names(), out)
    }

    /// [`Kind::find`] with `names` deciding which names are secret.
    fn find_named(self, text: &str, names: &names::NameMatcher, out: &mut Vec<Span>) {
        match self {
            Kind::PrivateKey => pem::find(text, out),
            Kind::Jwt => jwt::find(text, out),
            Kind::AwsKeyId => cloud::find_aws_key_ids(text, out),
            Kind::AwsSecret => cloud::find_aws_secrets(text, out),
            Kind::GcpKey => cloud::find_gcp_keys(text, out),
            Kind::AzureKey => cloud::find_azure_keys(text, out),
            Kind::GithubToken => tokens::find_github(text, out),
            Kind::SlackToken => tokens::find_slack(text, out),
            Kind::StripeKey => tokens::find_stripe(text, out),
            Kind::Bearer => auth::find_bearer(text, out),
            Kind::BasicAuth => auth::find_basic(text, out),
            Kind::Card => card::find(text, out),
            Kind::Iban => iban::find(text, out),
            Kind::Ssn => ssn::find(text, out),
            Kind::NamedSecret => inline::find(text, names, out),
            Kind::Email => email::find(text, out),
        }
    }

    /// Whether this detector could match a text with this summary (the prefilter).
    fn may_match(self, s: &Summary) -> bool {
        match self {
            Kind::PrivateKey => s.len >= 30 && s.has_all(b"-BPK"),
            Kind::Jwt => s.len >= 16 && s.has_all(b"eyJ."),
            Kind::AwsKeyId => s.len >= 20 && s.has_all(b"AI") && s.has_either(b'K', b'S'),
            Kind::AwsSecret => {
                let labelled =
                    s.has_either(b's', b'S') && s.has_either(b'k', b'K') && s.has_either(b'y', b'Y');
                let paired = s.has_all(b"AI") && s.has_either(b'K', b'S');
                s.len >= 40 && (labelled || paired)
            }
            Kind::GcpKey => s.len >= 39 && s.has_all(b"AIz"),
            Kind::AzureKey => s.len >= 20 && s.has(b'=') && (s.has_either(b'k', b'K') || s.has(b'g')),
            Kind::GithubToken => s.len >= 40 && s.has_all(b"gh_"),
            Kind::SlackToken => s.len >= 15 && s.has_all(b"xo-"),
            Kind::StripeKey => s.len >= 18 && s.has_all(b"k_"),
            Kind::Bearer => s.len >= 15 && s.has_either(b'b', b'B') && s.has_either(b'r', b'R'),
            Kind::BasicAuth => s.len >= 10 && s.has_either(b'b', b'B') && s.has_either(b'c', b'C'),
            Kind::Card => s.digits >= 13,
            Kind::Iban => s.len >= 15 && s.digits >= 4,
            Kind::Ssn => s.digits >= 9 && (s.has(b'-') || s.has(b' ')),
            Kind::NamedSecret => s.has_either(b'=', b':'),
            Kind::Email => s.len >= 6 && s.has_all(b"@."),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A secret found in a string: what it is and where (byte offsets, on character
/// boundaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Which detector found it.
    pub kind: Kind,
    /// Offset of the first byte.
    pub start: usize,
    /// Offset just past the last byte.
    pub end: usize,
}

impl Span {
    /// A span of `kind` over `range`.
    pub fn new(kind: Kind, range: Range<usize>) -> Self {
        Self { kind, start: range.start, end: range.end }
    }

    /// `start..end`, to slice the text with.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// Whether the span covers all of `text` but surrounding whitespace.
    pub fn covers(&self, text: &str) -> bool {
        text[..self.start].trim().is_empty() && text[self.end..].trim().is_empty()
    }
}

/// A set of detectors to run together; [`Detectors::scan`] runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Detectors(u32);

impl Detectors {
    /// Every detector.
    pub fn all() -> Self {
        Kind::ALL.into_iter().fold(Self::none(), Self::with)
    }

    /// No detector.
    pub fn none() -> Self {
        Self(0)
    }

    /// This set plus `kind`.
    pub fn with(self, kind: Kind) -> Self {
        Self(self.0 | 1 << kind as u32)
    }

    /// This set without `kind`.
    pub fn without(self, kind: Kind) -> Self {
        Self(self.0 & !(1 << kind as u32))
    }

    /// Whether `kind` is in the set.
    pub fn contains(self, kind: Kind) -> bool {
        self.0 & (1 << kind as u32) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The kinds in the set, in order of preference.
    pub fn kinds(self) -> impl Iterator<Item = Kind> {
        Kind::ALL.into_iter().filter(move |k| self.contains(*k))
    }

    /// Every secret in `text`, in text order, without overlaps.
    pub fn scan(self, text: &str) -> Vec<Span> {
        let mut out = Vec::new();
        self.scan_into(text, &mut out);
        out
    }

    /// Like [`Detectors::scan`], reusing `out` (cleared first) to avoid an allocation per
    /// string.
    ///
    /// When spans overlap, the one starting first wins; at the same start the longer one,
    /// then the kind first in [`Kind::ALL`].
    pub fn scan_into(self, text: &str, out: &mut Vec<Span>) {
        self.scan_named_into(text, inline::default_names(), out)
    }

    /// [`Detectors::scan_into`] with `names` deciding which names are secret for
    /// [`Kind::NamedSecret`] (a policy's configured name rule).
    pub fn scan_named_into(self, text: &str, names: &names::NameMatcher, out: &mut Vec<Span>) {
        out.clear();
        if self.is_empty() || text.len() < MIN_LEN {
            return;
        }
        let summary = Summary::of(text.as_bytes());
        for kind in self.kinds() {
            if kind.may_match(&summary) {
                kind.find_named(text, names, out);
            }
        }
        resolve_overlaps(out);
    }
}

/// No detector matches fewer bytes than this (`a@b.co`).
const MIN_LEN: usize = 6;

/// Sorts spans by start (longer first, then by kind) and drops those overlapping an
/// earlier one.
fn resolve_overlaps(spans: &mut Vec<Span>) {
    if spans.len() < 2 {
        return;
    }
    spans.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)).then(a.kind.cmp(&b.kind)));
    let mut kept_end = 0;
    let mut first = true;
    spans.retain(|s| {
        let keep = first || s.start >= kept_end;
        if keep {
            kept_end = s.end;
            first = false;
        }
        keep
    });
}

/// Every secret in `text`, by every detector (see [`Detectors::scan`]).
pub fn find(text: &str) -> Vec<Span> {
    Detectors::all().scan(text)
}

/// What `find` reports in `text`, as the found slices in the order reported: the
/// detectors' unit tests compare these.
#[cfg(test)]
fn found(find: fn(&str, &mut Vec<Span>), text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    find(text, &mut out);
    out.iter().map(|s| &text[s.range()]).collect()
}

/// `[REDACTED:<kind>]`, e.g. `[REDACTED:card]`.
pub fn default_marker(kind: Kind) -> String {
    format!("[REDACTED:{}]", kind.name())
}

/// `text` with each span replaced by `marker(kind)`. `spans` must be in text order and not
/// overlap, as [`Detectors::scan`] returns them.
pub fn redact<M: AsRef<str>>(text: &str, spans: &[Span], mut marker: impl FnMut(Kind) -> M) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in spans {
        if span.start < at || span.end > text.len() {
            continue;
        }
        out.push_str(&text[at..span.start]);
        out.push_str(marker(span.kind).as_ref());
        at = span.end;
    }
    out.push_str(&text[at..]);
    out
}

/// The bytes the prefilter tracks (at most 31: one bit each in a `u32`).
const TRACKED: &[u8] = b" -.:=@_ABCIJKPRSYbceghkorsxyz";
/// The class bit of ASCII digits.
const DIGIT: u32 = 1 << 31;

/// Each byte's class bit: its position in [`TRACKED`], [`DIGIT`], or 0.
static CLASS: [u32; 256] = class_table();

const fn class_table() -> [u32; 256] {
    assert!(TRACKED.len() < 31);
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < TRACKED.len() {
        table[TRACKED[i] as usize] = 1 << i;
        i += 1;
    }
    let mut d = b'0';
    while d <= b'9' {
        table[d as usize] = DIGIT;
        d += 1;
    }
    table
}

/// What the prefilter knows about a text after one pass: which tracked bytes occur and
/// how many ASCII digits there are. One table load and one OR per byte.
struct Summary {
    present: u32,
    digits: usize,
    len: usize,
}

impl Summary {
    fn of(bytes: &[u8]) -> Self {
        let mut present = 0u32;
        let mut digits = 0usize;
        for &b in bytes {
            let class = CLASS[usize::from(b)];
            present |= class;
            digits += (class >> 31) as usize;
        }
        Self { present, digits, len: bytes.len() }
    }

    /// Whether `b` (one of [`TRACKED`]) occurs.
    fn has(&self, b: u8) -> bool {
        let bit = CLASS[usize::from(b)];
        debug_assert!(bit != 0 && bit != DIGIT, "byte {:?} is not tracked by the prefilter", b as char);
        self.present & bit != 0
    }

    fn has_all(&self, bytes: &[u8]) -> bool {
        bytes.iter().all(|&b| self.has(b))
    }

    fn has_either(&self, a: u8, b: u8) -> bool {
        self.has(a) || self.has(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            // Policies index per-kind tables with `kind as usize`.
            assert_eq!(kind as usize, i);
            assert_eq!(Kind::from_name(kind.name()), Some(kind));
            assert_eq!(kind.to_string(), kind.name());
        }
        assert_eq!(Kind::from_name("cards"), None);
    }

    #[test]
    fn sets() {
        let set = Detectors::none().with(Kind::Card).with(Kind::Email);
        assert!(set.contains(Kind::Card) && set.contains(Kind::Email) && !set.contains(Kind::Jwt));
        assert_eq!(set.kinds().collect::<Vec<_>>(), [Kind::Card, Kind::Email]);
        assert_eq!(set.without(Kind::Card).kinds().collect::<Vec<_>>(), [Kind::Email]);
        assert!(Detectors::none().is_empty());
        assert_eq!(Detectors::all().kinds().count(), Kind::ALL.len());
    }

    #[test]
    fn only_the_chosen_detectors_run() {
        let text = "card 4111 1111 1111 1111, mail bob@example.org";
        let cards = Detectors::none().with(Kind::Card).scan(text);
        assert_eq!(cards.len(), 1);
        assert_eq!(&text[cards[0].range()], "4111 1111 1111 1111");
        let mail = Detectors::none().with(Kind::Email).scan(text);
        assert_eq!(mail.iter().map(|s| &text[s.range()]).collect::<Vec<_>>(), ["bob@example.org"]);
        assert!(Detectors::none().scan(text).is_empty());
    }

    #[test]
    fn overlaps_keep_the_earliest_longest_most_specific() {
        // The same bytes are a GitHub token and a bearer credential: the token kind wins.
        let text = "Authorization: Bearer ghp_0123456789abcdefghijABCDEFGHIJ012345";
        let spans = find(text);
        assert_eq!(spans.len(), 1, "{spans:?}");
        assert_eq!(spans[0].kind, Kind::GithubToken);
        // A JWT behind Bearer is reported as a JWT.
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlX2J5dGVz";
        let spans = find(&format!("Bearer {jwt}"));
        assert_eq!(spans.iter().map(|s| s.kind).collect::<Vec<_>>(), [Kind::Jwt]);

        let mut spans = vec![
            Span::new(Kind::Email, 10..20),
            Span::new(Kind::Card, 0..5),
            Span::new(Kind::Bearer, 12..30),
            Span::new(Kind::Jwt, 0..8),
            Span::new(Kind::Ssn, 20..22),
        ];
        resolve_overlaps(&mut spans);
        assert_eq!(
            spans,
            [Span::new(Kind::Jwt, 0..8), Span::new(Kind::Email, 10..20), Span::new(Kind::Ssn, 20..22)]
        );
    }

    #[test]
    fn redacts_spans_and_keeps_the_rest() {
        let text = "a 4111111111111111 b";
        let spans = find(text);
        assert_eq!(redact(text, &spans, default_marker), "a [REDACTED:card] b");
        assert_eq!(redact(text, &spans, |_| "*"), "a * b");
        assert_eq!(redact(text, &[], default_marker), text);
        assert!(!spans[0].covers(text));
        let alone = " 4111111111111111\n";
        assert!(find(alone)[0].covers(alone));
    }

    #[test]
    fn prefilter_tracks_every_byte_it_is_asked_about() {
        // Every may_match runs (debug builds assert each byte asked about is tracked).
        let s = Summary::of(TRACKED);
        for kind in Kind::ALL {
            let _ = kind.may_match(&s);
        }
        let s = Summary::of(b"a1b22 c333");
        assert_eq!(s.digits, 6);
        assert!(s.has(b' ') && s.has(b'b') && s.has(b'c') && !s.has(b'x'));
    }

    #[test]
    fn clean_text_finds_nothing() {
        for text in [
            "",
            "user.login",
            "wrong_password",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
            "2024-05-01T12:34:56.789Z",
            "550e8400-e29b-41d4-a716-446655440000",
            "request 1234567890 took 12 ms",
            "the bearer of this message; basic usage",
            "see https://example.com/a/b?c=d",
        ] {
            assert_eq!(find(text), [], "{text}");
        }
    }
}
