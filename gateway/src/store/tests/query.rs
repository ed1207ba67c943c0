//! Event queries: every filter, combinations, bounds, ordering and paging, checked
//! against a brute-force model of the stored data.

use serde_json::Value;

use super::super::{AlertQuery, EventQuery, Order, StoreError};
use super::{T0, append_all, collect, ev, fresh, query};

const USERS: [&str; 7] = ["alice", "bob", "a", "ab", "a\u{0}b", "", "a\u{0}"];
const ACTIONS: [&str; 5] = ["user.login", "user.logout", "account.lockout", "admin.role.change", "user"];
const OUTCOMES: [&str; 3] = ["success", "failure", "error"];
const IPS: [&str; 3] = ["10.0.0.1", "10.0.0.2", "2001:db8::1"];
const RESOURCES: [(&str, &str); 3] = [("db", "users"), ("db", "orders"), ("bucket", "users")];

/// A small deterministic generator.
struct Lcg(u64);

impl Lcg {
    fn pick(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// (seq, time, record) of everything stored.
type Model = Vec<(u64, i64, Value)>;

/// Stores 400 varied events in batches of different sizes, out of time order, with ties
/// and times before 1970.
async fn populate(store: &super::super::Store) -> Model {
    let mut rng = Lcg(7);
    let mut model = Model::new();
    let mut n = 0;
    while n < 400 {
        let size = 1 + rng.pick(40);
        let mut evs = Vec::new();
        for _ in 0..size {
            let mut e = ev()
                .user(USERS[rng.pick(USERS.len())])
                .action(ACTIONS[rng.pick(ACTIONS.len())])
                .outcome(OUTCOMES[rng.pick(OUTCOMES.len())])
                .source(["app", "billing"][rng.pick(2)]);
            // Coarse times give many ties; some before the epoch.
            e = match rng.pick(10) {
                0 => e.at_micros(-1_000_000 * (1 + rng.pick(5) as i64)),
                _ => e.at(rng.pick(60) as i64),
            };
            if rng.pick(4) != 0 {
                e = e.ip(IPS[rng.pick(IPS.len())]);
            }
            if rng.pick(3) != 0 {
                let (rt, ri) = RESOURCES[rng.pick(RESOURCES.len())];
                e = e.set("resource_type", rt).set("resource_id", ri);
            } else if rng.pick(2) == 0 {
                e = e.set("resource_type", "db");
            }
            if rng.pick(2) == 0 {
                e = e.set("session_id", ["s1", "s2"][rng.pick(2)]);
            }
            evs.push(e);
        }
        n += size;
        let times: Vec<i64> = evs.iter().map(|e| e.clone().record().time_micros).collect();
        let seqs = append_all(store, evs).await;
        for (seq, time) in seqs.into_iter().zip(times) {
            let rec = store.get(seq).expect("get").expect("present");
            model.push((seq, time, rec));
        }
    }
    model
}

fn expected(model: &Model, q: &EventQuery) -> Vec<u64> {
    let text = |r: &Value, name: &str| r.get(name).and_then(Value::as_str).map(str::to_string);
    let is = |r: &Value, name: &str, want: &Option<String>| want.is_none() || text(r, name) == *want;
    let mut hits: Vec<(i64, u64)> = model
        .iter()
        .filter(|(_, time, r)| {
            is(r, "user", &q.user)
                && is(r, "action", &q.action)
                && is(r, "outcome", &q.outcome)
                && is(r, "ip", &q.ip)
                && is(r, "resource_type", &q.resource_type)
                && is(r, "resource_id", &q.resource_id)
                && is(r, "session_id", &q.session_id)
                && is(r, "source", &q.source)
                && q.action_prefix
                    .as_ref()
                    .is_none_or(|p| text(r, "action").is_some_and(|a| a.starts_with(p)))
                && q.from_micros.is_none_or(|f| *time >= f)
                && q.to_micros.is_none_or(|t| *time < t)
        })
        .map(|(seq, time, _)| (*time, *seq))
        .collect();
    hits.sort();
    if q.order == Order::Desc {
        hits.reverse();
    }
    hits.into_iter().map(|(_, seq)| seq).collect()
}

fn queries() -> Vec<EventQuery> {
    let s = |v: &str| Some(v.to_string());
    let base = EventQuery { limit: 100, ..EventQuery::default() };
    let mut qs = vec![base.clone()];
    for u in USERS {
        qs.push(EventQuery { user: s(u), ..base.clone() });
    }
    for a in ACTIONS {
        qs.push(EventQuery { action: s(a), ..base.clone() });
    }
    for ip in IPS {
        qs.push(EventQuery { ip: s(ip), ..base.clone() });
    }
    for (rt, ri) in RESOURCES {
        qs.push(EventQuery { resource_type: s(rt), resource_id: s(ri), ..base.clone() });
    }
    qs.extend([
        EventQuery { outcome: s("failure"), ..base.clone() },
        EventQuery { resource_type: s("db"), ..base.clone() },
        EventQuery { resource_id: s("users"), ..base.clone() },
        EventQuery { session_id: s("s1"), ..base.clone() },
        EventQuery { source: s("billing"), ..base.clone() },
        EventQuery { action_prefix: s("user."), ..base.clone() },
        EventQuery { action_prefix: s("user"), ..base.clone() },
        EventQuery { action_prefix: s(""), ..base.clone() },
        EventQuery { user: s("nobody"), ..base.clone() },
        EventQuery { user: s("alice"), outcome: s("failure"), ..base.clone() },
        EventQuery { user: s("a"), action: s("user.login"), ip: s("10.0.0.1"), ..base.clone() },
        EventQuery { user: s("bob"), action_prefix: s("user."), session_id: s("s2"), ..base.clone() },
        EventQuery { ip: s("10.0.0.2"), resource_type: s("db"), resource_id: s("users"), ..base.clone() },
        EventQuery {
            resource_type: s("db"),
            resource_id: s("orders"),
            action: s("user.logout"),
            ..base.clone()
        },
        EventQuery { action: s("user.login"), outcome: s("success"), source: s("app"), ..base.clone() },
        EventQuery { action: s("user.login"), action_prefix: s("admin."), ..base.clone() },
        EventQuery { from_micros: Some(T0 + 10_000_000), ..base.clone() },
        EventQuery { to_micros: Some(T0 + 10_000_000), ..base.clone() },
        EventQuery { to_micros: Some(0), ..base.clone() },
        EventQuery { from_micros: Some(T0 + 10_000_000), to_micros: Some(T0 + 20_000_000), ..base.clone() },
        EventQuery { from_micros: Some(T0 + 30_000_000), to_micros: Some(T0 + 30_000_001), ..base.clone() },
        EventQuery { from_micros: Some(T0 + 20_000_000), to_micros: Some(T0 + 20_000_000), ..base.clone() },
        EventQuery { from_micros: Some(T0 + 40_000_000), to_micros: Some(T0 + 10_000_000), ..base.clone() },
        EventQuery {
            user: s("alice"),
            from_micros: Some(T0 + 5_000_000),
            to_micros: Some(T0 + 50_000_000),
            ..base.clone()
        },
        EventQuery {
            ip: s("2001:db8::1"),
            from_micros: Some(-3_000_000),
            to_micros: Some(T0),
            ..base.clone()
        },
        EventQuery { action: s("user"), from_micros: Some(T0 + 59_000_000), ..base.clone() },
    ]);
    qs
}

#[tokio::test]
async fn every_filter_and_combination_matches_the_model_in_both_orders_and_any_page_size() {
    let (_dir, store) = fresh();
    let model = populate(&store).await;
    assert_eq!(model.len() as u64, store.count());
    for q in queries() {
        for order in [Order::Asc, Order::Desc] {
            let q = EventQuery { order, ..q.clone() };
            let want = expected(&model, &q);
            for limit in [1, 3, 7, 1000] {
                let got = collect(&store, &q, limit);
                assert_eq!(got, want, "limit {limit}, query {q:?}");
            }
        }
    }
}

#[tokio::test]
async fn ambiguous_user_names_never_match_each_other() {
    let (_dir, store) = fresh();
    let users = ["a", "a\u{0}b", "ab", "a\u{0}", "", "b"];
    for (i, u) in users.iter().enumerate() {
        append_all(&store, vec![ev().user(u).at(i as i64), ev().user(u).at(100 - i as i64)]).await;
    }
    for u in users {
        let q = EventQuery { user: Some(u.to_string()), ..query(Order::Asc) };
        let page = store.query(&q).expect("query");
        assert_eq!(page.items.len(), 2, "user {u:?}");
        assert!(page.items.iter().all(|r| r["user"] == u), "user {u:?}");
    }
}

#[tokio::test]
async fn cursor_is_exactly_absent_when_the_last_page_is_full() {
    let (_dir, store) = fresh();
    append_all(&store, (0..6).map(|i| ev().at(i)).collect()).await;
    let mut q = query(Order::Asc);
    q.limit = 3;
    let first = store.query(&q).expect("query");
    assert_eq!(first.items.len(), 3);
    q.cursor = first.next_cursor;
    assert!(q.cursor.is_some());
    let second = store.query(&q).expect("query");
    assert_eq!(second.items.len(), 3);
    assert_eq!(second.next_cursor, None, "no further item exists");
}

#[tokio::test]
async fn desc_returns_newest_first() {
    let (_dir, store) = fresh();
    append_all(&store, vec![ev().at(5), ev().at(1), ev().at(9), ev().at(5)]).await;
    let page = store.query(&query(Order::Desc)).expect("query");
    let seqs: Vec<_> = page.items.iter().map(|r| r["seq"].as_u64().expect("seq")).collect();
    assert_eq!(seqs, vec![3, 4, 1, 2]);
}

#[tokio::test]
async fn malformed_cursors_are_invalid_cursor_errors() {
    let (_dir, store) = fresh();
    append_all(&store, vec![ev(), ev()]).await;
    let alert_cursor = super::super::cursor::IdCursor::Alert.encode(1);
    for bad in ["%%%", "abc", "AAAA", "", alert_cursor.as_str()] {
        let q = EventQuery { cursor: Some(bad.to_string()), ..query(Order::Asc) };
        assert!(matches!(store.query(&q), Err(StoreError::InvalidCursor(_))), "{bad:?}");
    }
    let q = AlertQuery { cursor: Some("nope".into()), limit: 10, ..Default::default() };
    assert!(matches!(store.alerts(&q), Err(StoreError::InvalidCursor(_))));
    let event_cursor =
        super::super::cursor::encode_event(super::super::keys::Position { time_micros: 0, seq: 1 });
    let q = AlertQuery { cursor: Some(event_cursor), limit: 10, ..Default::default() };
    assert!(matches!(store.alerts(&q), Err(StoreError::InvalidCursor(_))));
    assert!(matches!(store.quarantine(10, Some("@@")), Err(StoreError::InvalidCursor(_))));
}
