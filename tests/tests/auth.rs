//! Keys and roles on every endpoint; health endpoints without a key.

use auditgate_tests::*;
use reqwest::Method;
use serde_json::json;

const ROLES: [(&str, &str); 3] = [("ingest", INGEST_KEY), ("auditor", AUDITOR_KEY), ("admin", ADMIN_KEY)];

struct Endpoint {
    method: Method,
    path: &'static str,
    role: &'static str,
    body: Option<(&'static str, Vec<u8>)>,
}

fn endpoints() -> Vec<Endpoint> {
    let event = json!({"action": "user.login", "outcome": "success", "user": "auth-test"});
    vec![
        Endpoint {
            method: Method::POST,
            path: "/v1/events",
            role: "ingest",
            body: Some(("application/json", event.to_string().into_bytes())),
        },
        Endpoint {
            method: Method::POST,
            path: "/v1/events/bulk",
            role: "ingest",
            body: Some(("application/x-ndjson", format!("{event}\n").into_bytes())),
        },
        Endpoint { method: Method::GET, path: "/v1/events", role: "auditor", body: None },
        Endpoint {
            method: Method::GET,
            path: "/v1/events?user=auth-test&order=desc",
            role: "auditor",
            body: None,
        },
        Endpoint { method: Method::GET, path: "/v1/events/1", role: "auditor", body: None },
        Endpoint { method: Method::GET, path: "/v1/alerts", role: "auditor", body: None },
        Endpoint { method: Method::GET, path: "/v1/export?format=csv", role: "auditor", body: None },
        Endpoint { method: Method::GET, path: "/v1/lookup?value=auth-test", role: "auditor", body: None },
        Endpoint { method: Method::GET, path: "/v1/quarantine", role: "admin", body: None },
        Endpoint { method: Method::GET, path: "/v1/events/1/proof", role: "auditor", body: None },
        Endpoint { method: Method::GET, path: "/v1/checkpoint", role: "auditor", body: None },
        Endpoint { method: Method::GET, path: "/v1/consistency?from=1", role: "auditor", body: None },
        Endpoint { method: Method::GET, path: "/v1/verify", role: "auditor", body: None },
        Endpoint { method: Method::GET, path: "/v1/stats", role: "auditor", body: None },
        Endpoint { method: Method::GET, path: "/v1/reports/pci-dss", role: "auditor", body: None },
        Endpoint { method: Method::POST, path: "/v1/admin/reload", role: "admin", body: None },
        Endpoint { method: Method::GET, path: "/v1/admin/policies", role: "admin", body: None },
        Endpoint {
            method: Method::POST,
            path: "/v1/admin/erase",
            role: "admin",
            body: Some(("application/json", br#"{"user": "auth-test-erased"}"#.to_vec())),
        },
        Endpoint {
            method: Method::POST,
            path: "/v1/admin/keys/rotate-master",
            role: "admin",
            body: Some((
                "application/json",
                format!(r#"{{"new_master_key": "{}"}}"#, "8".repeat(64)).into_bytes(),
            )),
        },
        Endpoint {
            method: Method::POST,
            path: "/v1/admin/legal-holds",
            role: "admin",
            body: Some(("application/json", br#"{"user": "auth-test-held", "reason": "auth"}"#.to_vec())),
        },
        Endpoint { method: Method::GET, path: "/v1/admin/legal-holds", role: "admin", body: None },
        // The hold the POST above made (the admin tries last, after the POST's admin try).
        Endpoint { method: Method::DELETE, path: "/v1/admin/legal-holds/hold-1", role: "admin", body: None },
    ]
}

/// Endpoints that need no key.
const OPEN: [&str; 4] = ["/healthz", "/readyz", "/metrics", "/openapi.json"];

/// The dashboard's routes: the page and its files need no key (its API calls do), with a
/// concrete path of each.
const OPEN_UI: [(&str, &str); 3] =
    [("/ui", "/ui"), ("/ui/{asset}", "/ui/app.js"), ("/ui/{asset}", "/ui/app.css")];

/// The paths the router declares (`.route("PATH", …)` in `gateway/src/http/mod.rs`).
fn routed_paths() -> Vec<String> {
    let path = workspace_root().join("gateway/src/http/mod.rs");
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    source.split(".route(\"").skip(1).filter_map(|rest| rest.split('"').next()).map(str::to_string).collect()
}

#[test]
fn the_matrix_covers_every_route_of_the_router() {
    let routes = routed_paths();
    assert!(routes.len() >= 10, "the router source did not parse: {routes:?}");
    let covered: Vec<String> = endpoints()
        .iter()
        .map(|e| {
            e.path
                .split('?')
                .next()
                .unwrap_or("")
                .replace("/1", "/{seq}")
                .replace("/v1/reports/pci-dss", "/v1/reports/{framework}")
                .replace("/hold-1", "/{id}")
        })
        .collect();
    let missing: Vec<&String> = routes
        .iter()
        .filter(|r| {
            !covered.contains(r)
                && !OPEN.contains(&r.as_str())
                && !OPEN_UI.iter().any(|(route, _)| route == r)
        })
        .collect();
    assert!(missing.is_empty(), "routes without a key/role check in this file: {missing:?}");
}

#[test]
fn every_endpoint_checks_key_and_role() {
    // A checkpoint after every event, so that the proof endpoints have something to prove;
    // an encrypted store, so that the erasure endpoint has keys to destroy.
    let gw = Gateway::start_with(
        &format!("{}\n[checkpoints]\nevery_events = 1\n", default_config()),
        StartOptions {
            env: vec![
                ("AUDITGATE_STORAGE__ENCRYPTION".into(), "true".into()),
                ("AUDITGATE_MASTER_KEY".into(), "7".repeat(64)),
            ],
            ..StartOptions::default()
        },
    );
    gw.ingest_one(&json!({"action": "user.login", "outcome": "success", "user": "seed"}));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while gw.get(AUDITOR_KEY, "/v1/checkpoint").0 != 200 {
        assert!(std::time::Instant::now() < deadline, "no checkpoint was signed after the first event");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let ingest_hash = sha256_hex(INGEST_KEY.as_bytes());
    let bad_auth: Vec<(String, Auth)> = vec![
        ("no key".into(), Auth::None),
        ("unknown key".into(), Auth::Bearer("ag_dev_unknown_key")),
        ("empty bearer".into(), Auth::Raw("Bearer ")),
        ("key without Bearer".into(), Auth::Raw(INGEST_KEY)),
        ("basic auth".into(), Auth::Raw("Basic YWdfZGV2X2luZ2VzdF9rZXk6")),
        ("the key's hash as key".into(), Auth::Bearer(&ingest_hash)),
        ("a prefix of a key".into(), Auth::Bearer("ag_dev_ingest_ke")),
        ("a key plus a byte".into(), Auth::Bearer("ag_dev_ingest_keyx")),
    ];
    let mut failures = Vec::new();
    for ep in endpoints() {
        for (what, auth) in &bad_auth {
            let (status, body) = gw.request(ep.method.clone(), ep.path, *auth, ep.body.clone());
            if status != 401 || error_code(&body) != "unauthorized" || error_message(&body).is_empty() {
                failures.push(format!(
                    "{} {} with {what}: want 401 unauthorized, got {status} {body}",
                    ep.method, ep.path
                ));
            }
        }
        for (role, key) in ROLES {
            let (status, body) = gw.request(ep.method.clone(), ep.path, Auth::Bearer(key), ep.body.clone());
            if role == ep.role {
                if !(200..300).contains(&status) {
                    failures
                        .push(format!("{} {} as {role}: want 2xx, got {status} {body}", ep.method, ep.path));
                }
            } else if status != 403 || error_code(&body) != "forbidden" || error_message(&body).is_empty() {
                failures.push(format!(
                    "{} {} as {role}: want 403 forbidden, got {status} {body}",
                    ep.method, ep.path
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} wrong answers:\n{}", failures.len(), failures.join("\n"));
    // Of the apps' events, only the two successful ingest calls (plus the seed) stored
    // anything.
    assert_eq!(gw.count_events(), 3);
    // The gateway's own records: the erasure, the master key rotation, the legal hold's
    // creation and release; each refused key, each refused role.
    for action in [
        "auditgate.subject.erase",
        "auditgate.keys.rotate",
        "auditgate.legal_hold.create",
        "auditgate.legal_hold.release",
    ] {
        assert_eq!(gw.query_all(&format!("action={action}"), 100).len(), 1, "{action}");
    }
    let n = endpoints().len();
    let failures = gw.query_all("action=auditgate.auth.failure", 1000);
    assert_eq!(failures.len(), n * bad_auth.len(), "one record per 401");
    let denied = gw.query_all("action=auditgate.access.denied", 1000);
    assert_eq!(denied.len(), n * (ROLES.len() - 1), "one record per 403");
}

#[test]
fn authentication_comes_before_reading_the_body() {
    let gw = Gateway::start_default();
    for (path, auth) in [
        ("/v1/events", Auth::None),
        ("/v1/events/bulk", Auth::Bearer("nope")),
        ("/v1/events", Auth::Bearer(AUDITOR_KEY)),
    ] {
        let (status, body) =
            gw.request(Method::POST, path, auth, Some(("application/json", b"{not json".to_vec())));
        let want = if matches!(auth, Auth::Bearer(k) if k == AUDITOR_KEY) { 403 } else { 401 };
        assert_eq!(status, want, "POST {path} with a bad body and {auth:?}: {body}");
    }
    assert_eq!(gw.count_events(), 0);
}

#[test]
fn the_source_is_the_keys_name() {
    let billing_key = "ag_test_billing_key_0123456789";
    let config = with_key(&default_config(), "billing-app", "ingest", billing_key);
    let gw = Gateway::start(&config);
    let a = gw.ingest_one(&json!({"action": "purchase.complete", "outcome": "success", "user": "x"}));
    let (status, body) = gw
        .post_events(billing_key, &json!({"action": "purchase.complete", "outcome": "success", "user": "y"}));
    assert_eq!(status, 200, "{body}");
    let b = body["results"][0]["seq"].as_u64().unwrap_or_else(|| panic!("{body}"));
    let (_, ra) = gw.get(AUDITOR_KEY, &format!("/v1/events/{a}"));
    let (_, rb) = gw.get(AUDITOR_KEY, &format!("/v1/events/{b}"));
    assert_eq!(ra["source"], INGEST_NAME, "{ra}");
    assert_eq!(rb["source"], "billing-app", "{rb}");
    assert_eq!(seqs(&gw.query_all("source=billing-app", 100)), vec![b]);
    assert_eq!(seqs(&gw.query_all("source=dev-ingest", 100)), vec![a]);
    // A client cannot choose its source.
    let (status, body) = gw.post_events(
        INGEST_KEY,
        &json!({"action": "user.login", "outcome": "success", "source": "billing-app"}),
    );
    assert_eq!(status, 400, "{body}");
}

#[test]
fn health_endpoints_need_no_key() {
    let gw = Gateway::start_default();
    for path in OPEN {
        for auth in [Auth::None, Auth::Bearer("garbage"), Auth::Bearer(INGEST_KEY)] {
            let (status, body) = gw.request(Method::GET, path, auth, None);
            assert_eq!(status, 200, "GET {path} with {auth:?}: {body}");
        }
    }
    for (_, path) in OPEN_UI {
        for auth in [Auth::None, Auth::Bearer("garbage"), Auth::Bearer(INGEST_KEY)] {
            let (status, body) = gw.request(Method::GET, path, auth, None);
            assert_eq!(status, 200, "GET {path} with {auth:?}: {body}");
        }
    }
    let (status, body) = gw.request(Method::GET, "/ui/nope.js", Auth::None, None);
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_code(&body), "not_found", "{body}");
    // Unknown paths answer with the error shape too.
    let (status, body) = gw.get(AUDITOR_KEY, "/v1/nope");
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_code(&body), "not_found", "{body}");
}
