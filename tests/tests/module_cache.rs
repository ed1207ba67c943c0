//! The compiled-component cache (`engine.module_cache`): the first start compiles the
//! chain and leaves one artifact per module in `<data_dir>/module-cache`, named by the
//! module's SHA-256; later starts load them instead of compiling, a damaged artifact is
//! compiled again and replaced without failing the start, and the policies behave the
//! same whichever way their code was obtained.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use auditgate_tests::*;
use serde_json::{Value, json};

/// The default chain.
const POLICIES: [&str; 3] = ["redact-secrets", "enrich-context", "alert-bruteforce"];

/// The `policy loaded` lines of one start's log: policy name → (module sha256, code source).
fn loaded(log: &str) -> BTreeMap<String, (String, String)> {
    let field = |line: &str, name: &str| {
        line.split(&format!(" {name}="))
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_string)
    };
    log.lines()
        .filter(|l| l.contains("policy loaded"))
        .map(|l| {
            let get = |name| field(l, name).unwrap_or_else(|| panic!("no {name}= in: {l}"));
            (get("policy"), (get("sha256"), get("code")))
        })
        .collect()
}

fn log_since(gw: &Gateway, offset: usize) -> String {
    let log = std::fs::read_to_string(gw.log_path()).expect("read the gateway log");
    log.get(offset..).unwrap_or_default().to_string()
}

fn log_len(gw: &Gateway) -> usize {
    std::fs::metadata(gw.log_path()).map(|m| m.len() as usize).unwrap_or(0)
}

fn cache_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    files
}

/// The cache file of the module with hex SHA-256 `sha`.
fn file_of(files: &[PathBuf], sha: &str) -> PathBuf {
    let found: Vec<&PathBuf> = files
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&format!("{sha}-"))))
        .collect();
    assert_eq!(found.len(), 1, "one cache file for module {sha}: {files:?}");
    found[0].clone()
}

/// Sends an event every policy of the chain acts on and checks what each did.
#[track_caller]
fn chain_works(gw: &Gateway, when: &str) -> Value {
    let secret = unique_token("pw-");
    let seq = gw.ingest_one(&json!({
        "action": "user.login", "outcome": "failure", "user": unique_token("u-"),
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
        "details": {"password": secret},
    }));
    let (status, rec) = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq}"));
    assert_eq!(status, 200, "{when}: {rec}");
    assert_eq!(rec["details"]["password"], "[REDACTED]", "{when}: redact-secrets: {rec}");
    assert!(rec["details"]["geo"].is_object(), "{when}: enrich-context (geo): {rec}");
    assert!(rec["details"]["ua"].is_object(), "{when}: enrich-context (ua): {rec}");
    rec
}

#[test]
fn the_second_start_loads_the_chain_from_the_cache() {
    let mut gw = Gateway::start_default();
    let cache_dir = gw.data_dir().join("module-cache");

    let first = loaded(&log_since(&gw, 0));
    assert_eq!(first.keys().map(String::as_str).collect::<Vec<_>>(), sorted(&POLICIES), "{first:?}");
    for (policy, (_, code)) in &first {
        assert_eq!(code, "compiled", "{policy} on a fresh data dir");
    }
    let files = cache_files(&cache_dir);
    assert_eq!(files.len(), POLICIES.len(), "{files:?}");
    for (sha, _) in first.values() {
        file_of(&files, sha);
    }
    let before = chain_works(&gw, "first start");

    assert!(gw.stop(), "graceful stop; log:\n{}", gw.log_tail(3000));
    let offset = log_len(&gw);
    gw.restart();
    let second_log = log_since(&gw, offset);
    let second = loaded(&second_log);
    assert_eq!(second.len(), POLICIES.len(), "{second_log}");
    for (policy, (sha, code)) in &second {
        assert_eq!(code, "cache", "{policy} on the second start:\n{second_log}");
        assert_eq!(sha, &first[policy].0, "{policy}: same module");
    }
    assert!(second_log.contains("from_cache=3 compiled=0"), "{second_log}");
    assert_eq!(cache_files(&cache_dir), files, "the cache holds the same files");
    let after = chain_works(&gw, "second start");
    assert_eq!(after["policy_set"], before["policy_set"], "the same policy set is running");
}

#[test]
fn a_damaged_cache_file_is_compiled_again_and_replaced() {
    let mut gw = Gateway::start_default();
    let cache_dir = gw.data_dir().join("module-cache");
    let first = loaded(&log_since(&gw, 0));
    assert!(gw.stop(), "graceful stop; log:\n{}", gw.log_tail(3000));

    let files = cache_files(&cache_dir);
    let damaged_sha = &first["enrich-context"].0;
    let damaged_path = file_of(&files, damaged_sha);
    let good = std::fs::read(&damaged_path).expect("read the cache file");
    let mut bad = good.clone();
    let middle = bad.len() / 2;
    bad[middle] ^= 0x5a;
    std::fs::write(&damaged_path, &bad).expect("damage the cache file");
    let truncated_path = file_of(&files, &first["alert-bruteforce"].0);
    let whole = std::fs::read(&truncated_path).expect("read the cache file");
    std::fs::write(&truncated_path, &whole[..whole.len() / 3]).expect("truncate the cache file");

    let offset = log_len(&gw);
    gw.restart();
    let log = log_since(&gw, offset);
    let second = loaded(&log);
    assert_eq!(second["redact-secrets"].1, "cache", "{log}");
    assert_eq!(second["enrich-context"].1, "compiled", "{log}");
    assert_eq!(second["alert-bruteforce"].1, "compiled", "{log}");
    assert!(log.contains("cache entry unusable"), "the damage is logged:\n{log}");
    assert_eq!(std::fs::read(&damaged_path).expect("read"), good, "the damaged file is replaced");
    assert_eq!(std::fs::read(&truncated_path).expect("read"), whole, "the truncated file is replaced");
    chain_works(&gw, "after recompiling");
}

#[test]
fn with_the_cache_off_nothing_is_written() {
    let config = format!("{}\n[engine]\nmodule_cache = false\n", default_config());
    let gw = Gateway::start(&config);
    let log = log_since(&gw, 0);
    let first = loaded(&log);
    assert_eq!(first.len(), POLICIES.len(), "{log}");
    assert!(first.values().all(|(_, code)| code == "compiled"), "{log}");
    assert!(!gw.data_dir().join("module-cache").exists(), "no cache dir with module_cache = false");
    chain_works(&gw, "without a cache");
}

fn sorted(names: &[&'static str]) -> Vec<&'static str> {
    let mut v = names.to_vec();
    v.sort();
    v
}

#[test]
fn a_component_the_host_refuses_is_not_cached() {
    let mut gw = Gateway::start_default();
    assert!(gw.stop(), "graceful stop; log:\n{}", gw.log_tail(3000));
    let cache_dir = gw.data_dir().join("module-cache");
    let before = cache_files(&cache_dir);

    let refused = PolicySpec::new("wants-network", &test_policies().foreign_import, OnError::Reject);
    let config = with_policies(&default_config(), &[refused])
        .replace(DATA_DIR_PLACEHOLDER, &toml_str(&gw.data_dir().to_string_lossy()));
    let (status, stderr) = serve_until_exit(&config);
    assert!(!status.success(), "the gateway must not start with this policy: {stderr}");
    let foreign = std::fs::read(&test_policies().foreign_import).expect("read the component");
    let foreign_sha = sha256_hex(&foreign);
    let after = cache_files(&cache_dir);
    assert!(
        after.iter().all(|p| !p.to_string_lossy().contains(&foreign_sha)),
        "the refused component was cached: {after:?}"
    );
    assert_eq!(after, before, "the default chain's entries stay: {stderr}");
}
