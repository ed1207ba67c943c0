//! Per-event cost of `alert-password-spray`, natively (host stand-in state and counters):
//! `cargo bench -p alert-password-spray --bench per_event`.

use std::hint::black_box;

use alert_password_spray::AlertPasswordSpray;
use auditgate_sdk::host::native;
use auditgate_sdk::runtime::{evaluate_one, init};
use criterion::{Criterion, criterion_group, criterion_main};

/// A ~600-byte failed login like the W1 workload's.
const FAILURE: &str = r#"{"id":"evt-7f3a9c2e-0b41-4d8e-9a77-1c5e2f3b4d6a","time":"2024-05-08T21:30:00.000000Z","action":"user.login","outcome":"failure","user":"alice.martin@example.com","ip":"192.0.2.10","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36","session_id":"s-0f9e8d7c6b5a","request_id":"req-1a2b3c4d5e6f","resource_type":"session","resource_id":"web","reason":"wrong_password","severity":"info","details":{"mfa":"totp","tenant":"acme-eu","client":"web-portal","region":"eu-central-1","attempt":1,"flags":["remember_me"],"note":"sign-in from the office network"}}"#;

fn bench(c: &mut Criterion) {
    native::reset();
    let p = init::<AlertPasswordSpray>(b"{}").expect("valid config");
    let success = FAILURE.replace(r#""outcome":"failure""#, r#""outcome":"success""#);
    c.bench_function("alert-password-spray/successful login (skipped)", |b| {
        b.iter(|| evaluate_one(&p, black_box(success.as_bytes())))
    });
    c.bench_function("alert-password-spray/failed login (pair already seen)", |b| {
        b.iter(|| evaluate_one(&p, black_box(FAILURE.as_bytes())))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
