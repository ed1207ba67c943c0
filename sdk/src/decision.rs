//! [`Decision`]: what a policy wants done to one event (patches, alerts, tags).
//!
//! Paths are RFC 6901 pointers; the host applies the patches, records masked, removed and
//! pseudonymized paths as redactions, and validates the result.

use crate::bindings::auditgate::policy::types::{Alert, Decision as WitDecision, PatchOp, Severity};

/// Builds the decision about one event. Empty means "no change".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    patches: Vec<PatchOp>,
    alerts: Vec<Alert>,
    tags: Vec<String>,
}

impl Decision {
    /// An empty decision.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the value at `path` with the string `text` (a marker such as
    /// `[REDACTED]`, or the text with only the secret spans masked).
    pub fn mask(&mut self, path: impl Into<String>, text: impl Into<String>) -> &mut Self {
        self.patches.push(PatchOp::Mask((path.into(), text.into())));
        self
    }

    /// Deletes the field at `path`.
    pub fn remove(&mut self, path: impl Into<String>) -> &mut Self {
        self.patches.push(PatchOp::Remove(path.into()));
        self
    }

    /// Replaces the value at `path` with the host's keyed hash (`hmac-sha256:…`), which
    /// stays searchable.
    pub fn pseudonymize(&mut self, path: impl Into<String>) -> &mut Self {
        self.patches.push(PatchOp::Pseudonymize(path.into()));
        self
    }

    /// Sets the field at `path` to a JSON value (enrichment): `set("/details/geo",
    /// serde_json::json!({"country": "FR"}))`, `set("/details/risk", 70)`.
    pub fn set(&mut self, path: impl Into<String>, value: impl Into<serde_json::Value>) -> &mut Self {
        let json = value.into().to_string();
        self.set_json(path, json)
    }

    /// Sets the field at `path` to any serializable value; `Err` if it does not serialize
    /// to JSON (e.g. a map with non-string keys).
    pub fn try_set<T: serde::Serialize + ?Sized>(
        &mut self,
        path: impl Into<String>,
        value: &T,
    ) -> Result<&mut Self, String> {
        let json = serde_json::to_string(value).map_err(|e| format!("cannot serialize value: {e}"))?;
        Ok(self.set_json(path, json))
    }

    /// Sets the field at `path` to already serialized JSON text (the host rejects text
    /// that is not JSON).
    pub fn set_json(&mut self, path: impl Into<String>, json: impl Into<String>) -> &mut Self {
        self.patches.push(PatchOp::Set((path.into(), json.into())));
        self
    }

    /// Raises an alert; add labels on the returned builder.
    pub fn alert(
        &mut self,
        rule: impl Into<String>,
        severity: Severity,
        summary: impl Into<String>,
    ) -> AlertBuilder<'_> {
        let index = self.alerts.len();
        self.alerts.push(Alert { rule: rule.into(), severity, summary: summary.into(), labels: Vec::new() });
        AlertBuilder { alert: &mut self.alerts[index] }
    }

    /// Adds a tag to the event.
    pub fn tag(&mut self, tag: impl Into<String>) -> &mut Self {
        self.tags.push(tag.into());
        self
    }

    /// The patches so far, in order.
    pub fn patches(&self) -> &[PatchOp] {
        &self.patches
    }

    /// The alerts so far, in order.
    pub fn alerts(&self) -> &[Alert] {
        &self.alerts
    }

    /// The tags so far, in order.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// True when nothing was decided.
    pub fn is_empty(&self) -> bool {
        self.patches.is_empty() && self.alerts.is_empty() && self.tags.is_empty()
    }

    /// The WIT record sent to the host.
    pub fn into_wit(self) -> WitDecision {
        WitDecision { patches: self.patches, alerts: self.alerts, tags: self.tags }
    }
}

impl From<Decision> for WitDecision {
    fn from(d: Decision) -> WitDecision {
        d.into_wit()
    }
}

/// Adds labels to an alert just raised with [`Decision::alert`].
#[derive(Debug)]
pub struct AlertBuilder<'d> {
    alert: &'d mut Alert,
}

impl AlertBuilder<'_> {
    /// Adds a `(name, value)` label.
    pub fn label(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.alert.labels.push((name.into(), value.into()));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_patches_alerts_and_tags_in_order() {
        let mut d = Decision::new();
        assert!(d.is_empty());
        d.mask("/details/password", "[REDACTED]")
            .remove("/details/tmp")
            .pseudonymize("/user")
            .set("/details/geo", serde_json::json!({"country": "FR"}))
            .set("/details/risk", 70)
            .set("/details/note", "a \"quoted\" text")
            .tag("pii");
        d.alert("brute-force", Severity::High, "5 failures in 60s")
            .label("user", "alice")
            .label("ip", "192.0.2.7");
        d.alert("off-hours", Severity::Low, "login at 03:00");
        assert!(d.try_set("/details/list", &[1, 2]).is_ok());
        let mut bad = std::collections::BTreeMap::new();
        bad.insert(vec![1u8], 1);
        assert!(d.try_set("/x", &bad).is_err_and(|e| e.starts_with("cannot serialize value: ")));

        assert_eq!(
            d.patches(),
            &[
                PatchOp::Mask(("/details/password".into(), "[REDACTED]".into())),
                PatchOp::Remove("/details/tmp".into()),
                PatchOp::Pseudonymize("/user".into()),
                PatchOp::Set(("/details/geo".into(), r#"{"country":"FR"}"#.into())),
                PatchOp::Set(("/details/risk".into(), "70".into())),
                PatchOp::Set(("/details/note".into(), r#""a \"quoted\" text""#.into())),
                PatchOp::Set(("/details/list".into(), "[1,2]".into())),
            ]
        );
        assert_eq!(d.tags(), ["pii"]);
        assert_eq!(d.alerts().len(), 2);
        assert_eq!(d.alerts()[0].rule, "brute-force");
        assert_eq!(d.alerts()[0].severity, Severity::High);
        assert_eq!(
            d.alerts()[0].labels,
            vec![("user".to_string(), "alice".to_string()), ("ip".to_string(), "192.0.2.7".to_string())]
        );
        assert!(d.alerts()[1].labels.is_empty());

        let wit: WitDecision = d.clone().into();
        assert_eq!(wit.patches, d.patches());
        assert_eq!(wit.alerts, d.alerts());
        assert_eq!(wit.tags, d.tags());
    }
}
