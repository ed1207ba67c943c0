//! Cloud provider credentials: AWS, Google Cloud, Azure.
//!
//! - AWS access key id: `AKIA` (long-term) or `ASIA` (temporary) and 16 more of `[A-Z0-9]`.
//! - AWS secret access key: 40 characters of `[A-Za-z0-9/+]` mixing upper case, lower case
//!   and digits, either after a label (`aws_secret_access_key`, `SecretAccessKey`,
//!   `secret-access-key`, `aws_secret_key`, then up to a few of ``"':= ``) or anywhere in a
//!   string that also holds an access key id. A bare 40-character string alone is not
//!   reported: too many things look like that.
//! - Google Cloud API key: `AIza` and 35 more of `[A-Za-z0-9_-]`.
//! - Azure: the value of `AccountKey=` or `SharedAccessKey=` (connection strings, any case;
//!   base64 of at least 20 characters) and the `sig=` of a SAS URL that has an `sv=`.

use memchr::memmem;

use super::scan::{ends_clean, find_ignore_case, is_alnum, is_base64, is_base64url, run, starts_clean};
use super::{Kind, Span};

/// Length of an AWS access key id.
const AWS_KEY_ID_LEN: usize = 20;
/// Length of an AWS secret access key.
const AWS_SECRET_LEN: usize = 40;

/// Appends every AWS access key id in `text` to `out`.
pub fn find_aws_key_ids(text: &str, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    let first = out.len();
    for prefix in [b"AKIA", b"ASIA"] {
        for at in memmem::find_iter(b, prefix) {
            let body = run(b, at + 4, |c| c.is_ascii_uppercase() || c.is_ascii_digit());
            let end = at + 4 + body;
            if starts_clean(b, at, is_alnum) && 4 + body == AWS_KEY_ID_LEN && ends_clean(b, end, is_alnum) {
                out.push(Span::new(Kind::AwsKeyId, at..end));
            }
        }
    }
    out[first..].sort_unstable_by_key(|s| s.start);
}

/// Appends every AWS secret access key in `text` to `out`.
pub fn find_aws_secrets(text: &str, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    let first = out.len();
    for at in find_ignore_case(b, b"secret") {
        if let Some(start) = after_aws_secret_label(b, at)
            && let Some(end) = secret_at(b, start)
        {
            out.push(Span::new(Kind::AwsSecret, start..end));
        }
    }
    let mut ids = Vec::new();
    find_aws_key_ids(text, &mut ids);
    if !ids.is_empty() {
        let mut i = 0;
        while i < b.len() {
            let len = run(b, i, is_base64);
            if len == 0 {
                i += 1;
                continue;
            }
            let labelled = out[first..].iter().any(|s| s.start == i);
            if !labelled && secret_at(b, i).is_some() {
                out.push(Span::new(Kind::AwsSecret, i..i + len));
            }
            i += len;
        }
    }
    out[first..].sort_unstable_by_key(|s| s.start);
}

/// After `secret` at `at`: the rest of an AWS secret label and its separator; returns where
/// the value starts.
fn after_aws_secret_label(b: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 6;
    let sep = |b: &[u8], i: usize| usize::from(matches!(b.get(i), Some(b'_' | b'-')));
    let word =
        |b: &[u8], i: usize, w: &[u8]| b.get(i..i + w.len()).is_some_and(|s| s.eq_ignore_ascii_case(w));
    let aws_before = at >= 4 && b[at - 4..at].eq_ignore_ascii_case(b"aws_");
    let j = i + sep(b, i);
    if word(b, j, b"access") {
        i = j + 6;
        i += sep(b, i);
        if !word(b, i, b"key") {
            return None;
        }
        i += 3;
    } else if aws_before && word(b, j, b"key") {
        i = j + 3;
    } else {
        return None;
    }
    let gap = run(b, i, |c| matches!(c, b'"' | b'\'' | b':' | b'=' | b' ' | b'\t' | b'\\'));
    (gap <= 6).then_some(i + gap)
}

/// The end of a 40-character secret starting exactly at `start`, if there is one.
fn secret_at(b: &[u8], start: usize) -> Option<usize> {
    let len = run(b, start, is_base64);
    let token = &b[start..start + len];
    let mixed = token.iter().any(u8::is_ascii_uppercase)
        && token.iter().any(u8::is_ascii_lowercase)
        && token.iter().any(u8::is_ascii_digit);
    (len == AWS_SECRET_LEN && mixed && starts_clean(b, start, is_base64) && b.get(start + len) != Some(&b'='))
        .then_some(start + len)
}

/// Appends every Google Cloud API key in `text` to `out`.
pub fn find_gcp_keys(text: &str, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    for at in memmem::find_iter(b, b"AIza") {
        let body = run(b, at + 4, is_base64url);
        if starts_clean(b, at, is_base64url) && body == 35 {
            out.push(Span::new(Kind::GcpKey, at..at + 4 + body));
        }
    }
}

/// Appends every Azure account key, shared access key and SAS signature in `text` to `out`.
pub fn find_azure_keys(text: &str, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    let first = out.len();
    for label in [&b"accountkey="[..], b"sharedaccesskey="] {
        for at in find_ignore_case(b, label) {
            if !starts_clean(b, at, is_alnum) {
                continue;
            }
            let start = at + label.len();
            let body = run(b, start, is_base64);
            let end = start + body + run(b, start + body, |c| c == b'=').min(2);
            if body >= 20 {
                out.push(Span::new(Kind::AzureKey, start..end));
            }
        }
    }
    if memmem::find(b, b"sv=").is_some() {
        for at in memmem::find_iter(b, b"sig=") {
            if at == 0 || !matches!(b[at - 1], b'?' | b'&') {
                continue;
            }
            let start = at + 4;
            let len = run(b, start, |c| is_base64(c) || c == b'%' || c == b'=');
            if len >= 20 {
                out.push(Span::new(Kind::AzureKey, start..start + len));
            }
        }
    }
    out[first..].sort_unstable_by_key(|s| s.start);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::found;

    const ID: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn aws_key_ids() {
        assert_eq!(found(find_aws_key_ids, ID), [ID]);
        assert_eq!(found(find_aws_key_ids, "id=ASIAY34FZKBOKMUTVV7A;"), ["ASIAY34FZKBOKMUTVV7A"]);
        assert_eq!(found(find_aws_key_ids, &format!("aws_access_key_id = {ID}")), [ID]);
        for text in [
            "AKIAIOSFODNN7EXAMPL",   // 19
            "AKIAIOSFODNN7EXAMPLE1", // 21
            "XAKIAIOSFODNN7EXAMPLE",
            "AKIAiosfodnn7example",
            "AGPAIOSFODNN7EXAMPLE", // a group id, not a key
        ] {
            assert_eq!(found(find_aws_key_ids, text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn aws_secrets_by_label_or_next_to_a_key_id() {
        for text in [
            format!("aws_secret_access_key = {SECRET}"),
            format!("AWS_SECRET_ACCESS_KEY={SECRET}"),
            format!("{{\"SecretAccessKey\": \"{SECRET}\"}}"),
            format!("secret-access-key: '{SECRET}'"),
            format!("aws_secret_key={SECRET}"),
            format!("{ID}:{SECRET}"),
            format!("key {ID} secret {SECRET}"),
        ] {
            assert_eq!(found(find_aws_secrets, &text), [SECRET], "{text}");
        }
        for text in [
            SECRET.to_string(),                               // bare: not reported
            format!("secret_access_key = {}", &SECRET[..39]), // 39
            format!("secret_access_key = {SECRET}A"),         // 41
            format!("secret_key = {SECRET}"),                 // not an AWS label
            "aws_secret_access_key = 0123456789012345678901234567890123456789".to_string(), // digits only
            format!("{ID} {}", "a".repeat(40)),
            "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709".to_string(),
        ] {
            assert_eq!(found(find_aws_secrets, &text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn gcp_keys() {
        let key = "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe";
        assert_eq!(found(find_gcp_keys, key), [key]);
        assert_eq!(found(find_gcp_keys, &format!("https://maps.example/api?key={key}&x=1")), [key]);
        for text in [&key[..38], &format!("{key}x"), &format!("x{key}"), "AIza is a prefix"] {
            assert_eq!(found(find_gcp_keys, text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn azure_keys() {
        let key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
        let conn = format!(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={key};EndpointSuffix=core.windows.net"
        );
        assert_eq!(found(find_azure_keys, &conn), [key]);
        let sb = "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=abcdEFGH1234ijklMNOP5678qrst=";
        assert_eq!(found(find_azure_keys, sb), ["abcdEFGH1234ijklMNOP5678qrst="]);
        let sas = "https://acct.blob.core.windows.net/c/b?sv=2022-11-02&ss=b&sig=a%2Bb%2Fc1234567890abcdefghij%3D&se=x";
        assert_eq!(found(find_azure_keys, sas), ["a%2Bb%2Fc1234567890abcdefghij%3D"]);
        for text in [
            "AccountKey=short",
            "AccountName=acct;EndpointSuffix=core.windows.net",
            "https://x/?sig=a%2Bb%2Fc1234567890abcdefghij%3D", // no sv=: not a SAS URL
            "MyAccountKey=abcdEFGH1234ijklMNOP5678qrst",
        ] {
            assert_eq!(found(find_azure_keys, text), Vec::<String>::new(), "{text}");
        }
    }
}
