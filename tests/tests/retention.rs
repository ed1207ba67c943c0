//! Retention, archive segments and legal holds, on the real binary: records older than a
//! tiny retention are archived by `auditgate retention run` (and by the job in `serve`),
//! the segment proves against its signed checkpoint and names a changed byte, `auditgate
//! verify` passes on what remains, and legal holds keep records and refuse erasure.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use auditgate_tests::*;
use serde_json::{Value, json};

/// Seconds a record must have been received ago to be archived.
const RETENTION_SECS: f64 = 4.0;

/// The default config with retention after `RETENTION_SECS` into `<tmp>/archive`, the job
/// in `serve` on or off, and `extra` appended.
fn config(archive: &Path, job: bool, interval_secs: u64, extra: &str) -> String {
    format!(
        "{}\n[retention]\nenabled = {job}\nretention_days = {}\narchive_dir = {}\ninterval_secs = {interval_secs}\n{extra}",
        default_config(),
        RETENTION_SECS / 86_400.0,
        toml_str(&archive.to_string_lossy()),
    )
}

fn event(user: &str, n: usize) -> Value {
    json!({"action": "user.login", "outcome": "success", "user": user, "details": {"n": n}})
}

/// The public key the gateway printed at start-up.
fn public_key(gw: &Gateway) -> String {
    let log = std::fs::read_to_string(gw.log_path()).expect("log");
    log.lines()
        .rev()
        .find_map(|l| l.split(" key=").nth(1)?.split_whitespace().next().map(str::to_string))
        .expect("the checkpoint public key in the log")
}

fn segments(archive: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(archive)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("segment-")));
    out.sort();
    out
}

fn manifest(segment: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(segment.join("manifest.json")).expect("manifest")).expect("JSON")
}

fn records_of(segment: &Path) -> Vec<Vec<u8>> {
    let compressed = std::fs::read(segment.join("records.jsonl.zst")).expect("records file");
    let text = zstd::decode_all(compressed.as_slice()).expect("zstd");
    text.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
}

fn archive_verify(segment: &Path, key: &str) -> CliRun {
    run_cli(["archive", "verify", &segment.display().to_string(), "--public-key", key])
}

fn retention_run(gw: &Gateway) -> CliRun {
    let run = run_cli(["retention", "run", "--config", &gw.config_path().display().to_string()]);
    assert_eq!(run.code, Some(0), "retention run: {}\n{}", run.stdout, run.stderr);
    run
}

fn seqs_of_source(gw: &Gateway) -> Vec<u64> {
    gw.query_all(&format!("source={INGEST_NAME}"), 1000).iter().filter_map(|e| e["seq"].as_u64()).collect()
}

/// A copy of a segment directory to damage.
fn copy_segment(segment: &Path, to: &Path) -> PathBuf {
    let dest = to.join(segment.file_name().expect("name"));
    std::fs::create_dir_all(&dest).expect("mkdir");
    for f in ["manifest.json", "records.jsonl.zst"] {
        std::fs::copy(segment.join(f), dest.join(f)).expect("copy");
    }
    dest
}

#[test]
fn old_records_are_archived_proven_and_removed_and_the_rest_verifies() {
    let tmp = tempfile::tempdir().expect("tmp");
    let archive = tmp.path().join("archive");
    let mut gw = Gateway::start(&config(&archive, false, 3600, ""));
    let old: Vec<u64> = (0..20).map(|i| gw.ingest_one(&event("old-user", i))).collect();
    std::thread::sleep(Duration::from_secs_f64(RETENTION_SECS + 1.0));
    let new: Vec<u64> = (0..5).map(|i| gw.ingest_one(&event("new-user", i))).collect();
    let key = public_key(&gw);
    assert!(gw.stop(), "graceful stop");

    let run = retention_run(&gw);
    assert!(run.stdout.contains("archived 1..="), "{}", run.stdout);
    assert!(run.stdout.contains("not old enough"), "{}", run.stdout);

    // One segment, holding the old prefix and nothing received after the cutoff.
    let segs = segments(&archive);
    assert_eq!(segs.len(), 1, "{segs:?}");
    let m = manifest(&segs[0]);
    let last = m["last_seq"].as_u64().expect("last_seq");
    assert_eq!(m["first_seq"], 1);
    assert!(
        last >= *old.last().expect("old") && last < new[0],
        "segment ends at {last}: old {old:?} new {new:?}"
    );
    assert_eq!(m["records"], last);
    assert_eq!(m["prev"], "0".repeat(64));
    assert!(m["checkpoint"].as_str().is_some_and(|c| c.contains("\n\u{2014} ")), "{m}");
    let records = records_of(&segs[0]);
    assert_eq!(records.len() as u64, last);
    for (i, line) in records.iter().enumerate() {
        let rec: Value = serde_json::from_slice(line).expect("a record per line");
        assert_eq!(rec["seq"], i as u64 + 1);
    }
    // The lines are the stored bytes exactly: the first record's leaf is the second's prev.
    let leaf = |bytes: &[u8]| {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update([0u8]);
        h.update(bytes);
        hex::encode(h.finalize())
    };
    let second: Value = serde_json::from_slice(&records[1]).expect("record");
    assert_eq!(second["prev"], leaf(&records[0]));

    // The segment proves against its checkpoint; a changed byte is named.
    let ok = archive_verify(&segs[0], &key);
    assert_eq!(ok.code, Some(0), "{}\n{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.contains(&format!("records 1..={last} proven")), "{}", ok.stdout);
    assert!(ok.stdout.contains("signature valid"), "{}", ok.stdout);

    let damaged = tmp.path().join("damaged");
    let copy = copy_segment(&segs[0], &damaged);
    let file = copy.join("records.jsonl.zst");
    let mut bytes = std::fs::read(&file).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&file, &bytes).expect("write");
    let bad = archive_verify(&copy, &key);
    assert_eq!(bad.code, Some(1), "{}", bad.stdout);
    assert!(bad.stdout.starts_with("FAILED: "), "{}", bad.stdout);

    // A changed record, recompressed and with the file hash fixed up: named by its seq.
    let mut lines = records.clone();
    let target = 5usize;
    let text = String::from_utf8(lines[target].clone()).expect("utf8").replace("old-user", "OLD-user");
    lines[target] = text.into_bytes();
    let joined: Vec<u8> = lines.iter().flat_map(|l| l.iter().copied().chain([b'\n'])).collect();
    let recompressed = zstd::encode_all(joined.as_slice(), 3).expect("zstd");
    std::fs::write(&file, &recompressed).expect("write");
    let mut mf = manifest(&copy);
    use sha2::Digest;
    mf["records_sha256"] = Value::from(hex::encode(sha2::Sha256::digest(&recompressed)));
    std::fs::write(copy.join("manifest.json"), serde_json::to_vec(&mf).expect("json")).expect("write");
    let bad = archive_verify(&copy, &key);
    assert_eq!(bad.code, Some(1), "{}", bad.stdout);
    assert!(bad.stdout.contains(&format!("record {}", target + 2)), "{}", bad.stdout);

    // A changed manifest root is named too.
    let copy2 = copy_segment(&segs[0], &tmp.path().join("damaged2"));
    let mut mf = manifest(&copy2);
    mf["tree_root"] = Value::from("00".repeat(32));
    std::fs::write(copy2.join("manifest.json"), serde_json::to_vec(&mf).expect("json")).expect("write");
    let bad = archive_verify(&copy2, &key);
    assert_eq!(bad.code, Some(1), "{}", bad.stdout);
    assert!(bad.stdout.contains("tree_root"), "{}", bad.stdout);

    // What remains verifies, from the retention anchor on.
    let verified = gw.verify_offline();
    assert_eq!(verified.code, Some(0), "{}\n{}", verified.stdout, verified.stderr);
    assert!(verified.stdout.contains(&format!("records 1..{last} were archived")), "{}", verified.stdout);

    // A second run has nothing due: the new records were received after the cutoff.
    let again = retention_run(&gw);
    assert!(again.stdout.contains("ok: 0 record(s) archived"), "{}", again.stdout);
    assert_eq!(segments(&archive).len(), 1);

    gw.restart();
    assert_eq!(seqs_of_source(&gw), new, "only the new records are left");
    let (status, body) = gw.get(AUDITOR_KEY, &format!("/v1/events/{}", old[0]));
    assert_eq!(status, 404, "{body}");
    assert!(gw.query_all("user=old-user", 100).is_empty());
    assert_eq!(gw.query_all("user=new-user", 100).len(), new.len());
    // Proofs and the online verifier work on what remains.
    for seq in &new {
        let (status, body) = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq}/proof"));
        assert_eq!(status, 200, "proof of {seq}: {body}");
    }
    let (status, body) = gw.get(AUDITOR_KEY, "/v1/verify");
    assert_eq!(status, 200, "{body}");
    assert!(body["damage"].is_null(), "{body}");
    // The run is in the log.
    let runs = gw.query_all("action=auditgate.retention.run", 100);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["resource_id"], format!("1..={last}"));
    // More ingest after retention keeps the chain going; verify still passes.
    gw.ingest_one(&event("later", 0));
    assert!(gw.stop());
    let verified = gw.verify_offline();
    assert_eq!(verified.code, Some(0), "{}\n{}", verified.stdout, verified.stderr);
}

#[test]
fn legal_holds_keep_records_and_refuse_erasure() {
    let tmp = tempfile::tempdir().expect("tmp");
    let archive = tmp.path().join("archive");
    let holds = "\n[[legal_hold]]\nname = \"case-1\"\nuser = \"held-user\"\nreason = \"litigation\"\n";
    let mut gw = Gateway::start(&config(&archive, false, 3600, holds));
    let first = gw.ingest_one(&event("free-user", 0));
    let held = gw.ingest_one(&event("held-user", 1));
    let after = gw.ingest_one(&event("free-user", 2));

    // Erasure of a held user: 409 naming the hold (config hold).
    let erase = |gw: &Gateway, user: &str| {
        gw.request(
            reqwest::Method::POST,
            "/v1/admin/erase",
            Auth::Bearer(ADMIN_KEY),
            Some(("application/json", json!({ "user": user }).to_string().into_bytes())),
        )
    };
    let (status, body) = erase(&gw, "held-user");
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_code(&body), "legal_hold", "{body}");
    assert!(error_message(&body).contains("config:case-1"), "{body}");

    // API holds: create, list, erasure refused, release; bad bodies and ids.
    let post = |body: Value| {
        gw.request(
            reqwest::Method::POST,
            "/v1/admin/legal-holds",
            Auth::Bearer(ADMIN_KEY),
            Some(("application/json", body.to_string().into_bytes())),
        )
    };
    let (status, created) = post(json!({"user": "bob", "reason": "case 7"}));
    assert_eq!(status, 200, "{created}");
    let id = created["hold"]["id"].as_str().expect("id").to_string();
    assert_eq!(created["hold"]["created_by"], "dev-admin");
    let (status, body) = erase(&gw, "bob");
    assert_eq!(status, 409, "{body}");
    assert!(error_message(&body).contains(&id), "{body}");
    let (status, list) = gw.get(ADMIN_KEY, "/v1/admin/legal-holds");
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> =
        list["holds"].as_array().expect("holds").iter().filter_map(|h| h["id"].as_str()).collect();
    assert_eq!(ids, ["config:case-1", id.as_str()]);
    for bad in [
        json!({}),
        json!({"reason": "x"}),
        json!({"from": "yesterday"}),
        json!({"user": "a", "extra": 1}),
        json!({"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}),
    ] {
        let (status, body) = post(bad.clone());
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(!error_message(&body).is_empty());
    }
    let delete = |path: &str| gw.request(reqwest::Method::DELETE, path, Auth::Bearer(ADMIN_KEY), None);
    let (status, body) = delete("/v1/admin/legal-holds/config:case-1");
    assert_eq!((status, error_code(&body)), (409, "hold_from_config"), "{body}");
    let (status, body) = delete("/v1/admin/legal-holds/hold-999");
    assert_eq!(status, 404, "{body}");
    let (status, body) = delete(&format!("/v1/admin/legal-holds/{id}"));
    assert_eq!(status, 200, "{body}");
    let (status, body) = delete(&format!("/v1/admin/legal-holds/{id}"));
    assert_eq!(status, 404, "released twice: {body}");
    // Hold changes are audit events naming who and which hold.
    for action in ["auditgate.legal_hold.create", "auditgate.legal_hold.release"] {
        let events = gw.query_all(&format!("action={action}"), 100);
        assert_eq!(events.len(), 1, "{action}: {events:?}");
        assert_eq!(events[0]["resource_id"], id.as_str());
        assert_eq!(events[0]["user"], "dev-admin");
    }
    // A time-range hold covering the last event, made through the API, survives a restart.
    let t = gw.record(after)["time"].as_str().expect("time").to_string();
    let (status, range) = post(json!({"from": t, "reason": "range"}));
    assert_eq!(status, 200, "{range}");

    std::thread::sleep(Duration::from_secs_f64(RETENTION_SECS + 1.0));
    assert!(gw.stop());
    let run = retention_run(&gw);
    assert!(run.stdout.contains("under legal hold config:case-1"), "{}", run.stdout);
    let m = manifest(&segments(&archive)[0]);
    assert_eq!(m["last_seq"].as_u64(), Some(held - 1), "stops right before the held record");
    assert!(first < held);

    gw.restart();
    // The held record and everything after it stay.
    let left = seqs_of_source(&gw);
    assert_eq!(left, [held, after], "{left:?}");
    let (status, list) = gw.get(ADMIN_KEY, "/v1/admin/legal-holds");
    assert_eq!(status, 200);
    assert_eq!(list["holds"].as_array().map(Vec::len), Some(2), "{list}");
    assert!(gw.stop());
    let verified = gw.verify_offline();
    assert_eq!(verified.code, Some(0), "{}\n{}", verified.stdout, verified.stderr);
}

#[test]
fn the_job_in_serve_archives_only_what_is_old_enough() {
    let tmp = tempfile::tempdir().expect("tmp");
    let archive = tmp.path().join("archive");
    // Checkpoints often enough that the job's segments are covered.
    let extra = "\n[checkpoints]\nevery_events = 1\nevery_secs = 1\n";
    let mut gw = Gateway::start(&config(&archive, true, 1, extra));
    let old: Vec<u64> = (0..10).map(|i| gw.ingest_one(&event("job-old", i))).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seqs_of_source(&gw).is_empty() {
        assert!(Instant::now() < deadline, "the job did not archive {old:?}:\n{}", gw.log_tail(3000));
        std::thread::sleep(Duration::from_millis(250));
    }
    let fresh = gw.ingest_one(&event("job-new", 0));
    // Two more runs of the job: the fresh record stays.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(seqs_of_source(&gw), [fresh]);
    let archived: u64 = segments(&archive).iter().map(|s| manifest(s)["records"].as_u64().unwrap_or(0)).sum();
    assert!(archived >= old.len() as u64, "{archived}");
    let key = public_key(&gw);
    for s in segments(&archive) {
        let ok = archive_verify(&s, &key);
        assert_eq!(ok.code, Some(0), "{}: {}", s.display(), ok.stdout);
    }
    assert!(!gw.query_all("action=auditgate.retention.run", 100).is_empty());
    assert!(gw.stop());
    let verified = gw.verify_offline();
    assert_eq!(verified.code, Some(0), "{}\n{}", verified.stdout, verified.stderr);
}
