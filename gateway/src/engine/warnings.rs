//! What a policy set lets through that the shipped defaults would not, said before it
//! serves: by `check-config`, in the start-up log, on every reload (log and answer).
//!
//! Two sources:
//! - **The chain** ([`chain_warnings`]): the gateway knows that the bundled redaction
//!   policy is what keeps secrets off the disk, so it warns when events can get past it
//!   (an `actions` filter, an `on_error` other than `reject`), when policies run before it
//!   (they see secrets in clear and can copy them into alerts, logs, counters and state),
//!   and when there is none.
//! - **The policies** ([`init_warnings`]): what a policy logs at `warn` or above while its
//!   `init` reads its config (the bundled ones say there when a configuration replaces a
//!   built-in list or turns a detector off).

use crate::config::{Config, OnError, PolicyConfig, REDACTION_MODULE};

/// One thing a configuration does that is less safe than the defaults.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ConfigWarning {
    /// The policy it concerns (`""` for the chain as a whole).
    pub policy: String,
    /// What it lets through, in a sentence.
    pub message: String,
}

impl ConfigWarning {
    fn new(policy: &str, message: impl Into<String>) -> Self {
        Self { policy: policy.to_string(), message: message.into() }
    }
}

impl std::fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.policy.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "policy `{}`: {}", self.policy, self.message)
        }
    }
}

/// Warnings about where the redaction policy sits in `config`'s chain and how events can
/// skip it.
pub fn chain_warnings(config: &Config) -> Vec<ConfigWarning> {
    let chain = &config.policy;
    let Some(at) = chain.iter().position(PolicyConfig::is_redaction) else {
        return vec![ConfigWarning::new(
            "",
            format!(
                "no `{REDACTION_MODULE}` in the policy chain: secrets in events are stored as sent unless \
                 another policy redacts them"
            ),
        )];
    };
    let redact = &chain[at];
    let mut out = Vec::new();
    if !redact.actions.is_empty() {
        out.push(ConfigWarning::new(
            &redact.name,
            format!(
                "`actions` limits it to {:?}: events with any other action are stored without redaction",
                redact.actions
            ),
        ));
    }
    match redact.on_error() {
        OnError::Reject => {}
        OnError::Skip => out.push(ConfigWarning::new(
            &redact.name,
            "on_error = \"skip\": an event it fails on (timeout, trap, too many patches) is stored unredacted; \
             use \"reject\"",
        )),
        OnError::Quarantine => out.push(ConfigWarning::new(
            &redact.name,
            "on_error = \"quarantine\": an event it fails on is kept unredacted in the quarantine tree; use \
             \"reject\"",
        )),
    }
    if at > 0 {
        let before: Vec<&str> = chain[..at].iter().map(|p| p.name.as_str()).collect();
        out.push(ConfigWarning::new(
            &redact.name,
            format!(
                "runs after {before:?}, which see events before redaction (their alerts, logs, counters and \
                 state can hold secrets); put it first"
            ),
        ));
    }
    out
}

/// The level (SDK `host::Level`) from which a line logged during `init` is a warning.
pub const WARN_LEVEL: u8 = 3;

/// The warnings among the lines `policy` logged during its first `init`.
pub fn init_warnings(policy: &str, lines: &[(u8, String)]) -> Vec<ConfigWarning> {
    lines
        .iter()
        .filter(|(level, _)| *level >= WARN_LEVEL)
        .map(|(_, message)| ConfigWarning::new(policy, message.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(policies: &str) -> Config {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("policy.toml");
        let key = "[[keys]]\nname = \"k\"\nrole = \"ingest\"\nsha256 = \"679d44db711514c0aa0cdbfc72fac56f3047d0816d8cdb0f3e53fd909d68c893\"\n";
        std::fs::write(&path, format!("{key}{policies}")).expect("write");
        Config::load(&path).expect("loads")
    }

    const REDACT: &str = "[[policy]]\nname = \"redact\"\nmodule = \"builtin:redact-secrets\"\n";
    const ENRICH: &str = "[[policy]]\nname = \"enrich\"\nmodule = \"builtin:enrich-context\"\n";

    fn messages(config: &Config) -> Vec<String> {
        chain_warnings(config).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_shipped_chain_has_none() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policy.toml");
        let shipped = Config::load(&path).expect("policy.toml loads");
        assert_eq!(chain_warnings(&shipped), []);
    }

    #[test]
    fn redaction_first_failing_closed_has_none_and_reject_is_its_default() {
        let c = config(&format!("{REDACT}{ENRICH}"));
        assert_eq!(c.policy[0].on_error(), OnError::Reject);
        assert_eq!(c.policy[1].on_error(), OnError::Skip);
        assert_eq!(messages(&c), Vec::<String>::new());
    }

    #[test]
    fn every_way_past_redaction_is_named() {
        assert!(messages(&config(ENRICH))[0].starts_with("no `builtin:redact-secrets` in the policy chain"));
        let w = messages(&config(&format!("{ENRICH}{REDACT}actions = [\"user.*\"]\non_error = \"skip\"\n")));
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].starts_with("policy `redact`: `actions` limits it to [\"user.*\"]"), "{}", w[0]);
        assert!(w[1].starts_with("policy `redact`: on_error = \"skip\""), "{}", w[1]);
        assert!(w[2].starts_with("policy `redact`: runs after [\"enrich\"]"), "{}", w[2]);
        let q = messages(&config(&format!("{REDACT}on_error = \"quarantine\"\n")));
        assert!(q[0].contains("kept unredacted in the quarantine tree"), "{q:?}");
    }

    #[test]
    fn init_lines_at_warn_and_above_are_warnings() {
        let lines = vec![(2, "info".to_string()), (3, "careful".to_string()), (4, "bad".to_string())];
        let w = init_warnings("p", &lines);
        assert_eq!(
            w.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["policy `p`: careful", "policy `p`: bad"]
        );
    }
}
