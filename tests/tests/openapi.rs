//! `GET /openapi.json`: served without a key, OpenAPI 3.1, every `$ref` resolves, and it
//! documents exactly what the gateway serves: every route of `router()` with its methods
//! (read from `gateway/src/http/mod.rs` and checked against the gateway's own 405s), every
//! query parameter a handler accepts (the gateway names them when it refuses an unknown
//! one), and the key each endpoint needs (checked against its 401s).

use std::collections::{BTreeMap, BTreeSet};

use auditgate_tests::*;
use reqwest::Method;
use serde_json::Value;

/// The methods a route may have; each is asked of every documented path.
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The security schemes of the document and the key of each.
const SCHEMES: [(&str, &str); 3] =
    [("ingest_key", INGEST_KEY), ("auditor_key", AUDITOR_KEY), ("admin_key", ADMIN_KEY)];

fn document(gw: &Gateway) -> Value {
    let (status, doc) = gw.request(Method::GET, "/openapi.json", Auth::None, None);
    assert_eq!(status, 200, "GET /openapi.json without a key: {doc}");
    doc
}

/// `(path, method)` of every route `router()` declares: `.route("PATH", get(h).post(h))`.
fn routed() -> BTreeSet<(String, String)> {
    let path = workspace_root().join("gateway/src/http/mod.rs");
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start = source.find("pub fn router(").expect("http/mod.rs has `pub fn router(`");
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").expect("router() ends")];
    let mut routes = BTreeSet::new();
    for call in body.split(".route(\"").skip(1) {
        let (route, rest) = call.split_once('"').expect("a route's path is a string literal");
        // The method router: up to the call's closing parenthesis at depth 0.
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map(|(i, _)| i)
            .expect("the .route( call is closed");
        let methods = &rest[..end];
        let mut found = 0;
        for method in METHODS {
            let called = methods.match_indices(&format!("{method}(")).any(|(i, _)| {
                i == 0
                    || !methods.as_bytes()[i - 1].is_ascii_alphanumeric() && methods.as_bytes()[i - 1] != b'_'
            });
            if called {
                routes.insert((route.to_string(), method.to_string()));
                found += 1;
            }
        }
        assert!(found > 0, "route {route}: no method found in {methods:?}");
    }
    assert!(routes.len() >= 12, "the router source did not parse: {routes:?}");
    routes
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("`paths` is an object");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS.iter().filter(|m| item.get(**m).is_some()).map(move |m| (path.clone(), m.to_string()))
        })
        .collect()
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push((path.clone(), method.to_string(), op));
            }
        }
    }
    out
}

/// A concrete URL path for a templated one (`{seq}` → `1`, `{asset}` → a dashboard file).
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|s| match s {
            "{asset}" => "app.js",
            s if s.starts_with('{') => "1",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The scheme an operation needs, `None` for an open one.
fn scheme(op: &Value) -> Option<String> {
    let reqs = op.get("security")?.as_array().expect("security is an array");
    assert_eq!(reqs.len(), 1, "one security requirement per operation: {reqs:?}");
    let names: Vec<&String> = reqs[0].as_object().expect("requirement object").keys().collect();
    assert_eq!(names.len(), 1, "one scheme per requirement: {names:?}");
    Some(names[0].clone())
}

fn key_of(scheme: &str) -> &'static str {
    SCHEMES.iter().find(|(s, _)| *s == scheme).map(|(_, k)| *k).unwrap_or_else(|| panic!("scheme {scheme}"))
}

/// Every `$ref` in `v`, with where it was found.
fn refs<'a>(v: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if k == "$ref" {
                    out.push((at.clone(), child.as_str().expect("$ref is a string")));
                } else {
                    refs(child, format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| refs(c, format!("{at}/{i}"), out)),
        _ => {}
    }
}

#[test]
fn the_document_is_openapi_3_1_and_every_ref_resolves() {
    let gw = Gateway::start_default();
    let doc = document(&gw);
    let version = doc["openapi"].as_str().expect("`openapi` is a string");
    assert!(version.starts_with("3.1."), "OpenAPI version {version}");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"), "info.version is the crate version");
    assert!(doc["info"]["title"].is_string());

    let mut found = Vec::new();
    refs(&doc, String::new(), &mut found);
    assert!(found.len() > 20, "the document uses component references: {}", found.len());
    for (at, target) in found {
        let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("{at}: external $ref {target}"));
        assert!(doc.pointer(pointer).is_some(), "{at}: $ref {target} does not resolve");
    }

    let mut ids = BTreeSet::new();
    for (path, method, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: no operationId"));
        assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
        let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{method} {path}: responses"));
        assert!(responses.contains_key("200"), "{method} {path}: no 200 response");
        for (status, response) in responses {
            assert!(
                status.len() == 3 && status.bytes().all(|b| b.is_ascii_digit()),
                "{method} {path}: status {status}"
            );
            assert!(response["description"].is_string(), "{method} {path} {status}: description");
            if status != "200" {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}: errors answer the one error body"
                );
            }
        }
        // Every `{param}` of the template is a declared path parameter, and the reverse.
        let template: BTreeSet<&str> =
            path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect();
        let declared: BTreeSet<&str> = op["parameters"]
            .as_array()
            .map(|ps| ps.iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(template, declared, "{method} {path}: path parameters");
    }
    let schemes = doc["components"]["securitySchemes"].as_object().expect("securitySchemes");
    for (name, _) in SCHEMES {
        assert_eq!(schemes[name]["type"], "http", "{name}");
        assert_eq!(schemes[name]["scheme"], "bearer", "{name}: the gateway reads `Authorization: Bearer`");
    }
}

#[test]
fn every_route_of_the_router_is_documented_with_its_methods() {
    let gw = Gateway::start_default();
    let doc = document(&gw);
    let documented = documented(&doc);
    let routed = routed();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(undocumented.is_empty(), "routes of router() missing from /openapi.json: {undocumented:?}");
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(unrouted.is_empty(), "documented but not routed: {unrouted:?}");

    // The gateway agrees: a documented method is served (never 404/405), any other is 405.
    for path in documented.iter().map(|(p, _)| p).collect::<BTreeSet<_>>() {
        for method in METHODS {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let (status, answer) = gw.request(m, &concrete(path), Auth::None, None);
            if documented.contains(&(path.clone(), method.to_string())) {
                assert!(
                    status != 404 && status != 405,
                    "{method} {path} is documented, the gateway answers {status} {answer}"
                );
            } else {
                assert_eq!(status, 405, "{method} {path} is not documented, the gateway answers {answer}");
            }
        }
    }
}

#[test]
fn every_query_parameter_a_handler_accepts_is_documented() {
    let gw = Gateway::start_default();
    let doc = document(&gw);
    let mut checked = 0;
    for (path, method, op) in operations(&doc) {
        let params: BTreeSet<String> = op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "query")
                    .map(|p| p["name"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let Some(scheme) = scheme(op) else { continue };
        if method != "get" {
            assert!(params.is_empty(), "{method} {path}: query parameters {params:?}");
            continue;
        }
        // Handlers refuse an unknown parameter and name the ones they accept.
        let url = format!("{}?no_such_parameter=1", concrete(&path));
        let (status, answer) = gw.request(Method::GET, &url, Auth::Bearer(key_of(&scheme)), None);
        if params.is_empty() {
            assert_ne!(status, 400, "{method} {path} documents no query parameter but refuses one: {answer}");
            continue;
        }
        assert_eq!(status, 400, "{url}: {answer}");
        let message = answer["error"]["message"].as_str().expect("error message");
        let allowed: BTreeSet<String> = message
            .split_once("allowed: ")
            .unwrap_or_else(|| panic!("{url}: the message names no allowed parameters: {message}"))
            .1
            .split(", ")
            .map(str::to_string)
            .collect();
        assert_eq!(
            allowed, params,
            "{method} {path}: accepted (left) vs documented (right) query parameters"
        );
        checked += 1;
    }
    assert!(checked >= 6, "query parameters compared on {checked} operations");
}

#[test]
fn each_operation_documents_the_key_it_needs() {
    let gw = Gateway::start_default();
    let doc = document(&gw);
    let mut roles: BTreeMap<String, usize> = BTreeMap::new();
    for (path, method, op) in operations(&doc) {
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let url = concrete(&path);
        let (status, answer) = gw.request(m.clone(), &url, Auth::None, None);
        match scheme(op) {
            None => assert_eq!(status, 200, "{method} {path} documents no key, yet without one: {answer}"),
            Some(scheme) => {
                assert_eq!(status, 401, "{method} {path} without a key: {answer}");
                for (other, key) in SCHEMES {
                    let (status, answer) = gw.request(m.clone(), &url, Auth::Bearer(key), None);
                    if other == scheme {
                        assert!(![401, 403].contains(&status), "{method} {path} with its {scheme}: {answer}");
                    } else {
                        assert_eq!(status, 403, "{method} {path} documents {scheme}, {other} gets {answer}");
                    }
                }
                let responses = &op["responses"];
                assert!(
                    responses["401"].is_object() && responses["403"].is_object(),
                    "{method} {path}: 401/403"
                );
                *roles.entry(scheme).or_default() += 1;
            }
        }
    }
    assert_eq!(roles.len(), 3, "every role has endpoints: {roles:?}");
}
