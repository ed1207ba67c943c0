//! `format=ocsf`: each stored record as one OCSF 1.3 event (JSON, one per line), chosen by
//! its `action`: Authentication (3002) for log-ins, log-outs and session timeouts,
//! Account Change (3001) for lock-outs, password, MFA, role and account changes, API
//! Activity (6003) for everything else. Each alert raised for an exported event follows
//! it as a Detection Finding (2004). The table is in the README ("OCSF mapping").
//!
//! Every event has the base attributes OCSF requires (`class_uid`, `category_uid`,
//! `activity_id`, `type_uid = class_uid * 100 + activity_id`, `time` in ms, `severity_id`,
//! `metadata.product` and `metadata.version`) and the ones its class requires (`user` for
//! 3002/3001, `actor`, `api` and `src_endpoint` for 6003, `finding_info` for 2004). What
//! has no OCSF attribute (details, changes, tags, redacted paths...) is under `unmapped`.

use serde_json::{Map, Value, json};

use super::{Encoder, ExportError, millis, text};

/// The OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.3.0";

/// An OCSF class with its category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    pub uid: u32,
    pub name: &'static str,
    pub category_uid: u32,
    pub category_name: &'static str,
}

/// 3002 Authentication.
pub const AUTHENTICATION: Class = Class {
    uid: 3002,
    name: "Authentication",
    category_uid: 3,
    category_name: "Identity & Access Management",
};
/// 3001 Account Change.
pub const ACCOUNT_CHANGE: Class = Class {
    uid: 3001,
    name: "Account Change",
    category_uid: 3,
    category_name: "Identity & Access Management",
};
/// 6003 API Activity.
pub const API_ACTIVITY: Class =
    Class { uid: 6003, name: "API Activity", category_uid: 6, category_name: "Application Activity" };
/// 2004 Detection Finding.
pub const DETECTION_FINDING: Class =
    Class { uid: 2004, name: "Detection Finding", category_uid: 2, category_name: "Findings" };

/// Where an action lands: its class and activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub class: Class,
    pub activity_id: u32,
    pub activity_name: &'static str,
}

impl Mapping {
    /// `class_uid * 100 + activity_id`.
    pub fn type_uid(&self) -> u32 {
        self.class.uid * 100 + self.activity_id
    }
}

fn mapping(class: Class, activity_id: u32, activity_name: &'static str) -> Mapping {
    Mapping { class, activity_id, activity_name }
}

/// The class and activity of an event with this `action`. The action is split into words
/// at `.`, `_`, `:` and `-` and the words decide (see the README's table).
pub fn classify(action: &str) -> Mapping {
    let words: Vec<&str> = action.split(['.', '_', ':', '-']).filter(|w| !w.is_empty()).collect();
    let has = |set: &[&str]| words.iter().any(|w| set.contains(w));
    let pair = |a: &str, b: &str| words.windows(2).any(|p| p[0] == a && p[1] == b);

    // Authentication.
    if has(&["login", "logon", "signin", "authenticate", "authentication"])
        || pair("sign", "in")
        || pair("log", "in")
    {
        return mapping(AUTHENTICATION, 1, "Logon");
    }
    if has(&["logout", "logoff", "signout"]) || pair("sign", "out") || pair("log", "out") {
        return mapping(AUTHENTICATION, 2, "Logoff");
    }
    if has(&["session"]) && has(&["timeout", "expire", "expired", "expiry", "idle"]) {
        return mapping(AUTHENTICATION, 2, "Logoff");
    }

    // Account Change.
    if has(&["unlock", "unlocked"]) {
        return mapping(ACCOUNT_CHANGE, 12, "Unlock");
    }
    if has(&["lockout", "lock", "locked"]) {
        return mapping(ACCOUNT_CHANGE, 9, "Lock");
    }
    if has(&["password", "passwd", "credentials"]) && !has(&["decrypt", "read", "get", "view"]) {
        return if has(&["reset", "forgot", "recover", "recovery"]) {
            mapping(ACCOUNT_CHANGE, 4, "Password Reset")
        } else {
            mapping(ACCOUNT_CHANGE, 3, "Password Change")
        };
    }
    let removes = ["revoke", "remove", "detach", "delete", "drop", "unassign"];
    if has(&["mfa", "2fa", "totp", "otp"]) {
        return if has(&["disable", "remove", "delete", "unenroll", "reset"]) {
            mapping(ACCOUNT_CHANGE, 11, "MFA Factor Disable")
        } else {
            mapping(ACCOUNT_CHANGE, 10, "MFA Factor Enable")
        };
    }
    if has(&["role", "roles", "privilege", "privileges", "permission", "permissions", "group", "groups"]) {
        return if has(&removes) {
            mapping(ACCOUNT_CHANGE, 8, "Detach Policy")
        } else {
            mapping(ACCOUNT_CHANGE, 7, "Attach Policy")
        };
    }
    if has(&["user", "account", "iam", "identity", "member"]) {
        if has(&["create", "add", "register", "signup", "invite", "provision"]) {
            return mapping(ACCOUNT_CHANGE, 1, "Create");
        }
        if has(&["delete", "remove", "deprovision", "erase"]) {
            return mapping(ACCOUNT_CHANGE, 6, "Delete");
        }
        if has(&["enable", "activate", "reactivate", "restore"]) {
            return mapping(ACCOUNT_CHANGE, 2, "Enable");
        }
        if has(&["disable", "deactivate", "suspend", "ban"]) {
            return mapping(ACCOUNT_CHANGE, 5, "Disable");
        }
    }

    // API Activity.
    if has(&["create", "add", "insert", "upload", "post", "new", "register"]) {
        return mapping(API_ACTIVITY, 1, "Create");
    }
    if has(&[
        "read", "get", "view", "list", "search", "query", "export", "download", "access", "decrypt", "fetch",
        "show",
    ]) {
        return mapping(API_ACTIVITY, 2, "Read");
    }
    if has(&["update", "change", "edit", "modify", "set", "patch", "put", "rename", "configure", "complete"])
    {
        return mapping(API_ACTIVITY, 3, "Update");
    }
    if has(&removes) || has(&["destroy", "purge", "erase"]) {
        return mapping(API_ACTIVITY, 4, "Delete");
    }
    mapping(API_ACTIVITY, 99, "Other")
}

/// OCSF `severity_id` and its name for a gateway severity.
pub fn severity(value: Option<&str>) -> (u32, &'static str) {
    match value {
        Some("info") => (1, "Informational"),
        Some("low") => (2, "Low"),
        Some("medium") => (3, "Medium"),
        Some("high") => (4, "High"),
        Some("critical") => (5, "Critical"),
        _ => (0, "Unknown"),
    }
}

/// OCSF `status_id` and its name for an `outcome` (`error` is a failure).
pub fn status(outcome: Option<&str>) -> (u32, &'static str) {
    match outcome {
        Some("success") => (1, "Success"),
        Some("failure") | Some("error") => (2, "Failure"),
        _ => (0, "Unknown"),
    }
}

/// `status_detail` for a `reason`: the usual spellings of the common causes become one
/// text (`wrong_password` → `Invalid credentials`); others are kept as sent.
pub fn status_detail(reason: &str) -> String {
    let r = reason.to_ascii_lowercase().replace(['-', ' ', '.'], "_");
    let known = match r.as_str() {
        "wrong_password"
        | "bad_password"
        | "invalid_password"
        | "invalid_credentials"
        | "bad_credentials"
        | "wrong_credentials"
        | "incorrect_password" => "Invalid credentials",
        "unknown_user" | "no_such_user" | "user_not_found" | "user_does_not_exist" => "User does not exist",
        "locked" | "account_locked" | "locked_out" | "account_locked_out" => "Account locked out",
        "disabled" | "account_disabled" => "Account disabled",
        "password_expired" | "expired_password" => "Password expired",
        "mfa_required" | "mfa_failed" | "invalid_mfa" | "invalid_otp" => "MFA failure",
        "timeout" | "session_timeout" | "idle_timeout" | "expired" | "session_expired" => "Session timeout",
        _ => return reason.to_string(),
    };
    known.to_string()
}

fn metadata(uid: String, original_time: Option<&str>, logged_time: Option<i64>) -> Value {
    let mut m = json!({
        "version": OCSF_VERSION,
        "product": {
            "name": "Auditgate",
            "vendor_name": "Auditgate",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "uid": uid,
        "log_name": "audit",
    });
    if let Some(t) = original_time {
        m["original_time"] = json!(t);
    }
    if let Some(t) = logged_time {
        m["logged_time"] = json!(t);
    }
    m
}

fn base(mapping: &Mapping, time: i64, severity_text: Option<&str>) -> Map<String, Value> {
    let (severity_id, severity_name) = severity(severity_text);
    let mut e = Map::new();
    e.insert("class_uid".into(), json!(mapping.class.uid));
    e.insert("class_name".into(), json!(mapping.class.name));
    e.insert("category_uid".into(), json!(mapping.class.category_uid));
    e.insert("category_name".into(), json!(mapping.class.category_name));
    e.insert("activity_id".into(), json!(mapping.activity_id));
    e.insert("activity_name".into(), json!(mapping.activity_name));
    e.insert("type_uid".into(), json!(mapping.type_uid()));
    e.insert("type_name".into(), json!(format!("{}: {}", mapping.class.name, mapping.activity_name)));
    e.insert("time".into(), json!(time));
    e.insert("severity_id".into(), json!(severity_id));
    e.insert("severity".into(), json!(severity_name));
    e
}

fn user_object(name: Option<&str>) -> Value {
    // OCSF's User needs one of name/uid; an event without a user gets "unknown".
    json!({"name": name.unwrap_or("unknown")})
}

/// One stored record as an OCSF event.
pub fn event(record: &Value) -> Value {
    let action = text(record, "action").unwrap_or("");
    let mapping = classify(action);
    let time = millis(text(record, "time")).unwrap_or(0);
    let mut e = base(&mapping, time, text(record, "severity"));
    let outcome = text(record, "outcome");
    let (status_id, status_name) = status(outcome);
    e.insert("status_id".into(), json!(status_id));
    e.insert("status".into(), json!(status_name));
    if let Some(o) = outcome {
        e.insert("status_code".into(), json!(o));
    }
    let reason = text(record, "reason");
    match reason {
        Some(r) => {
            e.insert("status_detail".into(), json!(status_detail(r)));
        }
        None if mapping.class == AUTHENTICATION && action.contains("session") => {
            e.insert("status_detail".into(), json!("Session timeout"));
        }
        None => {}
    }
    let outcome_text = outcome.unwrap_or("unknown");
    e.insert("message".into(), json!(format!("{action} {outcome_text}")));
    let seq = record.get("seq").and_then(Value::as_u64).unwrap_or(0);
    e.insert(
        "metadata".into(),
        metadata(seq.to_string(), text(record, "time"), millis(text(record, "received_at"))),
    );

    let user = text(record, "user");
    let actor_user = user_object(user);
    let mut actor = json!({"user": actor_user});
    if let Some(s) = text(record, "session_id") {
        actor["session"] = json!({"uid": s});
    }
    let mut endpoint = Map::new();
    if let Some(ip) = text(record, "ip") {
        endpoint.insert("ip".into(), json!(ip));
    }
    let ua = text(record, "user_agent");
    match mapping.class {
        c if c == AUTHENTICATION => {
            e.insert("user".into(), user_object(user));
            if let Some(s) = text(record, "session_id") {
                e.insert("session".into(), json!({"uid": s}));
            }
        }
        c if c == ACCOUNT_CHANGE => {
            // The changed account: the resource when it is a user, else the event's user.
            let target = match text(record, "resource_type") {
                Some("user" | "account") => text(record, "resource_id").or(user),
                _ => user,
            };
            e.insert("user".into(), user_object(target));
            e.insert("actor".into(), actor.clone());
        }
        _ => {
            let mut api = json!({"operation": action});
            if let Some(r) = text(record, "request_id") {
                api["request"] = json!({"uid": r});
            }
            e.insert("api".into(), api);
            e.insert("actor".into(), actor.clone());
            if endpoint.is_empty() {
                // API Activity requires `src_endpoint`, and an endpoint needs one attribute.
                endpoint.insert("name".into(), json!("unknown"));
            }
            if let Some(rt) = text(record, "resource_type") {
                let mut r = json!({"type": rt});
                if let Some(id) = text(record, "resource_id") {
                    r["uid"] = json!(id);
                }
                e.insert("resources".into(), json!([r]));
            }
        }
    }
    if mapping.class == AUTHENTICATION {
        e.insert("actor".into(), actor);
    }
    if !endpoint.is_empty() {
        e.insert("src_endpoint".into(), Value::Object(endpoint));
    }
    if ua.is_some() || text(record, "request_id").is_some() {
        let mut http = Map::new();
        if let Some(ua) = ua {
            http.insert("user_agent".into(), json!(ua));
        }
        if let Some(r) = text(record, "request_id") {
            http.insert("uid".into(), json!(r));
        }
        e.insert("http_request".into(), Value::Object(http));
    }
    let mut unmapped = Map::new();
    for name in [
        "id",
        "source",
        "reason",
        "resource_type",
        "resource_id",
        "details",
        "changes",
        "tags",
        "redacted",
        "policy_set",
        "prev",
    ] {
        if let Some(v) = record.get(name) {
            unmapped.insert(name.into(), v.clone());
        }
    }
    unmapped.insert("seq".into(), json!(seq));
    e.insert("unmapped".into(), Value::Object(unmapped));
    Value::Object(e)
}

/// One alert (as `GET /v1/alerts` answers it) raised for `record`, as a Detection Finding.
pub fn finding(alert: &Value, record: &Value) -> Value {
    let mapping = mapping(DETECTION_FINDING, 1, "Create");
    let time = millis(text(alert, "time")).or_else(|| millis(text(record, "time"))).unwrap_or(0);
    let mut e = base(&mapping, time, text(alert, "severity"));
    let id = alert.get("id").and_then(Value::as_u64).unwrap_or(0);
    let seq = alert.get("seq").and_then(Value::as_u64).unwrap_or(0);
    let rule = text(alert, "rule").unwrap_or("");
    let summary = text(alert, "summary").unwrap_or(rule);
    let event_type = classify(text(record, "action").unwrap_or("")).type_uid();
    e.insert("status_id".into(), json!(1));
    e.insert("status".into(), json!("New"));
    e.insert("message".into(), json!(summary));
    e.insert(
        "finding_info".into(),
        json!({
            "uid": format!("alert-{id}"),
            "title": summary,
            "types": [rule],
            "analytic": {"name": rule, "type_id": 1, "type": "Rule", "uid": rule},
            "related_events": [{"uid": seq.to_string(), "type_uid": event_type}],
        }),
    );
    e.insert("metadata".into(), metadata(format!("alert-{id}"), text(alert, "time"), None));
    if let Some(u) = text(record, "user") {
        e.insert("actor".into(), json!({"user": {"name": u}}));
    }
    if let Some(ip) = text(record, "ip") {
        e.insert("src_endpoint".into(), json!({"ip": ip}));
    }
    e.insert(
        "unmapped".into(),
        json!({
            "alert_id": id,
            "seq": seq,
            "policy": alert.get("policy").cloned().unwrap_or(Value::Null),
            "labels": alert.get("labels").cloned().unwrap_or(Value::Null),
        }),
    );
    Value::Object(e)
}

/// Writes OCSF events, one JSON object per line.
pub struct OcsfEncoder;

impl Encoder for OcsfEncoder {
    fn event(&mut self, record: &Value, out: &mut Vec<u8>) -> Result<(), ExportError> {
        serde_json::to_writer(&mut *out, &event(record))?;
        out.push(b'\n');
        Ok(())
    }

    fn alert(&mut self, alert: &Value, record: &Value, out: &mut Vec<u8>) -> Result<(), ExportError> {
        serde_json::to_writer(&mut *out, &finding(alert, record))?;
        out.push(b'\n');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_land_in_their_class_and_activity() {
        let cases = [
            ("user.login", 300201),
            ("auth.sign_in", 300201),
            ("user.logout", 300202),
            ("session.timeout", 300202),
            ("account.lockout", 300109),
            ("account.unlock", 300112),
            ("user.password.change", 300103),
            ("user.password_reset", 300104),
            ("admin.role.change", 300107),
            ("user.role.revoke", 300108),
            ("iam.privilege.escalate", 300107),
            ("admin.user.create", 300101),
            ("user.delete", 300106),
            ("user.mfa.enable", 300110),
            ("user.disable", 300105),
            ("purchase.create", 600301),
            ("credential.decrypt", 600302),
            ("document.update", 600303),
            ("file.delete", 600304),
            ("purchase.complete", 600303),
            ("api.call", 600399),
            ("", 600399),
        ];
        for (action, want) in cases {
            assert_eq!(classify(action).type_uid(), want, "{action}");
        }
    }

    #[test]
    fn an_event_has_the_base_and_class_attributes() {
        let record = json!({
            "seq": 3, "time": "2026-11-23T08:01:10.000000Z", "received_at": "2026-11-23T08:01:11.000000Z",
            "action": "user.login", "outcome": "failure", "user": "bob", "ip": "198.51.100.23",
            "reason": "wrong_password", "severity": "info", "source": "k",
        });
        let e = event(&record);
        assert_eq!(e["class_uid"], 3002);
        assert_eq!(e["category_uid"], 3);
        assert_eq!(e["activity_id"], 1);
        assert_eq!(e["type_uid"], 300201);
        assert_eq!(e["time"], 1_795_420_870_000i64);
        assert_eq!(e["severity_id"], 1);
        assert_eq!(e["status_id"], 2);
        assert_eq!(e["status_detail"], "Invalid credentials");
        assert_eq!(e["user"]["name"], "bob");
        assert_eq!(e["src_endpoint"]["ip"], "198.51.100.23");
        assert_eq!(e["metadata"]["version"], OCSF_VERSION);
        assert_eq!(e["metadata"]["product"]["vendor_name"], "Auditgate");
        assert_eq!(e["unmapped"]["reason"], "wrong_password");
    }
}
