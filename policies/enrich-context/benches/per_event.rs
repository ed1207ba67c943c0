//! Per-event cost of `enrich-context`, natively (the host stand-in answers lookups from a
//! map): `cargo bench -p enrich-context --bench per_event`.

use std::hint::black_box;

use auditgate_sdk::host::native;
use auditgate_sdk::runtime::{evaluate_one, init};
use criterion::{Criterion, criterion_group, criterion_main};
use enrich_context::EnrichContext;

/// A ~600-byte login event like the W1 workload's.
const EVENT: &str = r#"{"id":"evt-7f3a9c2e-0b41-4d8e-9a77-1c5e2f3b4d6a","time":"2024-05-08T21:30:00.000000Z","action":"user.login","outcome":"success","user":"alice.martin@example.com","ip":"192.0.2.10","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36","session_id":"s-0f9e8d7c6b5a","request_id":"req-1a2b3c4d5e6f","resource_type":"session","resource_id":"web","reason":"","severity":"info","details":{"mfa":"totp","tenant":"acme-eu","client":"web-portal","region":"eu-central-1","attempt":1,"flags":["remember_me"],"note":"routine sign-in from the office network"}}"#;
/// The same size, but nothing to enrich (no ip, no user agent).
const PLAIN: &str = r#"{"id":"evt-7f3a9c2e-0b41-4d8e-9a77-1c5e2f3b4d6b","time":"2024-05-08T21:30:00.000000Z","action":"purchase.complete","outcome":"success","user":"alice.martin@example.com","session_id":"s-0f9e8d7c6b5a","request_id":"req-1a2b3c4d5e6f","resource_type":"order","resource_id":"ord-1234567890","severity":"info","details":{"amount":"129.90","currency":"EUR","items":3,"tenant":"acme-eu","client":"web-portal","region":"eu-central-1","coupon":"SPRING24","note":"standard checkout with saved card","warehouse":"fra-2","shipping":"express","gift":false,"channel":"web","campaign":"newsletter-may"}}"#;

fn bench(c: &mut Criterion) {
    native::reset();
    native::insert_lookup(
        "geo",
        "192.0.2.10",
        r#"{"country":"DE","city":"Berlin","lat":"52.5200","lon":"13.4050","asn":"AS64496"}"#,
    );
    let all = init::<EnrichContext>(br#"{"time_zone":"Europe/Berlin"}"#).expect("valid config");
    let default = init::<EnrichContext>(b"{}").expect("valid config");
    c.bench_function("enrich-context/geo+ua+local_time", |b| {
        b.iter(|| evaluate_one(&all, black_box(EVENT.as_bytes())))
    });
    c.bench_function("enrich-context/geo+ua (default config)", |b| {
        b.iter(|| evaluate_one(&default, black_box(EVENT.as_bytes())))
    });
    c.bench_function("enrich-context/init (default config)", |b| {
        b.iter(|| init::<EnrichContext>(black_box(b"{}")))
    });
    c.bench_function("enrich-context/nothing to enrich", |b| {
        b.iter(|| evaluate_one(&default, black_box(PLAIN.as_bytes())))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
