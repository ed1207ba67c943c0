//! The default chain's `redact-secrets`: secrets are masked before anything is stored, the
//! masked paths are listed in `redacted`, and the secret's bytes are nowhere on disk.

use std::collections::BTreeSet;
use std::ffi::OsStr;

use auditgate_tests::*;
use serde_json::{Value, json};

const MASK: &str = "[REDACTED]";

fn redacted_set(record: &Value) -> BTreeSet<String> {
    record["redacted"]
        .as_array()
        .unwrap_or_else(|| panic!("redacted is not an array: {record}"))
        .iter()
        .map(|p| p.as_str().unwrap_or_else(|| panic!("redacted holds a non-string: {record}")).to_string())
        .collect()
}

fn tags(record: &Value) -> BTreeSet<String> {
    record["tags"]
        .as_array()
        .unwrap_or_else(|| panic!("tags is not an array: {record}"))
        .iter()
        .map(|t| t.as_str().unwrap_or_else(|| panic!("tags holds a non-string: {record}")).to_string())
        .collect()
}

/// A Visa-shaped card number, unique to this run, with a valid Luhn check digit.
fn unique_card() -> String {
    let seed = unique_token("card-");
    let mut digits: Vec<u32> = vec![4];
    digits.extend(seed.bytes().filter(u8::is_ascii_digit).map(|b| u32::from(b - b'0')).take(14));
    while digits.len() < 15 {
        digits.push(7);
    }
    // The check digit makes the Luhn sum a multiple of 10: double every second digit from
    // the right, the check digit's own position counting as the first.
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| if i % 2 == 0 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d })
        .sum();
    digits.push((10 - sum % 10) % 10);
    digits.iter().map(|d| char::from_digit(*d, 10).unwrap_or('0')).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[track_caller]
fn assert_nowhere(files: &[(std::path::PathBuf, Vec<u8>)], secrets: &[String], when: &str) {
    assert!(!files.is_empty(), "{when}: the data dir holds no file at all");
    let mut leaks = Vec::new();
    for s in secrets {
        for p in files_containing(files, s.as_bytes()) {
            leaks.push(format!("{s} in {}", p.display()));
        }
    }
    assert!(leaks.is_empty(), "{when}: secrets found on disk:\n{}", leaks.join("\n"));
}

#[test]
fn secrets_are_masked_listed_and_never_written() {
    let gw = Gateway::start_default();
    let secrets: Vec<String> = (0..10).map(|i| unique_token(&format!("sek{i}-"))).collect();
    // Not a secret: stored as sent. Finding it on disk shows that searching the files for
    // the secrets means something (the store does not hide plain text, e.g. compressed).
    let control = unique_token("control-");

    // One event, single POST: secrets at several depths, keys in several spellings.
    let single = json!({
        "action": "user.password.change",
        "outcome": "success",
        "user": "alice",
        "details": {
            "password": secrets[0],
            "headers": {
                "Authorization": format!("Bearer {}", secrets[1]),
                "Set-Cookie": format!("sid={}", secrets[2]),
                "X-Trace": "keep-me",
            },
            "items": [{"token": secrets[3], "name": "first"}],
            "PWD": secrets[4],
            "cvv": 987,
            "secret": {"inner": secrets[5]},
            "note": control,
        },
        "changes": {
            "before": {"role": "user"},
            "after": {"api-key": secrets[6], "role": "admin"},
        },
    });
    let seq1 = gw.ingest_one(&single);

    // One in an array, one in NDJSON.
    let in_array = json!({
        "action": "credential.decrypt", "outcome": "success", "user": "bob",
        "details": {"nested": {"deeper": {"Access_Token": secrets[7]}}, "ok": 1},
    });
    let (status, body) = gw.post_events(INGEST_KEY, &json!([in_array]));
    assert_eq!(status, 200, "{body}");
    let seq2 = body["results"][0]["seq"].as_u64().unwrap_or_else(|| panic!("{body}"));
    let in_bulk = json!({
        "action": "api.call", "outcome": "failure", "user": "carol",
        "details": {"client_secret": secrets[8], "refresh-token": secrets[9]},
    });
    let (status, body) = gw.post_bulk(INGEST_KEY, &ndjson(&[in_bulk]));
    assert_eq!(status, 200, "{body}");
    let seq3 = body["results"][0]["seq"].as_u64().unwrap_or_else(|| panic!("{body}"));

    // The answers.
    let (status, rec) = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq1}"));
    assert_eq!(status, 200, "{rec}");
    let d = &rec["details"];
    assert_eq!(d["password"], MASK, "{rec}");
    assert_eq!(d["headers"]["Authorization"], MASK, "{rec}");
    assert_eq!(d["headers"]["Set-Cookie"], MASK, "{rec}");
    assert_eq!(d["headers"]["X-Trace"], "keep-me", "{rec}");
    assert_eq!(d["items"][0]["token"], MASK, "{rec}");
    assert_eq!(d["items"][0]["name"], "first", "{rec}");
    assert_eq!(d["PWD"], MASK, "{rec}");
    assert_eq!(d["cvv"], MASK, "{rec}");
    assert_eq!(d["secret"], MASK, "{rec}");
    assert_eq!(d["note"], control, "{rec}");
    assert_eq!(rec["changes"]["after"]["api-key"], MASK, "{rec}");
    assert_eq!(rec["changes"]["after"]["role"], "admin", "{rec}");
    assert_eq!(rec["changes"]["before"], json!({"role": "user"}), "{rec}");
    assert_eq!(rec["user"], "alice", "{rec}");
    assert_eq!(
        redacted_set(&rec),
        set(&[
            "/details/password",
            "/details/headers/Authorization",
            "/details/headers/Set-Cookie",
            "/details/items/0/token",
            "/details/PWD",
            "/details/cvv",
            "/details/secret",
            "/changes/after/api-key",
        ]),
        "{rec}"
    );

    let (status, rec) = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq2}"));
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["details"]["nested"]["deeper"]["Access_Token"], MASK, "{rec}");
    assert_eq!(rec["details"]["ok"], 1, "{rec}");
    assert_eq!(redacted_set(&rec), set(&["/details/nested/deeper/Access_Token"]), "{rec}");

    let (status, rec) = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq3}"));
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["details"]["client_secret"], MASK, "{rec}");
    assert_eq!(rec["details"]["refresh-token"], MASK, "{rec}");
    assert_eq!(redacted_set(&rec), set(&["/details/client_secret", "/details/refresh-token"]), "{rec}");

    // No answer of the query API holds a secret either.
    let (status, listing) = gw.get(AUDITOR_KEY, "/v1/events?limit=1000");
    assert_eq!(status, 200, "{listing}");
    let text = listing.to_string();
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "a secret is in GET /v1/events: {s}");
    }

    // On disk while running (after the 2xx: the events are durable by then) ...
    let files = gw.data_files();
    if files_containing(&files, control.as_bytes()).is_empty() {
        eprintln!(
            "note: the non-secret control value is not found as plain bytes in the data dir either \
             (compressed or encoded store?): the search for the secrets below proves less"
        );
    }
    assert_nowhere(&files, &secrets, "while running");
    // ... and once the process is gone and the files are settled.
    let mut gw = gw;
    gw.kill();
    assert_nowhere(&gw.data_files(), &secrets, "after SIGKILL");
    // And still redacted after a restart (the store was not rewritten from somewhere else).
    gw.restart();
    let (status, rec) = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq1}"));
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["details"]["password"], MASK, "{rec}");
    gw.kill();

    // Not part of the storage contract, but a secret in the gateway's own log is a leak too.
    let log = std::fs::read(gw.log_path()).unwrap_or_default();
    for s in &secrets {
        assert!(
            !log.windows(s.len()).any(|w| w == s.as_bytes()),
            "a secret is in the gateway's log (stderr): {s}"
        );
    }
}

#[test]
fn an_event_without_secrets_is_untouched() {
    let gw = Gateway::start_default();
    let event = json!({
        "action": "user.login", "outcome": "success", "user": "dave",
        "details": {"passwords_changed": 2, "tokenizer": "whitespace", "method": "password"},
    });
    let seq = gw.ingest_one(&event);
    let (status, rec) = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq}"));
    assert_eq!(status, 200, "{rec}");
    // Names that only contain a secret's name are not secrets, and no value looks like one.
    assert_eq!(rec["details"], event["details"], "{rec}");
    assert_eq!(rec["redacted"], json!([]), "{rec}");
}

#[test]
fn value_detectors_mask_secret_spans_inside_free_text() {
    let gw = Gateway::start_default();
    let card = unique_card();
    let spaced_card: String = card
        .as_bytes()
        .chunks(4)
        .map(|g| std::str::from_utf8(g).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ");
    let bearer = unique_token("tok-");
    let github = format!("ghp_{}", &unique_token("gh")[2..38]);
    let control = unique_token("control-");
    let event = json!({
        "action": "purchase.complete",
        "outcome": "failure",
        "user": "erin",
        "user_agent": format!("deploy-bot/2.1 (token {github})"),
        "details": {
            "note": format!("card {spaced_card} declined; retried with Authorization: Bearer {bearer}"),
            "ref": control,
        },
    });
    let seq = gw.ingest_one(&event);

    let (status, rec) = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq}"));
    assert_eq!(status, 200, "{rec}");
    assert_eq!(
        rec["details"]["note"],
        "card [REDACTED:card] declined; retried with Authorization: Bearer [REDACTED:bearer]",
        "{rec}"
    );
    assert_eq!(rec["user_agent"], "deploy-bot/2.1 (token [REDACTED:github_token])", "{rec}");
    assert_eq!(rec["details"]["ref"], control, "{rec}");
    assert_eq!(rec["user"], "erin", "{rec}");
    assert_eq!(redacted_set(&rec), set(&["/details/note", "/user_agent"]), "{rec}");
    let tags = tags(&rec);
    for tag in ["redacted:card", "redacted:bearer", "redacted:github_token"] {
        assert!(tags.contains(tag), "missing tag {tag}: {rec}");
    }

    // The secrets' bytes are nowhere in the data dir, in the form sent or as bare digits.
    let secrets = vec![spaced_card, card, bearer, github];
    let mut gw = gw;
    let files = gw.data_files();
    if files_containing(&files, control.as_bytes()).is_empty() {
        eprintln!("note: the control value is not found as plain bytes in the data dir either");
    }
    assert_nowhere(&files, &secrets, "while running");
    gw.kill();
    assert_nowhere(&gw.data_files(), &secrets, "after SIGKILL");
}

// ---- names as people write them: one table, two paths ------------------------------

/// The shared table (`tests/fixtures/secret-names.json`): names that must be redacted and
/// look-alikes that must not be.
fn name_table() -> (Vec<String>, Vec<String>) {
    let path = workspace_root().join("tests/fixtures/secret-names.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let table: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let list = |key: &str| -> Vec<String> {
        table[key]
            .as_array()
            .unwrap_or_else(|| panic!("no `{key}` list in the table"))
            .iter()
            .map(|v| v.as_str().unwrap_or_else(|| panic!("{v} is not a name")).to_string())
            .collect()
    };
    (list("secret"), list("harmless"))
}

/// One event putting `name` in four places: a member of `details`, a member of an object
/// inside an array, a `{name, value}` pair and a member of `changes.before`.
fn name_event(i: usize, name: &str) -> Value {
    json!({
        "id": format!("names-{i}"), "action": "api.call", "outcome": "success", "user": "name-table",
        "details": {
            name: format!("plain-{i}-a"),
            "deep": {"list": [{name: format!("plain-{i}-b")}]},
            "pairs": [{"name": name, "value": format!("plain-{i}-c")}],
        },
        "changes": {"before": {name: format!("plain-{i}-d")}, "after": {}},
    })
}

/// Whether `name` was masked in `event` (as stored or as `policy test` shows it): `Some`
/// when all four places agree.
fn name_masked(event: &Value, name: &str) -> Option<bool> {
    let places = [
        &event["details"][name],
        &event["details"]["deep"]["list"][0][name],
        &event["details"]["pairs"][0]["value"],
        &event["changes"]["before"][name],
    ];
    let masked: Vec<bool> = places.iter().map(|v| v.as_str() == Some(MASK)).collect();
    match (masked.iter().all(|&m| m), masked.iter().any(|&m| m)) {
        (true, _) => Some(true),
        (false, false) => Some(false),
        _ => None,
    }
}

#[test]
fn the_name_table_gives_one_answer_through_the_policy_alone_and_the_shipped_gateway() {
    let (secret, harmless) = name_table();
    assert!(
        secret.len() >= 40 && harmless.len() >= 20,
        "{} secret, {} harmless",
        secret.len(),
        harmless.len()
    );
    let names: Vec<(&String, bool)> =
        secret.iter().map(|n| (n, true)).chain(harmless.iter().map(|n| (n, false))).collect();
    let events: Vec<Value> = names.iter().enumerate().map(|(i, (n, _))| name_event(i, n)).collect();

    // Path 1: the compiled policy alone, its built-in defaults, in the gateway's engine.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("names.ndjson");
    std::fs::write(&file, ndjson(&events)).expect("write the events");
    let run = run_cli(
        ["policy", "test", "--policy", "builtin:redact-secrets", "--json", "--events"]
            .iter()
            .map(|s| s.to_string())
            .chain([file.display().to_string()]),
    );
    assert_eq!(run.code, Some(0), "policy test failed:\n{}\n{}", run.stdout, run.stderr);
    let alone: Vec<Value> = run.stdout.lines().map(json).collect();
    assert_eq!(alone.len(), names.len(), "{}", run.stdout);

    // Path 2: the real gateway with the repository's policy.toml.
    let gw = Gateway::start_default();
    let (status, body) = gw.post_bulk(INGEST_KEY, &ndjson(&events));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], names.len(), "{body}");
    let (status, listing) = gw.get(AUDITOR_KEY, "/v1/events?user=name-table&order=asc&limit=1000");
    assert_eq!(status, 200, "{listing}");
    let stored = listing["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(stored.len(), names.len(), "{listing}");

    let mut wrong = Vec::new();
    for (i, (name, want)) in names.iter().enumerate() {
        let by_policy = name_masked(&alone[i]["event"], name);
        let by_gateway = name_masked(&stored[i], name);
        if by_policy != Some(*want) || by_gateway != Some(*want) {
            wrong.push(format!(
                "`{name}`: want {}, policy alone {by_policy:?}, gateway {by_gateway:?}",
                if *want { "masked" } else { "kept" }
            ));
        }
    }
    assert!(wrong.is_empty(), "{} of {} names disagree:\n{}", wrong.len(), names.len(), wrong.join("\n"));
}

// ---- the reported event, and every place a value can land ---------------------------

#[test]
fn no_secret_reaches_the_store_logs_alerts_refusals_self_audit_or_exports() {
    let gw = Gateway::start_with(
        &default_config(),
        StartOptions { env: vec![("RUST_LOG".into(), "debug".into())], ..Default::default() },
    );
    let s: Vec<String> = (0..12).map(|i| unique_token(&format!("sek{i}-"))).collect();
    let jwt_for = |tag: &str| {
        let b64 = |t: &str| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, t);
        format!(
            "eyJhbGciOiJIUzI1NiJ9.{}.{}",
            b64(&format!("{{\"sub\":\"{tag}\"}}")),
            b64(&unique_token("sig-"))
        )
    };
    let (jwt_user, jwt_id, jwt_query) = (jwt_for("user"), jwt_for("id"), jwt_for("query"));
    let card = unique_card();

    // The event of the report: six secret-named headers and variables, in clear.
    let reported = json!({
        "action": "api.call", "outcome": "success", "user": "alice",
        "details": {
            "headers": {"X-Auth-Token": s[0], "HTTP_X_API_KEY": s[1], "clientSecret": s[2], "Accept": "*/*"},
            "env": {"db-password": s[3], "AWS_SECRET_ACCESS_KEY": s[4], "Proxy-Authorization": s[5]},
            // Secrets inside strings, and a card number sent as a float.
            "url": format!("https://api.example.com/cb?state=ok&access_token={}&page=2", s[6]),
            "raw": format!("GET / HTTP/1.1\r\nX-Api-Key: {}\r\nAccept: */*", s[7]),
            "dsn": format!("postgres://app:{}@db:5432/app", s[8]),
        },
    });
    // A card number sent as a float: raw JSON, `json!` would make it an integer.
    let body = reported.to_string().replacen("\"dsn\":", &format!("\"amount_raw\":{card}.0,\"dsn\":"), 1);
    assert!(body.contains(&format!("{card}.0")), "{body}");
    let (status, answer) = gw.post_events_raw(INGEST_KEY, body.into_bytes());
    assert_eq!(status, 200, "{answer}");
    let seq = answer["results"][0]["seq"].as_u64().unwrap_or_else(|| panic!("{answer}"));
    let rec = gw.record(seq);
    let d = &rec["details"];
    for (group, name) in [
        ("headers", "X-Auth-Token"),
        ("headers", "HTTP_X_API_KEY"),
        ("headers", "clientSecret"),
        ("env", "db-password"),
        ("env", "AWS_SECRET_ACCESS_KEY"),
        ("env", "Proxy-Authorization"),
    ] {
        assert_eq!(d[group][name], MASK, "{group}.{name}: {rec}");
    }
    assert_eq!(d["headers"]["Accept"], "*/*", "{rec}");
    assert_eq!(d["url"], "https://api.example.com/cb?state=ok&access_token=[REDACTED:named_secret]&page=2");
    assert_eq!(d["raw"], "GET / HTTP/1.1\r\nX-Api-Key: [REDACTED:named_secret]\r\nAccept: */*");
    assert_eq!(d["dsn"], "postgres://app:[REDACTED:named_secret]@db:5432/app");
    assert_eq!(d["amount_raw"], "[REDACTED:card]", "{rec}");

    // Refusals: a credential in `id` is refused, and the answer does not quote it.
    let (status, refused) =
        gw.post_events(INGEST_KEY, &json!({"id": jwt_id, "action": "api.call", "outcome": "success"}));
    assert_eq!(status, 422, "{refused}");
    let message = refused.to_string();
    assert!(message.contains("`id` holds a secret (jwt)"), "{message}");
    assert!(!message.contains(&jwt_id), "the refusal quotes the secret: {message}");

    // Alerts: five failed logins as a user name that is a JWT (typed into the login form),
    // and a lockout whose user tries to forge a log line.
    for _ in 0..5 {
        let (status, body) = gw.post_events(
            INGEST_KEY,
            &json!({"action": "user.login", "outcome": "failure", "user": jwt_user, "ip": "198.51.100.9"}),
        );
        assert_eq!(status, 200, "{body}");
    }
    let forged = unique_token("FORGED-");
    let (status, body) = gw.post_events(
        INGEST_KEY,
        &json!({"action": "account.lockout", "outcome": "success", "user": format!("bob\n{forged} alert: fake")}),
    );
    assert_eq!(status, 200, "{body}");
    let (status, alerts) = gw.get(AUDITOR_KEY, "/v1/alerts?limit=100");
    assert_eq!(status, 200, "{alerts}");
    let alert_text = alerts.to_string();
    assert!(alert_text.contains("bruteforce.user"), "no brute-force alert: {alerts}");
    assert!(alert_text.contains("[REDACTED:jwt]"), "the alert does not name the masked user: {alerts}");
    assert!(!alert_text.contains(&jwt_user), "a secret is in an alert: {alerts}");

    // Self-audit: an auditor searching with a secret, and a misspelled lookup parameter.
    let (status, _) = gw.get(AUDITOR_KEY, &format!("/v1/events?session_id={}&limit=1", enc(&jwt_query)));
    assert_eq!(status, 200);
    let (status, typo) = gw.get(AUDITOR_KEY, &format!("/v1/lookup?valeu={}", enc(&s[9])));
    assert_eq!(status, 400, "{typo}");
    let (status, own) = gw.get(AUDITOR_KEY, "/v1/events?source=auditgate&action=auditgate.access&limit=100");
    assert_eq!(status, 200, "{own}");
    let own_text = own.to_string();
    assert!(
        own_text.contains("[REDACTED:jwt]"),
        "the search is not recorded with its parameter masked: {own}"
    );
    assert!(own_text.contains("valeu_pseudonym"), "the misspelled lookup is not pseudonymized: {own}");

    // Exports read what was stored.
    let mut exported = String::new();
    for format in ["csv", "jsonl"] {
        let response = gw
            .client()
            .get(format!("{}/v1/export?format={format}", gw.base_url()))
            .bearer_auth(AUDITOR_KEY)
            .send()
            .expect("export");
        assert_eq!(response.status().as_u16(), 200);
        exported.push_str(&response.text().expect("export body"));
    }

    let secrets: Vec<String> =
        s.iter().take(10).cloned().chain([jwt_user, jwt_id, jwt_query, card]).collect();
    for text in [&exported, &own_text, &alert_text] {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "a secret is in an answer: {secret}");
        }
    }
    let mut gw = gw;
    assert!(gw.stop(), "the gateway did not stop cleanly");
    assert_nowhere(&gw.data_files(), &secrets, "after a clean stop");
    // The log at debug level: no secret, and no line the lockout's user forged.
    let log = std::fs::read_to_string(gw.log_path()).unwrap_or_default();
    assert!(log.contains("alert:"), "the log sink wrote no alert:\n{}", gw.log_tail(40));
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "a secret is in the debug log: {secret}");
    }
    assert!(!log.lines().any(|l| l.starts_with(&forged)), "an event forged a log line:\n{}", gw.log_tail(40));
}

// ---- what a configuration gives up is said before it serves ------------------------

#[test]
fn check_config_and_the_start_up_log_warn_when_redaction_is_weakened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shipped = dir.path().join("shipped.toml");
    std::fs::write(&shipped, default_config().replace(DATA_DIR_PLACEHOLDER, "\"data\"")).expect("write");
    let run = run_cli([OsStr::new("check-config"), OsStr::new("--config"), shipped.as_os_str()]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("warning"), "the shipped configuration warns:\n{}", run.stdout);

    // Redaction weakened every way there is: after another policy, limited by `actions`,
    // failing open, its names replaced and a detector off.
    let weakened = default_config()
        .replacen(
            "[[policy]]\nname = \"redact-secrets\"",
            "[[policy]]\nname = \"early\"\nmodule = \"builtin:enrich-context\"\n\n[[policy]]\nname = \"redact-secrets\"",
            1,
        )
        .replacen("on_error = \"reject\"", "on_error = \"skip\"\nactions = [\"user.*\"]", 1)
        ;
    let weakened = with_redaction_config(
        &weakened,
        "fields = [\"password\"]\nreplace_defaults = [\"fields\"]\ndetectors = { jwt = \"off\" }",
    );
    let path = dir.path().join("weakened.toml");
    std::fs::write(&path, weakened.replace(DATA_DIR_PLACEHOLDER, "\"data\"")).expect("write");
    let run = run_cli([OsStr::new("check-config"), OsStr::new("--config"), path.as_os_str()]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let warnings: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("warning: ")).collect();
    for needle in [
        "policy `redact-secrets`: `actions` limits it to [\"user.*\"]",
        "policy `redact-secrets`: on_error = \"skip\"",
        "policy `redact-secrets`: runs after [\"early\"]",
        "policy `redact-secrets`: `fields` replaces the built-in secret names",
        "policy `redact-secrets`: detectors turned off (jwt)",
    ] {
        assert!(warnings.iter().any(|w| w.contains(needle)), "no warning `{needle}` in:\n{}", run.stdout);
    }
    assert_eq!(warnings.len(), 5, "{}", run.stdout);

    let mut gw = Gateway::start(&weakened);
    let log = std::fs::read_to_string(gw.log_path()).unwrap_or_default();
    assert!(log.contains("`fields` replaces the built-in secret names"), "{}", gw.log_tail(40));
    assert!(
        log.contains("on_error = \\\"skip\\\"") || log.contains("on_error = \"skip\""),
        "{}",
        gw.log_tail(40)
    );
    assert_eq!(log.matches("`fields` replaces the built-in secret names").count(), 1, "said once:\n{log}");
    gw.kill();
}
