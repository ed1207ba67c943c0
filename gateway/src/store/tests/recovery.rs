//! Start-up after an interrupted group commit.

use serde_json::json;

use super::super::indexes;
use super::super::keys::{Position, u64_key};
use super::super::record::RecordEncoder;
use super::super::trees::Trees;
use super::super::{EventQuery, Order, Store};
use super::{append_all, ev, options, query};

#[tokio::test]
async fn an_uncommitted_tail_is_removed_with_everything_derived_from_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = options(dir.path());
    {
        let store = Store::open(&opts).expect("open");
        append_all(&store, vec![ev().user("alice").id("c1").alert("r", "high"), ev().user("bob")]).await;
    }
    // Simulate a crash after the writer wrote seq 3 and its entries but before the
    // commit marker: write them by hand, without touching `meta`.
    {
        let db = sled::Config::new().path(&opts.data_dir).open().expect("sled");
        let trees = Trees::open(&db).expect("trees");
        let rec = ev().user("alice").id("ghost").at(3).alert("r", "low").record();
        let head = crate::store::chain::head_at(&trees, 2).expect("head");
        let (bytes, _) = RecordEncoder::new(head).encode(3, &rec).expect("encode");
        trees.log.insert(u64_key(3), bytes).expect("log");
        let pos = Position { time_micros: rec.time_micros, seq: 3 };
        for (index, key) in
            indexes::keys_at(indexes::prefixes(&rec.event, &indexes::PLAIN).expect("keys"), pos)
        {
            trees.index(index).insert(key, &[] as &[u8]).expect("index");
        }
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&u64_key(3));
        trees.ids.insert("ghost", &id[..]).expect("id");
        trees.alerts.insert(u64_key(2), &b"{}"[..]).expect("alert");
        let mut by_seq = [0u8; 16];
        by_seq[..8].copy_from_slice(&u64_key(3));
        by_seq[8..].copy_from_slice(&u64_key(2));
        trees.alerts_by_seq.insert(by_seq, &[] as &[u8]).expect("alert index");
        trees.quarantine.insert(u64_key(1), &b"{}"[..]).expect("quarantine");
        db.flush().expect("flush");
    }
    let store = Store::open(&opts).expect("reopen");
    assert_eq!(store.count(), 2);
    assert_eq!(store.get(3).expect("get"), None);
    assert_eq!(store.lookup_client_id("ghost").expect("lookup"), None);
    assert_eq!(store.lookup_client_id("c1").expect("lookup"), Some(1));

    // The numbers are handed out again, and no stale index entry shows up.
    let seqs = append_all(&store, vec![ev().user("carol").alert("r2", "low")]).await;
    assert_eq!(seqs, vec![3]);
    let alice = store.query(&EventQuery { user: Some("alice".into()), ..query(Order::Asc) }).expect("query");
    assert_eq!(alice.items.len(), 1);
    let carol = store.query(&EventQuery { user: Some("carol".into()), ..query(Order::Asc) }).expect("query");
    assert_eq!(carol.items.len(), 1);
    assert_eq!(carol.items[0]["seq"], json!(3));
    let alerts = store.alerts(&super::super::AlertQuery { seq: Some(3), limit: 10, ..Default::default() });
    let alerts = alerts.expect("alerts");
    assert_eq!(alerts.items.len(), 1);
    assert_eq!(alerts.items[0]["rule"], json!("r2"));
    assert!(store.quarantine(10, None).expect("quarantine").items.is_empty());
    let all = store.query(&query(Order::Asc)).expect("query");
    assert_eq!(all.items.len(), 3);
}

#[tokio::test]
async fn missing_committed_records_refuse_to_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = options(dir.path());
    {
        let store = Store::open(&opts).expect("open");
        append_all(&store, vec![ev(), ev()]).await;
    }
    {
        let db = sled::Config::new().path(&opts.data_dir).open().expect("sled");
        let trees = Trees::open(&db).expect("trees");
        trees.log.remove(u64_key(2)).expect("remove");
        db.flush().expect("flush");
    }
    let err = Store::open(&opts).expect_err("must refuse");
    assert!(matches!(err, super::super::StoreError::Corrupt(_)), "{err}");
}

/// Writes record `seq` the way a group commit interrupted before its Merkle subtrees and
/// its commit marker leaves it: the log entry alone.
fn write_unfinished_record(opts: &crate::store::StoreOptions, seq: u64) {
    let db = sled::Config::new().path(&opts.data_dir).open().expect("sled");
    let trees = Trees::open(&db).expect("trees");
    let head = crate::store::chain::head_at(&trees, seq - 1).expect("head");
    let (bytes, _) = RecordEncoder::new(head).encode(seq, &ev().at(seq as i64).record()).expect("encode");
    trees.log.insert(u64_key(seq), bytes).expect("log");
    db.flush().expect("flush");
}

#[tokio::test]
async fn offline_verify_checks_the_committed_log_and_counts_an_unfinished_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = options(dir.path());
    {
        let store = Store::open(&opts).expect("open");
        append_all(&store, (0..15).map(|_| ev()).collect()).await;
    }
    // Record 16 completes the first stored subtree (level 4, index 0); a crash left the
    // record but neither the subtree nor the marker.
    write_unfinished_record(&opts, 16);
    let report =
        crate::store::offline::verify_dir(&opts.data_dir, &Default::default(), |_, _| {}).expect("verify");
    assert_eq!(report.damage, None);
    assert_eq!(report.records, 15);
    assert_eq!(report.uncommitted, 1);

    // The next start removes it; the log verifies in full after more appends.
    {
        let store = Store::open(&opts).expect("reopen");
        assert_eq!(store.count(), 15);
        append_all(&store, vec![ev(), ev()]).await;
    }
    let report =
        crate::store::offline::verify_dir(&opts.data_dir, &Default::default(), |_, _| {}).expect("verify");
    assert_eq!((report.damage, report.records, report.uncommitted), (None, 17, 0));
}
