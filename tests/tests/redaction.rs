//! The default chain's `redact-secrets`: secrets are masked before anything is stored, the
//! masked paths are listed in `redacted`, and the secret's bytes are nowhere on disk.

use std::collections::BTreeSet;

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
