//! The detectors over the strings of a ~600-byte event: every detector on, as
//! `redact-secrets` runs them on every string of every event.
//!
//! `cargo bench -p auditgate-sdk --bench detect`

use std::hint::black_box;

use auditgate_sdk::detect::{Detectors, Kind, Span};
use auditgate_sdk::{Event, Value};
use criterion::{Criterion, criterion_group, criterion_main};

/// A typical event without secrets.
const CLEAN: &str = r#"{"id":"4f0c2a9e-8d51-4c1b-9a57-1f1d2c3b4a59","time":"2024-05-01T12:34:56.789Z","action":"user.login","outcome":"failure","user":"alice.martin","ip":"192.0.2.7","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36","session_id":"s-9f8e7d6c5b4a","request_id":"req-2024-05-01-000123","resource_type":"account","resource_id":"acct-778899","reason":"wrong_password","details":{"method":"password","mfa":"totp","attempt":3,"client":{"name":"web","version":"4.12.1"},"note":"login failed after password reset email was sent; user retried from the same device","path":"/v1/auth/login?redirect=%2Fdashboard"}}"#;

/// The same size, with a few secrets in free text.
const DIRTY: &str = r#"{"id":"4f0c2a9e-8d51-4c1b-9a57-1f1d2c3b4a59","time":"2024-05-01T12:34:56.789Z","action":"purchase.complete","outcome":"failure","user":"alice.martin@example.com","ip":"192.0.2.7","user_agent":"deploy-bot/2.1 (token ghp_0123456789abcdefghijABCDEFGHIJ012345)","session_id":"s-9f8e7d6c5b4a","request_id":"req-2024-05-01-000123","resource_type":"order","resource_id":"ord-778899","reason":"card_declined","details":{"method":"card","attempt":3,"note":"card 4111 1111 1111 1111 declined; retried with Authorization: Bearer abc123def456ghi789","headers":{"X-Trace":"t-123","Cookie":"sid=9f8e7d6c"},"iban":"DE89 3704 0044 0532 0130 00","path":"/v1/pay?x=1"}}"#;

fn strings(json: &str) -> Vec<String> {
    let event = Event::new(json.as_bytes());
    event.strings().map(|(_, s)| s.to_string()).collect()
}

fn scan_all(detectors: Detectors, strings: &[String], spans: &mut Vec<Span>) -> usize {
    let mut found = 0;
    for s in strings {
        detectors.scan_into(s, spans);
        found += spans.len();
    }
    found
}

fn bench(c: &mut Criterion) {
    let all = Detectors::all();
    for (name, json) in [("clean", CLEAN), ("dirty", DIRTY)] {
        let strings = strings(json);
        let mut spans = Vec::new();
        eprintln!(
            "{name}: {} bytes, {} strings, {} spans",
            json.len(),
            strings.len(),
            scan_all(all, &strings, &mut spans)
        );
        c.bench_function(&format!("detect/all_detectors/{name}_event_strings"), |b| {
            b.iter(|| scan_all(all, black_box(&strings), &mut spans))
        });
        // The same, including parsing the event and walking it, as a policy does.
        c.bench_function(&format!("detect/parse_walk_scan/{name}_event"), |b| {
            b.iter(|| {
                let event = Event::new(black_box(json.as_bytes()));
                let mut found = 0;
                for node in event.walk() {
                    if let Value::String(s) = node.value {
                        all.scan_into(s, &mut spans);
                        found += spans.len();
                    }
                }
                found
            })
        });
    }
}

/// Each detector alone over the clean event's strings: where the time goes.
fn bench_each(c: &mut Criterion) {
    let strings = strings(CLEAN);
    let mut spans = Vec::new();
    let mut group = c.benchmark_group("detect/one_detector/clean_event_strings");
    group
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    for kind in Kind::ALL {
        let only = Detectors::none().with(kind);
        group.bench_function(kind.name(), |b| b.iter(|| scan_all(only, black_box(&strings), &mut spans)));
    }
    group.finish();
}

criterion_group!(benches, bench, bench_each);
criterion_main!(benches);
