//! The hash chain and the Merkle tree across restarts and failed requests.

use super::*;
use crate::ledger::merkle::{self, MemoryTree};
use crate::ledger::verify::LogWalker;
use crate::store::StoreError;

fn walk(store: &Store) -> (u64, merkle::Hash) {
    let mut walker = LogWalker::new(&[]);
    let mut mem = MemoryTree::default();
    for seq in 1..=store.count() {
        let bytes = store.record_bytes(seq).expect("read").expect("present");
        walker.push(seq, &bytes).expect("intact");
        mem.push(merkle::leaf_hash(&bytes));
    }
    assert_eq!(walker.root(), mem.root());
    (walker.finish().expect("intact"), mem.root())
}

#[tokio::test]
async fn the_chain_and_tree_continue_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = options(dir.path());
    for round in 0..3u64 {
        let store = Store::open(&opts).expect("open");
        let evs = (0..37).map(|i| ev().user(&format!("u{round}-{i}"))).collect();
        append_all(&store, evs).await;
        let (n, root) = walk(&store);
        assert_eq!(n, 37 * (round + 1));
        assert_eq!(store.root(n).expect("root"), root);
        for seq in [1, n / 2, n] {
            let proof = store.inclusion_proof(seq, n).expect("proof");
            let leaf = merkle::leaf_hash(&store.record_bytes(seq).expect("read").expect("present"));
            assert!(merkle::verify_inclusion(seq - 1, n, &leaf, &proof, &root));
        }
        if round > 0 {
            let from = 37 * round;
            let proof = store.consistency_proof(from, n).expect("proof");
            let old = store.root(from).expect("root");
            assert!(merkle::verify_consistency(from, n, &old, &root, &proof));
        }
        store.close();
    }
}

#[tokio::test]
async fn a_refused_request_does_not_advance_the_chain() {
    let (_dir, store) = fresh();
    append_all(&store, vec![ev().user("a")]).await;
    let mut bad = ev().user("b").record();
    bad.event.insert("details".into(), serde_json::json!({"n": 9007199254740993u64}));
    let refused = store.append(vec![ev().user("ok-but-same-request").pending(), Pending::Record(bad)]).await;
    assert!(matches!(refused, Err(StoreError::InvalidInput(m)) if m.contains("/details/n")));
    append_all(&store, vec![ev().user("c")]).await;
    assert_eq!(walk(&store).0, 2);
}
