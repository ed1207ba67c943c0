//! Encryption at rest: which members of a stored value are sealed, under which key, and
//! how they read back.
//!
//! A sealed value keeps its other members in the clear and holds the sealed ones in one
//! envelope member, `sealed`:
//!
//! ```json
//! {"action": "user.login", ..., "sealed": {"enc": "v1", "kid": "<hex>",
//!   "fields": ["details", "ip", "user"], "n": "<nonce, base64>", "c": "<ciphertext, base64>"}}
//! ```
//!
//! The plaintext is the JSON object of the sealed members; the AEAD (XChaCha20-Poly1305)
//! authenticates `kid` and `fields` too. The record stays JSON, so RFC 8785 encoding, the
//! hash chain and the Merkle leaves cover the stored (encrypted) bytes and `auditgate
//! verify` needs no key.
//!
//! Keys: one data key per subject (the event's `user`); events without a `user` share one
//! store-wide key (subject ref of the empty "no subject" value), which an erasure cannot
//! target. Data keys and the index key are wrapped by the master key (`data_keys`).
//! After an erasure, a value sealed under the destroyed key reads back with each sealed
//! member as [`ERASED`].
//!
//! The store's `meta` tree holds the marker `encryption` (JSON: version, AEAD, master key
//! id) from its creation on: an encrypted store never opens without the key, nor a plain
//! one with encryption on.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use crate::crypto::{IndexHasher, MasterKey, aead};

use super::data_keys::{DataKeys, KID_LEN, KeyState, Kid, SubjectRef};
use super::error::StoreError;
use super::indexes::Keying;
use super::trees::{Counters, Trees};

/// What a member sealed under an erased key reads back as.
pub const ERASED: &str = "[erased]";

/// The personal fields of an event that an encrypted store always seals.
pub const DEFAULT_SEALED_FIELDS: [&str; 6] = ["user", "ip", "user_agent", "session_id", "details", "changes"];

/// Fields that can never be sealed: the store reads them without keys (time index,
/// idempotency, recovery).
pub const UNSEALABLE_FIELDS: [&str; 2] = ["id", "time"];

/// The envelope member.
const SEALED: &str = "sealed";
/// The marker's key in the `meta` tree.
const MARKER_KEY: &[u8] = b"encryption";
/// The AEAD's associated-data domain.
const CONTEXT: &[u8] = b"auditgate sealed v1\0";

/// How to encrypt a store.
#[derive(Debug, Clone)]
pub struct EncryptionOptions {
    /// Wraps every data key and the index key.
    pub master: MasterKey,
    /// Top-level event fields to seal: [`DEFAULT_SEALED_FIELDS`] plus the configured ones.
    pub fields: Vec<String>,
}

/// The open encryption state of a store.
pub(crate) struct Sealing {
    keys: DataKeys,
    /// The policy host's key (`data_keys` entry `host`), handed to the host at start-up.
    host_key: crate::crypto::SecretKey,
    hasher: Arc<IndexHasher>,
    keying: Keying,
    fields: Vec<String>,
}

impl std::fmt::Debug for Sealing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealing").field("fields", &self.fields).finish_non_exhaustive()
    }
}

/// Checks the store's encryption marker against `opts` and opens the keys. A new (empty)
/// store gets the marker; the caller flushes.
pub(crate) fn open(
    db: &sled::Db,
    trees: &Trees,
    opts: Option<&EncryptionOptions>,
    dir: &std::path::Path,
) -> Result<Option<Sealing>, StoreError> {
    let marker = match trees.meta.get(MARKER_KEY)? {
        Some(bytes) => Some(
            serde_json::from_slice::<Value>(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("the encryption marker is not JSON: {e}")))?,
        ),
        None => None,
    };
    let marker_id = marker.as_ref().and_then(|m| m.get("master_key_id")).and_then(Value::as_str);
    let Some(opts) = opts else {
        return match marker_id {
            None => Ok(None),
            Some(id) => Err(StoreError::Encryption(format!(
                "{} is an encrypted store (master key id {id}): set storage.encryption = true and give its \
                 master key (AUDITGATE_MASTER_KEY or storage.master_key_file)",
                dir.display()
            ))),
        };
    };
    match marker_id {
        Some(id) if id == opts.master.id() => {}
        Some(id) => {
            return Err(StoreError::Encryption(format!(
                "the master key given (id {}) is not the one {} is encrypted with (id {id}): start with the right \
                 key (AUDITGATE_MASTER_KEY or storage.master_key_file)",
                opts.master.id(),
                dir.display()
            )));
        }
        None => {
            let last = trees.last_keys()?;
            if last != Counters::default() || trees.committed()?.is_some_and(|c| c != Counters::default()) {
                return Err(StoreError::Encryption(format!(
                    "{} was created without encryption and holds plain records (log up to seq {}): \
                     storage.encryption = true needs a new, empty data directory (or set storage.encryption = \
                     false for this one)",
                    dir.display(),
                    last.seq
                )));
            }
        }
    }
    let keys = DataKeys::new(db.open_tree("data_keys")?, opts.master.clone());
    let hasher = Arc::new(IndexHasher::new(&keys.index_key(marker_id.is_none())?));
    let host_key = keys.host_key()?;
    if marker_id.is_none() {
        // After the index key: sled recovers a prefix of its log, so a marker implies the key.
        trees.meta.insert(MARKER_KEY, marker_bytes(opts.master.id())?)?;
    }
    let mut fields = opts.fields.clone();
    fields.sort();
    fields.dedup();
    let keying = Keying::Keyed { hasher: hasher.clone(), fields: fields.clone().into() };
    Ok(Some(Sealing { keys, host_key, hasher, keying, fields }))
}

/// The marker of an encrypted store whose keys are wrapped under `master_key_id`.
fn marker_bytes(master_key_id: &str) -> Result<Vec<u8>, StoreError> {
    let marker = json!({"version": 1, "aead": "xchacha20poly1305", "master_key_id": master_key_id});
    serde_json::to_vec(&marker).map_err(json_error)
}

impl Sealing {
    /// The id of the master key wrapping the store's keys now.
    pub(crate) fn master_key_id(&self) -> String {
        self.keys.master_id()
    }

    /// The policy host's key.
    pub(crate) fn host_key(&self) -> &crate::crypto::SecretKey {
        &self.host_key
    }

    /// Re-wraps every key under `new` and points the marker at it, in one sled
    /// transaction (not flushed). Answers the number of keys re-wrapped.
    pub(crate) fn rotate_master(&self, meta: &sled::Tree, new: &MasterKey) -> Result<u64, StoreError> {
        self.keys.rotate(new, meta, MARKER_KEY, &marker_bytes(new.id())?)
    }

    /// How index keys spell the sealed fields.
    pub(crate) fn keying(&self) -> &Keying {
        &self.keying
    }

    /// The keyed hash naming `user` as a subject (in the key tree and erasure events).
    pub(crate) fn subject_ref(&self, user: Option<&str>) -> SubjectRef {
        match user {
            Some(u) => self.hasher.hash("subject", u.as_bytes()),
            None => self.hasher.hash("no subject", b""),
        }
    }

    /// The stored form of an event: its sealed fields moved into the envelope under the
    /// key of its `user`.
    pub(crate) fn seal_event(&self, event: &Map<String, Value>) -> Result<Map<String, Value>, StoreError> {
        let mut out = event.clone();
        let subject = event.get("user").and_then(Value::as_str);
        self.seal_members(&mut out, |name| self.fields.iter().any(|f| f == name), subject)?;
        Ok(out)
    }

    /// Moves the members `sealed(name)` selects into the envelope, under `subject`'s key.
    /// Nothing to seal: no envelope.
    pub(crate) fn seal_members(
        &self,
        map: &mut Map<String, Value>,
        sealed: impl Fn(&str) -> bool,
        subject: Option<&str>,
    ) -> Result<(), StoreError> {
        let names: Vec<String> = map.keys().filter(|k| sealed(k.as_str())).cloned().collect();
        if names.is_empty() {
            return Ok(());
        }
        let (kid, key) = self.keys.for_subject(&self.subject_ref(subject))?;
        let mut plain = Map::new();
        for name in &names {
            if let Some(v) = map.remove(name) {
                plain.insert(name.clone(), v);
            }
        }
        let bytes = serde_json::to_vec(&plain).map_err(json_error)?;
        let sealed = aead::seal(&key, &aad(&kid, &names), &bytes)
            .map_err(|e| StoreError::InvalidInput(format!("cannot encrypt: {e}")))?;
        let (nonce, ciphertext) = sealed.split_at(aead::NONCE_LEN);
        map.insert(
            SEALED.into(),
            json!({
                "enc": "v1",
                "kid": hex::encode(kid),
                "fields": names,
                "n": B64.encode(nonce),
                "c": B64.encode(ciphertext),
            }),
        );
        Ok(())
    }

    /// Replaces the envelope of a stored value (if any) by its members, or by [`ERASED`]
    /// for each when its key was erased. `what` names the value in errors.
    pub(crate) fn open(&self, map: &mut Map<String, Value>, what: &str) -> Result<(), StoreError> {
        let Some(envelope) = map.remove(SEALED) else { return Ok(()) };
        let env = Envelope::parse(&envelope).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))?;
        match self.keys.by_kid(&env.kid)? {
            Some(KeyState::Live(key)) => {
                let mut sealed = env.nonce;
                sealed.extend_from_slice(&env.ciphertext);
                let plain = aead::open(&key, &aad(&env.kid, &env.fields), &sealed)
                    .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))?;
                match serde_json::from_slice::<Value>(&plain) {
                    Ok(Value::Object(members)) => map.extend(members),
                    _ => {
                        return Err(StoreError::Corrupt(format!(
                            "{what}: sealed members are not a JSON object"
                        )));
                    }
                }
            }
            Some(KeyState::Erased) => {
                for name in env.fields {
                    map.insert(name, Value::from(ERASED));
                }
            }
            None => {
                return Err(StoreError::Corrupt(format!(
                    "{what}: data key {} is missing (and was not erased)",
                    hex::encode(env.kid)
                )));
            }
        }
        Ok(())
    }

    /// [`Sealing::open`] on a JSON value that should be an object.
    pub(crate) fn open_value(&self, value: &mut Value, what: &str) -> Result<(), StoreError> {
        match value {
            Value::Object(map) => self.open(map, what),
            _ => Ok(()),
        }
    }

    /// The kid a stored value is sealed under, if it has an envelope.
    pub(crate) fn kid_of(&self, map: &Map<String, Value>) -> Option<Kid> {
        Envelope::parse(map.get(SEALED)?).ok().map(|e| e.kid)
    }

    /// The data keys.
    pub(crate) fn keys(&self) -> &DataKeys {
        &self.keys
    }
}

/// A parsed envelope.
struct Envelope {
    kid: Kid,
    fields: Vec<String>,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl Envelope {
    fn parse(v: &Value) -> Result<Envelope, String> {
        let text =
            |name: &str| v.get(name).and_then(Value::as_str).ok_or(format!("envelope without `{name}`"));
        if text("enc")? != "v1" {
            return Err(format!("unknown envelope version {:?}", text("enc")?));
        }
        let kid: Kid = hex::decode(text("kid")?)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(format!("envelope kid is not {KID_LEN} hex bytes"))?;
        let fields = v
            .get("fields")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(|f| f.as_str().map(String::from)).collect::<Option<Vec<_>>>())
            .ok_or("envelope without a `fields` list of names")?;
        let b64 = |name: &str| B64.decode(text(name)?).map_err(|e| format!("envelope `{name}`: {e}"));
        Ok(Envelope { kid, fields, nonce: b64("n")?, ciphertext: b64("c")? })
    }
}

/// Associated data: the context, the kid and the sealed member names (length-prefixed).
fn aad(kid: &Kid, names: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(CONTEXT.len() + KID_LEN + names.len() * 12);
    out.extend_from_slice(CONTEXT);
    out.extend_from_slice(kid);
    for n in names {
        out.extend_from_slice(&(n.len() as u32).to_be_bytes());
        out.extend_from_slice(n.as_bytes());
    }
    out
}

fn json_error(e: serde_json::Error) -> StoreError {
    StoreError::InvalidInput(format!("cannot encode as JSON: {e}"))
}
