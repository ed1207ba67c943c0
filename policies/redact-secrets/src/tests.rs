//! Native tests through the SDK harness: the policy runs as on the gateway and its
//! patches are applied the gateway's way.

use auditgate_sdk::testing::{Harness, Outcome, pseudonym};
use serde_json::{Value, json};

use super::*;

const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmU";
const GITHUB: &str = "ghp_0123456789abcdefghijABCDEFGHIJ012345";

fn harness(config: Value) -> Harness<RedactSecrets> {
    match Harness::new(&config) {
        Ok(h) => h,
        Err(e) => panic!("config {config} refused: {e}"),
    }
}

fn run(h: &Harness<RedactSecrets>, event: Value) -> Outcome {
    match h.evaluate(&event) {
        Ok(o) => o,
        Err(e) => panic!("event {event} failed: {e}"),
    }
}

fn event(details: Value) -> Value {
    json!({"action": "api.call", "outcome": "success", "user": "alice", "details": details})
}

/// The (path, text) of every patch, all of which must be masks, sorted by path (the
/// harness sends `json!` objects with their members sorted by name).
fn masks(outcome: &Outcome) -> Vec<(String, String)> {
    let mut masks: Vec<(String, String)> = outcome
        .patches()
        .iter()
        .map(|p| match p {
            PatchOp::Mask((path, text)) => (path.clone(), text.clone()),
            other => panic!("unexpected patch {other:?}"),
        })
        .collect();
    masks.sort();
    masks
}

fn sorted(items: &[String]) -> Vec<String> {
    let mut items = items.to_vec();
    items.sort();
    items
}

fn mask(path: &str) -> (String, String) {
    (path.to_string(), DEFAULT_MARKER.to_string())
}

fn error(config: Value) -> Option<String> {
    Harness::<RedactSecrets>::new(&config).err()
}

// ---- by field name ------------------------------------------------------------------

#[test]
fn masks_top_level_fields() {
    let h = harness(json!({"fields": ["password", "token"]}));
    let o = run(&h, json!({"action":"user.login","outcome":"success","password":"hunter2","token":"abc"}));
    assert_eq!(masks(&o), vec![mask("/password"), mask("/token")]);
    assert_eq!(o.event["password"], DEFAULT_MARKER);
    assert_eq!(o.tags(), ["redacted:field"]);
    assert_eq!(o.redacted, ["/password", "/token"]);
}

#[test]
fn masks_nested_in_details_and_changes_whatever_the_type() {
    let h = harness(json!({"fields": ["password", "api_key", "ssn"], "marker": "***"}));
    let o = run(
        &h,
        json!({"action":"a","outcome":"success",
            "details":{"password":{"old":"a","new":"b"},"nested":{"api_key":12345},"ssn":null},
            "changes":{"before":{"password":"x"},"after":{"password":"y","ssn":["1","2"]}}}),
    );
    let star = |p: &str| (p.to_string(), "***".to_string());
    assert_eq!(
        masks(&o),
        vec![
            star("/changes/after/password"),
            star("/changes/after/ssn"),
            star("/changes/before/password"),
            star("/details/nested/api_key"),
            star("/details/password"),
            star("/details/ssn"),
        ]
    );
    assert_eq!(o.event["details"], json!({"password": "***", "nested": {"api_key": "***"}, "ssn": "***"}));
}

#[test]
fn masks_inside_arrays() {
    let h = harness(json!({"fields": ["secret"]}));
    let o = run(&h, event(json!({"keys":[{"secret":"s0"},{"id":1},[{"secret":"s2"}]]})));
    assert_eq!(masks(&o), vec![mask("/details/keys/0/secret"), mask("/details/keys/2/0/secret")]);
}

#[test]
fn matches_case_insensitively_dash_equals_underscore_and_globs() {
    let h = harness(json!({"fields": ["api_key", "Set-Cookie", "MOT_DE_PASSE_É", "*_secret"]}));
    let p = h.policy();
    for yes in
        ["api_key", "API-KEY", "Api_Key", "set_cookie", "SET-COOKIE", "mot-de-passe-é", "client_secret"]
    {
        assert!(p.matches(yes), "{yes}");
    }
    for no in ["apikey", "api_key_id", "api", "secret", "client_secrets"] {
        assert!(!p.matches(no), "{no}");
    }
    let o = run(&h, event(json!({"API-Key":"k","x-api_key":"no","Client-Secret":"s"})));
    assert_eq!(masks(&o), vec![mask("/details/API-Key"), mask("/details/Client-Secret")]);
}

#[test]
fn does_not_descend_into_a_masked_value() {
    let h = harness(json!({"fields": ["secret"]}));
    let o = run(&h, event(json!({"secret":{"secret":{"note": format!("Bearer {JWT}")}}})));
    assert_eq!(masks(&o), vec![mask("/details/secret")]);
    assert_eq!(o.tags(), ["redacted:field"]);
}

#[test]
fn escapes_pointers_for_keys_with_slash_or_tilde() {
    let h = harness(json!({"fields": ["a/b", "~token", "x~1y"]}));
    let o = run(&h, event(json!({"a/b":"1","~token":"2","x~1y":"3","x/y":"4"})));
    assert_eq!(masks(&o), vec![mask("/details/a~1b"), mask("/details/x~01y"), mask("/details/~0token")]);
    assert_eq!(o.event["details"]["x/y"], "4");
}

#[test]
fn header_like_pairs_are_masked_by_their_name() {
    let h = harness(json!({"fields": ["authorization", "cookie"], "detectors": {"bearer": "off"}}));
    let o = run(
        &h,
        event(json!({
            "headers": [
                {"name": "Authorization", "value": "Token opaque-value"},
                {"name": "Accept", "value": "*/*"},
                {"key": "Cookie", "value": {"sid": "abc", "note": "4111 1111 1111 1111"}},
            ],
            "raw": [["COOKIE", "sid=xyz"], ["Host", "example.com"], ["cookie"]],
        })),
    );
    assert_eq!(
        masks(&o),
        vec![mask("/details/headers/0/value"), mask("/details/headers/2/value"), mask("/details/raw/0/1")]
    );
    assert_eq!(o.event["details"]["headers"][1]["value"], "*/*");
    assert_eq!(o.event["details"]["raw"][1], json!(["Host", "example.com"]));
    assert_eq!(o.tags(), ["redacted:field"]);
}

// ---- by value -----------------------------------------------------------------------

#[test]
fn value_detectors_mask_only_the_secret_spans() {
    let h = harness(json!({"fields": ["password"]}));
    let note = format!("retry with Bearer {GITHUB} after card 4111-1111-1111-1111 failed");
    let o = run(&h, event(json!({"note": note, "plain": "nothing to see"})));
    assert_eq!(
        masks(&o),
        vec![(
            "/details/note".to_string(),
            "retry with Bearer [REDACTED:github_token] after card [REDACTED:card] failed".to_string()
        )]
    );
    assert_eq!(o.tags(), ["redacted:github_token", "redacted:card"]);
    assert_eq!(o.event["details"]["plain"], "nothing to see");
}

#[test]
fn every_string_is_searched_nested_changes_arrays_and_user_agent() {
    let h = harness(json!({}));
    let o = run(
        &h,
        json!({
            "action": "admin.config.change", "outcome": "success", "user": "root",
            "user_agent": format!("deploy-bot/1.0 (+token {GITHUB})"),
            "details": {"log": ["ok", {"msg": format!("jwt={JWT}")}]},
            "changes": {"before": {"conn": "AccountName=a;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;x=y"},
                        "after": {"ssn_note": "SSN 123-45-6789", "iban": "DE89 3704 0044 0532 0130 00"}},
        }),
    );
    assert_eq!(o.event["user_agent"], "deploy-bot/1.0 (+token [REDACTED:github_token])");
    assert_eq!(o.event["details"]["log"], json!(["ok", {"msg": "jwt=[REDACTED:jwt]"}]));
    assert_eq!(o.event["changes"]["before"]["conn"], "AccountName=a;AccountKey=[REDACTED:azure_key];x=y");
    assert_eq!(o.event["changes"]["after"]["ssn_note"], "SSN [REDACTED:ssn]");
    assert_eq!(o.event["changes"]["after"]["iban"], "[REDACTED:iban]");
    assert_eq!(
        sorted(&o.redacted),
        [
            "/changes/after/iban",
            "/changes/after/ssn_note",
            "/changes/before/conn",
            "/details/log/1/msg",
            "/user_agent"
        ]
    );
    assert_eq!(
        o.tags(),
        ["redacted:jwt", "redacted:azure_key", "redacted:github_token", "redacted:iban", "redacted:ssn"]
    );
}

#[test]
fn every_detector_fires_and_is_tagged() {
    let h = harness(json!({"fields": [], "detectors": {"email": "mask"}}));
    let samples = [
        ("private_key", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----".to_string()),
        ("jwt", JWT.to_string()),
        ("aws_key_id", "AKIAIOSFODNN7EXAMPLE".to_string()),
        ("aws_secret", "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_string()),
        ("gcp_key", "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe".to_string()),
        ("azure_key", "AccountKey=abcdEFGH1234ijklMNOP5678qrst==".to_string()),
        ("github_token", GITHUB.to_string()),
        ("slack_token", "xoxb-123456789012-AbCdEfGhIj".to_string()),
        ("stripe_key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc".to_string()),
        ("bearer", "Bearer abc123def456ghi".to_string()),
        ("basic_auth", "Basic dXNlcjpwYXNz".to_string()),
        ("card", "5555555555554444".to_string()),
        ("iban", "GB82WEST12345698765432".to_string()),
        ("ssn", "123-45-6789".to_string()),
        ("email", "bob@example.org".to_string()),
    ];
    assert_eq!(samples.len(), Kind::ALL.len());
    for (name, text) in samples {
        let o = run(&h, event(json!({"v": text})));
        assert_eq!(o.tags(), [format!("redacted:{name}")], "{text}");
        let masked = o.event["details"]["v"].as_str().unwrap_or_default().to_string();
        assert!(masked.contains(&format!("[REDACTED:{name}]")), "{text} -> {masked}");
        assert!(!masked.contains(&text), "{text} -> {masked}");
    }
}

#[test]
fn card_numbers_sent_as_integers_are_masked() {
    let h = harness(json!({}));
    let o = run(&h, event(json!({"num": 4111111111111111u64, "order": 1234567890123456u64, "qty": 3})));
    assert_eq!(masks(&o), vec![("/details/num".to_string(), "[REDACTED:card]".to_string())]);
    assert_eq!(o.event["details"]["order"], 1234567890123456u64);
}

#[test]
fn gateway_validated_top_level_fields_are_not_searched() {
    let h = harness(json!({"detectors": {"email": "mask"}}));
    let o = run(
        &h,
        json!({"id": "4111111111111111", "action": "user.login", "outcome": "success",
               "ip": "192.0.2.7", "user": "carol@example.com", "session_id": "4111111111111111"}),
    );
    assert_eq!(
        masks(&o),
        vec![
            ("/session_id".to_string(), "[REDACTED:card]".to_string()),
            ("/user".to_string(), "[REDACTED:email]".to_string()),
        ]
    );
    assert_eq!(o.event["id"], "4111111111111111");
}

#[test]
fn pseudonymize_replaces_a_whole_value_and_masks_inside_text() {
    let h = harness(json!({"detectors": {"email": "pseudonymize", "card": "pseudonymize"}}));
    // Raw bytes, to keep the members in this order.
    let event = br#"{"action": "user.login", "outcome": "success", "user": "alice@example.com",
        "details": {"note": "contact alice@example.com", "card": " 4111111111111111 "}}"#;
    let o = h.evaluate_bytes(event).expect("evaluates");
    assert_eq!(
        o.patches(),
        [
            PatchOp::Pseudonymize("/user".into()),
            PatchOp::Mask(("/details/note".into(), "contact [REDACTED:email]".into())),
            PatchOp::Pseudonymize("/details/card".into()),
        ]
    );
    assert_eq!(o.event["user"], pseudonym(b"alice@example.com"));
    assert_eq!(o.tags(), ["redacted:card", "redacted:email"]);
    assert_eq!(o.redacted, ["/user", "/details/note", "/details/card"]);
}

#[test]
fn defaults_mask_secrets_and_leave_email_alone() {
    let h = harness(json!({}));
    assert!(!h.policy().detectors().contains(Kind::Email));
    assert!(Kind::ALL.iter().filter(|&&k| k != Kind::Email).all(|&k| h.policy().detectors().contains(k)));
    let o = run(
        &h,
        json!({"action": "user.login", "outcome": "failure", "user": "dave@example.com",
               "details": {"new_password": "x", "client_secret": "y", "passwords_changed": 2, "reason": "wrong_password"}}),
    );
    assert_eq!(masks(&o), vec![mask("/details/client_secret"), mask("/details/new_password")]);
    assert_eq!(o.event["user"], "dave@example.com");
}

#[test]
fn detectors_can_be_turned_off_and_markers_changed() {
    let h =
        harness(json!({"fields": ["password"], "detectors": {"card": "off"}, "value_marker": "<{kind}>"}));
    let o = run(&h, event(json!({"a": "4111111111111111", "b": "Bearer abc123def456ghi"})));
    assert_eq!(masks(&o), vec![("/details/b".to_string(), "Bearer <bearer>".to_string())]);
}

#[test]
fn an_event_without_secrets_is_untouched() {
    let h = harness(json!({}));
    let o = run(
        &h,
        json!({"action": "user.login", "outcome": "success", "user": "dave", "ip": "192.0.2.7",
               "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
               "details": {"passwords_changed": 2, "tokenizer": "whitespace", "method": "password",
                           "request": "GET /v1/items?page=2 took 12 ms", "when": "2024-05-01T12:34:56Z",
                           "trace": "550e8400-e29b-41d4-a716-446655440000", "count": 1234567890123u64}}),
    );
    assert!(o.decision.is_empty(), "{:?}", o.decision);
}

// ---- configuration ------------------------------------------------------------------

#[test]
fn config_is_checked() {
    assert!(error(json!({})).is_none());
    assert!(error(json!({"fields": []})).is_none(), "detectors alone are enough");
    assert_eq!(error(json!({"fields": ["ok", ""]})).as_deref(), Some("invalid config: `fields[1]` is empty"));
    assert_eq!(
        error(json!({"fields": ["*"]})).as_deref(),
        Some("invalid config: `fields[0]` (\"*\") would mask every field")
    );
    assert_eq!(
        error(json!({"fields": ["x"], "markr": "!"})).as_deref(),
        Some(
            "invalid config: unknown field `markr`, expected one of `fields`, `marker`, `detectors`, `value_marker`"
        )
    );
    assert_eq!(
        error(json!({"fields": "password"})).as_deref(),
        Some("invalid config: invalid type: string \"password\", expected a sequence")
    );
    assert!(error(json!({"detectors": {"cards": "mask"}})).is_some_and(|e| {
        e.starts_with("invalid config: unknown detector `cards` in `detectors` (known: private_key, jwt,")
    }));
    assert_eq!(
        error(json!({"detectors": {"card": "hide"}})).as_deref(),
        Some("invalid config: unknown variant `hide`, expected one of `mask`, `pseudonymize`, `off`")
    );
    let all_off: serde_json::Map<String, Value> =
        Kind::ALL.iter().map(|k| (k.name().to_string(), json!("off"))).collect();
    assert_eq!(
        error(json!({"fields": [], "detectors": all_off})).as_deref(),
        Some("invalid config: nothing to redact: `fields` is empty and every detector is off")
    );
    assert!(error(json!({"fields": ["x"], "marker": "[X]", "value_marker": "#"})).is_none());
}

#[test]
fn the_shipped_policy_toml_config_is_valid() {
    // The default chain's [policy.config] (fields + marker) keeps loading.
    let h = harness(json!({"fields": [
        "password", "passwd", "pwd", "secret", "client_secret", "token", "access_token",
        "refresh_token", "id_token", "api_key", "apikey", "authorization", "cookie",
        "set-cookie", "private_key", "card_number", "pan", "cvv", "ssn"]}));
    let o =
        run(&h, event(json!({"Authorization": "Bearer abc123def456ghi", "note": "Bearer abc123def456ghi"})));
    assert_eq!(
        masks(&o),
        vec![
            mask("/details/Authorization"),
            ("/details/note".to_string(), "Bearer [REDACTED:bearer]".to_string())
        ]
    );
    assert_eq!(o.tags(), ["redacted:field", "redacted:bearer"]);
}

#[test]
fn a_non_object_event_fails() {
    let h = harness(json!({}));
    assert_eq!(h.evaluate_bytes(b"[]").err().as_deref(), Some("event is not a JSON object (found array)"));
}
