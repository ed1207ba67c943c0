//! Configured lists that **extend** a bundled policy's built-in list: configuring
//! `actions = ["auth.login"]` adds to `["user.login"]` instead of silently dropping it.
//! Replacing a built-in list is explicit (`replace_defaults = ["actions"]`), and what that
//! gives up is logged as a warning at `init` (the gateway shows it in `check-config` and
//! the start-up log).

use auditgate_sdk::host;

/// Checks `replace_defaults`: each entry must name one of `lists`.
pub fn check_replace(replace_defaults: &[String], lists: &[&str]) -> Result<(), String> {
    match replace_defaults.iter().find(|l| !lists.contains(&l.as_str())) {
        Some(bad) => Err(format!(
            "invalid config: `replace_defaults` names `{bad}`; the lists with defaults are: {}",
            lists.join(", ")
        )),
        None => Ok(()),
    }
}

/// The list `name` in force: `defaults` followed by the `configured` entries not already
/// in it, or `configured` alone when `replace_defaults` names the list. A replacement that
/// drops built-in entries logs a warning naming them.
pub fn resolve(
    name: &str,
    defaults: &[&str],
    configured: &[String],
    replace_defaults: &[String],
) -> Vec<String> {
    if replace_defaults.iter().any(|l| l == name) {
        let dropped: Vec<&str> =
            defaults.iter().copied().filter(|d| !configured.iter().any(|c| c == d)).collect();
        if !dropped.is_empty() {
            host::log(
                host::Level::Warn,
                &format!(
                    "`{name}` replaces the built-in list (replace_defaults): no longer included: {}",
                    dropped.join(", ")
                ),
            );
        }
        return configured.to_vec();
    }
    let mut out: Vec<String> = defaults.iter().map(|d| d.to_string()).collect();
    for entry in configured {
        if !out.contains(entry) {
            out.push(entry.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn configured_entries_extend_the_defaults() {
        let got = resolve("actions", &["user.login"], &strings(&["auth.login", "user.login"]), &[]);
        assert_eq!(got, ["user.login", "auth.login"]);
        assert_eq!(resolve("actions", &["user.login"], &[], &[]), ["user.login"]);
        assert!(host::native::take_logs().is_empty());
    }

    #[test]
    fn replacing_is_explicit_and_logs_what_it_drops() {
        let got = resolve(
            "actions",
            &["user.login", "sso.login"],
            &strings(&["sso.login"]),
            &strings(&["actions"]),
        );
        assert_eq!(got, ["sso.login"]);
        let logs = host::native::take_logs();
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].0, host::Level::Warn);
        assert_eq!(
            logs[0].1,
            "`actions` replaces the built-in list (replace_defaults): no longer included: user.login"
        );
        // Replacing with a superset drops nothing and says nothing.
        resolve("actions", &["user.login"], &strings(&["user.login", "x"]), &strings(&["actions"]));
        assert!(host::native::take_logs().is_empty());
    }

    #[test]
    fn unknown_lists_are_refused() {
        assert!(check_replace(&strings(&["actions"]), &["actions", "lockout_actions"]).is_ok());
        assert_eq!(
            check_replace(&strings(&["actoins"]), &["actions", "lockout_actions"]).err().as_deref(),
            Some(
                "invalid config: `replace_defaults` names `actoins`; the lists with defaults are: actions, lockout_actions"
            )
        );
    }
}
