//! JSON Web Tokens (JWS compact form, and JWE's five parts).
//!
//! A JWT's header is a JSON object, so its base64url form starts with `eyJ` (`{"`). The
//! token is that header (at least 10 characters), a dot, a payload of at least 2
//! characters, a dot, and a signature (possibly empty, for `alg: none`); up to two more
//! dot-separated parts are included (JWE). It must not be glued to other base64url
//! characters.

use memchr::memmem;

use super::scan::{is_base64url, run, starts_clean};
use super::{Kind, Span};

/// Appends every JWT in `text` to `out`.
pub fn find(text: &str, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    let mut taken = 0;
    for start in memmem::find_iter(b, b"eyJ") {
        if start < taken || !starts_clean(b, start, |c| is_base64url(c) || c == b'.') {
            continue;
        }
        let header = run(b, start, is_base64url);
        let mut end = start + header;
        if header < 10 || b.get(end) != Some(&b'.') {
            continue;
        }
        let payload = run(b, end + 1, is_base64url);
        if payload < 2 || b.get(end + 1 + payload) != Some(&b'.') {
            continue;
        }
        end += 1 + payload + 1;
        end += run(b, end, is_base64url);
        for _ in 0..2 {
            let more = run(b, end + 1, is_base64url);
            if b.get(end) == Some(&b'.') && more > 0 {
                end += 1 + more;
            }
        }
        out.push(Span::new(Kind::Jwt, start..end));
        taken = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::found;

    const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

    #[test]
    fn finds_tokens() {
        assert_eq!(found(find, JWT), [JWT]);
        assert_eq!(found(find, &format!("Bearer {JWT}")), [JWT]);
        assert_eq!(found(find, &format!("id_token={JWT}&state=x")), [JWT]);
        let unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.";
        assert_eq!(found(find, &format!("t: {unsigned} end")), [unsigned]);
        let jwe = "eyJhbGciOiJSU0EtT0FFUCJ9.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZ.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6ji.XFBoMYUZodetZdvTiFvSkQ";
        assert_eq!(found(find, jwe), [jwe]);
        assert_eq!(found(find, &format!("{JWT} {JWT}")), [JWT, JWT]);
    }

    #[test]
    fn ignores_look_alikes() {
        for text in [
            "eyJhbGciOiJIUzI1NiJ9",                    // a header alone
            "eyJhbGciOiJIUzI1NiJ9.",                   // no payload
            "eyJhbGciOiJIUzI1NiJ9.e",                  // payload too short, no signature dot
            "eyJh.eyJzdWIiOiJhIn0.sig",                // header too short
            "xeyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.s", // glued
            "the key eyJ is a prefix",
            "a.b.c",
        ] {
            assert_eq!(found(find, text), Vec::<&str>::new(), "{text}");
        }
    }
}
