//! Alert and quarantine listings.

use serde_json::{Value, json};

use super::super::{AlertQuery, Order, Store};
use super::{append_all, ev, fresh, quarantined};

fn ids(items: &[Value]) -> Vec<u64> {
    items.iter().map(|a| a["id"].as_u64().expect("id")).collect()
}

/// Every alert id matching `q`, following cursors with pages of `limit`.
fn all_alerts(store: &Store, q: &AlertQuery, limit: usize) -> Vec<u64> {
    let mut q = q.clone();
    q.limit = limit;
    let mut out = Vec::new();
    loop {
        let page = store.alerts(&q).expect("alerts");
        out.extend(ids(&page.items));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
}

#[tokio::test]
async fn alerts_are_listed_with_their_event_and_filtered() {
    let (_dir, store) = fresh();
    append_all(
        &store,
        vec![
            ev().user("u1").at(7).alert("bruteforce", "high"),
            ev().user("u2"),
            ev().user("u3").alert("spray", "medium").alert("bruteforce", "critical"),
        ],
    )
    .await;
    append_all(&store, vec![ev().alert("offhours", "low")]).await;

    let page = store.alerts(&AlertQuery { limit: 10, ..Default::default() }).expect("alerts");
    assert_eq!(page.next_cursor, None);
    assert_eq!(ids(&page.items), vec![1, 2, 3, 4]);
    assert_eq!(
        page.items[0],
        json!({
            "id": 1,
            "seq": 1,
            "time": "2024-01-01T00:00:07.000000Z",
            "policy": "alert-bruteforce",
            "rule": "bruteforce",
            "severity": "high",
            "summary": "bruteforce fired",
            "labels": {"user": "x", "count": "5"},
            // No sinks configured: no outbox entries.
            "delivery": [],
        })
    );
    assert_eq!(page.items[2]["seq"], json!(3));
    assert_eq!(page.items[3]["seq"], json!(4));

    let q = |f: fn(&mut AlertQuery)| {
        let mut q = AlertQuery { limit: 10, ..Default::default() };
        f(&mut q);
        all_alerts(&store, &q, 1)
    };
    assert_eq!(q(|q| q.rule = Some("bruteforce".into())), vec![1, 3]);
    assert_eq!(q(|q| q.severity = Some("medium".into())), vec![2]);
    assert_eq!(q(|q| q.policy = Some("alert-bruteforce".into())), vec![1, 2, 3, 4]);
    assert_eq!(q(|q| q.policy = Some("other".into())), Vec::<u64>::new());
    assert_eq!(q(|q| q.seq = Some(3)), vec![2, 3]);
    assert_eq!(q(|q| q.seq = Some(2)), Vec::<u64>::new());
    assert_eq!(q(|q| q.seq = Some(99)), Vec::<u64>::new());
    assert_eq!(
        q(|q| {
            q.seq = Some(3);
            q.rule = Some("bruteforce".into());
        }),
        vec![3]
    );
    assert_eq!(
        q(|q| {
            q.seq = Some(3);
            q.order = Order::Desc;
        }),
        vec![3, 2]
    );
    assert_eq!(q(|q| q.order = Order::Desc), vec![4, 3, 2, 1]);
    for limit in [1, 2, 3, 4, 5] {
        let asc = AlertQuery { limit, ..Default::default() };
        assert_eq!(all_alerts(&store, &asc, limit), vec![1, 2, 3, 4]);
        let desc = AlertQuery { order: Order::Desc, ..asc };
        assert_eq!(all_alerts(&store, &desc, limit), vec![4, 3, 2, 1]);
    }
}

#[tokio::test]
async fn quarantine_items_are_listed_and_paged() {
    let (_dir, store) = fresh();
    assert!(store.quarantine(10, None).expect("empty").items.is_empty());
    store.append((1..=5).map(quarantined).collect()).await.expect("append");
    let first = store.quarantine(2, None).expect("page 1");
    assert_eq!(ids(&first.items), vec![1, 2]);
    let item = &first.items[0];
    assert_eq!(item["policy"], json!("enrich"));
    assert_eq!(item["error"], json!("trap 1"));
    assert_eq!(item["source"], json!("app"));
    assert!(item["received_at"].is_string());
    assert_eq!(item["event"], json!({"action": "user.login", "n": 1}));
    let second = store.quarantine(2, first.next_cursor.as_deref()).expect("page 2");
    assert_eq!(ids(&second.items), vec![3, 4]);
    let third = store.quarantine(2, second.next_cursor.as_deref()).expect("page 3");
    assert_eq!(ids(&third.items), vec![5]);
    assert_eq!(third.next_cursor, None);
    assert_eq!(store.count(), 0, "quarantine items are not log records");
}
