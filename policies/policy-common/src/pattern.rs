//! Action patterns in configs: `user.login` (exact), `admin.*` (prefix), `*.role.*` (`*`
//! matches any run of characters, dots included).

/// One action pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionPattern {
    text: String,
}

impl ActionPattern {
    /// A pattern from config text; empty text is refused.
    pub fn new(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("invalid config: an action pattern is empty".into());
        }
        Ok(Self { text: text.to_string() })
    }

    /// Whether `action` matches. Never allocates.
    pub fn matches(&self, action: &str) -> bool {
        glob(self.text.as_bytes(), action.as_bytes())
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Patterns from config text (each checked with [`ActionPattern::new`]).
pub fn patterns(texts: &[String]) -> Result<Vec<ActionPattern>, String> {
    texts.iter().map(|t| ActionPattern::new(t)).collect()
}

/// Whether any of `patterns` matches `action`.
pub fn any_matches(patterns: &[ActionPattern], action: &str) -> bool {
    patterns.iter().any(|p| p.matches(action))
}

/// Glob match where `*` matches any (possibly empty) run of bytes; iterative, with one
/// backtrack point (the last `*`), so linear-ish and allocation-free.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, action: &str) -> bool {
        ActionPattern::new(pattern).expect("valid").matches(action)
    }

    #[test]
    fn exact_prefix_and_inner_stars() {
        assert!(m("user.login", "user.login"));
        assert!(!m("user.login", "user.logins"));
        assert!(!m("user.login", "user.logi"));
        assert!(m("admin.*", "admin.role.change"));
        assert!(m("admin.*", "admin."));
        assert!(!m("admin.*", "administrator"));
        assert!(m("*.role.*", "admin.role.change"));
        assert!(m("*.role.*", "user.role.grant"));
        assert!(!m("*.role.*", "user.roles"));
        assert!(!m("*.role.*", "role.change"));
        assert!(m("*.privilege.*", "iam.privilege.escalate"));
        assert!(m("*", "anything"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(ActionPattern::new("").is_err());
        let list = patterns(&["user.login".into(), "admin.*".into()]).expect("valid");
        assert!(any_matches(&list, "admin.user.create"));
        assert!(!any_matches(&list, "api.call"));
    }
}
