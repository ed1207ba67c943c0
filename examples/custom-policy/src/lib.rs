//! `custom-policy`: an example of a policy that is not bundled with the gateway.
//!
//! On purchase events (`purchase`, `purchase.*` by default) it reads the amount at
//! `amount_field`; above `threshold` it tags the event `large-purchase` and raises a
//! `purchase.large` alert labelled with the user, amount and currency. On every event it
//! sees, it pseudonymizes the customer id at `customer_id_field`, so auditors can still
//! follow one customer without the id reaching the log.
//!
//! ```toml
//! [[policy]]
//! name = "purchases"
//! module = "path/to/custom_policy.wasm"
//! on_error = "skip"
//!
//! [policy.config]
//! threshold = 1000
//! ```

use auditgate_sdk::prelude::*;

/// The tag added to a purchase above the threshold.
pub const LARGE_TAG: &str = "large-purchase";
/// The rule of the alert raised for it.
pub const LARGE_RULE: &str = "purchase.large";

/// `[policy.config]`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Amounts strictly above this raise the alert.
    pub threshold: f64,
    /// Actions to look at: exact, or a prefix ending in `*`.
    #[serde(default = "default_actions")]
    pub actions: Vec<String>,
    /// Where the amount is (a number, or a string holding one).
    #[serde(default = "default_amount_field")]
    pub amount_field: String,
    /// Where the currency is (optional in events).
    #[serde(default = "default_currency_field")]
    pub currency_field: String,
    /// Where the customer id is; `""` turns pseudonymization off.
    #[serde(default = "default_customer_id_field")]
    pub customer_id_field: String,
    /// `info`, `low`, `medium`, `high` or `critical`.
    #[serde(default = "default_severity")]
    pub severity: String,
}

fn default_actions() -> Vec<String> {
    vec!["purchase".into(), "purchase.*".into()]
}
fn default_amount_field() -> String {
    "/details/amount".into()
}
fn default_currency_field() -> String {
    "/details/currency".into()
}
fn default_customer_id_field() -> String {
    "/details/customer_id".into()
}
fn default_severity() -> String {
    "medium".into()
}

/// The policy, built from a checked [`Config`].
#[derive(Debug)]
pub struct PurchaseGuard {
    config: Config,
    severity: Severity,
}

fn parse_severity(name: &str) -> Result<Severity, String> {
    Ok(match name {
        "info" => Severity::Info,
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        "critical" => Severity::Critical,
        other => return Err(format!("severity {other:?}: expected info, low, medium, high or critical")),
    })
}

fn check_pointer(key: &str, pointer: &str, may_be_empty: bool) -> Result<(), String> {
    if (pointer.is_empty() && may_be_empty) || pointer.starts_with('/') {
        Ok(())
    } else {
        Err(format!("{key} {pointer:?}: expected a JSON pointer such as \"/details/amount\""))
    }
}

impl PurchaseGuard {
    fn applies_to(&self, action: &str) -> bool {
        self.config.actions.iter().any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => action.starts_with(prefix),
            None => action == pattern,
        })
    }

    fn amount(&self, event: &Event) -> Option<f64> {
        let value = event.get(&self.config.amount_field)?;
        value.as_f64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
    }
}

impl Policy for PurchaseGuard {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        if !config.threshold.is_finite() || config.threshold < 0.0 {
            return Err("threshold: expected a number of at least 0".into());
        }
        if config.actions.is_empty() {
            return Err("actions: expected at least one action".into());
        }
        check_pointer("amount_field", &config.amount_field, false)?;
        check_pointer("currency_field", &config.currency_field, true)?;
        check_pointer("customer_id_field", &config.customer_id_field, true)?;
        let severity = parse_severity(&config.severity)?;
        Ok(Self { config, severity })
    }

    fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
        if !event.action().is_some_and(|a| self.applies_to(a)) {
            return Ok(());
        }
        let customer = &self.config.customer_id_field;
        if !customer.is_empty() && event.get(customer).is_some_and(|v| !v.is_null()) {
            decision.pseudonymize(customer.as_str());
        }
        if let Some(amount) = self.amount(event)
            && amount > self.config.threshold
        {
            let currency = event.str(&self.config.currency_field).unwrap_or("");
            let summary = format!("purchase of {amount} {currency} over {}", self.config.threshold);
            decision.tag(LARGE_TAG);
            decision
                .alert(LARGE_RULE, self.severity, summary.trim_end())
                .label("user", event.user().unwrap_or(""))
                .label("amount", amount.to_string())
                .label("currency", currency);
        }
        Ok(())
    }
}

auditgate_sdk::export_policy!(PurchaseGuard);

#[cfg(test)]
mod tests {
    use auditgate_sdk::testing::{Harness, pseudonym};
    use serde_json::json;

    use super::*;

    fn guard(config: serde_json::Value) -> Harness<PurchaseGuard> {
        match Harness::new(&config) {
            Ok(h) => h,
            Err(e) => panic!("config {config} refused: {e}"),
        }
    }

    #[test]
    fn a_large_purchase_is_tagged_and_alerted() {
        let policy = guard(json!({"threshold": 1000, "severity": "high"}));
        let event = json!({"action": "purchase.complete", "outcome": "success", "user": "carol",
                           "details": {"amount": 1500.5, "currency": "EUR", "customer_id": "C-1234"}});
        let outcome = policy.evaluate(&event).expect("passes");
        assert_eq!(outcome.tags(), [LARGE_TAG]);
        let alert = &outcome.alerts()[0];
        assert_eq!(alert.rule, LARGE_RULE);
        assert!(matches!(alert.severity, Severity::High));
        assert_eq!(alert.summary, "purchase of 1500.5 EUR over 1000");
        assert!(alert.labels.contains(&("user".into(), "carol".into())));
        assert!(alert.labels.contains(&("amount".into(), "1500.5".into())));
        assert_eq!(outcome.event["details"]["customer_id"], pseudonym(b"C-1234"));
        assert_eq!(outcome.redacted, ["/details/customer_id"]);
    }

    #[test]
    fn at_or_below_the_threshold_only_the_customer_id_changes() {
        let policy = guard(json!({"threshold": 1000}));
        for amount in [json!(1000), json!(999.99), json!("12.50"), json!(0)] {
            let event = json!({"action": "purchase", "outcome": "success",
                               "details": {"amount": amount, "customer_id": "C-9"}});
            let outcome = policy.evaluate(&event).expect("passes");
            assert!(outcome.alerts().is_empty() && outcome.tags().is_empty(), "{amount}");
            assert_eq!(outcome.redacted, ["/details/customer_id"]);
        }
    }

    #[test]
    fn amounts_in_strings_count_and_other_actions_are_ignored() {
        let policy = guard(json!({"threshold": 10, "customer_id_field": ""}));
        let text = json!({"action": "purchase.refund", "outcome": "success", "details": {"amount": " 25 "}});
        assert_eq!(policy.evaluate(&text).expect("passes").tags(), [LARGE_TAG]);
        let other = json!({"action": "user.login", "outcome": "success",
                           "details": {"amount": 99999, "customer_id": "C-1"}});
        let outcome = policy.evaluate(&other).expect("passes");
        assert!(outcome.decision.is_empty());
        let not_a_number = json!({"action": "purchase", "outcome": "success", "details": {"amount": "lots"}});
        assert!(policy.evaluate(&not_a_number).expect("passes").decision.is_empty());
    }

    #[test]
    fn custom_actions_and_fields() {
        let policy = guard(json!({"threshold": 5, "actions": ["order.*"], "amount_field": "/details/total",
                                  "customer_id_field": "/resource_id"}));
        let event = json!({"action": "order.paid", "outcome": "success", "resource_id": "cust-7",
                           "details": {"total": 6}});
        let outcome = policy.evaluate(&event).expect("passes");
        assert_eq!(outcome.tags(), [LARGE_TAG]);
        assert_eq!(outcome.event["resource_id"], pseudonym(b"cust-7"));
        let purchase = json!({"action": "purchase", "outcome": "success", "details": {"total": 6}});
        assert!(policy.evaluate(&purchase).expect("passes").decision.is_empty());
    }

    #[test]
    fn bad_configs_are_refused_with_a_message() {
        for (config, needle) in [
            (json!({}), "threshold"),
            (json!({"threshold": -1}), "threshold"),
            (json!({"threshold": 1, "severity": "loud"}), "severity"),
            (json!({"threshold": 1, "amount_field": "amount"}), "amount_field"),
            (json!({"threshold": 1, "actions": []}), "actions"),
            (json!({"threshold": 1, "treshold": 2}), "treshold"),
        ] {
            let err =
                Harness::<PurchaseGuard>::new(&config).err().unwrap_or_else(|| panic!("{config} accepted"));
            assert!(err.contains(needle), "{config}: {err}");
        }
    }
}
