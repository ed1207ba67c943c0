//! Encryption at rest in the store: sealed on disk, plain through the API, keyed index
//! keys, the marker refusing the wrong key and the other kind of store, erasure.

use serde_json::json;

use super::super::{EncryptionOptions, EventQuery, Store, StoreError, StoreOptions};
use super::{append_all, collect, ev, options, quarantined};
use crate::crypto::{MasterKey, SecretKey};

fn encrypted(dir: &std::path::Path, master: &MasterKey) -> StoreOptions {
    let fields = super::super::DEFAULT_SEALED_FIELDS.iter().map(|f| f.to_string()).collect();
    StoreOptions { encryption: Some(EncryptionOptions { master: master.clone(), fields }), ..options(dir) }
}

fn stored_text(store: &Store) -> String {
    (1..=store.count())
        .map(|seq| {
            String::from_utf8_lossy(&store.record_bytes(seq).expect("read").expect("present")).into_owned()
        })
        .collect()
}

fn by_user(user: &str) -> EventQuery {
    EventQuery { user: Some(user.into()), limit: 100, ..EventQuery::default() }
}

#[tokio::test]
async fn records_are_sealed_on_disk_and_plain_through_the_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let master = MasterKey::new(SecretKey::random());
    let store = Store::open(&encrypted(dir.path(), &master)).expect("open");
    let seqs = append_all(
        &store,
        vec![
            ev().user("alice-sealed").ip("10.9.8.7").set("session_id", "sess-sealed").at(1),
            ev().user("bob-sealed").ip("10.9.8.6").at(2),
            ev().ip("10.9.8.7").at(3),
            ev().user("alice-sealed").at(4).alert("bruteforce.user", "high"),
        ],
    )
    .await;
    store.append(vec![quarantined(1)]).await.expect("quarantine");
    let text = stored_text(&store);
    for plain in ["alice-sealed", "bob-sealed", "10.9.8.7", "sess-sealed"] {
        assert!(!text.contains(plain), "{plain} stored in the clear: {text}");
    }
    assert!(text.contains("\"sealed\"") && text.contains("user.login"), "{text}");
    let rec = store.get(seqs[0]).expect("get").expect("present");
    assert_eq!(rec["user"], json!("alice-sealed"));
    assert_eq!(rec["session_id"], json!("sess-sealed"));
    assert!(rec.get("sealed").is_none());
    assert_eq!(collect(&store, &by_user("alice-sealed"), 1), vec![seqs[0], seqs[3]]);
    let by_ip = EventQuery { ip: Some("10.9.8.7".into()), limit: 100, ..EventQuery::default() };
    assert_eq!(collect(&store, &by_ip, 100), vec![seqs[0], seqs[2]]);
    let alerts = store.alerts(&crate::store::AlertQuery { limit: 10, ..Default::default() }).expect("alerts");
    assert_eq!(alerts.items[0]["labels"]["user"], json!("x"));
    assert_eq!(alerts.items[0]["rule"], json!("bruteforce.user"));
    let q = store.quarantine(10, None).expect("quarantine");
    assert_eq!(q.items[0]["event"]["n"], json!(1));
    assert_eq!(store.verify_range(None, None).expect("verify").damage, None);
}

#[tokio::test]
async fn the_marker_refuses_a_wrong_key_no_key_and_a_plain_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let master = MasterKey::new(SecretKey::random());
    let store = Store::open(&encrypted(dir.path(), &master)).expect("open");
    append_all(&store, vec![ev().user("carol")]).await;
    store.flush_and_close().expect("close");
    drop(store);

    let other = MasterKey::new(SecretKey::random());
    match Store::open(&encrypted(dir.path(), &other)) {
        Err(StoreError::Encryption(m)) => {
            assert!(m.contains("is not the one") && m.contains(other.id()), "{m}")
        }
        other => panic!("a wrong key must be refused, got {other:?}"),
    }
    match Store::open(&options(dir.path())) {
        Err(StoreError::Encryption(m)) => assert!(m.contains("encrypted store"), "{m}"),
        other => panic!("a missing key must be refused, got {other:?}"),
    }
    let store = Store::open(&encrypted(dir.path(), &master)).expect("the right key");
    assert_eq!(store.get(1).expect("get").expect("present")["user"], json!("carol"));
    drop(store);

    let plain_dir = tempfile::tempdir().expect("tempdir");
    let plain = Store::open(&options(plain_dir.path())).expect("open");
    append_all(&plain, vec![ev().user("dave")]).await;
    plain.flush_and_close().expect("close");
    drop(plain);
    match Store::open(&encrypted(plain_dir.path(), &master)) {
        Err(StoreError::Encryption(m)) => assert!(m.contains("created without encryption"), "{m}"),
        other => panic!("a plain store must refuse encryption, got {other:?}"),
    }
}

#[tokio::test]
async fn erasure_destroys_one_subjects_key_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let master = MasterKey::new(SecretKey::random());
    let store = Store::open(&encrypted(dir.path(), &master)).expect("open");
    let seqs = append_all(
        &store,
        vec![
            ev().user("erin").ip("10.1.1.1").at(1),
            ev().user("frank").ip("10.1.1.2").at(2),
            ev().user("erin").at(3),
        ],
    )
    .await;
    let erased = store.erase_subject("erin", "tester").expect("erase");
    assert!(erased.key_destroyed);
    assert_eq!(erased.index_entries_removed, 3, "two user entries and one ip entry");
    let rec = store.get(seqs[0]).expect("get").expect("present");
    assert_eq!(rec["user"], json!(super::super::ERASED));
    assert_eq!(rec["ip"], json!(super::super::ERASED));
    assert_eq!(rec["action"], json!("user.login"));
    assert_eq!(store.get(seqs[1]).expect("get").expect("present")["user"], json!("frank"));
    assert!(collect(&store, &by_user("erin"), 10).is_empty());
    assert!(!store.erase_subject("erin", "tester").expect("again").key_destroyed);
    let later = append_all(&store, vec![ev().user("erin").at(4)]).await;
    assert_eq!(collect(&store, &by_user("erin"), 10), later);
    assert_eq!(store.verify_range(None, None).expect("verify").damage, None);

    let plain_dir = tempfile::tempdir().expect("tempdir");
    let plain = Store::open(&options(plain_dir.path())).expect("open");
    assert!(matches!(plain.erase_subject("x", "tester"), Err(StoreError::Encryption(_))));
}
