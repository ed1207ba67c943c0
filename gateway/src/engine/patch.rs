//! Applying a policy's decision to an event: the host, not the guest, changes the event,
//! so the gateway knows exactly which paths a policy redacted.

use serde_json::{Map, Value};

use super::pseudonym::Pseudonymizer;

/// One patch the host applies (the WIT `patch-op`, in host form).
#[derive(Debug, Clone, PartialEq)]
pub enum Patch {
    Remove(String),
    Mask(String, String),
    Pseudonymize(String),
    Set(String, String),
}

/// A patch that could not be applied; fails the policy for this event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("patch path {0:?} is not a JSON pointer to a field (must start with `/`)")]
    BadPointer(String),
    #[error("patch path {0:?} does not exist in the event")]
    Missing(String),
    #[error("`set` at {path:?}: the value is not JSON: {message}")]
    BadValue { path: String, message: String },
    #[error("patch path {0:?} goes through a value that is neither an object nor an array")]
    NotAContainer(String),
}

/// Applies `patches` in order to `event` (a JSON object). Paths masked, removed or
/// pseudonymized are appended to `redacted` (once each). On error the event may be
/// half-patched: callers patch a copy.
pub fn apply(
    event: &mut Value,
    patches: &[Patch],
    pseudonymizer: &Pseudonymizer,
    redacted: &mut Vec<String>,
) -> Result<(), PatchError> {
    for patch in patches {
        match patch {
            Patch::Remove(path) => {
                let (parent, last) = parent_of(event, path, false)?;
                let removed = match parent {
                    Value::Object(m) => m.remove(&last).is_some(),
                    Value::Array(a) => match last.parse::<usize>() {
                        Ok(i) if i < a.len() => {
                            a.remove(i);
                            true
                        }
                        _ => false,
                    },
                    _ => return Err(PatchError::NotAContainer(path.clone())),
                };
                if !removed {
                    return Err(PatchError::Missing(path.clone()));
                }
                note(redacted, path);
            }
            Patch::Mask(path, text) => {
                *existing(event, path)? = Value::String(text.clone());
                note(redacted, path);
            }
            Patch::Pseudonymize(path) => {
                let target = existing(event, path)?;
                let hashed = match &*target {
                    Value::String(s) => pseudonymizer.pseudonym(s.as_bytes()),
                    other => pseudonymizer.pseudonym(other.to_string().as_bytes()),
                };
                *target = Value::String(hashed);
                note(redacted, path);
            }
            Patch::Set(path, json) => {
                let value: Value = serde_json::from_str(json)
                    .map_err(|e| PatchError::BadValue { path: path.clone(), message: e.to_string() })?;
                let (parent, last) = parent_of(event, path, true)?;
                match parent {
                    Value::Object(m) => {
                        m.insert(last, value);
                    }
                    Value::Array(a) => match last.parse::<usize>() {
                        Ok(i) if i < a.len() => a[i] = value,
                        _ if last == "-" => a.push(value),
                        _ => return Err(PatchError::Missing(path.clone())),
                    },
                    _ => return Err(PatchError::NotAContainer(path.clone())),
                }
            }
        }
    }
    Ok(())
}

fn note(redacted: &mut Vec<String>, path: &str) {
    if !redacted.iter().any(|p| p == path) {
        redacted.push(path.to_string());
    }
}

/// Splits an RFC 6901 pointer into unescaped tokens; the root itself is not patchable.
fn tokens(path: &str) -> Result<Vec<String>, PatchError> {
    match path.strip_prefix('/') {
        Some(rest) => Ok(rest.split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect()),
        None => Err(PatchError::BadPointer(path.to_string())),
    }
}

/// The value at `path`, which must exist.
fn existing<'a>(event: &'a mut Value, path: &str) -> Result<&'a mut Value, PatchError> {
    let (parent, last) = parent_of(event, path, false)?;
    let found = match parent {
        Value::Object(m) => m.get_mut(&last),
        Value::Array(a) => last.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
        _ => None,
    };
    found.ok_or_else(|| PatchError::Missing(path.to_string()))
}

/// The container holding the last token of `path`, and that token. With `create`, missing
/// intermediate objects are created (enrichment into `/details/geo/country`).
fn parent_of<'a>(
    event: &'a mut Value,
    path: &str,
    create: bool,
) -> Result<(&'a mut Value, String), PatchError> {
    let mut toks = tokens(path)?;
    let last = toks.pop().ok_or_else(|| PatchError::BadPointer(path.to_string()))?;
    let mut current = event;
    for tok in toks {
        current = match current {
            Value::Object(m) => {
                if create && !m.contains_key(&tok) {
                    m.insert(tok.clone(), Value::Object(Map::new()));
                }
                m.get_mut(&tok).ok_or_else(|| PatchError::Missing(path.to_string()))?
            }
            Value::Array(a) => tok
                .parse::<usize>()
                .ok()
                .and_then(|i| a.get_mut(i))
                .ok_or_else(|| PatchError::Missing(path.to_string()))?,
            _ => return Err(PatchError::NotAContainer(path.to_string())),
        };
    }
    Ok((current, last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(mut event: Value, patches: &[Patch]) -> Result<(Value, Vec<String>), PatchError> {
        let mut redacted = Vec::new();
        apply(&mut event, patches, &Pseudonymizer::new([7u8; 32]), &mut redacted)?;
        Ok((event, redacted))
    }

    #[test]
    fn mask_remove_pseudonymize_are_recorded() {
        let (e, r) = run(
            json!({"user": "alice", "details": {"password": "hunter2", "a/b": 1, "list": [1, 2]}}),
            &[
                Patch::Mask("/details/password".into(), "[REDACTED]".into()),
                Patch::Remove("/details/a~1b".into()),
                Patch::Pseudonymize("/user".into()),
                Patch::Remove("/details/list/0".into()),
            ],
        )
        .expect("applies");
        assert_eq!(e["details"]["password"], "[REDACTED]");
        assert!(e["details"].get("a/b").is_none());
        assert_eq!(e["details"]["list"], json!([2]));
        let user = e["user"].as_str().expect("string");
        assert!(user.starts_with("hmac-sha256:"), "{user}");
        assert_eq!(r, vec!["/details/password", "/details/a~1b", "/user", "/details/list/0"]);
    }

    #[test]
    fn set_creates_intermediate_objects_and_is_not_a_redaction() {
        let (e, r) =
            run(json!({"action": "a"}), &[Patch::Set("/details/geo/country".into(), "\"NL\"".into())])
                .expect("applies");
        assert_eq!(e["details"]["geo"]["country"], "NL");
        assert!(r.is_empty());
    }

    #[test]
    fn bad_patches_fail() {
        let e = json!({"a": 1});
        assert!(matches!(
            run(e.clone(), &[Patch::Mask("/b".into(), "x".into())]),
            Err(PatchError::Missing(_))
        ));
        assert!(matches!(run(e.clone(), &[Patch::Remove("a".into())]), Err(PatchError::BadPointer(_))));
        assert!(matches!(
            run(e.clone(), &[Patch::Set("/c".into(), "{oops".into())]),
            Err(PatchError::BadValue { .. })
        ));
        assert!(matches!(
            run(e, &[Patch::Set("/a/b".into(), "1".into())]),
            Err(PatchError::NotAContainer(_))
        ));
    }
}
