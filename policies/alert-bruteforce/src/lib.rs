//! Bundled Auditgate policy `alert-bruteforce`: repeated failed logins for one user, or
//! from one source IP, within a sliding window; and account lockouts.
//!
//! - A failed login is an event whose `action` matches one of `actions` (default
//!   `["user.login"]`) with `outcome` equal to `outcome` (default `"failure"`).
//! - Each failure adds 1 to a host counter for its `user` and one for its `ip`, over
//!   `window_secs` (default 300). When a count reaches `threshold` (default 5), the event
//!   is tagged (`tag`, default `"bruteforce"`) and, once per burst, an alert is raised:
//!   `bruteforce.user` or `bruteforce.ip`, severity `severity` (default `high`), labels
//!   `user`/`ip`, `count`, `window_secs`.
//! - Once per burst: a second counter per user/IP counts the events at or over the
//!   threshold; the alert goes with the event that makes it 1. The host adds and reads a
//!   counter atomically, so two workers never both raise it, and a steady attack that
//!   keeps the count at the threshold raises one alert, not one per attempt. A new alert
//!   comes only after a whole window without an event at or over the threshold.
//! - An event whose action is one of `lockout_actions` (default `["account.lockout"]`) is
//!   tagged `account-lockout` and raises `bruteforce.lockout` (`lockout_severity`,
//!   default `medium`).
//!
//! Actions in `actions` and `lockout_actions` are patterns: exact, or with `*`
//! (`auth.*.failed`). Other events return at once, without allocating. Configured lists
//! **extend** the defaults (`actions = ["sso.login"]` counts `user.login` and `sso.login`);
//! `replace_defaults = ["actions"]` (or `"lockout_actions"`) replaces one instead, and
//! logs which defaults it drops.

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
    /// The outcome of a failed attempt.
    #[serde(default = "default_outcome")]
    pub outcome: String,
    /// Failures within the window that make a brute force.
    #[serde(default = "default_threshold")]
    pub threshold: i64,
    /// The sliding window, in seconds.
    #[serde(default = "default_window_secs")]
    pub window_secs: u32,
    /// Count per user.
    #[serde(default = "yes")]
    pub per_user: bool,
    /// Count per source IP.
    #[serde(default = "yes")]
    pub per_ip: bool,
    /// Severity of the brute-force alerts: info, low, medium, high or critical.
    #[serde(default = "default_severity")]
    pub severity: String,
    /// Tag of the events at or over the threshold.
    #[serde(default = "default_tag")]
    pub tag: String,
    /// More actions that report a locked account (after [`DEFAULT_LOCKOUT_ACTIONS`]).
    #[serde(default)]
    pub lockout_actions: Vec<String>,
    /// Lists (`actions`, `lockout_actions`) whose configured entries replace the defaults.
    #[serde(default)]
    pub replace_defaults: Vec<String>,
    /// Severity of the lockout alert.
    #[serde(default = "default_lockout_severity")]
    pub lockout_severity: String,
}

/// The login actions counted whatever the config adds.
pub const DEFAULT_ACTIONS: &[&str] = &["user.login"];
/// The lockout actions alerted on whatever the config adds.
pub const DEFAULT_LOCKOUT_ACTIONS: &[&str] = &["account.lockout"];
/// The lists `replace_defaults` may name.
const LISTS: &[&str] = &["actions", "lockout_actions"];
fn default_outcome() -> String {
    "failure".into()
}
fn default_threshold() -> i64 {
    5
}
fn default_window_secs() -> u32 {
    300
}
fn yes() -> bool {
    true
}
fn default_severity() -> String {
    "high".into()
}
fn default_tag() -> String {
    "bruteforce".into()
}
fn default_lockout_severity() -> String {
    "medium".into()
}

/// Rule of the per-user alert.
pub const RULE_USER: &str = "bruteforce.user";
/// Rule of the per-IP alert.
pub const RULE_IP: &str = "bruteforce.ip";
/// Rule of the lockout alert.
pub const RULE_LOCKOUT: &str = "bruteforce.lockout";
/// Tag of lockout events.
pub const LOCKOUT_TAG: &str = "account-lockout";

/// Counts failed logins per user and per IP; alerts once per burst.
#[derive(Debug)]
pub struct AlertBruteforce {
    actions: Vec<ActionPattern>,
    outcome: String,
    threshold: i64,
    window_secs: u32,
    per_user: bool,
    per_ip: bool,
    severity: Severity,
    tag: String,
    lockout_actions: Vec<ActionPattern>,
    lockout_severity: Severity,
}

/// What is counted: the key prefix of the counters, the rule and label of the alert.
#[derive(Clone, Copy)]
struct Subject {
    prefix: &'static str,
    rule: &'static str,
    label: &'static str,
}

const USER: Subject = Subject { prefix: "user", rule: RULE_USER, label: "user" };
const IP: Subject = Subject { prefix: "ip", rule: RULE_IP, label: "ip" };

impl Policy for AlertBruteforce {
    type Config = Config;

    fn new(c: Config) -> Result<Self, String> {
        if c.threshold < 1 {
            return Err("invalid config: `threshold` must be at least 1".into());
        }
        if c.window_secs == 0 {
            return Err("invalid config: `window_secs` must be at least 1".into());
        }
        if c.tag.is_empty() {
            return Err("invalid config: `tag` must not be empty".into());
        }
        lists::check_replace(&c.replace_defaults, LISTS)?;
        let actions = lists::resolve("actions", DEFAULT_ACTIONS, &c.actions, &c.replace_defaults);
        let lockout_actions = lists::resolve(
            "lockout_actions",
            DEFAULT_LOCKOUT_ACTIONS,
            &c.lockout_actions,
            &c.replace_defaults,
        );
        Ok(Self {
            actions: patterns(&actions)?,
            outcome: c.outcome,
            threshold: c.threshold,
            window_secs: c.window_secs,
            per_user: c.per_user,
            per_ip: c.per_ip,
            severity: parse_severity(&c.severity, "severity")?,
            tag: c.tag,
            lockout_actions: patterns(&lockout_actions)?,
            lockout_severity: parse_severity(&c.lockout_severity, "lockout_severity")?,
        })
    }

    fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
        let Some(action) = event.action() else { return Ok(()) };
        if any_matches(&self.lockout_actions, action) {
            self.lockout(event, decision);
            return Ok(());
        }
        if event.outcome() != Some(self.outcome.as_str()) || !any_matches(&self.actions, action) {
            return Ok(());
        }
        let mut tagged = false;
        if self.per_user
            && let Some(user) = event.user()
        {
            tagged |= self.count(USER, user, decision, tagged);
        }
        if self.per_ip
            && let Some(ip) = event.ip()
        {
            self.count(IP, ip, decision, tagged);
        }
        Ok(())
    }
}

impl AlertBruteforce {
    /// Counts one failure for `who`; at or over the threshold tags the event (unless
    /// `tagged` already) and alerts once per burst. Whether it reached the threshold.
    fn count(&self, subject: Subject, who: &str, decision: &mut Decision, tagged: bool) -> bool {
        let count = host::counter_add(&format!("fail:{}:{who}", subject.prefix), 1, self.window_secs);
        if count < self.threshold {
            return false;
        }
        if !tagged {
            decision.tag(self.tag.as_str());
        }
        let over = host::counter_add(&format!("over:{}:{who}", subject.prefix), 1, self.window_secs);
        if over == 1 {
            decision
                .alert(
                    subject.rule,
                    self.severity,
                    format!(
                        "{count} failed logins for {} {who} within {} s",
                        subject.label, self.window_secs
                    ),
                )
                .label(subject.label, who)
                .label("count", count.to_string())
                .label("window_secs", self.window_secs.to_string());
        }
        true
    }

    fn lockout(&self, event: &Event, decision: &mut Decision) {
        decision.tag(LOCKOUT_TAG);
        let user = event.user().unwrap_or("(unknown user)");
        let mut alert =
            decision.alert(RULE_LOCKOUT, self.lockout_severity, format!("account {user} locked out"));
        if let Some(user) = event.user() {
            alert = alert.label("user", user);
        }
        if let Some(ip) = event.ip() {
            alert.label("ip", ip);
        }
    }
}

auditgate_sdk::export_policy!(AlertBruteforce);

#[cfg(test)]
mod tests;
