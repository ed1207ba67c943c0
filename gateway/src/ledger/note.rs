//! C2SP signed notes (`signed-note`) with Ed25519 keys, in the key and signature encodings
//! of Go's `golang.org/x/mod/sumdb/note`, so that its tools and witnesses read ours.
//!
//! - verifier key: `<name>+<key id, 8 hex>+<base64(0x01 ‖ public key)>`
//! - signer key: `PRIVATE+KEY+<name>+<key id>+<base64(0x01 ‖ seed)>`
//! - key id: the first 4 bytes of `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)`
//! - a note: text lines, a blank line, then `— <name> <base64(key id ‖ signature)>` lines.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

/// The algorithm byte of Ed25519 in note keys.
const ALG_ED25519: u8 = 1;

/// A key or note that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed key: {0}")]
    Key(String),
    #[error("malformed note: {0}")]
    Format(String),
    #[error("no signature by key {name}+{id:08x} on the note")]
    Unsigned { name: String, id: u32 },
    #[error("the signature by {name} does not match the note")]
    BadSignature { name: String },
}

/// The private half: signs notes.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key: SigningKey,
    id: u32,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner").field("name", &self.name).field("id", &self.id).finish_non_exhaustive()
    }
}

/// The public half: checks notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
    id: u32,
}

fn key_id(name: &str, public: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public.as_bytes());
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(NoteError::Key(format!("key name {name:?} must be non-empty, without spaces or '+'")));
    }
    Ok(())
}

impl NoteSigner {
    /// A new random key named `name`.
    pub fn generate(name: &str) -> Result<NoteSigner, NoteError> {
        check_name(name)?;
        let seed: [u8; 32] = rand::random();
        Ok(Self::from_seed(name, seed))
    }

    fn from_seed(name: &str, seed: [u8; 32]) -> NoteSigner {
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, &key.verifying_key());
        NoteSigner { name: name.to_string(), key, id }
    }

    /// Reads `PRIVATE+KEY+name+id+base64`.
    pub fn parse(text: &str) -> Result<NoteSigner, NoteError> {
        let text = text.trim();
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| NoteError::Key("a signing key starts with PRIVATE+KEY+".into()))?;
        let (name, id, bytes) = split_key(rest)?;
        if bytes.len() != 33 || bytes[0] != ALG_ED25519 {
            return Err(NoteError::Key("expected an Ed25519 seed (33 bytes starting with 0x01)".into()));
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&bytes[1..]);
        let signer = Self::from_seed(name, seed);
        if signer.id != id {
            return Err(NoteError::Key(format!(
                "key id {id:08x} does not match the key ({:08x})",
                signer.id
            )));
        }
        Ok(signer)
    }

    /// `PRIVATE+KEY+name+id+base64(0x01 ‖ seed)`.
    pub fn to_text(&self) -> String {
        let mut bytes = vec![ALG_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.id, B64.encode(bytes))
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier { name: self.name.clone(), key: self.key.verifying_key(), id: self.id }
    }

    /// The key's name (the signature line names it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Signs `body` (lines ending in `\n`, no blank line) into a note.
    pub fn sign(&self, body: &str) -> String {
        let sig = self.key.sign(body.as_bytes());
        let mut bytes = self.id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&sig.to_bytes());
        format!("{body}\n\u{2014} {} {}\n", self.name, B64.encode(bytes))
    }
}

fn split_key(text: &str) -> Result<(&str, u32, Vec<u8>), NoteError> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::Key("expected name+keyid+base64".into()));
    };
    check_name(name)?;
    if id.len() != 8 {
        return Err(NoteError::Key(format!("key id {id:?} is not 8 hex digits")));
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| NoteError::Key(format!("key id {id:?} is not hex")))?;
    let bytes = B64.decode(b64).map_err(|e| NoteError::Key(format!("bad base64: {e}")))?;
    Ok((name, id, bytes))
}

impl NoteVerifier {
    /// Reads `name+id+base64(0x01 ‖ public key)`.
    pub fn parse(text: &str) -> Result<NoteVerifier, NoteError> {
        let (name, id, bytes) = split_key(text.trim())?;
        if bytes.len() != 33 || bytes[0] != ALG_ED25519 {
            return Err(NoteError::Key(
                "expected an Ed25519 public key (33 bytes starting with 0x01)".into(),
            ));
        }
        let mut raw = [0u8; 32];
        raw.copy_from_slice(&bytes[1..]);
        let key =
            VerifyingKey::from_bytes(&raw).map_err(|e| NoteError::Key(format!("not an Ed25519 key: {e}")))?;
        if key_id(name, &key) != id {
            return Err(NoteError::Key(format!("key id {id:08x} does not match the key")));
        }
        Ok(NoteVerifier { name: name.to_string(), key, id })
    }

    /// `name+id+base64(0x01 ‖ public key)`.
    pub fn to_text(&self) -> String {
        let mut bytes = vec![ALG_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, B64.encode(bytes))
    }

    /// Checks that `note` carries a valid signature by this key; returns its body.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let (body, sigs) = split_note(note)?;
        let mut found = false;
        for line in sigs.lines() {
            let Some(rest) = line.strip_prefix("\u{2014} ") else {
                return Err(NoteError::Format(format!("signature line {line:?} does not start with '— '")));
            };
            let Some((name, b64)) = rest.split_once(' ') else {
                return Err(NoteError::Format(format!("signature line {line:?} has no signature")));
            };
            let Ok(bytes) = B64.decode(b64) else {
                return Err(NoteError::Format(format!("signature line {line:?}: bad base64")));
            };
            if bytes.len() < 4 || name != self.name || bytes[..4] != self.id.to_be_bytes() {
                continue;
            }
            found = true;
            let sig = Signature::from_slice(&bytes[4..])
                .map_err(|_| NoteError::BadSignature { name: self.name.clone() })?;
            if self.key.verify(body.as_bytes(), &sig).is_ok() {
                return Ok(body);
            }
        }
        if found {
            Err(NoteError::BadSignature { name: self.name.clone() })
        } else {
            Err(NoteError::Unsigned { name: self.name.clone(), id: self.id })
        }
    }
}

/// Splits a note into its body (ending in `\n`) and its signature lines.
pub fn split_note(note: &str) -> Result<(&str, &str), NoteError> {
    let Some(at) = note.find("\n\n") else {
        return Err(NoteError::Format("no blank line before the signatures".into()));
    };
    let (body, sigs) = (&note[..at + 1], &note[at + 2..]);
    if sigs.trim().is_empty() {
        return Err(NoteError::Format("no signature lines".into()));
    }
    Ok((body, sigs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sign() {
        let signer = NoteSigner::generate("example.com/log").expect("key");
        let again = NoteSigner::parse(&signer.to_text()).expect("parses");
        assert_eq!(again.verifier(), signer.verifier());
        let verifier = NoteVerifier::parse(&signer.verifier().to_text()).expect("parses");
        let note = signer.sign("example.com/log\n5\nAAAA\n");
        assert_eq!(verifier.open(&note).expect("valid"), "example.com/log\n5\nAAAA\n");
        let tampered = note.replacen("\n5\n", "\n6\n", 1);
        assert_eq!(verifier.open(&tampered), Err(NoteError::BadSignature { name: "example.com/log".into() }));
        let other = NoteSigner::generate("example.com/log").expect("key").verifier();
        assert!(matches!(other.open(&note), Err(NoteError::Unsigned { .. })));
    }

    #[test]
    fn go_sumdb_note_example_verifies() {
        // The example of golang.org/x/mod/sumdb/note's documentation.
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let note = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n\
                    \n\
                    \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        let v = NoteVerifier::parse(vkey).expect("parses");
        assert!(v.open(note).is_ok());
    }

    #[test]
    fn bad_keys_are_named() {
        assert!(NoteVerifier::parse("name+zz+AAAA").is_err());
        assert!(NoteSigner::parse("name+00000000+AAAA").is_err());
        assert!(NoteSigner::generate("has space").is_err());
    }
}
