//! Legal holds: records that must not leave the store (retention stops at the first one)
//! and subjects that must not be erased. A hold names a user, an event-time range, or
//! both. Holds come from `[[legal_hold]]` in the config (fixed while the process runs)
//! and from `POST /v1/admin/legal-holds` (the `legal_holds` sled tree, flushed before
//! the answer).

use std::sync::PoisonError;

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::{EventQuery, Store};

/// Where a hold comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HoldOrigin {
    /// `[[legal_hold]]` in the config file: released by editing the file and restarting.
    Config,
    /// Created through the admin API: released with `DELETE /v1/admin/legal-holds/{id}`.
    Api,
}

/// One legal hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LegalHold {
    /// `config:<name>` for config holds, `hold-<n>` for API ones.
    pub id: String,
    /// Events of this user are held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Events whose `time` is at or after this (RFC 3339) are held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Events whose `time` is before this (RFC 3339) are held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Why (a case number, a request).
    pub reason: String,
    pub origin: HoldOrigin,
    /// Who created it (the admin key's name; `config` for config holds).
    pub created_by: String,
    /// When it was created (RFC 3339; empty for config holds).
    #[serde(default)]
    pub created_at: String,
}

/// What a hold covers, before it has an id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HoldScope {
    pub user: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A hold that cannot be made or released; the message names the problem.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    /// The scope is empty or its times are not RFC 3339 / not in order.
    #[error("{0}")]
    Invalid(String),
    /// No hold has this id.
    #[error("no legal hold has the id {0:?}")]
    NotFound(String),
    /// A config hold: the API cannot release it.
    #[error("legal hold {0:?} comes from the config file ([[legal_hold]]): remove it there and restart")]
    FromConfig(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A hold's matching form: times as microseconds.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    pub hold: LegalHold,
    from: Option<i64>,
    to: Option<i64>,
}

fn parse_time(what: &str, text: &str) -> Result<i64, HoldError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_micros())
        .map_err(|e| HoldError::Invalid(format!("`{what}` {text:?} is not an RFC 3339 time: {e}")))
}

impl HoldScope {
    /// Checks the scope: something to hold, times that parse and are in order.
    pub fn validate(&self) -> Result<(), HoldError> {
        if self.user.is_none() && self.from.is_none() && self.to.is_none() {
            return Err(HoldError::Invalid("a legal hold needs `user`, `from` or `to` (or several)".into()));
        }
        if self.user.as_deref() == Some("") {
            return Err(HoldError::Invalid("`user` must not be empty".into()));
        }
        let from = self.from.as_deref().map(|t| parse_time("from", t)).transpose()?;
        let to = self.to.as_deref().map(|t| parse_time("to", t)).transpose()?;
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            return Err(HoldError::Invalid("`from` must be before `to`".into()));
        }
        Ok(())
    }
}

impl Matcher {
    pub(crate) fn new(hold: LegalHold) -> Result<Matcher, HoldError> {
        let from = hold.from.as_deref().map(|t| parse_time("from", t)).transpose()?;
        let to = hold.to.as_deref().map(|t| parse_time("to", t)).transpose()?;
        Ok(Matcher { hold, from, to })
    }

    /// Whether the hold covers a record with this (plain) user and event time.
    pub(crate) fn covers(&self, user: Option<&str>, time_micros: Option<i64>) -> bool {
        if let Some(held) = &self.hold.user
            && user != Some(held.as_str())
        {
            return false;
        }
        if self.from.is_none() && self.to.is_none() {
            return true;
        }
        // A record without a readable time is held by any time range (never removed
        // on a guess).
        let Some(t) = time_micros else { return true };
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t < e)
    }
}

const COUNTER_KEY: &[u8] = b"\0next";

impl Store {
    /// Sets the holds from the config file (`[[legal_hold]]`); replaces earlier ones.
    pub fn set_config_holds(&self, holds: Vec<LegalHold>) -> Result<(), HoldError> {
        for h in &holds {
            Matcher::new(h.clone())?;
        }
        *self.inner.config_holds.write().unwrap_or_else(PoisonError::into_inner) = holds;
        Ok(())
    }

    /// Every hold in force: config holds first, then API holds by id.
    pub fn legal_holds(&self) -> Result<Vec<LegalHold>, StoreError> {
        let mut out = self.inner.config_holds.read().unwrap_or_else(PoisonError::into_inner).clone();
        for item in self.inner.trees.holds.iter() {
            let (key, value) = item?;
            if key.as_ref() == COUNTER_KEY {
                continue;
            }
            let hold: LegalHold = serde_json::from_slice(&value)
                .map_err(|e| StoreError::Corrupt(format!("a stored legal hold is not valid: {e}")))?;
            out.push(hold);
        }
        Ok(out)
    }

    /// The holds in force, ready to match records.
    pub(crate) fn hold_matchers(&self) -> Result<Vec<Matcher>, StoreError> {
        self.legal_holds()?
            .into_iter()
            .map(|h| Matcher::new(h).map_err(|e| StoreError::Corrupt(format!("a legal hold: {e}"))))
            .collect()
    }

    /// Creates a hold (durable when this returns).
    pub fn create_legal_hold(
        &self,
        scope: HoldScope,
        reason: String,
        by: &str,
    ) -> Result<LegalHold, HoldError> {
        scope.validate()?;
        let trees = &self.inner.trees;
        let n = trees
            .holds
            .update_and_fetch(COUNTER_KEY, |old| {
                let n = old.and_then(|v| <[u8; 8]>::try_from(v).ok()).map_or(0, u64::from_be_bytes);
                Some((n + 1).to_be_bytes().to_vec())
            })
            .map_err(StoreError::from)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(1, u64::from_be_bytes);
        let hold = LegalHold {
            id: format!("hold-{n}"),
            user: scope.user,
            from: scope.from,
            to: scope.to,
            reason,
            origin: HoldOrigin::Api,
            created_by: by.to_string(),
            created_at: crate::event::format_time(chrono::Utc::now()),
        };
        let bytes = serde_json::to_vec(&hold).map_err(|e| HoldError::Invalid(e.to_string()))?;
        trees.holds.insert(hold.id.as_bytes(), bytes).map_err(StoreError::from)?;
        self.inner.db.flush().map_err(StoreError::from)?;
        Ok(hold)
    }

    /// Releases an API hold (durable when this returns) and answers it.
    pub fn release_legal_hold(&self, id: &str) -> Result<LegalHold, HoldError> {
        let from_config =
            self.inner.config_holds.read().unwrap_or_else(PoisonError::into_inner).iter().any(|h| h.id == id);
        if from_config {
            return Err(HoldError::FromConfig(id.to_string()));
        }
        if id.as_bytes() == COUNTER_KEY {
            return Err(HoldError::NotFound(id.to_string()));
        }
        let Some(old) = self.inner.trees.holds.remove(id.as_bytes()).map_err(StoreError::from)? else {
            return Err(HoldError::NotFound(id.to_string()));
        };
        self.inner.db.flush().map_err(StoreError::from)?;
        serde_json::from_slice(&old).map_err(|e| {
            HoldError::Store(StoreError::Corrupt(format!("the released hold was not valid: {e}")))
        })
    }

    /// The first hold that forbids erasing `user`: one naming the user, or a time-range
    /// hold covering any of the user's events.
    pub fn hold_blocking_erasure(&self, user: &str) -> Result<Option<LegalHold>, StoreError> {
        for m in self.hold_matchers()? {
            match &m.hold.user {
                Some(held) if held == user => return Ok(Some(m.hold)),
                Some(_) => {}
                None => {
                    let q = EventQuery {
                        user: Some(user.to_string()),
                        from_micros: m.from,
                        to_micros: m.to,
                        limit: 1,
                        ..EventQuery::default()
                    };
                    if !self.query(&q)?.items.is_empty() {
                        return Ok(Some(m.hold));
                    }
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(user: Option<&str>, from: Option<&str>, to: Option<&str>) -> Matcher {
        Matcher::new(LegalHold {
            id: "h".into(),
            user: user.map(Into::into),
            from: from.map(Into::into),
            to: to.map(Into::into),
            reason: String::new(),
            origin: HoldOrigin::Api,
            created_by: String::new(),
            created_at: String::new(),
        })
        .expect("valid")
    }

    #[test]
    fn holds_match_by_user_and_half_open_range() {
        let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).expect("time").timestamp_micros();
        let by_user = hold(Some("alice"), None, None);
        assert!(by_user.covers(Some("alice"), None));
        assert!(!by_user.covers(Some("bob"), Some(0)));
        assert!(!by_user.covers(None, Some(0)));
        let range = hold(None, Some("2026-01-01T00:00:00Z"), Some("2026-02-01T00:00:00Z"));
        assert!(range.covers(Some("bob"), Some(t("2026-01-01T00:00:00Z"))));
        assert!(!range.covers(Some("bob"), Some(t("2026-02-01T00:00:00Z"))));
        assert!(!range.covers(None, Some(t("2025-12-31T23:59:59Z"))));
        assert!(range.covers(None, None));
        let both = hold(Some("alice"), Some("2026-01-01T00:00:00Z"), None);
        assert!(both.covers(Some("alice"), Some(t("2027-01-01T00:00:00Z"))));
        assert!(!both.covers(Some("bob"), Some(t("2027-01-01T00:00:00Z"))));
        assert!(!both.covers(Some("alice"), Some(t("2025-01-01T00:00:00Z"))));
    }

    #[test]
    fn scopes_are_validated() {
        assert!(HoldScope::default().validate().is_err());
        let bad = HoldScope { from: Some("yesterday".into()), ..HoldScope::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("`from`"));
        let reversed = HoldScope {
            from: Some("2026-02-01T00:00:00Z".into()),
            to: Some("2026-01-01T00:00:00Z".into()),
            ..HoldScope::default()
        };
        assert!(reversed.validate().is_err());
        assert!(HoldScope { user: Some("a".into()), ..HoldScope::default() }.validate().is_ok());
    }
}
