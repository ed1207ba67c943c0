//! Reliability (opt-in: `--features reliability`): 50 hot reloads, alternating between two
//! valid policy sets, while several clients ingest without pause. No request may fail,
//! every acknowledged event must be stored under its `seq`, and each stored event must
//! name one of the two sets. Prints the reload times the gateway reported.
#![cfg(feature = "reliability")]

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use auditgate_tests::*;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};

const RELOADS: usize = 50;
const CLIENTS: usize = 4;
const BATCH: usize = 20;

/// `config` with the file watch off and without the `enrich-context` table.
fn configs() -> (String, String) {
    let a = default_config().replacen("[server]\n", "[server]\nwatch_config = false\n", 1);
    let start = a.find("[[policy]]\nname = \"enrich-context\"").expect("policy.toml has enrich-context");
    let end = start + a[start..].find("\n[[policy]]").expect("a policy after enrich-context") + 1;
    let b = format!("{}{}", &a[..start], &a[end..]);
    (a, b)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

#[test]
fn fifty_reloads_under_continuous_ingest_lose_nothing() {
    let (config_a, config_b) = configs();
    let gw = Gateway::start(&config_a);
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (client, url, stop) =
                (gw.client(), format!("{}/v1/events/bulk", gw.base_url()), stop.clone());
            thread::spawn(move || {
                let mut acked: Vec<(String, u64)> = Vec::new();
                let mut failures: Vec<String> = Vec::new();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let ids: Vec<String> = (0..BATCH).map(|i| format!("c{c}-r{n}-e{i}")).collect();
                    n += 1;
                    let body: String = ids
                        .iter()
                        .map(|id| {
                            let ev = json!({"id": id, "action": "user.login", "outcome": "failure",
                                            "user": format!("u{c}-{}", n % 7), "ip": "192.0.2.44",
                                            "user_agent": "curl/8.5.0", "details": {"password": "hunter2"}});
                            format!("{ev}\n")
                        })
                        .collect();
                    let resp = client
                        .post(&url)
                        .header(AUTHORIZATION, format!("Bearer {INGEST_KEY}"))
                        .header(CONTENT_TYPE, "application/x-ndjson")
                        .body(body)
                        .send();
                    let (status, answer) = match resp {
                        Ok(r) => (r.status().as_u16(), r.json::<Value>().unwrap_or(Value::Null)),
                        Err(e) => {
                            failures.push(format!("request error: {e}"));
                            continue;
                        }
                    };
                    if status != 200 || answer["accepted"] != BATCH {
                        failures.push(format!("{status} {answer}"));
                        continue;
                    }
                    for (id, result) in
                        ids.into_iter().zip(answer["results"].as_array().into_iter().flatten())
                    {
                        match result["seq"].as_u64() {
                            Some(seq) => acked.push((id, seq)),
                            None => failures.push(format!("no seq for {id}: {result}")),
                        }
                    }
                }
                (acked, failures)
            })
        })
        .collect();

    let mut sets: Vec<String> = Vec::new();
    let mut durations = Vec::with_capacity(RELOADS);
    let mut swaps = Vec::with_capacity(RELOADS);
    let mut cached = 0;
    for i in 0..RELOADS {
        // Let each set process some events.
        thread::sleep(Duration::from_millis(40));
        gw.rewrite_config(if i % 2 == 0 { &config_b } else { &config_a });
        let (status, answer) = gw.request(Method::POST, "/v1/admin/reload", Auth::Bearer(ADMIN_KEY), None);
        assert_eq!(status, 200, "reload {i}: {answer}");
        if i == 0 {
            for key in ["old_policy_set", "new_policy_set"] {
                sets.push(answer[key].as_str().expect("policy sets").to_string());
            }
        }
        assert_eq!(answer["changed"], true, "reload {i} alternates the sets: {answer}");
        assert!(answer["new_policy_set"] == sets[(i + 1) % 2].as_str(), "reload {i}: {answer}");
        durations.push(answer["duration_ms"].as_f64().expect("duration_ms"));
        swaps.push(answer["swap_us"].as_f64().expect("swap_us"));
        cached +=
            answer["policies"].as_array().expect("policies").iter().all(|p| p["from_cache"] == true) as usize;
    }
    thread::sleep(Duration::from_millis(40));
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    let mut failures = Vec::new();
    for c in clients {
        let (a, f) = c.join().expect("client thread");
        acked.extend(a);
        failures.extend(f);
    }
    assert!(
        failures.is_empty(),
        "{} failed requests, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );

    let stored: HashMap<u64, Value> =
        gw.query_all("", 1000).into_iter().map(|r| (r["seq"].as_u64().expect("seq"), r)).collect();
    let allowed: BTreeSet<&str> = sets.iter().map(String::as_str).collect();
    let mut per_set: HashMap<String, usize> = HashMap::new();
    for (id, seq) in &acked {
        let rec = stored.get(seq).unwrap_or_else(|| panic!("acknowledged seq {seq} ({id}) is not stored"));
        assert_eq!(rec["id"], id.as_str(), "seq {seq}");
        let set = rec["policy_set"].as_str().unwrap_or_default();
        assert!(allowed.contains(set), "seq {seq}: policy_set {set} is neither of {allowed:?}");
        assert_eq!(rec["details"]["password"], "[REDACTED]", "redaction ran in both sets: {rec}");
        *per_set.entry(set.to_string()).or_default() += 1;
    }
    assert_eq!(stored.len(), acked.len(), "stored events that no one acknowledged");
    assert_eq!(per_set.len(), 2, "both sets processed events: {per_set:?}");

    durations.sort_by(f64::total_cmp);
    swaps.sort_by(f64::total_cmp);
    eprintln!(
        "reload under load: {RELOADS} reloads, {} events acknowledged by {CLIENTS} clients, 0 failed; \
         per set {per_set:?}; all modules from cache in {cached}/{RELOADS}; reload (read + build + swap) ms \
         median {:.1} p90 {:.1} max {:.1}; pointer swap µs median {:.1} max {:.1}",
        acked.len(),
        percentile(&durations, 0.5),
        percentile(&durations, 0.9),
        percentile(&durations, 1.0),
        percentile(&swaps, 0.5),
        percentile(&swaps, 1.0),
    );
    assert_eq!(cached, RELOADS, "every reload found its modules in the cache");
}
