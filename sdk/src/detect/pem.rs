//! PEM private keys: `-----BEGIN <label>-----` where the label holds `PRIVATE KEY`
//! (`RSA PRIVATE KEY`, `EC PRIVATE KEY`, `OPENSSH PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`,
//! `PGP PRIVATE KEY BLOCK`, …), up to the end of the matching `-----END …-----` line. A
//! block cut short (no END line) runs to the end of the text: a truncated key is still a
//! secret. Public keys and certificates are not reported.

use memchr::memmem;

use super::{Kind, Span};

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";
const DASHES: &[u8] = b"-----";
/// Longest label looked at.
const MAX_LABEL: usize = 64;

/// Appends every PEM private key block in `text` to `out`.
pub fn find(text: &str, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(found) = memmem::find(&b[from..], BEGIN) {
        let start = from + found;
        let label_start = start + BEGIN.len();
        let window = &b[label_start..b.len().min(label_start + MAX_LABEL + DASHES.len())];
        let Some(label_len) = memmem::find(window, DASHES) else {
            from = label_start;
            continue;
        };
        let label = &window[..label_len];
        if memmem::find(label, b"PRIVATE KEY").is_none() {
            from = label_start;
            continue;
        }
        let body = label_start + label_len + DASHES.len();
        let end = memmem::find(&b[body..], END)
            .and_then(|e| {
                let end_label = body + e + END.len();
                memmem::find(&b[end_label..], DASHES).map(|d| end_label + d + DASHES.len())
            })
            .unwrap_or(b.len());
        out.push(Span::new(Kind::PrivateKey, start..end));
        from = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::found;

    const RSA: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0\n-----END RSA PRIVATE KEY-----";

    #[test]
    fn finds_private_key_blocks() {
        assert_eq!(found(find, RSA), [RSA]);
        assert_eq!(found(find, &format!("key:\n{RSA}\nthanks")), [RSA]);
        let pkcs8 =
            "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----";
        assert_eq!(found(find, pkcs8), [pkcs8]);
        let ssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
        assert_eq!(found(find, &format!("{ssh} {RSA}")), [ssh, RSA]);
        let pgp = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----";
        assert_eq!(found(find, pgp), [pgp]);
        let cut = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1du";
        assert_eq!(found(find, &format!("log: {cut}")), [cut]);
    }

    #[test]
    fn ignores_public_material() {
        for text in [
            "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n-----END CERTIFICATE-----",
            "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYI\n-----END PUBLIC KEY-----",
            "-----BEGIN RSA PRIVATE KEY", // no closing dashes on the BEGIN line
            "PRIVATE KEY",
            "----- BEGIN PRIVATE KEY -----",
        ] {
            assert_eq!(found(find, text), Vec::<&str>::new(), "{text}");
        }
    }
}
