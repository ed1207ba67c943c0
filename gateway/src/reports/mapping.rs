//! The requirement mapping: for each framework, its requirements and the check that gives
//! each one its evidence from the log. Action patterns are exact (`user.login`), prefixes
//! (`admin.*`) or suffixes (`*.delete`). README ("Compliance reports") prints this table.

/// A framework `GET /v1/reports/{framework}` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    PciDss,
    Soc2,
    Sox,
    Gdpr,
    Iso27001,
}

impl Framework {
    /// Every framework, in the order the API lists them.
    pub const ALL: [Framework; 5] =
        [Framework::PciDss, Framework::Soc2, Framework::Sox, Framework::Gdpr, Framework::Iso27001];

    /// The path segment (`pci-dss`).
    pub fn slug(self) -> &'static str {
        match self {
            Framework::PciDss => "pci-dss",
            Framework::Soc2 => "soc2",
            Framework::Sox => "sox",
            Framework::Gdpr => "gdpr",
            Framework::Iso27001 => "iso27001",
        }
    }

    /// The framework by its path segment.
    pub fn from_slug(s: &str) -> Option<Framework> {
        Framework::ALL.into_iter().find(|f| f.slug() == s)
    }

    /// The report's title.
    pub fn title(self) -> &'static str {
        match self {
            Framework::PciDss => "PCI DSS v4.0, Requirement 10: log and monitor all access",
            Framework::Soc2 => {
                "SOC 2 (Trust Services Criteria): CC6 logical access, CC7 system operations, CC8 change management"
            }
            Framework::Sox => {
                "SOX IT general controls: change management, privileged access, log integrity and retention"
            }
            Framework::Gdpr => {
                "GDPR: Art. 30 records of processing, Art. 32 security of processing, Art. 17 erasure, Art. 33 breach detection"
            }
            Framework::Iso27001 => {
                "ISO/IEC 27001:2022 Annex A: A.8.15 logging, A.8.16 monitoring, A.8.17 clock synchronisation"
            }
        }
    }

    /// The framework's requirements, in report order.
    pub fn requirements(self) -> &'static [Requirement] {
        match self {
            Framework::PciDss => PCI_DSS,
            Framework::Soc2 => SOC2,
            Framework::Sox => SOX,
            Framework::Gdpr => GDPR,
            Framework::Iso27001 => ISO27001,
        }
    }
}

/// One requirement of a framework and how the log gives evidence for it.
#[derive(Debug)]
pub struct Requirement {
    pub id: &'static str,
    pub title: &'static str,
    pub check: Check,
}

/// How a requirement is checked; see `evaluate` for when each is `met`.
#[derive(Debug)]
pub enum Check {
    /// Events of these actions (and outcome) are present in the period.
    Events { actions: &'static [&'static str], outcome: Option<&'static str> },
    /// Each event carries user, type (action), time, outcome and origin (ip or source);
    /// resource is reported beside them.
    FieldShare,
    /// The range verify over the period's records passes and a signed checkpoint exists.
    Integrity,
    /// The configured retention is at least this many days.
    Retention { min_days: u64 },
    /// Logging failures: failed group commits, a store that cannot write now, and failed
    /// retention runs (`auditgate.retention.run` with outcome failure or error). The
    /// self-audit's other failures (refused keys, refused reads, refused reloads) are not
    /// failures of logging.
    LoggingFailures,
    /// Alerts were raised in the period.
    Alerts,
    /// Events of these actions exist and each applied one (outcome neither failure nor
    /// error) carries `changes` (before/after).
    Changes { actions: &'static [&'static str] },
    /// Personal fields are encrypted at rest or pseudonymized by policies.
    Protection,
    /// Event times agree with the gateway's receive times (within 5 minutes).
    Clock,
}

const FAILED_LOGINS: &[&str] = &["user.login", "auth.*", "auditgate.auth.*", "auditgate.access.denied"];
const LOGINS: &[&str] = &["user.login", "user.logout", "session.*", "auth.*"];
const ADMIN: &[&str] = &["admin.*"];
const CHANGES: &[&str] = &["admin.*", "config.*", "auditgate.config.*"];

const PCI_DSS: &[Requirement] = &[
    Requirement {
        id: "10.2.1.1",
        title: "Individual user access to cardholder data is logged",
        check: Check::Events {
            actions: &["credential.decrypt", "cardholder.*", "card.*", "data.*", "purchase.*", "payment.*"],
            outcome: None,
        },
    },
    Requirement {
        id: "10.2.1.2",
        title: "All actions taken by any individual with administrative access are logged",
        check: Check::Events { actions: ADMIN, outcome: None },
    },
    Requirement {
        id: "10.2.1.3",
        title: "Access to all audit logs is logged",
        check: Check::Events {
            // The self-audit's record of every auditor read (query, export, lookup, ...).
            actions: &["auditgate.access"],
            outcome: None,
        },
    },
    Requirement {
        id: "10.2.1.4",
        title: "Invalid logical access attempts are logged",
        check: Check::Events { actions: FAILED_LOGINS, outcome: Some("failure") },
    },
    Requirement {
        id: "10.2.1.5",
        title: "Changes to identification and authentication credentials are logged",
        check: Check::Events {
            actions: &[
                "account.*",
                "user.create",
                "user.delete",
                "user.password*",
                "password.*",
                "credential.create",
                "credential.rotate",
                "credential.delete",
                "mfa.*",
                "admin.role*",
                "auditgate.keys*",
            ],
            outcome: None,
        },
    },
    Requirement {
        id: "10.2.1.6",
        title: "Initialization, stopping, or pausing of the audit logs is logged",
        check: Check::Events { actions: &["auditgate.start*", "auditgate.stop*"], outcome: None },
    },
    Requirement {
        id: "10.2.1.7",
        title: "Creation and deletion of system-level objects is logged",
        check: Check::Events { actions: &["*.create", "*.delete", "system.*"], outcome: None },
    },
    Requirement {
        id: "10.2.2",
        title: "Each event records user, type, date and time, success or failure, origin, and the affected resource",
        check: Check::FieldShare,
    },
    Requirement {
        id: "10.3",
        title: "Audit logs are protected from destruction and unauthorized modification",
        check: Check::Integrity,
    },
    Requirement {
        id: "10.4.1",
        title: "Security events are reviewed (alerts raised by the monitoring policies)",
        check: Check::Alerts,
    },
    Requirement {
        id: "10.5.1",
        title: "Audit log history is retained for at least 12 months",
        check: Check::Retention { min_days: 365 },
    },
    Requirement {
        id: "10.6",
        title: "Time-synchronization: event times agree with the gateway's clock",
        check: Check::Clock,
    },
    Requirement {
        id: "10.7",
        title: "Failures of critical security control systems (the audit log itself) are detected and reported",
        check: Check::LoggingFailures,
    },
];

const SOC2: &[Requirement] = &[
    Requirement {
        id: "CC6.1",
        title: "Logical access: authentication to protected systems is logged",
        check: Check::Events { actions: LOGINS, outcome: None },
    },
    Requirement {
        id: "CC6.2",
        title: "User registration, authorization and removal are logged",
        check: Check::Events { actions: &["user.create", "user.delete", "account.*"], outcome: None },
    },
    Requirement {
        id: "CC6.3",
        title: "Role and permission changes are logged",
        check: Check::Events { actions: &["admin.role*", "role.*", "permission.*"], outcome: None },
    },
    Requirement {
        id: "CC6.6",
        title: "Unauthorized access attempts are detected",
        check: Check::Events { actions: FAILED_LOGINS, outcome: Some("failure") },
    },
    Requirement {
        id: "CC7.2",
        title: "System components are monitored for anomalies (alerts)",
        check: Check::Alerts,
    },
    Requirement {
        id: "CC7.3",
        title: "Security events are evaluated on evidence that was not altered",
        check: Check::Integrity,
    },
    Requirement {
        id: "CC8.1",
        title: "Changes to infrastructure and configuration are recorded with before/after",
        check: Check::Changes { actions: CHANGES },
    },
];

const SOX: &[Requirement] = &[
    Requirement {
        id: "ITGC-CM-1",
        title: "Administrative and configuration changes are logged",
        check: Check::Events { actions: CHANGES, outcome: None },
    },
    Requirement {
        id: "ITGC-CM-2",
        title: "Each change records its before and after state",
        check: Check::Changes { actions: CHANGES },
    },
    Requirement {
        id: "ITGC-AC-1",
        title: "Privileged (administrative) activity is logged",
        check: Check::Events { actions: ADMIN, outcome: None },
    },
    Requirement {
        id: "ITGC-AC-2",
        title: "Access to financial transactions is logged",
        check: Check::Events {
            actions: &["purchase.*", "payment.*", "invoice.*", "ledger.*"],
            outcome: None,
        },
    },
    Requirement {
        id: "ITGC-LOG-1",
        title: "The audit trail cannot be altered undetected",
        check: Check::Integrity,
    },
    Requirement {
        id: "ITGC-LOG-2",
        title: "Audit records are retained for 7 years (SOX section 802)",
        check: Check::Retention { min_days: 7 * 365 },
    },
];

const GDPR: &[Requirement] = &[
    Requirement {
        id: "Art. 30",
        title: "Records of processing: access to personal data is logged",
        check: Check::Events {
            actions: &["data.*", "personal_data.*", "credential.decrypt", "export.*", "account.*"],
            outcome: None,
        },
    },
    Requirement {
        id: "Art. 32(1)(a)",
        title: "Pseudonymisation and encryption of personal data",
        check: Check::Protection,
    },
    Requirement {
        id: "Art. 32(1)(b)",
        title: "Integrity of the processing records",
        check: Check::Integrity,
    },
    Requirement {
        id: "Art. 17",
        title: "Erasure requests are executed and recorded (auditgate.subject.erase)",
        check: Check::Events { actions: &["auditgate.subject.erase"], outcome: None },
    },
    Requirement {
        id: "Art. 33",
        title: "Personal data breaches can be detected (alerts)",
        check: Check::Alerts,
    },
];

const ISO27001: &[Requirement] = &[
    Requirement {
        id: "A.8.15",
        title: "Logging: event logs record user, activity, time, outcome and origin",
        check: Check::FieldShare,
    },
    Requirement {
        id: "A.8.15 (protection)",
        title: "Logging: logs are protected against tampering",
        check: Check::Integrity,
    },
    Requirement {
        id: "A.8.16",
        title: "Monitoring activities: anomalous behaviour raises alerts",
        check: Check::Alerts,
    },
    Requirement {
        id: "A.8.17",
        title: "Clock synchronisation: event times agree with the gateway's clock",
        check: Check::Clock,
    },
    Requirement {
        id: "A.8.2",
        title: "Privileged access rights: administrative actions are logged",
        check: Check::Events { actions: ADMIN, outcome: None },
    },
    Requirement {
        id: "A.8.5",
        title: "Secure authentication: failed authentications are logged",
        check: Check::Events { actions: FAILED_LOGINS, outcome: Some("failure") },
    },
];

/// True when `action` matches `pattern` (exact, `prefix*` or `*suffix`).
pub fn action_matches(pattern: &str, action: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix('*') {
        action.starts_with(prefix)
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        action.ends_with(suffix)
    } else {
        action == pattern
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exact_prefix_and_suffix() {
        assert!(action_matches("user.login", "user.login"));
        assert!(!action_matches("user.login", "user.login2"));
        assert!(action_matches("admin.*", "admin.role.change"));
        assert!(!action_matches("admin.*", "administrator"));
        assert!(action_matches("*.delete", "account.delete"));
        assert!(!action_matches("*.delete", "account.deleted"));
    }

    #[test]
    fn every_framework_round_trips_and_has_requirements() {
        for f in Framework::ALL {
            assert_eq!(Framework::from_slug(f.slug()), Some(f));
            assert!(!f.requirements().is_empty());
        }
        assert_eq!(Framework::from_slug("hipaa"), None);
    }
}
