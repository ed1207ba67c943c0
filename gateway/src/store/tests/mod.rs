//! Tests of the store against real sled files in a temporary directory.

mod append;
mod bench;
mod chain;
mod encryption;
mod failure;
mod idempotency;
mod lists;
mod query;
mod recovery;
mod retention;

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{
    AppendOutcome, EventQuery, NewAlert, NewQuarantine, NewRecord, Order, Pending, Store, StoreOptions,
};

/// Options for a test store in `dir`.
pub(super) fn options(dir: &Path) -> StoreOptions {
    StoreOptions {
        data_dir: dir.join("data"),
        cache_capacity_bytes: 16 << 20,
        flush_linger: Duration::ZERO,
        idempotency_window: Duration::from_secs(86_400),
        max_batch_events: 10_000,
        checkpoints: None,
        encryption: None,
    }
}

/// A fresh store in a new temporary directory (kept alive by the returned guard).
pub(super) fn fresh() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&options(dir.path())).expect("open");
    (dir, store)
}

/// Base time of test events: 2024-01-01T00:00:00Z in microseconds.
pub(super) const T0: i64 = 1_704_067_200_000_000;

/// Builds test records.
#[derive(Clone)]
pub(super) struct Ev {
    fields: Map<String, Value>,
    time_micros: i64,
    client_id: Option<String>,
    received_at: String,
    source: String,
    alerts: Vec<NewAlert>,
}

/// A `user.login`/`success` event at [`T0`].
pub(super) fn ev() -> Ev {
    let mut fields = Map::new();
    fields.insert("action".into(), json!("user.login"));
    fields.insert("outcome".into(), json!("success"));
    fields.insert("severity".into(), json!("info"));
    Ev {
        fields,
        time_micros: T0,
        client_id: None,
        received_at: now(),
        source: "app".into(),
        alerts: Vec::new(),
    }
}

/// Now, RFC 3339 with microseconds.
pub(super) fn now() -> String {
    super::alerts::format_micros(chrono::Utc::now().timestamp_micros())
}

impl Ev {
    /// Sets a string field.
    pub(super) fn set(mut self, name: &str, value: &str) -> Ev {
        self.fields.insert(name.into(), json!(value));
        self
    }
    pub(super) fn user(self, u: &str) -> Ev {
        self.set("user", u)
    }
    pub(super) fn action(self, a: &str) -> Ev {
        self.set("action", a)
    }
    pub(super) fn outcome(self, o: &str) -> Ev {
        self.set("outcome", o)
    }
    pub(super) fn ip(self, ip: &str) -> Ev {
        self.set("ip", ip)
    }
    /// Event time, `offset` seconds after [`T0`].
    pub(super) fn at(mut self, offset_secs: i64) -> Ev {
        self.time_micros = T0 + offset_secs * 1_000_000;
        self
    }
    pub(super) fn at_micros(mut self, micros: i64) -> Ev {
        self.time_micros = micros;
        self
    }
    pub(super) fn id(mut self, id: &str) -> Ev {
        self.client_id = Some(id.into());
        self.fields.insert("id".into(), json!(id));
        self
    }
    pub(super) fn received(mut self, micros: i64) -> Ev {
        self.received_at = super::alerts::format_micros(micros);
        self
    }
    pub(super) fn source(mut self, s: &str) -> Ev {
        self.source = s.into();
        self
    }
    pub(super) fn alert(mut self, rule: &str, severity: &str) -> Ev {
        self.alerts.push(NewAlert {
            policy: "alert-bruteforce".into(),
            rule: rule.into(),
            severity: severity.into(),
            summary: format!("{rule} fired"),
            labels: vec![("user".into(), "x".into()), ("count".into(), "5".into())],
        });
        self
    }
    pub(super) fn record(self) -> NewRecord {
        let mut event = self.fields;
        event.insert("time".into(), json!(super::alerts::format_micros(self.time_micros)));
        NewRecord {
            client_id: self.client_id,
            event,
            time_micros: self.time_micros,
            received_at: self.received_at,
            source: self.source,
            policy_set: "ps-1".into(),
            redacted: vec!["/details/password".into()],
            tags: vec!["t1".into()],
            alerts: self.alerts,
        }
    }
    pub(super) fn pending(self) -> Pending {
        Pending::Record(self.record())
    }
}

/// A quarantine item.
pub(super) fn quarantined(n: u32) -> Pending {
    let mut event = Map::new();
    event.insert("action".into(), json!("user.login"));
    event.insert("n".into(), json!(n));
    Pending::Quarantine(NewQuarantine {
        event,
        policy: "enrich".into(),
        error: format!("trap {n}"),
        received_at: now(),
        source: "app".into(),
    })
}

/// Appends and returns the stored seqs (panics on anything but `Stored`).
pub(super) async fn append_all(store: &Store, evs: Vec<Ev>) -> Vec<u64> {
    let out = store.append(evs.into_iter().map(Ev::pending).collect()).await.expect("append");
    out.into_iter()
        .map(|o| match o {
            AppendOutcome::Stored { seq } => seq,
            other => panic!("expected Stored, got {other:?}"),
        })
        .collect()
}

/// Every matching seq, by following cursors with pages of `limit`; checks that only the
/// last page lacks a cursor and that no page is empty.
pub(super) fn collect(store: &Store, q: &EventQuery, limit: usize) -> Vec<u64> {
    let mut q = q.clone();
    q.limit = limit;
    q.cursor = None;
    let mut seqs = Vec::new();
    loop {
        let page = store.query(&q).expect("query");
        assert!(page.items.len() <= limit);
        seqs.extend(page.items.iter().map(|r| r["seq"].as_u64().expect("seq")));
        match page.next_cursor {
            Some(c) => {
                assert_eq!(page.items.len(), limit, "a page with a cursor is full");
                q.cursor = Some(c);
            }
            None => break,
        }
        assert!(seqs.len() < 1_000_000, "runaway paging");
    }
    seqs
}

/// A query with only the order set.
pub(super) fn query(order: Order) -> EventQuery {
    EventQuery { limit: 100, order, ..EventQuery::default() }
}
