//! Secrets hygiene: the real gateway, given known secrets (API keys, the pseudonymization
//! key, the checkpoint signing key, the master key of its encrypted store and the new one
//! it is rotated to), driven through ingest, queries, refused near-miss keys, a master key
//! rotation (`auditgate keys rotate-master`, also at debug level) and a restart at
//! `RUST_LOG=debug`, never prints any of them (nor their hex or base64 forms, nor a
//! 16-character piece of them) on stderr, stdout or in an answer.

use auditgate_tests::*;
use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde_json::Value;

/// The shortest piece of a secret the output may not contain.
const WINDOW: usize = 16;

/// Every text form in which `bytes` could leak: the bytes as text (when they are), hex
/// (both cases) and base64 (standard, unpadded, URL-safe).
fn forms(bytes: &[u8]) -> Vec<String> {
    let mut out = vec![hex::encode(bytes), hex::encode_upper(bytes), STANDARD.encode(bytes)];
    out.push(STANDARD_NO_PAD.encode(bytes));
    out.push(URL_SAFE_NO_PAD.encode(bytes));
    if let Ok(text) = std::str::from_utf8(bytes) {
        out.push(text.to_string());
    }
    out
}

/// Every `WINDOW`-byte piece of every form of every secret, with the secret's name.
fn pieces(secrets: &[(&'static str, Vec<String>)]) -> HashMap<Vec<u8>, &'static str> {
    let mut out = HashMap::new();
    for (label, forms) in secrets {
        for form in forms {
            for w in form.as_bytes().windows(WINDOW.min(form.len())) {
                out.insert(w.to_vec(), *label);
            }
        }
    }
    out
}

/// The secrets some piece of which occurs in `haystack` (one scan of it, however many
/// pieces: the debug log of two starts is tens of megabytes).
fn leaks(haystack: &str, pieces: &HashMap<Vec<u8>, &'static str>) -> Vec<String> {
    let mut found = Vec::new();
    for w in haystack.as_bytes().windows(WINDOW) {
        if let Some(label) = pieces.get(w) {
            found.push(format!("{label}: {:?}", String::from_utf8_lossy(w)));
        }
    }
    found.dedup();
    found
}

#[test]
fn no_secret_reaches_logs_stdout_or_answers() {
    // The secrets, known to the test.
    let ingest_key = unique_token("ingest-secret-");
    let auditor_key = unique_token("auditor-secret-");
    let admin_key = unique_token("admin-secret-");
    let pseudonym_key: [u8; 32] = {
        let h = sha256_hex(unique_token("pseudonym-").as_bytes());
        hex::decode(h).expect("hex").try_into().expect("32 bytes")
    };
    let keygen = run_cli(["keygen"]);
    assert_eq!(keygen.code, Some(0), "keygen: {}", keygen.stderr);
    let signing_key = keygen.stdout.lines().next().expect("the secret line").trim().to_string();
    let public_key = keygen.stdout.lines().nth(1).expect("the public line").trim().to_string();
    // PRIVATE+KEY+<name>+<id>+<base64>: the name has no '+', the base64 may.
    let rest = signing_key.strip_prefix("PRIVATE+KEY+").expect("a signing key");
    let signing_secret = rest.splitn(3, '+').nth(2).expect("base64 part").to_string();
    let seed = STANDARD.decode(&signing_secret).expect("base64 signing key");

    let dir = tempfile::tempdir().expect("tempdir");
    let pseudonym_file = dir.path().join("pseudonym.key");
    std::fs::write(&pseudonym_file, hex::encode(pseudonym_key)).expect("write the pseudonym key");
    // Encryption at rest: the master key, and the one it is rotated to after round 1.
    let master_key = |prefix: &str| -> [u8; 32] {
        hex::decode(sha256_hex(unique_token(prefix).as_bytes())).expect("hex").try_into().expect("32 bytes")
    };
    let (old_master, new_master) = (master_key("master-"), master_key("new-master-"));
    let (master_file, new_master_file) = (dir.path().join("master.key"), dir.path().join("new-master.key"));
    std::fs::write(&master_file, hex::encode(old_master)).expect("write the master key");
    std::fs::write(&new_master_file, hex::encode(new_master)).expect("write the new master key");

    let mut config = default_config();
    for (name, role, key) in [
        ("hyg-ingest", "ingest", &ingest_key),
        ("hyg-auditor", "auditor", &auditor_key),
        ("hyg-admin", "admin", &admin_key),
    ] {
        config = with_key(&config, name, role, key);
    }
    // E-mail addresses are pseudonymized, so the HMAC key is used on every such event.
    let config = with_redaction_config(&config, "detectors = { email = \"pseudonymize\" }");
    let env = vec![
        ("RUST_LOG".to_string(), "debug".to_string()),
        ("AUDITGATE_CHECKPOINTS__KEY".to_string(), signing_key.clone()),
        ("AUDITGATE_CHECKPOINTS__EVERY_EVENTS".to_string(), "2".to_string()),
        ("AUDITGATE_ENGINE__PSEUDONYM_KEY_FILE".to_string(), pseudonym_file.display().to_string()),
        ("AUDITGATE_STORAGE__ENCRYPTION".to_string(), "true".to_string()),
        ("AUDITGATE_STORAGE__MASTER_KEY_FILE".to_string(), master_file.display().to_string()),
    ];
    let mut gw = Gateway::start_with(&config, StartOptions { env, ..Default::default() });

    let mut answers: Vec<Value> = Vec::new();
    let mut drive = |gw: &Gateway, round: u32| {
        let email = format!("person{round}@example.com");
        let event = json(&format!(
            r#"{{"action":"user.login","outcome":"failure","user":"u{round}","ip":"203.0.113.9","details":{{"contact":"{email}","password":"hunter2"}}}}"#
        ));
        let (status, body) = gw.post_events(&ingest_key, &event);
        assert_eq!(status, 200, "{body}");
        answers.push(body);
        let bulk: Vec<Value> = (0..5)
            .map(|i| json(&format!(r#"{{"action":"file.read","outcome":"success","user":"b{round}-{i}"}}"#)))
            .collect();
        let (status, body) = gw.post_bulk(&ingest_key, &ndjson(&bulk));
        assert_eq!(status, 200, "{body}");
        answers.push(body);

        // The key is in use: the stored address is the HMAC under our key.
        let (status, body) = gw.get(&auditor_key, &format!("/v1/events?user=u{round}"));
        assert_eq!(status, 200, "{body}");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&pseudonym_key).expect("hmac key");
        mac.update(email.as_bytes());
        let want = format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(body["events"][0]["details"]["contact"], Value::String(want), "{body}");
        answers.push(body);

        for path in
            ["/v1/events?limit=50", "/v1/alerts", "/v1/verify", "/v1/checkpoint", "/v1/events/1/proof"]
        {
            let (status, body) = gw.get(&auditor_key, path);
            assert!(status == 200 || status == 404, "GET {path}: {status} {body}");
            answers.push(body);
        }
        let (status, body) = gw.get(&admin_key, "/v1/quarantine");
        assert_eq!(status, 200, "GET /v1/quarantine: {body}");
        answers.push(body);

        // Wrong role, and near misses of every key in every way a client gets it wrong.
        let (status, body) = gw.get(&ingest_key, "/v1/events");
        assert_eq!(status, 403, "{body}");
        answers.push(body);
        for key in [&ingest_key, &auditor_key, &admin_key] {
            let mut flipped = key.clone();
            let last = flipped.pop().expect("non-empty");
            flipped.push(if last == '0' { '1' } else { '0' });
            let near_misses = [
                flipped,
                key[..key.len() - 1].to_string(),
                format!("{key}x"),
                key.to_uppercase(),
                format!("{}{}", &key[..10], &key[11..]),
            ];
            for near in &near_misses {
                let (status, body) = gw.get(near, "/v1/events");
                assert_eq!(status, 401, "{body}");
                answers.push(body);
                let (status, body) = gw.post_events(near, &json(r#"{"action":"a","outcome":"success"}"#));
                assert_eq!(status, 401, "{body}");
                answers.push(body);
            }
            for header in [key.to_string(), format!("Basic {}", STANDARD.encode(key)), format!("Token {key}")]
            {
                let (status, body) = gw.request(reqwest::Method::GET, "/v1/events", Auth::Raw(&header), None);
                assert_eq!(status, 401, "{body}");
                answers.push(body);
            }
        }
    };
    drive(&gw, 1);
    // The master key is rotated by the CLI (itself at debug level), then the new key is
    // installed; the restart loads every other secret again from env and files.
    let rotation = std::process::Command::new(binary_path())
        .args(["keys", "rotate-master", "--url", &gw.base_url(), "--key", &admin_key, "--new-key-file"])
        .arg(&new_master_file)
        .env("RUST_LOG", "debug")
        .output()
        .expect("run keys rotate-master");
    let cli_out = format!(
        "{}\n{}",
        String::from_utf8_lossy(&rotation.stdout),
        String::from_utf8_lossy(&rotation.stderr)
    );
    assert!(rotation.status.success(), "rotate-master failed: {cli_out}");
    assert!(gw.stop(), "graceful stop");
    std::fs::copy(&new_master_file, &master_file).expect("install the new master key");
    gw.restart();
    drive(&gw, 2);
    assert!(gw.stop(), "graceful stop");

    let stderr = std::fs::read_to_string(gw.log_path()).expect("the gateway's log");
    let stdout = std::fs::read_to_string(gw.stdout_path()).expect("the gateway's stdout");
    let answers = serde_json::to_string(&answers).expect("answers as text");
    // The log is really at debug level, and the signing key really is ours.
    assert!(stderr.contains("DEBUG"), "RUST_LOG=debug must give debug lines:\n{stderr}");
    assert!(stdout.contains(&public_key), "the gateway signs with the given key:\n{stdout}");
    assert_eq!(gw.starts(), 2);
    assert!(stderr.contains("encryption at rest") && stderr.contains("master key rotated"), "{stderr}");

    let mut secrets: Vec<(&'static str, Vec<String>)> = vec![
        ("ingest key", forms(ingest_key.as_bytes())),
        ("auditor key", forms(auditor_key.as_bytes())),
        ("admin key", forms(admin_key.as_bytes())),
        ("pseudonymization key", forms(&pseudonym_key)),
        ("checkpoint signing key", forms(&seed)),
    ];
    // The seed alone (after the 0x01 algorithm byte), in case it is printed on its own.
    secrets.push(("checkpoint signing seed", forms(&seed[1..])));
    secrets.push(("master key", forms(&old_master)));
    secrets.push(("new master key", forms(&new_master)));
    let pieces = pieces(&secrets);
    let mut found = Vec::new();
    for (where_, text) in
        [("stderr", &stderr), ("stdout", &stdout), ("answers", &answers), ("rotate-master output", &cli_out)]
    {
        found.extend(leaks(text, &pieces).into_iter().take(20).map(|l| format!("{where_}: {l}")));
    }
    assert!(found.is_empty(), "secrets leaked:\n{}", found.join("\n"));
    // The scan does see a key when a text holds one.
    assert!(!leaks(&format!("x{ingest_key}y"), &pieces).is_empty());
}
