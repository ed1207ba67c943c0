//! Encryption at rest and crypto-shredding, on the real binary: personal fields are
//! sealed under per-subject keys wrapped by a master key; queries by user and IP still
//! work and answer plain values; the data directory holds none of them; `auditgate
//! verify` needs no key; a wrong or missing key, and a store of the other kind, are
//! refused at start-up by name; `POST /v1/admin/erase` shreds one subject. The policy
//! host's counters and state (brute-force counters per user and IP) name nobody either.

use auditgate_tests::*;
use reqwest::Method;
use serde_json::{Value, json};

/// A key file outside any data dir (kept alive by the returned guard).
fn key_file(digit: char) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("master.key");
    std::fs::write(&path, format!("{}\n", master_key(digit))).expect("write the key file");
    (dir, path)
}

fn erase(gw: &Gateway, key: &str, user: &str) -> (u16, Value) {
    let body = serde_json::to_vec(&json!({ "user": user })).expect("json");
    gw.request(Method::POST, "/v1/admin/erase", Auth::Bearer(key), Some(("application/json", body)))
}

fn record(gw: &Gateway, seq: u64) -> Value {
    let (status, body) = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq}"));
    assert_eq!(status, 200, "GET /v1/events/{seq}: {body}");
    body
}

#[test]
fn personal_fields_are_sealed_on_disk_and_read_back_plain() {
    let (_keys, key_path) = key_file('a');
    let mut gw = Gateway::start(&encrypted(&default_config(), &key_path));
    let alice = unique_token("enc-alice-");
    let bob = unique_token("enc-bob-");
    let ua = unique_token("EncTestAgent/9.1 ");
    let session = unique_token("enc-session-");
    let secret_note = unique_token("a details phrase ");
    let (alice_ip, bob_ip) = ("203.0.113.77", "198.51.100.203");
    let mut alice_seqs = Vec::new();
    for n in 0..3 {
        alice_seqs.push(gw.ingest_one(&json!({
            "action": "document.read",
            "outcome": "success",
            "user": alice,
            "ip": alice_ip,
            "user_agent": ua,
            "session_id": session,
            "resource_type": "document",
            "resource_id": format!("doc-{n}"),
            "details": {"note": secret_note, "n": n},
        })));
    }
    let bob_seq = gw.ingest_one(&json!({
        "action": "document.read", "outcome": "success", "user": bob, "ip": bob_ip,
    }));
    let anonymous = gw.ingest_one(&json!({"action": "system.start", "outcome": "success", "ip": bob_ip}));
    // Failed logins: alert-bruteforce keeps counters per user and per IP in the host's
    // trees, which must not name carol either.
    let carol = unique_token("enc-carol-");
    let carol_ip = "192.0.2.213";
    let login = json!({"action": "user.login", "outcome": "failure", "user": carol, "ip": carol_ip});
    for _ in 0..3 {
        gw.ingest_one(&login);
    }

    // Queries filter on the plain values and answer them.
    let by_user = gw.query_all(&format!("user={}", enc(&alice)), 2);
    let seqs: Vec<u64> = by_user.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(seqs, alice_seqs, "{by_user:?}");
    for e in &by_user {
        assert_eq!(e["user"], alice.as_str(), "{e}");
        assert_eq!(e["ip"], alice_ip, "{e}");
        assert_eq!(e["user_agent"], ua.as_str(), "{e}");
        assert_eq!(e["session_id"], session.as_str(), "{e}");
        assert_eq!(e["details"]["note"], secret_note.as_str(), "{e}");
        assert!(e.get("sealed").is_none(), "the envelope is not shown: {e}");
    }
    let by_ip: Vec<u64> =
        gw.query_all(&format!("ip={bob_ip}"), 10).iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(by_ip, vec![bob_seq, anonymous]);
    let newest: Vec<u64> = gw
        .query_all(&format!("user={}&session_id={}&order=desc", enc(&alice), enc(&session)), 100)
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    assert_eq!(newest, alice_seqs.iter().rev().copied().collect::<Vec<_>>());
    assert!(gw.query_all(&format!("user={}&ip={bob_ip}", enc(&alice)), 10).is_empty());
    assert_eq!(gw.query_all("resource_type=document&resource_id=doc-1", 10).len(), 1);
    let one = record(&gw, alice_seqs[1]);
    assert_eq!(one["user"], alice.as_str());
    assert_eq!(one["details"]["n"], 1);
    assert_eq!(record(&gw, anonymous)["ip"], bob_ip);

    // On disk: none of the personal values, in any file of the data directory.
    assert!(gw.stop(), "the gateway did not stop cleanly");
    {
        // Not vacuous for the host's trees: the brute-force counters are there.
        let db = sled::open(gw.data_dir()).expect("open the stopped data dir");
        let counters = db.open_tree("host_counters").expect("host_counters");
        let bruteforce = counters
            .iter()
            .keys()
            .filter_map(Result::ok)
            .filter(|k| k.windows(b"alert-bruteforce".len()).any(|w| w == b"alert-bruteforce"));
        assert!(bruteforce.count() >= 2, "no per-user and per-IP counters were persisted");
    }
    let files = gw.data_files();
    assert!(!files.is_empty());
    for value in
        [alice.as_str(), bob.as_str(), carol.as_str(), ua.as_str(), session.as_str(), secret_note.as_str()]
    {
        let found = files_containing(&files, value.as_bytes());
        assert!(found.is_empty(), "{value:?} is stored in plain text in {found:?}");
    }
    for ip in [alice_ip, bob_ip, carol_ip] {
        let found = files_containing(&files, ip.as_bytes());
        assert!(found.is_empty(), "{ip} is stored in plain text in {found:?}");
    }
    // Not a vacuous grep: the non-personal values are there.
    assert!(!files_containing(&files, b"document.read").is_empty());

    // Verification reads the stored (sealed) bytes: no key needed.
    let verified = gw.verify_offline();
    assert_eq!(verified.code, Some(0), "verify failed:\n{}\n{}", verified.stdout, verified.stderr);

    // The same key again: everything reads back, and the hashed counters count on: two
    // more failures make carol's fifth, the brute-force threshold.
    gw.restart();
    assert_eq!(record(&gw, alice_seqs[0])["user_agent"], ua.as_str());
    let (_, alerts) = gw.get(AUDITOR_KEY, "/v1/alerts?rule=bruteforce.user");
    assert_eq!(alerts["alerts"].as_array().map(Vec::len), Some(0), "{alerts}");
    for _ in 0..2 {
        gw.ingest_one(&login);
    }
    let (_, alerts) = gw.get(AUDITOR_KEY, "/v1/alerts?rule=bruteforce.user");
    assert_eq!(alerts["alerts"][0]["labels"]["user"], carol.as_str(), "{alerts}");
}

#[test]
fn the_master_key_may_come_from_the_environment() {
    let config = default_config().replacen("[storage]\n", "[storage]\nencryption = true\n", 1);
    let gw = Gateway::start_with(
        &config,
        StartOptions {
            env: vec![("AUDITGATE_MASTER_KEY".into(), master_key('e'))],
            ..StartOptions::default()
        },
    );
    let user = unique_token("env-user-");
    let seq = gw.ingest_one(&json!({"action": "document.read", "outcome": "success", "user": user}));
    assert_eq!(record(&gw, seq)["user"], user.as_str());
    let files = gw.data_files();
    assert!(files_containing(&files, user.as_bytes()).is_empty());
}

#[test]
fn a_wrong_or_missing_key_and_the_other_kind_of_store_are_refused() {
    let (_keys, key_path) = key_file('b');
    let mut gw = Gateway::start(&encrypted(&default_config(), &key_path));
    let user = unique_token("keyed-");
    let seq = gw.ingest_one(&json!({"action": "document.read", "outcome": "success", "user": user}));
    assert!(gw.stop());
    // The instance's config, with its data dir filled in.
    let config = std::fs::read_to_string(gw.config_path()).expect("config");

    // Another key: refused, naming both key ids, before listening.
    std::fs::write(&key_path, master_key('c')).expect("write the wrong key");
    let (status, stderr) = serve_until_exit(&config);
    assert!(!status.success());
    assert!(stderr.contains("master key") && stderr.contains("is not the one"), "{stderr}");
    assert!(!stderr.contains(&master_key('c')[..16]), "the key leaked: {stderr}");

    // No key at all.
    let (status, stderr) =
        serve_until_exit(&config.replace(&*key_path.to_string_lossy(), "/nonexistent/m.key"));
    assert!(!status.success());
    assert!(stderr.contains("/nonexistent/m.key"), "{stderr}");

    // Encryption off on an encrypted store.
    let plain = config.replacen("encryption = true\n", "encryption = false\n", 1);
    let (status, stderr) = serve_until_exit(&plain);
    assert!(!status.success());
    assert!(stderr.contains("encrypted store") && stderr.contains("storage.encryption = true"), "{stderr}");

    // The right key again: nothing was harmed.
    std::fs::write(&key_path, master_key('b')).expect("write the key");
    gw.restart();
    assert_eq!(record(&gw, seq)["user"], user.as_str());
}

#[test]
fn a_plain_store_refuses_encryption() {
    let mut gw = Gateway::start_default();
    gw.ingest_one(&json!({"action": "document.read", "outcome": "success", "user": "plain-pat"}));
    assert!(gw.stop());
    let config = std::fs::read_to_string(gw.config_path()).expect("config");
    let (_keys, key_path) = key_file('d');
    let (status, stderr) = serve_until_exit(&encrypted(&config, &key_path));
    assert!(!status.success());
    assert!(stderr.contains("created without encryption"), "{stderr}");
    // The plain store still opens as it was.
    gw.restart();
    assert_eq!(gw.count_events(), 1);
    // And erasure has nothing to shred there.
    let (status, body) = erase(&gw, ADMIN_KEY, "plain-pat");
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_code(&body), "not_encrypted");
}

#[test]
fn the_master_key_file_must_live_outside_the_data_dir() {
    let config = default_config()
        .replacen("[storage]\n", "[storage]\nencryption = true\nmaster_key_file = \"/tmp/x/data/m.key\"\n", 1)
        .replace(DATA_DIR_PLACEHOLDER, "\"/tmp/x/data\"");
    let (status, stderr) = serve_until_exit(&config);
    assert!(!status.success());
    assert!(stderr.contains("storage.master_key_file") && stderr.contains("outside"), "{stderr}");
}

#[test]
fn erasure_shreds_one_subject_and_keeps_the_log_verifiable() {
    let (_keys, key_path) = key_file('f');
    let mut gw = Gateway::start(&encrypted(&default_config(), &key_path));
    let alice = unique_token("erase-alice-");
    let bob = unique_token("erase-bob-");
    let event = |user: &str, ip: &str| {
        json!({"action": "document.read", "outcome": "success", "user": user, "ip": ip,
               "details": {"note": "personal"}})
    };
    let a1 = gw.ingest_one(&event(&alice, "203.0.113.5"));
    let b1 = gw.ingest_one(&event(&bob, "203.0.113.6"));
    let a2 = gw.ingest_one(&event(&alice, "203.0.113.5"));
    // Alerts raised for a subject are sealed under its key too.
    for n in 1..=5 {
        gw.ingest_one(&json!({"action": "user.login", "outcome": "failure", "user": alice,
                              "ip": format!("192.0.2.{n}")}));
    }
    let (_, alerts) = gw.get(AUDITOR_KEY, "/v1/alerts?rule=bruteforce.user");
    assert_eq!(alerts["alerts"][0]["labels"]["user"], alice.as_str(), "{alerts}");

    let (status, body) = erase(&gw, AUDITOR_KEY, &alice);
    assert_eq!(status, 403, "{body}");
    let (status, body) = erase(&gw, ADMIN_KEY, "");
    assert_eq!(status, 400, "{body}");
    let (status, body) = erase(&gw, ADMIN_KEY, &alice);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["key_destroyed"], true, "{body}");
    assert!(body["index_entries_removed"].as_u64().unwrap_or(0) >= 4, "user and ip entries: {body}");
    let erasure_seq = body["seq"].as_u64().expect("seq");

    // Alice's events read back with every personal field erased; the rest stays.
    for seq in [a1, a2] {
        let r = record(&gw, seq);
        for field in ["user", "ip", "details"] {
            assert_eq!(r[field], "[erased]", "{field} of {seq}: {r}");
        }
        assert_eq!(r["action"], "document.read");
        assert_eq!(r["seq"], seq);
    }
    let (_, alerts) = gw.get(AUDITOR_KEY, "/v1/alerts?rule=bruteforce.user");
    assert_eq!(alerts["alerts"][0]["labels"], "[erased]", "{alerts}");
    assert!(gw.query_all(&format!("user={}", enc(&alice)), 10).is_empty());
    assert_eq!(record(&gw, b1)["user"], bob.as_str());
    assert_eq!(record(&gw, b1)["details"]["note"], "personal");

    // The erasure is in the log: who asked, which subject (by its keyed hash only).
    let erasure = record(&gw, erasure_seq);
    assert_eq!(erasure["action"], "auditgate.subject.erase", "{erasure}");
    assert_eq!(erasure["user"], "dev-admin");
    assert_eq!(erasure["source"], "auditgate");
    assert_eq!(erasure["resource_id"], body["subject_ref"]);
    assert!(!erasure.to_string().contains(&alice), "{erasure}");

    // Erasing again destroys nothing but is audited again.
    let (status, again) = erase(&gw, ADMIN_KEY, &alice);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["key_destroyed"], false);

    // A later event of the same subject gets a new key and reads back.
    let a3 = gw.ingest_one(&event(&alice, "203.0.113.5"));
    let found: Vec<u64> =
        gw.query_all(&format!("user={}", enc(&alice)), 10).iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(found, vec![a3]);

    // Durable across a restart; the chain and checkpoints still verify without keys.
    assert!(gw.stop());
    let verified = gw.verify_offline();
    assert_eq!(verified.code, Some(0), "verify failed:\n{}\n{}", verified.stdout, verified.stderr);
    gw.restart();
    assert_eq!(record(&gw, a1)["user"], "[erased]");
    assert_eq!(record(&gw, a3)["user"], alice.as_str());
    let (status, report) = gw.get(AUDITOR_KEY, "/v1/verify");
    assert_eq!(status, 200, "{report}");
}
