//! Retention on a real store: segments, the anchor, what remains, restarts, holds.

use super::*;
use crate::ledger::archive;
use crate::ledger::merkle;
use crate::ledger::note::NoteSigner;
use crate::store::{CheckpointOptions, HoldScope, RetentionPolicy, Stopped};

fn with_checkpoints(dir: &Path, signer: &NoteSigner) -> StoreOptions {
    let mut opts = options(dir);
    opts.checkpoints = Some(CheckpointOptions {
        signer: signer.clone(),
        origin: "test.local/log".into(),
        every_events: 1,
        every: Duration::from_secs(3600),
        file: None,
        witness: None,
    });
    opts
}

fn policy(dir: &Path, segment: u64) -> RetentionPolicy {
    RetentionPolicy {
        max_age: Duration::from_secs(60),
        archive_dir: dir.join("archive"),
        max_segment_records: segment,
    }
}

const MINUTE: i64 = 60_000_000;

/// Checks proofs of every remaining record against the latest root, and the walk.
fn remaining_proofs(store: &Store) {
    let n = store.count();
    let root = store.root(n).expect("root");
    for seq in store.retained_from().expect("anchor")..=n {
        let leaf = merkle::leaf_hash(&store.record_bytes(seq).expect("read").expect("present"));
        let proof = store.inclusion_proof(seq, n).expect("proof");
        assert!(merkle::verify_inclusion(seq - 1, n, &leaf, &proof, &root), "proof of {seq}");
    }
    let check = store.verify_range(None, None).expect("verify");
    assert_eq!(check.damage, None);
}

#[tokio::test]
async fn archives_the_old_prefix_in_segments_and_the_rest_stays_provable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = NoteSigner::generate("test.local/log").expect("key");
    let opts = with_checkpoints(dir.path(), &signer);
    let store = Store::open(&opts).expect("open");
    let old = chrono::Utc::now().timestamp_micros() - 10 * MINUTE;
    // 37 old records (one per request: a checkpoint after each), then 5 fresh ones.
    for i in 0..37 {
        append_all(&store, vec![ev().user(&format!("old-{i}")).id(&format!("id-{i}")).received(old)]).await;
    }
    for i in 0..5 {
        append_all(&store, vec![ev().user(&format!("new-{i}"))]).await;
    }
    // Let the writer sign the checkpoint of the last commit.
    store.close();
    drop(store);
    let store = Store::open(&opts).expect("reopen");
    let report = store.run_retention(&policy(dir.path(), 16), &mut |_, _, _| {}).expect("run");
    assert_eq!(report.archived, 37);
    assert_eq!(report.first_remaining, 38);
    assert_eq!(report.stopped, Stopped::NotOldEnough { seq: 38 });
    let bounds: Vec<(u64, u64)> = report.segments.iter().map(|s| (s.first_seq, s.last_seq)).collect();
    assert_eq!(bounds, [(1, 16), (17, 32), (33, 37)]);
    for s in &report.segments {
        let r = archive::verify_segment(&s.path, Some(&signer.verifier())).expect("segment proves");
        assert_eq!((r.first_seq, r.last_seq), (s.first_seq, s.last_seq));
    }
    // Gone: records, index entries, ids.
    assert_eq!(store.get(5).expect("get"), None);
    let q = EventQuery { user: Some("old-3".into()), limit: 10, ..EventQuery::default() };
    assert!(store.query(&q).expect("query").items.is_empty());
    let all = EventQuery { limit: 1000, ..EventQuery::default() };
    assert_eq!(store.query(&all).expect("query").items.len(), 5);
    assert_eq!(store.lookup_client_id("id-3").expect("ids"), None);
    remaining_proofs(&store);
    // A second run has nothing due; appending goes on and stays provable.
    let again = store.run_retention(&policy(dir.path(), 16), &mut |_, _, _| {}).expect("run");
    assert_eq!((again.archived, again.removed), (0, 0));
    append_all(&store, vec![ev().user("after")]).await;
    remaining_proofs(&store);
    store.close();
    drop(store);
    let store = Store::open(&opts).expect("reopen after retention");
    assert_eq!(store.count(), 43);
    remaining_proofs(&store);
}

#[tokio::test]
async fn the_whole_log_can_go_and_numbering_continues_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = NoteSigner::generate("test.local/log").expect("key");
    let opts = with_checkpoints(dir.path(), &signer);
    let store = Store::open(&opts).expect("open");
    let old = chrono::Utc::now().timestamp_micros() - 10 * MINUTE;
    append_all(&store, (0..21).map(|i| ev().user(&format!("u{i}")).received(old)).collect()).await;
    store.close();
    drop(store);
    let store = Store::open(&opts).expect("reopen");
    let report = store.run_retention(&policy(dir.path(), 1000), &mut |_, _, _| {}).expect("run");
    assert_eq!((report.archived, report.stopped.clone()), (21, Stopped::End));
    store.close();
    drop(store);
    let store = Store::open(&opts).expect("open an empty log after retention");
    assert_eq!(store.count(), 21);
    append_all(&store, vec![ev().user("next")]).await;
    assert_eq!(store.count(), 22);
    remaining_proofs(&store);
    let rec = store.get(22).expect("get").expect("present");
    let records = std::fs::read(report.segments[0].path.join(archive::RECORDS_FILE)).expect("records");
    let text = zstd::decode_all(records.as_slice()).expect("zstd");
    let last = text.split(|b| *b == b'\n').rfind(|l| !l.is_empty()).expect("a line");
    let prev = merkle::leaf_hash(last);
    assert_eq!(rec["prev"], hex::encode(prev), "the chain continues from the archived record 21");
}

#[tokio::test]
async fn a_hold_stops_the_prefix_and_blocks_erasure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = NoteSigner::generate("test.local/log").expect("key");
    let opts = with_checkpoints(dir.path(), &signer);
    let store = Store::open(&opts).expect("open");
    let old = chrono::Utc::now().timestamp_micros() - 10 * MINUTE;
    append_all(
        &store,
        (0..6).map(|i| ev().user(if i == 3 { "held" } else { "free" }).received(old)).collect(),
    )
    .await;
    store.close();
    drop(store);
    let store = Store::open(&opts).expect("reopen");
    let hold = store
        .create_legal_hold(
            HoldScope { user: Some("held".into()), ..HoldScope::default() },
            "case".into(),
            "admin",
        )
        .expect("hold");
    assert_eq!(store.hold_blocking_erasure("held").expect("holds").map(|h| h.id), Some(hold.id.clone()));
    assert_eq!(store.hold_blocking_erasure("free").expect("holds"), None);
    let report = store.run_retention(&policy(dir.path(), 1000), &mut |_, _, _| {}).expect("run");
    assert_eq!(report.archived, 3);
    assert_eq!(report.stopped, Stopped::Held { seq: 4, hold: hold.id.clone() });
    store.release_legal_hold(&hold.id).expect("release");
    let report = store.run_retention(&policy(dir.path(), 1000), &mut |_, _, _| {}).expect("run");
    assert_eq!((report.archived, report.first_remaining), (3, 7));
    // A time-range hold over an event time blocks the erasure of users with events in it.
    let range = HoldScope {
        from: Some("2023-12-31T00:00:00Z".into()),
        to: Some("2024-01-02T00:00:00Z".into()),
        ..HoldScope::default()
    };
    store.create_legal_hold(range, String::new(), "admin").expect("hold");
    append_all(&store, vec![ev().user("in-range")]).await;
    assert!(store.hold_blocking_erasure("in-range").expect("holds").is_some());
    assert!(store.hold_blocking_erasure("nobody").expect("holds").is_none());
}
