//! Bundled Auditgate policy `alert-password-spray`: one source IP failing logins against
//! many distinct users within a window (a few guesses each, many accounts).
//!
//! - A failed login: `action` matching one of `actions` (`user.login` plus any configured,
//!   `*` patterns allowed; `replace_defaults = ["actions"]` drops the default) with `outcome` equal to `outcome` (default `"failure"`), with both
//!   `ip` and `user`.
//! - Distinct users: the first failure of a (ip, user) pair within the window sets a host
//!   state flag `seen:IP USER` (TTL `window_secs`, default 600) and adds 1 to the IP's
//!   counter of users (same window), so flag and count expire together; later failures of
//!   the same pair only read the count.
//! - When the count reaches `threshold` (default 10), the event is tagged (`tag`, default
//!   `"password-spray"`) and, once per burst (a second counter, as in
//!   `alert-bruteforce`), an alert `password_spray.ip` is raised (`severity`, default
//!   `high`) with labels `ip`, `users` and `window_secs`.

use auditgate_sdk::prelude::*;
use policy_common::lists;
use policy_common::pattern::{ActionPattern, any_matches, patterns};
use policy_common::severity::parse as parse_severity;

/// The policy's configuration.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// More actions that count as login attempts (after [`DEFAULT_ACTIONS`]).
    #[serde(default)]
    pub actions: Vec<String>,
    /// Lists (`actions`) whose configured entries replace the defaults.
    #[serde(default)]
    pub replace_defaults: Vec<String>,
    /// The outcome of a failed attempt.
    #[serde(default = "default_outcome")]
    pub outcome: String,
    /// Distinct users one IP must fail against within the window.
    #[serde(default = "default_threshold")]
    pub threshold: i64,
    /// The window, in seconds.
    #[serde(default = "default_window_secs")]
    pub window_secs: u32,
    /// Severity of the alert: info, low, medium, high or critical.
    #[serde(default = "default_severity")]
    pub severity: String,
    /// Tag of the events at or over the threshold.
    #[serde(default = "default_tag")]
    pub tag: String,
}

/// The login actions counted whatever the config adds.
pub const DEFAULT_ACTIONS: &[&str] = &["user.login"];
fn default_outcome() -> String {
    "failure".into()
}
fn default_threshold() -> i64 {
    10
}
fn default_window_secs() -> u32 {
    600
}
fn default_severity() -> String {
    "high".into()
}
fn default_tag() -> String {
    "password-spray".into()
}

/// Rule of the alert.
pub const RULE: &str = "password_spray.ip";

/// Counts distinct failed users per source IP.
#[derive(Debug)]
pub struct AlertPasswordSpray {
    actions: Vec<ActionPattern>,
    outcome: String,
    threshold: i64,
    window_secs: u32,
    severity: Severity,
    tag: String,
}

impl Policy for AlertPasswordSpray {
    type Config = Config;

    fn new(c: Config) -> Result<Self, String> {
        lists::check_replace(&c.replace_defaults, &["actions"])?;
        if c.threshold < 2 {
            return Err("invalid config: `threshold` must be at least 2 distinct users".into());
        }
        if c.window_secs == 0 {
            return Err("invalid config: `window_secs` must be at least 1".into());
        }
        if c.tag.is_empty() {
            return Err("invalid config: `tag` must not be empty".into());
        }
        Ok(Self {
            actions: patterns(&lists::resolve("actions", DEFAULT_ACTIONS, &c.actions, &c.replace_defaults))?,
            outcome: c.outcome,
            threshold: c.threshold,
            window_secs: c.window_secs,
            severity: parse_severity(&c.severity, "severity")?,
            tag: c.tag,
        })
    }

    fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
        if event.outcome() != Some(self.outcome.as_str()) {
            return Ok(());
        }
        let (Some(action), Some(ip), Some(user)) = (event.action(), event.ip(), event.user()) else {
            return Ok(());
        };
        if !any_matches(&self.actions, action) {
            return Ok(());
        }
        // A space cannot occur in an IP, so `IP USER` names one pair unambiguously.
        let seen = format!("seen:{ip} {user}");
        let users_key = format!("users:{ip}");
        let users = if host::state_get(&seen).is_some() {
            host::counter_add(&users_key, 0, self.window_secs)
        } else {
            host::state_set(&seen, b"1", self.window_secs);
            host::counter_add(&users_key, 1, self.window_secs)
        };
        if users < self.threshold {
            return Ok(());
        }
        decision.tag(self.tag.as_str());
        if host::counter_add(&format!("over:{ip}"), 1, self.window_secs) == 1 {
            decision
                .alert(
                    RULE,
                    self.severity,
                    format!("{ip} failed logins for {users} distinct users within {} s", self.window_secs),
                )
                .label("ip", ip)
                .label("users", users.to_string())
                .label("window_secs", self.window_secs.to_string());
        }
        Ok(())
    }
}

auditgate_sdk::export_policy!(AlertPasswordSpray);

#[cfg(test)]
mod tests {
    use auditgate_sdk::host::native;
    use auditgate_sdk::runtime::{evaluate_one, init};
    use serde_json::{Value as Json, json};

    use super::*;

    fn policy(config: Json) -> AlertPasswordSpray {
        init::<AlertPasswordSpray>(config.to_string().as_bytes()).expect("valid config")
    }

    fn decide(p: &AlertPasswordSpray, event: &Json) -> Decision {
        evaluate_one(p, event.to_string().as_bytes()).expect("evaluates")
    }

    fn failure(user: &str, ip: &str) -> Json {
        json!({"action": "user.login", "outcome": "failure", "user": user, "ip": ip})
    }

    #[test]
    fn tenth_distinct_user_alerts_once() {
        native::reset();
        let p = policy(json!({}));
        for n in 0..9 {
            assert!(decide(&p, &failure(&format!("u{n}"), "198.51.100.20")).is_empty());
        }
        let d = decide(&p, &failure("u9", "198.51.100.20"));
        assert_eq!(d.alerts().len(), 1);
        let alert = &d.alerts()[0];
        assert_eq!((alert.rule.as_str(), alert.severity), (RULE, Severity::High));
        assert_eq!(
            alert.labels,
            [
                ("ip".into(), "198.51.100.20".into()),
                ("users".into(), "10".into()),
                ("window_secs".into(), "600".into())
            ]
        );
        assert_eq!(d.tags(), ["password-spray"]);
        // More users, and repeats of known ones: tagged, no second alert.
        for user in ["u10", "u3", "u11"] {
            let d = decide(&p, &failure(user, "198.51.100.20"));
            assert!(d.alerts().is_empty(), "{d:?}");
            assert_eq!(d.tags(), ["password-spray"]);
        }
    }

    #[test]
    fn repeated_failures_of_one_user_are_not_a_spray() {
        native::reset();
        let p = policy(json!({"threshold": 3}));
        for _ in 0..20 {
            assert!(decide(&p, &failure("victim", "192.0.2.50")).is_empty());
        }
        decide(&p, &failure("other", "192.0.2.50"));
        let d = decide(&p, &failure("third", "192.0.2.50"));
        assert_eq!(d.alerts().len(), 1);
        assert_eq!(d.alerts()[0].labels[1], ("users".into(), "3".into()));
    }

    #[test]
    fn ips_are_counted_apart_and_only_failures_count() {
        native::reset();
        let p = policy(json!({"threshold": 2, "severity": "medium"}));
        assert!(decide(&p, &failure("a", "192.0.2.1")).is_empty());
        assert!(decide(&p, &failure("b", "192.0.2.2")).is_empty());
        let ok = json!({"action": "user.login", "outcome": "success", "user": "c", "ip": "192.0.2.1"});
        assert!(decide(&p, &ok).is_empty());
        let other = json!({"action": "api.call", "outcome": "failure", "user": "c", "ip": "192.0.2.1"});
        assert!(decide(&p, &other).is_empty());
        let no_user = json!({"action": "user.login", "outcome": "failure", "ip": "192.0.2.1"});
        assert!(decide(&p, &no_user).is_empty());
        let d = decide(&p, &failure("d", "192.0.2.1"));
        assert_eq!(d.alerts()[0].severity, Severity::Medium);
        assert_eq!(d.alerts()[0].labels[0], ("ip".into(), "192.0.2.1".into()));
    }

    #[test]
    fn bad_config_is_refused_with_its_reason() {
        let err = |c: Json| init::<AlertPasswordSpray>(c.to_string().as_bytes()).err().unwrap_or_default();
        assert!(err(json!({"threshold": 1})).contains("threshold"));
        assert!(err(json!({"window_secs": 0})).contains("window_secs"));
        assert!(err(json!({"severity": "loud"})).contains("\"loud\""));
        assert!(err(json!({"tag": ""})).contains("tag"));
        assert!(err(json!({"users": 3})).contains("unknown field `users`"));
    }
}
