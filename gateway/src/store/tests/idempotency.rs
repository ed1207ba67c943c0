//! Client ids within and beyond the idempotency window.

use std::time::Duration;

use super::super::{AppendOutcome, Store};
use super::{append_all, ev, fresh, options};

#[tokio::test]
async fn a_repeated_id_across_batches_returns_the_first_seq_and_stores_nothing() {
    let (_dir, store) = fresh();
    append_all(&store, vec![ev().user("x"), ev().id("evt-1").user("first")]).await;
    assert_eq!(store.lookup_client_id("evt-1").expect("lookup"), Some(2));
    assert_eq!(store.lookup_client_id("evt-2").expect("lookup"), None);
    assert_eq!(store.lookup_client_id("").expect("lookup"), None);
    let out =
        store.append(vec![ev().id("evt-1").user("second").pending(), ev().pending()]).await.expect("append");
    assert_eq!(out, vec![AppendOutcome::Duplicate { seq: 2 }, AppendOutcome::Stored { seq: 3 }]);
    assert_eq!(store.count(), 3);
    assert_eq!(store.get(2).expect("get").expect("present")["user"], "first");
}

#[tokio::test]
async fn a_repeated_id_within_one_request_is_a_duplicate_too() {
    let (_dir, store) = fresh();
    let out = store
        .append(vec![ev().id("a").pending(), ev().id("b").pending(), ev().id("a").pending()])
        .await
        .expect("append");
    assert_eq!(
        out,
        vec![
            AppendOutcome::Stored { seq: 1 },
            AppendOutcome::Stored { seq: 2 },
            AppendOutcome::Duplicate { seq: 1 }
        ]
    );
    assert_eq!(store.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_with_one_id_store_it_once() {
    let (_dir, store) = fresh();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { store.append(vec![ev().id("same").pending()]).await }));
    }
    let mut stored = 0;
    for t in tasks {
        match t.await.expect("task").expect("append")[0] {
            AppendOutcome::Stored { seq } => {
                stored += 1;
                assert_eq!(seq, 1);
            }
            AppendOutcome::Duplicate { seq } => assert_eq!(seq, 1),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(stored, 1);
    assert_eq!(store.count(), 1);
}

#[tokio::test]
async fn the_window_expires() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = options(dir.path());
    opts.idempotency_window = Duration::from_millis(100);
    let store = Store::open(&opts).expect("open");
    let t = chrono::Utc::now().timestamp_micros();
    append_all(&store, vec![ev().id("k").received(t)]).await;
    // 50 ms later (by received time): still a duplicate.
    let out = store.append(vec![ev().id("k").received(t + 50_000).pending()]).await.expect("append");
    assert_eq!(out, vec![AppendOutcome::Duplicate { seq: 1 }]);
    // 100 ms after the first: the window has passed, stored anew ...
    let out = store.append(vec![ev().id("k").received(t + 100_000).pending()]).await.expect("append");
    assert_eq!(out, vec![AppendOutcome::Stored { seq: 2 }]);
    // ... and the window now counts from the new record.
    let out = store.append(vec![ev().id("k").received(t + 150_000).pending()]).await.expect("append");
    assert_eq!(out, vec![AppendOutcome::Duplicate { seq: 2 }]);
    // Within one request too: the second copy, past the window of the first, is new.
    let out = store
        .append(vec![ev().id("m").received(t).pending(), ev().id("m").received(t + 200_000).pending()])
        .await
        .expect("append");
    assert_eq!(out, vec![AppendOutcome::Stored { seq: 3 }, AppendOutcome::Stored { seq: 4 }]);
    // The pre-check counts to now.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(store.lookup_client_id("k").expect("lookup"), None);
}

#[tokio::test]
async fn ids_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(&options(dir.path())).expect("open");
        append_all(&store, vec![ev().id("persist")]).await;
    }
    let store = Store::open(&options(dir.path())).expect("reopen");
    assert_eq!(store.lookup_client_id("persist").expect("lookup"), Some(1));
    let out = store.append(vec![ev().id("persist").pending()]).await.expect("append");
    assert_eq!(out, vec![AppendOutcome::Duplicate { seq: 1 }]);
}
