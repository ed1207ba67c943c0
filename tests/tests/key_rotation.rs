//! Online master key rotation on the real binary: `auditgate keys rotate-master` while
//! clients ingest; every event reads back plain; the old key is refused at the next start
//! by id, the new one works; `auditgate verify` passes; wrong role, bad key text, the key
//! in use, a plain store and plain HTTP beyond loopback are refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use auditgate_tests::*;
use reqwest::Method;
use serde_json::{Value, json};

fn rotate(gw: &Gateway, key: &str, body: &[u8]) -> (u16, Value) {
    gw.request(
        Method::POST,
        "/v1/admin/keys/rotate-master",
        Auth::Bearer(key),
        Some(("application/json", body.to_vec())),
    )
}

fn rotate_to(gw: &Gateway, key: &str, new: &str) -> (u16, Value) {
    rotate(gw, key, json!({ "new_master_key": new }).to_string().as_bytes())
}

/// Ingests one event per request for `user` until `stop`; answers the acknowledged seqs.
fn ingest_until(
    gw: &Gateway,
    user: String,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<(u64, String)>> {
    let (client, url) = (gw.client(), format!("{}/v1/events", gw.base_url()));
    std::thread::spawn(move || {
        let mut acked = Vec::new();
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let event = json!({"action": "document.read", "outcome": "success", "user": user,
                               "ip": "203.0.113.44", "details": {"n": n}});
            let response = client.post(&url).bearer_auth(INGEST_KEY).json(&event).send().expect("ingest");
            assert_eq!(response.status().as_u16(), 200, "ingest during the rotation failed");
            let body: Value = response.json().expect("json");
            acked.push((body["results"][0]["seq"].as_u64().expect("seq"), user.clone()));
        }
        acked
    })
}

#[test]
fn rotation_while_ingesting_retires_the_old_master_key() {
    let keys = tempfile::tempdir().expect("tempdir");
    let (key_path, new_key_path) = (keys.path().join("master.key"), keys.path().join("new.key"));
    std::fs::write(&key_path, format!("{}\n", master_key('1'))).expect("write the key");
    std::fs::write(&new_key_path, format!("{}\n", master_key('2'))).expect("write the new key");
    let mut gw = Gateway::start(&encrypted(&default_config(), &key_path));

    // Twenty subjects, each with its own data key, before the rotation.
    let mut acked: Vec<(u64, String)> = Vec::new();
    for n in 0..20 {
        let user = unique_token(&format!("rot-user{n}-"));
        let seq = gw.ingest_one(&json!({"action": "document.read", "outcome": "success", "user": user}));
        acked.push((seq, user));
    }
    // Two clients keep ingesting (new subjects among them) while the key is rotated.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> =
        (0..2).map(|n| ingest_until(&gw, unique_token(&format!("rot-live{n}-")), stop.clone())).collect();
    std::thread::sleep(Duration::from_millis(300));
    let cli = run_cli([
        "keys",
        "rotate-master",
        "--url",
        &gw.base_url(),
        "--key",
        ADMIN_KEY,
        "--new-key-file",
        &new_key_path.to_string_lossy(),
    ]);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        acked.extend(w.join().expect("writer"));
    }
    assert_eq!(cli.code, Some(0), "rotate-master failed:\n{}\n{}", cli.stdout, cli.stderr);
    for secret in [master_key('1'), master_key('2')] {
        assert!(!cli.stdout.contains(&secret[..16]) && !cli.stderr.contains(&secret[..16]), "{cli:?}");
    }
    let rewrapped: u64 = cli
        .stdout
        .split(" keys re-wrapped")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count in {:?}", cli.stdout));
    // The 20 subjects' keys and the index and host keys at least (a live writer's subject
    // may have got its key just after the swap).
    assert!(rewrapped >= 22, "{}", cli.stdout);

    // The rotation is in the log: who, both ids, never a key.
    let rotations = gw.query_all("action=auditgate.keys.rotate", 10);
    assert_eq!(rotations.len(), 1, "{rotations:?}");
    let event = &rotations[0];
    assert_eq!(event["user"], "dev-admin", "{event}");
    let (old_id, new_id) = (
        event["details"]["old_master_key_id"].as_str().expect("old id").to_owned(),
        event["details"]["new_master_key_id"].as_str().expect("new id").to_owned(),
    );
    assert_ne!(old_id, new_id);
    assert_eq!(event["resource_id"], new_id.as_str());
    assert_eq!(event["details"]["keys_rewrapped"], rewrapped);
    assert!(cli.stdout.contains(&old_id) && cli.stdout.contains(&new_id), "{}", cli.stdout);
    for secret in [master_key('1'), master_key('2')] {
        assert!(!event.to_string().contains(&secret[..16]), "{event}");
    }

    // Every acknowledged event, from before, during and after the swap, reads back plain.
    assert!(acked.len() > 22, "the writers stored nothing during the rotation");
    for (seq, user) in &acked {
        assert_eq!(gw.record(*seq)["user"], user.as_str(), "seq {seq}");
    }
    assert_eq!(gw.query_all(&format!("user={}", enc(&acked[3].1)), 10).len(), 1);

    // The old key no longer opens the store, refused by id before listening.
    assert!(gw.stop(), "the gateway did not stop cleanly");
    let config = std::fs::read_to_string(gw.config_path()).expect("config");
    let (status, stderr) = serve_until_exit(&config);
    assert!(!status.success());
    assert!(
        stderr.contains(&old_id) && stderr.contains(&new_id) && stderr.contains("is not the one"),
        "{stderr}"
    );

    // The new key does; queries decrypt; new subjects get keys; the log verifies.
    std::fs::copy(&new_key_path, &key_path).expect("install the new key");
    gw.restart();
    for (seq, user) in acked.iter().step_by(7) {
        assert_eq!(gw.record(*seq)["user"], user.as_str(), "seq {seq} after the restart");
    }
    let found = gw.query_all(&format!("user={}", enc(&acked[0].1)), 10);
    assert_eq!(seqs(&found), vec![acked[0].0]);
    let later = unique_token("rot-later-");
    let seq = gw.ingest_one(&json!({"action": "document.read", "outcome": "success", "user": later}));
    assert_eq!(gw.record(seq)["user"], later.as_str());
    assert!(gw.stop());
    let verified = gw.verify_offline();
    assert_eq!(verified.code, Some(0), "verify failed:\n{}\n{}", verified.stdout, verified.stderr);
    // Neither key is anywhere in the data directory.
    let files = gw.data_files();
    for secret in [master_key('1'), master_key('2')] {
        assert!(files_containing(&files, &secret.as_bytes()[..16]).is_empty());
    }
}

#[test]
fn bad_rotations_are_refused_and_change_nothing() {
    let keys = tempfile::tempdir().expect("tempdir");
    let key_path = keys.path().join("master.key");
    std::fs::write(&key_path, master_key('3')).expect("write the key");
    let mut gw = Gateway::start(&encrypted(&default_config(), &key_path));
    let user = unique_token("rot-refused-");
    let seq = gw.ingest_one(&json!({"action": "document.read", "outcome": "success", "user": user}));

    for key in [AUDITOR_KEY, INGEST_KEY] {
        let (status, body) = rotate_to(&gw, key, &master_key('4'));
        assert_error(status, &body, 403, "forbidden", &[]);
    }
    // Bad key text: 400, never repeated in the answer.
    let near = format!("{}zz", &master_key('5')[..62]);
    let short = master_key('6')[..40].to_string();
    for text in [near.as_str(), short.as_str(), ""] {
        let (status, body) = rotate_to(&gw, ADMIN_KEY, text);
        assert_error(status, &body, 400, "invalid_master_key", &["new_master_key", "64 hex digits"]);
        assert!(text.len() < 16 || !body.to_string().contains(&text[..16]), "echoed: {body}");
    }
    let number = br#"{"new_master_key": 5555555555555555555555}"#;
    for body in [&b"not json"[..], b"{}", number, br#"{"new_master_key": "x", "other": 1}"#] {
        let (status, answer) = rotate(&gw, ADMIN_KEY, body);
        assert_error(status, &answer, 400, "invalid_json", &["new_master_key"]);
        assert!(!answer.to_string().contains("5555555555555555"), "echoed: {answer}");
    }
    // The key in use: nothing to rotate.
    let (status, body) = rotate_to(&gw, ADMIN_KEY, &master_key('3'));
    assert_error(status, &body, 409, "same_master_key", &["in use"]);

    // The CLI refuses plain HTTP beyond loopback before connecting, and a missing key.
    let new_key = keys.path().join("new.key");
    std::fs::write(&new_key, master_key('7')).expect("write");
    let cli = run_cli([
        "keys",
        "rotate-master",
        "--url",
        "http://192.0.2.10:8080",
        "--key",
        ADMIN_KEY,
        "--new-key-file",
        &new_key.to_string_lossy(),
    ]);
    assert_ne!(cli.code, Some(0));
    assert!(cli.stderr.contains("https://") && cli.stderr.contains("in the clear"), "{}", cli.stderr);
    let cli = run_cli(["keys", "rotate-master", "--url", &gw.base_url(), "--key", ADMIN_KEY]);
    assert_ne!(cli.code, Some(0));
    assert!(cli.stderr.contains("AUDITGATE_NEW_MASTER_KEY"), "{}", cli.stderr);
    // A wrong admin key: the gateway's refusal is shown.
    let cli = run_cli([
        "keys",
        "rotate-master",
        "--url",
        &gw.base_url(),
        "--key",
        AUDITOR_KEY,
        "--new-key-file",
        &new_key.to_string_lossy(),
    ]);
    assert_ne!(cli.code, Some(0));
    assert!(cli.stderr.contains("403") && cli.stderr.contains("forbidden"), "{}", cli.stderr);

    // Nothing changed: the old key still opens the store after a restart.
    assert!(gw.query_all("action=auditgate.keys.rotate", 10).is_empty());
    gw.restart();
    assert_eq!(gw.record(seq)["user"], user.as_str());

    // The new key from the environment, the CLI's other source.
    let out = std::process::Command::new(binary_path())
        .args(["keys", "rotate-master", "--url", &gw.base_url(), "--key", ADMIN_KEY])
        .env("AUDITGATE_NEW_MASTER_KEY", master_key('8'))
        .output()
        .expect("run the CLI");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(gw.query_all("action=auditgate.keys.rotate", 10).len(), 1);
}

#[test]
fn a_plain_store_has_no_master_key_to_rotate() {
    let gw = Gateway::start_default();
    let (status, body) = rotate_to(&gw, ADMIN_KEY, &master_key('9'));
    assert_error(status, &body, 409, "not_encrypted", &["storage.encryption"]);
}
