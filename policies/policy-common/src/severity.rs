//! Alert severities named in policy configs.

use auditgate_sdk::Severity;

/// The severity called `name` (`info`, `low`, `medium`, `high`, `critical`); the error
/// names the config `key` and the bad value.
pub fn parse(name: &str, key: &str) -> Result<Severity, String> {
    Ok(match name {
        "info" => Severity::Info,
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        "critical" => Severity::Critical,
        other => {
            return Err(format!(
                "invalid config: `{key}` is {other:?}; want info, low, medium, high or critical"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_and_errors() {
        assert_eq!(super::parse("high", "severity"), Ok(auditgate_sdk::Severity::High));
        assert_eq!(super::parse("info", "severity"), Ok(auditgate_sdk::Severity::Info));
        let err = super::parse("HIGH", "lockout_severity").err().unwrap_or_default();
        assert!(err.contains("`lockout_severity`") && err.contains("\"HIGH\""), "{err}");
    }
}
