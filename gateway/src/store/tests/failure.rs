//! A group commit that fails: every request of it gets the error, nothing of it stays
//! visible, and the writer carries on without a gap in the numbering.

use super::super::{EventQuery, Order, Store, StoreError};
use super::{append_all, ev, options, query};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_commit_fails_its_requests_and_the_writer_carries_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = options(dir.path());
    let store = Store::open(&opts).expect("open");
    append_all(&store, vec![ev().user("kept"), ev().user("kept").id("k1")]).await;

    // Make the post-flush sync fail: `blobs/` becomes a plain file.
    let blobs = opts.data_dir.join("blobs");
    let aside = opts.data_dir.join("blobs.aside");
    std::fs::rename(&blobs, &aside).expect("move blobs");
    std::fs::write(&blobs, b"not a directory").expect("block blobs");

    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.append(vec![ev().user("lost").id(&format!("lost-{i}")).alert("r", "high").pending()]).await
        }));
    }
    for t in tasks {
        let res = t.await.expect("task");
        assert!(matches!(res, Err(StoreError::Io(_))), "{res:?}");
    }
    assert_eq!(store.count(), 2);
    assert_eq!(store.get(3).expect("get"), None);
    assert_eq!(store.lookup_client_id("lost-0").expect("lookup"), None);

    std::fs::remove_file(&blobs).expect("unblock");
    std::fs::rename(&aside, &blobs).expect("restore blobs");

    assert_eq!(append_all(&store, vec![ev().user("after")]).await, vec![3], "no gap");
    let lost = store.query(&EventQuery { user: Some("lost".into()), ..query(Order::Asc) }).expect("query");
    assert!(lost.items.is_empty(), "{:?}", lost.items);
    let alerts = store.alerts(&super::super::AlertQuery { limit: 10, ..Default::default() }).expect("alerts");
    assert!(alerts.items.is_empty());
    // A retry of a failed id is stored, not answered as a duplicate.
    assert_eq!(append_all(&store, vec![ev().user("lost").id("lost-0")]).await, vec![4]);
    drop(store);

    let store = Store::open(&opts).expect("reopen");
    assert_eq!(store.count(), 4);
    let all = store.query(&query(Order::Asc)).expect("query");
    let users: Vec<_> = all.items.iter().map(|r| r["user"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(users, vec!["kept", "kept", "after", "lost"]);
}
