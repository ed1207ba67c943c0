//! Per-event cost of `alert-anomaly`, natively (host stand-in state):
//! `cargo bench -p alert-anomaly --bench per_event`.

use std::hint::black_box;

use alert_anomaly::AlertAnomaly;
use auditgate_sdk::host::native;
use auditgate_sdk::runtime::{evaluate_one, init};
use criterion::{Criterion, criterion_group, criterion_main};

/// A ~600-byte successful login, already enriched with geo and ua.
const LOGIN: &str = r#"{"id":"evt-7f3a9c2e-0b41-4d8e-9a77-1c5e2f3b4d6a","time":"2024-05-08T21:30:00.000000Z","action":"user.login","outcome":"success","user":"alice.martin@example.com","ip":"192.0.2.10","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36","session_id":"s-0f9e8d7c6b5a","request_id":"req-1a2b3c4d5e6f","severity":"info","details":{"mfa":"totp","tenant":"acme-eu","geo":{"country":"DE","city":"Berlin","lat":52.52,"lon":13.405,"asn":"AS64496"},"ua":{"browser":"Chrome","version":"124","os":"Windows","device":"desktop","bot":false,"scanner":false}}}"#;
/// The same size, an action no rule looks at, not enriched (the user agent is classified).
const PLAIN: &str = r#"{"id":"evt-7f3a9c2e-0b41-4d8e-9a77-1c5e2f3b4d6b","time":"2024-05-08T21:30:00.000000Z","action":"purchase.complete","outcome":"success","user":"alice.martin@example.com","ip":"192.0.2.10","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36","session_id":"s-0f9e8d7c6b5a","request_id":"req-1a2b3c4d5e6f","resource_type":"order","resource_id":"ord-1234567890","severity":"info","details":{"amount":"129.90","currency":"EUR","items":3,"tenant":"acme-eu","client":"web-portal","region":"eu-central-1","coupon":"SPRING24"}}"#;

fn bench(c: &mut Criterion) {
    native::reset();
    let p = init::<AlertAnomaly>(br#"{"time_zone":"Europe/Berlin"}"#).expect("valid config");
    c.bench_function("alert-anomaly/enriched successful login (state get+set)", |b| {
        b.iter(|| evaluate_one(&p, black_box(LOGIN.as_bytes())))
    });
    c.bench_function("alert-anomaly/other action, user agent classified", |b| {
        b.iter(|| evaluate_one(&p, black_box(PLAIN.as_bytes())))
    });
    let admin = PLAIN.replace("purchase.complete", "admin.user.create");
    c.bench_function("alert-anomaly/admin action off hours (alert)", |b| {
        b.iter(|| evaluate_one(&p, black_box(admin.as_bytes())))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
