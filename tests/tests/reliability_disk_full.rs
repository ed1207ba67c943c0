//! Reliability (opt-in: `--features reliability`): the data dir on a small real file
//! system (a size-limited tmpfs this test mounts; it runs as root, here and in CI) fills
//! up during ingest.
//!
//! While the disk is full, ingest answers 503 naming the write failure (never a 2xx for
//! an event that is not on disk) and queries keep working. Once space is back, the same
//! process reopens its store by itself (sled keeps its I/O error until the database is
//! opened again) and ingest goes on with the next `seq` on the same address; every
//! acknowledged event is there, nothing else is, and `auditgate verify` passes.
#![cfg(feature = "reliability")]

use std::path::{Path, PathBuf};
use std::process::Command;

use std::time::Duration;

use auditgate_tests::receiver::{self, HttpReceiver, Reply};
use auditgate_tests::*;
use serde_json::json;

/// A tmpfs mounted for the test's lifetime (lazily unmounted when dropped).
struct Tmpfs {
    at: PathBuf,
}

impl Tmpfs {
    fn mount(at: &Path, megabytes: u32) -> Tmpfs {
        std::fs::create_dir_all(at).expect("create the mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(at)
            .status()
            .expect("run mount");
        assert!(status.success(), "cannot mount a tmpfs at {} (the test needs root): {status}", at.display());
        Tmpfs { at: at.to_path_buf() }
    }

    fn resize(&self, megabytes: u32) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={megabytes}m")])
            .arg(&self.at)
            .status()
            .expect("run mount");
        assert!(status.success(), "cannot resize the tmpfs at {}: {status}", self.at.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

/// `n` ~600-byte events for batch `batch`, as NDJSON, with their ids.
fn batch(batch: usize, n: usize) -> (String, Vec<String>) {
    let mut body = String::new();
    let mut ids = Vec::with_capacity(n);
    for k in 0..n {
        let id = format!("df-{batch}-{k}");
        let event = json!({
            "id": id, "action": "user.login", "outcome": "success", "user": format!("user-{}", k % 37),
            "ip": "198.51.100.7", "details": {"pad": "x".repeat(450), "batch": batch},
        });
        body.push_str(&event.to_string());
        body.push('\n');
        ids.push(id);
    }
    (body, ids)
}

#[test]
fn a_full_disk_refuses_ingest_keeps_queries_and_loses_nothing() {
    let mut mount = None;
    // A webhook sink: the audit-logging-failure alert must reach it while sled cannot write.
    let hook = HttpReceiver::start(&[], Reply::Status(200));
    let config = format!(
        "{}\n[[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = {}\ntimeout_ms = 2000\n",
        default_config(),
        toml_str(&hook.url())
    );
    let mut gw = Gateway::start_prepared(&config, |data| mount = Some(Tmpfs::mount(data, 16)));
    let mount = mount.expect("mounted");

    // Fill it.
    let mut acked: Vec<(String, u64)> = Vec::new();
    let mut refused = None;
    for b in 0..2_000 {
        let (body, ids) = batch(b, 200);
        let (status, answer) = gw.post_bulk(INGEST_KEY, &body);
        if status == 200 {
            let results = answer["results"].as_array().expect("results");
            for (id, r) in ids.into_iter().zip(results) {
                let seq = r["seq"].as_u64().unwrap_or_else(|| panic!("{id} not stored: {r}"));
                acked.push((id, seq));
            }
            continue;
        }
        refused = Some((status, answer));
        break;
    }
    let (status, answer) = refused.expect("16 MB must fill up within 400,000 events");
    assert_eq!(status, 503, "a full disk is 503: {answer}");
    assert_eq!(answer["error"]["code"], "unavailable", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("could not be written"), "{answer}");
    assert!(!acked.is_empty(), "some events fit before the disk was full");

    // Full: single events are refused too, reads keep working.
    let (status, answer) = gw.post_events(INGEST_KEY, &json!({"action": "user.login", "outcome": "success"}));
    assert_eq!(status, 503, "{answer}");
    // Not ready while the writer cannot write; still alive.
    let (status, answer) = gw.request(reqwest::Method::GET, "/readyz", Auth::None, None);
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], "store_write_failing", "{answer}");
    assert_eq!(gw.request(reqwest::Method::GET, "/healthz", Auth::None, None).0, 200);
    // PCI DSS 10.7.2: one `audit_logging.failure` alert for the episode, straight to the sink.
    let is_failure = |r: &receiver::Received| r.json()["rule"] == "audit_logging.failure";
    let got = hook.wait_for(Duration::from_secs(20), |r| r.iter().any(is_failure));
    std::thread::sleep(Duration::from_millis(500));
    let failures: Vec<_> = hook.received().into_iter().filter(is_failure).collect();
    assert_eq!(failures.len(), 1, "one alert per failure episode, not per failed commit: {got:?}");
    let alert = failures[0].json();
    assert_eq!(
        (alert["severity"].as_str(), alert["policy"].as_str()),
        (Some("critical"), Some("auditgate")),
        "{alert}"
    );
    assert!(alert["summary"].as_str().is_some_and(|s| s.contains("cannot write")), "{alert}");
    assert!(gw.log_tail(1_000_000).contains("audit_logging.failure"), "and it is logged");
    let (last_id, last_seq) = acked.last().cloned().expect("acked");
    let (status, rec) = gw.get(AUDITOR_KEY, &format!("/v1/events/{last_seq}"));
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["id"], last_id.as_str());
    let (status, page) = gw.get(AUDITOR_KEY, "/v1/events?user=user-3&limit=5");
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["events"].as_array().map(Vec::len), Some(5), "{page}");

    // Space comes back: the same process, on the same address, reopens its store and
    // is ready again; ingest goes on with the next seq, after the resumed round's start
    // record (nothing the gateway tried to record while full got in).
    let pid = gw.pid();
    mount.resize(256);
    let mut ready = None;
    for _ in 0..300 {
        let (status, answer) = gw.request(reqwest::Method::GET, "/readyz", Auth::None, None);
        if status == 200 {
            ready = Some(answer);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let ready =
        ready.unwrap_or_else(|| panic!("not ready 30 s after space came back:\n{}", gw.log_tail(3000)));
    assert_eq!(gw.pid(), pid, "resumed in place, not restarted: {ready}");
    assert_eq!(gw.starts(), 1);
    assert!(gw.log_tail(1_000_000).contains("reopening the store in place"), "and it is logged");
    let next = gw.ingest_one(&json!({"action": "user.login", "outcome": "success", "user": "after"}));
    assert_eq!(next, last_seq + 2, "seq goes on without a gap");
    let start = gw.record(last_seq + 1);
    assert_eq!(start["action"], "auditgate.start", "{start}");
    assert_eq!(start["details"]["pid"].as_u64(), pid.map(u64::from), "{start}");
    assert!(
        start["details"]["resumed_after"].as_str().is_some_and(|e| !e.is_empty()),
        "the start record names the failure it resumed after: {start}"
    );
    let stored = gw.query_all("order=asc", 1000);
    assert_eq!(stored.len(), acked.len() + 1, "exactly the acknowledged events and the new one");
    for ((id, seq), rec) in acked.iter().zip(&stored) {
        assert_eq!((rec["id"].as_str(), rec["seq"].as_u64()), (Some(id.as_str()), Some(*seq)), "{rec}");
    }
    assert!(gw.stop(), "clean shutdown:\n{}", gw.log_tail(3000));
    let run = gw.verify_offline();
    assert_eq!(run.code, Some(0), "{run:?}");
    // Everything up to the new event, the records of the queries above and the stop.
    let verified: u64 = run
        .stdout
        .strip_prefix("ok: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no record count: {run:?}"));
    assert!(verified > next, "{run:?}");
}
