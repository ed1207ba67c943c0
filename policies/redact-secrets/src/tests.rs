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
fn names_match_as_people_write_them() {
    let h = harness(json!({"fields": ["card_holder", "MOT_DE_PASSE_É", "*_pin_*"]}));
    let p = h.policy();
    for yes in [
        "api_key",
        "API-KEY",
        "apikey",
        "x-api_key",
        "HTTP_X_API_KEY",
        "clientSecret",
        "client_secrets",
        "X-Auth-Token",
        "PGPASSWORD",
        "cardHolder",
        "X-Card-Holder",
        "mot-de-passe-é",
        "new_pin_code",
    ] {
        assert!(p.matches(yes), "{yes}");
    }
    for no in ["api", "api_key_name", "token_count", "author", "card", "pinned"] {
        assert!(!p.matches(no), "{no}");
    }
    let o = run(&h, event(json!({"API-Key":"k","x-api_key":"k2","Client-Secret":"s","api_version":"2"})));
    assert_eq!(
        masks(&o),
        vec![mask("/details/API-Key"), mask("/details/Client-Secret"), mask("/details/x-api_key")]
    );
}

/// The event of the defect report: six secret-named values in `headers` and `env`.
fn headers_and_env() -> Value {
    event(json!({
        "headers": {"X-Auth-Token": "v1", "HTTP_X_API_KEY": "v2", "clientSecret": "v3", "Accept": "*/*"},
        "env": {"db-password": "v4", "AWS_SECRET_ACCESS_KEY": "v5", "Proxy-Authorization": "v6", "HOME": "/root"},
    }))
}

#[test]
fn the_reported_headers_and_env_are_redacted_by_default_and_with_extra_fields() {
    for config in [json!({}), json!({"fields": ["password", "token"]}), shipped_config()] {
        let h = harness(config.clone());
        let o = run(&h, headers_and_env());
        let d = &o.event["details"];
        for (group, name) in [
            ("headers", "X-Auth-Token"),
            ("headers", "HTTP_X_API_KEY"),
            ("headers", "clientSecret"),
            ("env", "db-password"),
            ("env", "AWS_SECRET_ACCESS_KEY"),
            ("env", "Proxy-Authorization"),
        ] {
            assert_eq!(d[group][name], DEFAULT_MARKER, "{config}: {group}.{name}");
        }
        assert_eq!(d["headers"]["Accept"], "*/*");
        assert_eq!(d["env"]["HOME"], "/root");
        assert_eq!(o.redacted.len(), 6, "{config}: {:?}", o.redacted);
    }
}

/// The shared table of real-world names (`tests/fixtures/secret-names.json`).
fn table() -> (Vec<String>, Vec<String>) {
    let text = include_str!("../../../tests/fixtures/secret-names.json");
    let value: Value = serde_json::from_str(text).unwrap_or_default();
    let list = |key: &str| -> Vec<String> {
        value[key]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default()
    };
    (list("secret"), list("harmless"))
}

/// Whether each placement of `name` in one event (a member at two depths, inside an
/// array, in `changes.before`, as a `{name, value}` pair) was masked: all or none.
fn masked_everywhere(h: &Harness<RedactSecrets>, name: &str) -> Option<bool> {
    let o = run(
        h,
        json!({"action": "api.call", "outcome": "success", "user": "alice",
               "details": {name: "plain-1", "deep": {"list": [{name: "plain-2"}]},
                           "pairs": [{"name": name, "value": "plain-3"}]},
               "changes": {"before": {name: "plain-4"}, "after": {}}}),
    );
    let placements = [
        &o.event["details"][name],
        &o.event["details"]["deep"]["list"][0][name],
        &o.event["details"]["pairs"][0]["value"],
        &o.event["changes"]["before"][name],
    ];
    let masked: Vec<bool> = placements.iter().map(|v| **v == json!(DEFAULT_MARKER)).collect();
    if masked.iter().all(|&m| m) {
        Some(true)
    } else if masked.iter().all(|&m| !m) {
        Some(false)
    } else {
        None
    }
}

#[test]
fn the_shared_table_holds_with_the_defaults_and_the_shipped_config() {
    let (secret, harmless) = table();
    assert!(secret.len() >= 40 && harmless.len() >= 20);
    for config in [json!({}), shipped_config()] {
        let h = harness(config.clone());
        for name in &secret {
            assert_eq!(masked_everywhere(&h, name), Some(true), "{config}: secret `{name}`");
        }
        for name in &harmless {
            assert_eq!(masked_everywhere(&h, name), Some(false), "{config}: harmless `{name}`");
        }
    }
}

#[test]
fn configured_lists_extend_and_replacing_them_is_explicit_and_reported() {
    let h = harness(json!({"fields": ["card_holder"], "harmless_fields": ["auth_user"]}));
    assert!(h.policy().matches("card_holder") && h.policy().matches("password"));
    assert!(!h.policy().matches("authUser") && h.policy().matches("auth"));
    assert!(h.policy().settings.warnings.is_empty());
    assert!(host::native::take_logs().iter().all(|(level, _)| *level < host::Level::Warn));

    let h = harness(json!({"fields": ["password"], "replace_defaults": ["fields"]}));
    assert!(h.policy().matches("db_password") && !h.policy().matches("X-Auth-Token"));
    let warnings = &h.policy().settings.warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("`fields` replaces the built-in secret names"), "{}", warnings[0]);
    assert!(
        warnings[0].contains("no longer masked by name: secret, token, api key, auth,"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].ends_with(" more"), "{}", warnings[0]);
    let logged = host::native::take_logs();
    assert!(
        logged.iter().any(|(level, line)| *level == host::Level::Warn && *line == warnings[0]),
        "{logged:?}"
    );

    let h = harness(json!({"detectors": {"card": "off", "jwt": "off", "email": "off"}}));
    assert_eq!(
        h.policy().settings.warnings,
        ["detectors turned off (jwt, card): values they would mask are stored as sent"]
    );
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
                        "after": {"memo": "SSN 123-45-6789", "iban": "DE89 3704 0044 0532 0130 00"}},
        }),
    );
    assert_eq!(o.event["user_agent"], "deploy-bot/1.0 (+token [REDACTED:github_token])");
    assert_eq!(o.event["details"]["log"], json!(["ok", {"msg": "jwt=[REDACTED:jwt]"}]));
    assert_eq!(o.event["changes"]["before"]["conn"], "AccountName=a;AccountKey=[REDACTED:azure_key];x=y");
    assert_eq!(o.event["changes"]["after"]["memo"], "SSN [REDACTED:ssn]");
    assert_eq!(o.event["changes"]["after"]["iban"], "[REDACTED:iban]");
    assert_eq!(
        sorted(&o.redacted),
        [
            "/changes/after/iban",
            "/changes/after/memo",
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
        ("named_secret", "https://example.com/cb?access_token=opaque-value&page=2".to_string()),
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
fn card_numbers_sent_as_numbers_are_masked() {
    let h = harness(json!({}));
    let o = run(&h, event(json!({"num": 4111111111111111u64, "order": 1234567890123456u64, "qty": 3})));
    assert_eq!(masks(&o), vec![("/details/num".to_string(), "[REDACTED:card]".to_string())]);
    assert_eq!(o.event["details"]["order"], 1234567890123456u64);
    // A float with no fraction, in either notation, and a negative integer.
    for raw in ["4111111111111111.0", "4.111111111111111e15", "-4111111111111111", "5555555555554444.00"] {
        let body = format!(r#"{{"action":"a","outcome":"success","details":{{"n":{raw}}}}}"#);
        let o = h.evaluate_bytes(body.as_bytes()).expect("evaluates");
        assert_eq!(o.event["details"]["n"], "[REDACTED:card]", "{raw}");
    }
    for raw in ["4111111111111111.5", "1234567890123456.0", "3.5", "-12"] {
        let body = format!(r#"{{"action":"a","outcome":"success","details":{{"n":{raw}}}}}"#);
        let o = h.evaluate_bytes(body.as_bytes()).expect("evaluates");
        assert!(o.decision.is_empty(), "{raw}: {:?}", o.decision);
    }
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
fn a_credential_in_id_or_action_fails_the_event_without_quoting_it() {
    let h = harness(json!({}));
    for (field, value, kind) in [
        ("id", JWT, "jwt"),
        ("id", GITHUB, "github_token"),
        ("action", "sk_live_4ec39hqlyjwdarjtt1zdp7dc", "stripe_key"),
    ] {
        let mut e = json!({"action": "api.call", "outcome": "success"});
        e[field] = json!(value);
        let err = h.evaluate(&e).err().unwrap_or_default();
        assert!(err.starts_with(&format!("`{field}` holds a secret ({kind})")), "{err}");
        assert!(!err.contains(value), "{err}");
    }
    // Order numbers and ordinary actions pass.
    let o = run(&h, json!({"id": "4111111111111111", "action": "user.password:reset", "outcome": "success"}));
    assert!(o.decision.is_empty());
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
    assert!(error(json!({"fields": []})).is_none());
    assert!(
        error(json!({"fields": [], "replace_defaults": ["fields"]})).is_none(),
        "detectors alone are enough"
    );
    assert_eq!(
        error(json!({"fields": ["ok", ""]})).as_deref(),
        Some("invalid config: `fields[1]` has no letter or digit")
    );
    assert_eq!(
        error(json!({"harmless_fields": ["--"]})).as_deref(),
        Some("invalid config: `harmless_fields[0]` has no letter or digit")
    );
    assert_eq!(
        error(json!({"replace_defaults": ["detectors"]})).as_deref(),
        Some(
            "invalid config: `replace_defaults` names `detectors`; the lists with defaults are: fields, harmless_fields"
        )
    );
    assert_eq!(
        error(json!({"fields": ["*"]})).as_deref(),
        Some("invalid config: `fields[0]` (\"*\") would mask every field")
    );
    assert_eq!(
        error(json!({"fields": ["x"], "markr": "!"})).as_deref(),
        Some(
            "invalid config: unknown field `markr`, expected one of `fields`, `harmless_fields`, \
             `replace_defaults`, `marker`, `detectors`, `value_marker`"
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
    assert!(
        error(json!({"fields": [], "detectors": all_off.clone()})).is_none(),
        "the built-in names remain"
    );
    assert_eq!(
        error(json!({"fields": [], "replace_defaults": ["fields"], "detectors": all_off})).as_deref(),
        Some(
            "invalid config: nothing to redact: `fields` replaces the defaults with nothing and every detector \
             is off"
        )
    );
    assert!(error(json!({"fields": ["x"], "marker": "[X]", "value_marker": "#"})).is_none());
}

/// The `[policy.config]` of `builtin:redact-secrets` in the repository's `policy.toml`.
fn shipped_config() -> Value {
    let text = include_str!("../../../policy.toml");
    let config: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => panic!("policy.toml: {e}"),
    };
    let policies = config.get("policy").and_then(|p| p.as_array()).cloned().unwrap_or_default();
    let redact = policies
        .iter()
        .find(|p| p.get("module").and_then(|m| m.as_str()) == Some("builtin:redact-secrets"))
        .expect("policy.toml runs builtin:redact-secrets");
    let table = redact.get("config").cloned().unwrap_or(toml::Value::Table(toml::Table::new()));
    serde_json::to_value(table).expect("TOML is JSON")
}

#[test]
fn the_shipped_policy_toml_config_is_valid_and_no_weaker_than_the_defaults() {
    let h = harness(shipped_config());
    assert!(h.policy().settings.warnings.is_empty(), "{:?}", h.policy().settings.warnings);
    assert!(h.policy().settings.names.missing_defaults().is_empty());
    assert_eq!(h.policy().detectors(), harness(json!({})).policy().detectors());
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
fn secrets_inside_strings_are_masked_in_place() {
    let h = harness(json!({}));
    let o = run(
        &h,
        event(json!({
            "url": "https://api.example.com/cb?state=ok&access_token=opaque123&page=2",
            "raw": "POST /login HTTP/1.1\r\nHost: example.com\r\nX-Api-Key: k-123\r\n",
            "env": ["HOME=/root", "DB_PASSWORD=hunter2"],
            "dsn": "postgres://app:pa55word@db:5432/app",
            "count": "token_count=3",
        })),
    );
    let d = &o.event["details"];
    assert_eq!(d["url"], "https://api.example.com/cb?state=ok&access_token=[REDACTED:named_secret]&page=2");
    assert_eq!(
        d["raw"],
        "POST /login HTTP/1.1\r\nHost: example.com\r\nX-Api-Key: [REDACTED:named_secret]\r\n"
    );
    assert_eq!(d["env"], json!(["HOME=/root", "DB_PASSWORD=[REDACTED:named_secret]"]));
    assert_eq!(d["dsn"], "postgres://app:[REDACTED:named_secret]@db:5432/app");
    assert_eq!(d["count"], "token_count=3");
    assert_eq!(o.tags(), ["redacted:named_secret"]);
}

#[test]
fn a_non_object_event_fails() {
    let h = harness(json!({}));
    assert_eq!(h.evaluate_bytes(b"[]").err().as_deref(), Some("event is not a JSON object (found array)"));
}
