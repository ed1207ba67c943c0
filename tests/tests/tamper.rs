//! Tamper evidence, adversarially: start the real gateway, ingest, stop it, damage its
//! real files on disk (sled data directory, external checkpoint file, an exported proof
//! bundle) the way someone without the signing key could, then run the real
//! `auditgate verify` / `auditgate proof verify` and check that it names the record and
//! the kind of damage.

use std::path::{Path, PathBuf};

use auditgate_tests::attacker::DataDir;
use auditgate_tests::*;
use serde_json::{Value, json};

/// Records in the log of each test (checkpoints every 5, and one at close): the gateway's
/// start record (seq 1), events `2..RECORDS` (event `seq` is user `user-<seq>`), and its
/// stop record (`RECORDS`), when nothing else is asked while it runs.
const RECORDS: u64 = 23;

struct Stopped {
    gw: Gateway,
    public_key: String,
}

impl Stopped {
    fn data(&self) -> PathBuf {
        self.gw.data_dir()
    }

    /// The external checkpoint file: `<data_dir>.checkpoints` beside the data directory.
    fn checkpoint_file(&self) -> PathBuf {
        self.data().with_extension("checkpoints")
    }

    fn verify(&self, with_file: bool) -> CliRun {
        let data = self.data();
        let mut args: Vec<String> = vec!["verify".into(), "--data".into(), data.display().to_string()];
        args.extend(["--public-key".into(), self.public_key.clone()]);
        if with_file {
            args.extend(["--checkpoints".into(), self.checkpoint_file().display().to_string()]);
        }
        run_cli(args)
    }
}

/// A new signing key pair from `auditgate keygen`: (private, public).
fn keygen() -> (String, String) {
    let run = run_cli(["keygen", "--name", "auditgate.local/audit-log"]);
    assert_eq!(run.code, Some(0), "keygen: {run:?}");
    let mut lines = run.stdout.lines();
    let private = lines.next().expect("a private key line").to_string();
    let public = lines.next().expect("a public key line").to_string();
    assert!(private.starts_with("PRIVATE+KEY+"), "{private}");
    (private, public)
}

fn event(i: u64) -> Value {
    json!({
        "action": "user.login", "outcome": if i.is_multiple_of(3) { "failure" } else { "success" },
        "user": format!("user-{i}"), "ip": "203.0.113.7", "time": "2026-01-02T03:04:05Z",
    })
}

/// Starts a gateway signing checkpoints every 5 events (or none), ingests `RECORDS`
/// events one by one, optionally runs `while_up`, and stops it cleanly.
fn ingest_and_stop(checkpoints: bool, while_up: impl FnOnce(&Gateway)) -> Stopped {
    let (private, public) = keygen();
    let section = if checkpoints {
        format!("\n[checkpoints]\nevery_events = 5\nevery_secs = 3600\nkey = {}\n", toml_str(&private))
    } else {
        "\n[checkpoints]\nenabled = false\n".to_string()
    };
    let mut gw = Gateway::start(&format!("{}{section}", default_config()));
    for seq in 2..RECORDS {
        assert_eq!(gw.ingest_one(&event(seq)), seq);
    }
    while_up(&gw);
    assert!(gw.stop(), "the gateway did not stop cleanly");
    Stopped { gw, public_key: public }
}

/// `(seq, kind)` of a `FAILED at seq N: KIND: detail` line, with the exit code 1.
fn failure(run: &CliRun) -> (u64, String) {
    assert_eq!(run.code, Some(1), "verify should fail: {run:?}");
    let line = run.stdout.lines().find(|l| l.starts_with("FAILED at seq ")).expect("a FAILED line");
    let rest = &line["FAILED at seq ".len()..];
    let mut parts = rest.splitn(3, ": ");
    let seq = parts.next().and_then(|s| s.parse().ok()).expect("a seq");
    let kind = parts.next().expect("a kind").to_string();
    (seq, kind)
}

fn assert_ok(run: &CliRun) {
    assert_eq!(run.code, Some(0), "verify should pass: {run:?}");
    assert!(run.stdout.starts_with(&format!("ok: {RECORDS} records")), "{run:?}");
    assert!(run.stdout.contains("signatures valid"), "{run:?}");
}

fn xor_byte_after(bytes: &mut [u8], needle: &[u8]) {
    let at = bytes.windows(needle.len()).position(|w| w == needle).expect("needle in the record");
    bytes[at + needle.len()] ^= 0x01;
}

#[test]
fn one_flipped_byte_names_exactly_that_record_as_changed() {
    let s = ingest_and_stop(true, |_| {});
    assert_ok(&s.verify(true));
    // First, middle, at a checkpoint boundary (5, 10), the one before the last.
    for i in [1, 5, 10, 12, RECORDS - 1] {
        let db = DataDir::open(&s.data());
        let original = db.record(i);
        let mut bytes = original.clone();
        xor_byte_after(&mut bytes, b"\"user\":\"");
        assert_ne!(bytes, original);
        db.put_record(i, &bytes);
        db.close();
        let run = s.verify(true);
        assert_eq!(failure(&run), (i, "changed".to_string()), "record {i}: {run:?}");
        // Put it back: nothing else was wrong.
        let db = DataDir::open(&s.data());
        db.put_record(i, &original);
        db.close();
        assert_ok(&s.verify(true));
    }
}

#[test]
fn a_deleted_record_is_the_gap_at_its_seq() {
    let s = ingest_and_stop(true, |_| {});
    let db = DataDir::open(&s.data());
    db.delete_record(9);
    db.close();
    assert_eq!(failure(&s.verify(true)), (9, "missing".to_string()));
}

#[test]
fn swapped_records_are_reported_as_reordered() {
    let s = ingest_and_stop(true, |_| {});
    let db = DataDir::open(&s.data());
    let (a, b) = (db.record(14), db.record(15));
    db.put_record(14, &b);
    db.put_record(15, &a);
    db.close();
    assert_eq!(failure(&s.verify(true)), (14, "reordered".to_string()));
}

#[test]
fn truncation_is_caught_by_the_external_checkpoint_file() {
    let s = ingest_and_stop(true, |_| {});
    let db = DataDir::open(&s.data());
    for seq in RECORDS - 2..=RECORDS {
        db.delete_record(seq);
    }
    // A careful attacker also drops the checkpoints in sled that cover the removed tail.
    db.drop_checkpoints_above(RECORDS - 3);
    db.close();
    let run = s.verify(true);
    assert_eq!(failure(&run), (RECORDS - 2, "truncated".to_string()), "{run:?}");
    assert!(run.stdout.contains(&format!("covers {RECORDS} records")), "{run:?}");
    // The data directory alone is self-consistent again: only the external copy tells.
    let alone = s.verify(false);
    assert_eq!(alone.code, Some(0), "{alone:?}");
    assert!(alone.stdout.starts_with(&format!("ok: {} records", RECORDS - 3)), "{alone:?}");
}

#[test]
fn without_checkpoints_truncation_is_said_to_be_undetectable() {
    let s = ingest_and_stop(false, |_| {});
    let db = DataDir::open(&s.data());
    db.delete_record(RECORDS);
    db.close();
    let run = run_cli(["verify", "--data", &s.data().display().to_string()]);
    assert_eq!(run.code, Some(3), "not a success: {run:?}");
    assert!(run.stdout.contains("cannot detect truncation"), "{run:?}");
    assert!(!s.checkpoint_file().exists(), "no checkpoint file without checkpoints");
}

#[test]
fn a_rewritten_and_rechained_log_no_longer_matches_the_signed_checkpoint() {
    let s = ingest_and_stop(true, |_| {});
    let db = DataDir::open(&s.data());
    db.rewrite_and_rechain(3, |v| v["user"] = json!("mallory"));
    db.close();
    // The chain itself is consistent again; the first signed checkpoint after the edit
    // (#1, size 5) is what no longer matches.
    let run = s.verify(true);
    assert_eq!(failure(&run), (5, "checkpoint-inconsistent".to_string()), "{run:?}");
    assert!(run.stdout.contains("checkpoint #1"), "{run:?}");
}

#[test]
fn a_changed_stored_merkle_subtree_is_named() {
    let s = ingest_and_stop(true, |_| {});
    let db = DataDir::open(&s.data());
    // Level 4, index 0: the subtree over records 1..=16 that proofs are built from.
    db.corrupt_merkle_node(4, 0);
    db.close();
    let run = s.verify(true);
    assert_eq!(failure(&run), (16, "tree-node-changed".to_string()), "{run:?}");
}

/// The notes of the checkpoint file, in order.
fn notes(path: &Path) -> Vec<String> {
    // Each note is `body`, a blank line, `— signature` lines, then a blank line.
    let text = std::fs::read_to_string(path).expect("the checkpoint file");
    let mut out = Vec::new();
    let mut current = String::new();
    let mut seen_sig = false;
    for line in text.split_inclusive('\n') {
        if line == "\n" && seen_sig {
            out.push(std::mem::take(&mut current));
            seen_sig = false;
            continue;
        }
        if line.starts_with('\u{2014}') {
            seen_sig = true;
        }
        current.push_str(line);
    }
    assert!(current.trim().is_empty(), "trailing text in the checkpoint file: {current:?}");
    out
}

fn write_notes(path: &Path, notes: &[String]) {
    let text: String = notes.iter().map(|n| format!("{n}\n")).collect();
    std::fs::write(path, text).expect("write the checkpoint file");
}

#[test]
fn two_deleted_checkpoints_are_a_gap() {
    let s = ingest_and_stop(true, |_| {});
    let file = s.checkpoint_file();
    let mut all = notes(&file);
    assert_eq!(all.len(), 5, "checkpoints at 5, 10, 15, 20 and at close: {all:?}");
    write_notes(&file, &all);
    assert_ok(&s.verify(true));
    all.drain(1..3);
    write_notes(&file, &all);
    let run = s.verify(true);
    assert_eq!(failure(&run), (5, "checkpoint-gap".to_string()), "{run:?}");
    assert!(run.stdout.contains("2 checkpoint(s) missing"), "{run:?}");
}

#[test]
fn a_tampered_checkpoint_signature_or_root_is_signature_invalid() {
    let s = ingest_and_stop(true, |_| {});
    let file = s.checkpoint_file();
    let original = notes(&file);
    // The signature: one base64 character of note #2's signature line.
    let mut sig = original.clone();
    let line_at = sig[1].find("\u{2014} ").expect("a signature line");
    let at = sig[1].len() - 10;
    assert!(at > line_at);
    let mut bytes = sig[1].clone().into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    sig[1] = String::from_utf8(bytes).expect("ASCII");
    write_notes(&file, &sig);
    let run = s.verify(true);
    assert_eq!(failure(&run), (10, "signature-invalid".to_string()), "{run:?}");
    // The root: note #3's third line, replaced by note #2's root.
    let mut root = original.clone();
    let root2 = original[1].lines().nth(2).expect("a root line").to_string();
    let root3 = original[2].lines().nth(2).expect("a root line").to_string();
    root[2] = root[2].replacen(&root3, &root2, 1);
    write_notes(&file, &root);
    let run = s.verify(true);
    assert_eq!(failure(&run), (15, "signature-invalid".to_string()), "{run:?}");
    write_notes(&file, &original);
    assert_ok(&s.verify(true));
}

#[test]
fn a_proof_bundle_with_one_changed_byte_fails_proof_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bundle.json");
    let mut bundle = Vec::new();
    let s = ingest_and_stop(true, |gw| {
        let (status, body) = gw.get(AUDITOR_KEY, "/v1/events/7/proof");
        assert_eq!(status, 200, "{body}");
        // Against the latest checkpoint while running: the one of size 20.
        assert_eq!(body["tree_size"], json!(20), "{body}");
        bundle = serde_json::to_vec_pretty(&body).expect("json");
    });
    let verify = |bytes: &[u8]| {
        std::fs::write(&path, bytes).expect("write the bundle");
        run_cli(["proof", "verify", &path.display().to_string(), "--public-key", &s.public_key])
    };
    let run = verify(&bundle);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("record 7"), "{run:?}");
    // No access to the data: it is gone.
    std::fs::remove_dir_all(s.data()).expect("remove the data directory");
    assert_eq!(verify(&bundle).code, Some(0));
    // One changed byte anywhere (a spread of positions over the whole file, and one in
    // the record's user name) is refused.
    let user_at = bundle.windows(6).position(|w| w == b"user-7").expect("the user") + 5;
    let step = bundle.len() / 40;
    let positions: Vec<usize> = (0..bundle.len()).step_by(step.max(1)).chain([user_at]).collect();
    for at in positions {
        // Even whitespace: XOR 1 turns it into a byte JSON does not allow there.
        let mut changed = bundle.clone();
        changed[at] ^= 0x01;
        let run = verify(&changed);
        assert_eq!(run.code, Some(1), "byte {at} ({:?}) changed, still proven: {run:?}", bundle[at] as char);
        assert!(run.stdout.starts_with("FAILED"), "{run:?}");
    }
}

#[test]
fn the_verify_endpoint_names_the_damaged_record_and_honours_a_range() {
    let mut s = ingest_and_stop(true, |gw| {
        let (status, body) = gw.get(AUDITOR_KEY, "/v1/verify");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], json!("ok"), "{body}");
        // Before the stop record: start and events.
        assert_eq!((body["from"].as_u64(), body["to"].as_u64()), (Some(1), Some(RECORDS - 1)), "{body}");
        assert_eq!(body["records"], json!(RECORDS - 1), "{body}");
        assert_eq!(body["checkpoints"], json!(4), "checkpoints at 5, 10, 15, 20: {body}");
        let (status, body) = gw.get(INGEST_KEY, "/v1/verify");
        assert_error(status, &body, 403, "forbidden", &[]);
    });
    let db = DataDir::open(&s.data());
    let mut bytes = db.record(8);
    xor_byte_after(&mut bytes, b"\"user\":\"");
    db.put_record(8, &bytes);
    db.close();
    s.gw.restart();
    let gw = &s.gw;
    let (status, body) = gw.get(AUDITOR_KEY, "/v1/verify");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], json!("damaged"), "{body}");
    assert_eq!((body["seq"].as_u64(), body["kind"].as_str()), (Some(8), Some("changed")), "{body}");
    assert_eq!(body["checkpoints"], json!(5), "and the one made at close: {body}");
    let (_, body) = gw.get(AUDITOR_KEY, "/v1/verify?from=7&to=9");
    assert_eq!((body["seq"].as_u64(), body["kind"].as_str()), (Some(8), Some("changed")), "{body}");
    let (_, body) = gw.get(AUDITOR_KEY, "/v1/verify?from=1&to=7");
    assert_eq!(body["status"], json!("ok"), "{body}");
    assert_eq!((body["records"].as_u64(), body["checkpoints"].as_u64()), (Some(7), Some(1)), "{body}");
    let (_, body) = gw.get(AUDITOR_KEY, "/v1/verify?from=12&to=14");
    assert_eq!((body["status"].as_str(), body["records"].as_u64()), (Some("ok"), Some(3)), "{body}");
    assert!(body["warning"].as_str().is_some_and(|w| w.contains("truncation")), "{body}");
    for bad in ["from=0", "to=1000", "from=9&to=8", "from=x", "seq=3"] {
        let (status, body) = gw.get(AUDITOR_KEY, &format!("/v1/verify?{bad}"));
        assert_eq!(status, 400, "{bad}: {body}");
    }
}
