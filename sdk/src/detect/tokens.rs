//! Service tokens with a recognisable prefix: GitHub, Slack, Stripe.
//!
//! A token must not follow a letter, digit or `_` (so `xghp_…` is not one), and its body
//! is the maximal run of its alphabet after the prefix:
//! - GitHub: `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and 36 to 251 of `[A-Za-z0-9]`;
//!   `github_pat_` and at least 22 of `[A-Za-z0-9_]`.
//! - Slack: `xoxa-`, `xoxb-`, `xoxp-`, `xoxr-`, `xoxs-` and at least 10 of `[A-Za-z0-9-]`.
//! - Stripe: `sk_live_`, `rk_live_`, `sk_test_`, `rk_test_` and at least 10 of
//!   `[A-Za-z0-9]` (publishable `pk_` keys are not secrets).

use memchr::memmem;

use super::scan::{ends_clean, is_alnum, is_word, run, starts_clean};
use super::{Kind, Span};

/// Appends every GitHub token in `text` to `out`.
pub fn find_github(text: &str, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    let first = out.len();
    for at in memmem::find_iter(b, b"gh") {
        if !matches!(b.get(at + 2), Some(b'p' | b'o' | b'u' | b's' | b'r')) || b.get(at + 3) != Some(&b'_') {
            continue;
        }
        let body = run(b, at + 4, is_alnum);
        let end = at + 4 + body;
        if starts_clean(b, at, is_word) && (36..=251).contains(&body) && ends_clean(b, end, is_word) {
            out.push(Span::new(Kind::GithubToken, at..end));
        }
    }
    for at in memmem::find_iter(b, b"github_pat_") {
        let body = run(b, at + 11, is_word);
        if starts_clean(b, at, is_word) && body >= 22 {
            out.push(Span::new(Kind::GithubToken, at..at + 11 + body));
        }
    }
    out[first..].sort_unstable_by_key(|s| s.start);
}

/// Appends every Slack token in `text` to `out`.
pub fn find_slack(text: &str, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    for at in memmem::find_iter(b, b"xox") {
        if !matches!(b.get(at + 3), Some(b'a' | b'b' | b'p' | b'r' | b's')) || b.get(at + 4) != Some(&b'-') {
            continue;
        }
        let body = run(b, at + 5, |c| is_alnum(c) || c == b'-');
        if starts_clean(b, at, is_word) && body >= 10 {
            out.push(Span::new(Kind::SlackToken, at..at + 5 + body));
        }
    }
}

/// Appends every Stripe secret or restricted key in `text` to `out`.
pub fn find_stripe(text: &str, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    let first = out.len();
    for mode in [&b"_live_"[..], b"_test_"] {
        for at in memmem::find_iter(b, mode) {
            let Some(start) = at.checked_sub(2) else { continue };
            if !matches!(b[start], b's' | b'r') || b[start + 1] != b'k' {
                continue;
            }
            let body = run(b, at + 6, is_alnum);
            let end = at + 6 + body;
            if starts_clean(b, start, is_word) && body >= 10 && b.get(end).is_none_or(|&c| c != b'_') {
                out.push(Span::new(Kind::StripeKey, start..end));
            }
        }
    }
    out[first..].sort_unstable_by_key(|s| s.start);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::found;

    #[test]
    fn github_tokens() {
        let body = "0123456789abcdefghijABCDEFGHIJ012345";
        for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
            let token = format!("{prefix}{body}");
            assert_eq!(found(find_github, &token), [token.as_str()]);
            assert_eq!(found(find_github, &format!("token {token}.")), [token.as_str()]);
        }
        let pat =
            "github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdef";
        assert_eq!(found(find_github, &format!("GH_TOKEN={pat}")), [pat]);
        for text in [
            format!("ghx_{body}"),
            format!("ghp_{}", &body[..35]),
            format!("xghp_{body}"),
            format!("ghp_{body}_x"),
            "github_pat_short".to_string(),
            "see github.com/ghp_docs".to_string(),
        ] {
            assert_eq!(found(find_github, &text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn slack_tokens() {
        let bot = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx";
        assert_eq!(found(find_slack, bot), [bot]);
        assert_eq!(found(find_slack, &format!("SLACK_TOKEN=\"{bot}\"")), [bot]);
        assert_eq!(found(find_slack, "xoxp-1234567890"), ["xoxp-1234567890"]);
        for text in ["xoxz-1234567890abc", "xoxb-123", "axoxb-123456789012", "xoxb_123456789012"] {
            assert_eq!(found(find_slack, text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn stripe_keys() {
        for key in
            ["sk_live_4eC39HqLyjWDarjtT1zdp7dc", "rk_live_51H8abcdEFGH", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"]
        {
            assert_eq!(found(find_stripe, key), [key]);
            assert_eq!(found(find_stripe, &format!("stripe key: {key}")), [key]);
        }
        for text in [
            "pk_live_4eC39HqLyjWDarjtT1zdp7dc", // publishable
            "sk_live_short",
            "task_live_4eC39HqLyjWDarjtT1zdp7dc",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc_suffix",
            "disk_test_results",
        ] {
            assert_eq!(found(find_stripe, text), Vec::<String>::new(), "{text}");
        }
    }
}
