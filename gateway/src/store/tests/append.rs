//! Appending: numbering, durability across reopen, concurrency, refusal.

use std::collections::BTreeSet;

use serde_json::json;

use super::super::{AppendOutcome, Store, StoreError};
use super::{append_all, ev, fresh, options, quarantined};

#[tokio::test]
async fn append_then_get_returns_event_and_gateway_fields() {
    let (_dir, store) = fresh();
    let seqs = append_all(&store, vec![ev().user("alice").ip("10.0.0.1").at(5).source("billing")]).await;
    assert_eq!(seqs, vec![1]);
    let rec = store.get(1).expect("get").expect("present");
    assert_eq!(rec["seq"], json!(1));
    assert_eq!(rec["user"], json!("alice"));
    assert_eq!(rec["action"], json!("user.login"));
    assert_eq!(rec["ip"], json!("10.0.0.1"));
    assert_eq!(rec["time"], json!("2024-01-01T00:00:05.000000Z"));
    assert_eq!(rec["source"], json!("billing"));
    assert_eq!(rec["policy_set"], json!("ps-1"));
    assert_eq!(rec["redacted"], json!(["/details/password"]));
    assert_eq!(rec["tags"], json!(["t1"]));
    assert!(rec["received_at"].is_string());
    assert_eq!(store.get(0).expect("get"), None);
    assert_eq!(store.get(2).expect("get"), None);
    assert_eq!(store.count(), 1);
    assert!(
        options(_dir.path()).data_dir.join("db").is_file(),
        "sled's data file is where DiskSync expects it"
    );
}

#[tokio::test]
async fn empty_append_is_a_no_op() {
    let (_dir, store) = fresh();
    assert_eq!(store.append(Vec::new()).await.expect("append"), Vec::new());
    assert_eq!(store.count(), 0);
}

#[tokio::test]
async fn seqs_are_consecutive_across_batches_in_arrival_order() {
    let (_dir, store) = fresh();
    let mut all = Vec::new();
    for batch in 0..5 {
        let evs = (0..(batch + 1)).map(|i| ev().user(&format!("u{batch}-{i}"))).collect();
        all.extend(append_all(&store, evs).await);
    }
    assert_eq!(all, (1..=15).collect::<Vec<u64>>());
    assert_eq!(store.get(15).expect("get").expect("present")["user"], json!("u4-4"));
    assert_eq!(store.count(), 15);
}

#[tokio::test]
async fn records_and_quarantine_items_keep_their_order() {
    let (_dir, store) = fresh();
    let out = store
        .append(vec![ev().pending(), quarantined(1), ev().pending(), quarantined(2)])
        .await
        .expect("append");
    assert_eq!(
        out,
        vec![
            AppendOutcome::Stored { seq: 1 },
            AppendOutcome::Quarantined { id: 1 },
            AppendOutcome::Stored { seq: 2 },
            AppendOutcome::Quarantined { id: 2 },
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_get_distinct_consecutive_seqs() {
    let (_dir, store) = fresh();
    let mut tasks = Vec::new();
    for t in 0..64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for r in 0..5 {
                let evs = (0..4).map(|i| ev().user(&format!("t{t}")).set("n", &format!("{r}-{i}"))).collect();
                let seqs = append_all(&store, evs).await;
                // One request's records are consecutive.
                assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
                mine.extend(seqs);
            }
            mine
        }));
    }
    let mut all = BTreeSet::new();
    for task in tasks {
        for seq in task.await.expect("task") {
            assert!(all.insert(seq), "seq {seq} handed out twice");
        }
    }
    assert_eq!(all.len(), 64 * 5 * 4);
    assert_eq!(all.iter().copied().collect::<Vec<_>>(), (1..=1280).collect::<Vec<u64>>());
    assert_eq!(store.count(), 1280);
}

#[tokio::test]
async fn reopen_keeps_everything_acknowledged_and_continues_numbering() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(&options(dir.path())).expect("open");
        for i in 0..3 {
            append_all(&store, vec![ev().user(&format!("u{i}")).alert("r", "high"), ev().user("z")]).await;
        }
        store.append(vec![quarantined(1)]).await.expect("quarantine");
        // Dropping the last clone stops the writer and releases the database.
    }
    let store = Store::open(&options(dir.path())).expect("reopen");
    assert_eq!(store.count(), 6);
    for seq in 1..=6 {
        assert!(store.get(seq).expect("get").is_some(), "seq {seq} lost");
    }
    assert_eq!(store.get(5).expect("get").expect("present")["user"], json!("u2"));
    let seqs = append_all(&store, vec![ev().alert("r", "low")]).await;
    assert_eq!(seqs, vec![7]);
    let out = store.append(vec![quarantined(2)]).await.expect("quarantine");
    assert_eq!(out, vec![AppendOutcome::Quarantined { id: 2 }]);
    let alerts = store.alerts(&super::super::AlertQuery { limit: 10, ..Default::default() }).expect("alerts");
    let ids: Vec<_> = alerts.items.iter().map(|a| a["id"].as_u64().expect("id")).collect();
    assert_eq!(ids, vec![1, 2, 3, 4]);
    drop(store);
    // And once more, to see that reopening twice in a row works.
    let store = Store::open(&options(dir.path())).expect("reopen again");
    assert_eq!(store.count(), 7);
}

#[tokio::test]
async fn close_stops_appends_but_not_reads() {
    let (_dir, store) = fresh();
    append_all(&store, vec![ev()]).await;
    let other = store.clone();
    store.flush_and_close().expect("close");
    store.close(); // idempotent
    assert!(matches!(other.append(vec![ev().pending()]).await, Err(StoreError::Closed)));
    assert!(other.get(1).expect("get").is_some());
    assert_eq!(other.count(), 1);
}

#[tokio::test]
async fn an_unindexable_record_fails_its_request_alone() {
    let (_dir, store) = fresh();
    let long = "x".repeat(70_000);
    let res = store.append(vec![ev().pending(), ev().user(&long).pending()]).await;
    assert!(matches!(res, Err(StoreError::InvalidInput(_))), "{res:?}");
    assert_eq!(store.count(), 0);
    assert_eq!(append_all(&store, vec![ev()]).await, vec![1], "no seq was used up");
}
