//! One ~600-byte event through the policy engine: each policy of the default chain alone,
//! the whole chain (`redact-secrets → enrich-context → alert-bruteforce`, built-ins with
//! their `policy.toml` config, plus the example `geo` table so enrichment has something
//! to find), and the engine's own cost per call, measured with `noop-policy`, a component
//! that answers an empty decision without reading the event.
//!
//! `cargo bench -p auditgate --bench chain -- --warm-up-time 2 --measurement-time 5`
//!
//! - `policy/NAME`: `PolicyEngine::process` of one event with only that policy loaded:
//!   serializing the event, the call, the policy's work, applying its patches and
//!   re-validating the event.
//! - `chain/default`: the three together.
//! - `engine/noop_process`: `process` with only `noop-policy`; the engine's overhead per
//!   policy beyond the policy's own work.
//! - `engine/noop_call`: `InstancePool::evaluate` of the pre-serialized event (instance
//!   from the pool, copying the batch in, the call, lifting the decision): the wasm call
//!   alone.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use chrono::Utc;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::json;

use auditgate::config::{Config, LookupConfig, LookupFormat, LookupKind, PolicyConfig};
use auditgate::engine::host::HostServices;
use auditgate::engine::host::lookup::LookupTables;
use auditgate::engine::pseudonym::Pseudonymizer;
use auditgate::engine::wasm::{InstancePool, InstanceSpec, WasmRuntime};
use auditgate::engine::{ChainOutcome, PolicyEngine};
use auditgate::event::{ValidEvent, validate};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("gateway/ has a parent").to_path_buf()
}

/// A failed login with a password, a bearer token in free text, a user agent and an IP the
/// example geo table knows: every policy of the chain has work to do.
fn event() -> ValidEvent {
    let value = json!({
        "id": "bench-0001",
        "time": "2024-05-14T09:30:00Z",
        "action": "user.login",
        "outcome": "failure",
        "user": "alice@example.com",
        "ip": "192.0.2.44",
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
        "session_id": "s-5f2c9a",
        "request_id": "r-81d0e7",
        "resource_type": "account",
        "resource_id": "acct-42",
        "reason": "wrong_password",
        "details": {
            "password": "hunter2-correct-horse",
            "method": "password",
            "mfa": false,
            "note": "retry from saved session, header was Authorization: Bearer eyx9Tq2LmZ81vQw",
            "client": {"app": "web", "version": "4.18.2", "locale": "de-DE"},
            "attempt": 3
        }
    });
    let size = value.to_string().len();
    assert!((550..=650).contains(&size), "the bench event should be ~600 bytes, is {size}");
    validate(value, Utc::now()).expect("the bench event is valid")
}

/// The repository's `policy.toml` with the example geo table declared.
fn default_config() -> Config {
    let mut config = Config::load(&workspace().join("policy.toml")).expect("policy.toml loads");
    config.lookup.push(LookupConfig {
        name: "geo".into(),
        path: workspace().join("examples/geo-cidr.csv"),
        format: Some(LookupFormat::Csv),
        kind: LookupKind::Cidr,
    });
    config
}

fn engine_with(config: &Config, policies: Vec<PolicyConfig>) -> PolicyEngine {
    let config = Config { policy: policies, ..config.clone() };
    PolicyEngine::load(&config, Pseudonymizer::new([7; 32])).expect("the policies load")
}

/// Builds `tests/policies/noop-policy` for wasm32-wasip2, like the black-box tests build
/// their test policies.
fn noop_module() -> PathBuf {
    let target = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().find(|p| p.join("CACHEDIR.TAG").is_file()).map(Path::to_path_buf))
        .unwrap_or_else(|| workspace().join("target"))
        .join("wasm-policies");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--target", "wasm32-wasip2", "--profile", "policy", "-p", "noop-policy"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(workspace())
        .stdin(Stdio::null())
        .status()
        .expect("run cargo to build noop-policy");
    assert!(status.success(), "building noop-policy failed");
    target.join("wasm32-wasip2/policy/noop_policy.wasm")
}

fn bench_process(c: &mut Criterion, name: &str, engine: &PolicyEngine, event: &ValidEvent) {
    // Check once that the event goes through (a bench of a failing path would mislead).
    let outcome = engine.process(vec![event.clone()], Utc::now());
    assert!(matches!(outcome[0], ChainOutcome::Pass(_)), "{name}: {:?}", outcome[0]);
    c.bench_function(name, |b| {
        b.iter_batched(
            || vec![event.clone()],
            |events| black_box(engine.process(events, Utc::now())),
            BatchSize::SmallInput,
        )
    });
}

fn chain(c: &mut Criterion) {
    let config = default_config();
    let event = event();
    for policy in &config.policy {
        let engine = engine_with(&config, vec![policy.clone()]);
        bench_process(c, &format!("policy/{}", policy.name), &engine, &event);
    }
    let engine = engine_with(&config, config.policy.clone());
    bench_process(c, "chain/default", &engine, &event);

    let noop = PolicyConfig {
        name: "noop".into(),
        module: noop_module().to_string_lossy().into_owned(),
        ..config.policy[0].clone()
    };
    let engine = engine_with(&config, vec![noop.clone()]);
    bench_process(c, "engine/noop_process", &engine, &event);

    let runtime = WasmRuntime::new().expect("wasm runtime");
    let bytes = std::fs::read(&noop.module).expect("read noop-policy");
    let pre = runtime.load(&bytes).expect("noop-policy is a component");
    let host = HostServices::in_memory(&["noop"], config.engine.host.clone(), LookupTables::default())
        .expect("host services");
    let spec = InstanceSpec {
        name: Arc::from("noop"),
        config_json: b"{}".to_vec(),
        timeout_ms: 50,
        memory_bytes: 32 << 20,
        host: host.context("noop").expect("context"),
    };
    let pool = InstancePool::new(&runtime, pre, spec).expect("instance pool");
    let input = vec![serde_json::to_vec(&event.fields).expect("serialize")];
    c.bench_function("engine/noop_call", |b| {
        b.iter(|| black_box(pool.evaluate(black_box(&input)).expect("the call succeeds")))
    });
}

criterion_group!(benches, chain);
criterion_main!(benches);
