//! Alert delivery through the durable outbox, against real sockets: a webhook receiver
//! that fails, hangs and recovers; a dead one; a restart with pending entries; syslog
//! listeners over UDP and TCP; ingest while the webhook hangs.
//!
//! Alerts come from the bundled alert-bruteforce policy of the default `policy.toml`
//! (5 failed logins of one user within 5 minutes raise `bruteforce.user`). Every test
//! looks at its own alert (by the user it made up), never at "all alerts".

use std::time::{Duration, Instant};

use auditgate_tests::receiver::{self, HttpReceiver, Reply, TcpFrames, UdpListener, parse_5424};
use auditgate_tests::*;
use serde_json::{Value, json};

/// The default config with `sinks` (TOML) and fast retries appended.
fn config_with(sinks: &str, max_attempts: u32) -> String {
    format!(
        "{}\n{sinks}\n[delivery]\nmax_attempts = {max_attempts}\nbackoff_initial_ms = 50\nbackoff_max_ms = 200\n",
        default_config()
    )
}

fn webhook(name: &str, url: &str, extra: &str) -> String {
    format!("[[sink]]\nname = {}\ntype = \"webhook\"\nurl = {}\n{extra}\n", toml_str(name), toml_str(url))
}

/// Six failed logins of a new user: one `bruteforce.user` alert (at the fifth). Returns
/// the user.
fn raise_bruteforce(gw: &Gateway) -> String {
    let user = unique_token("victim-");
    for n in 1..=6 {
        gw.ingest_one(&json!({
            "action": "user.login", "outcome": "failure", "user": user,
            "ip": format!("192.0.2.{n}"), "reason": "wrong_password"
        }));
    }
    user
}

/// The `bruteforce.user` alert of `user` as `GET /v1/alerts` shows it.
fn alert_of(gw: &Gateway, user: &str) -> Value {
    let (status, body) = gw.get(AUDITOR_KEY, "/v1/alerts?rule=bruteforce.user&limit=1000");
    assert_eq!(status, 200, "{body}");
    let mine: Vec<&Value> =
        body["alerts"].as_array().expect("alerts").iter().filter(|a| a["labels"]["user"] == user).collect();
    assert_eq!(mine.len(), 1, "one alert for {user}: {body}");
    mine[0].clone()
}

/// The delivery state of `alert` at `sink`.
fn state_at<'a>(alert: &'a Value, sink: &str) -> &'a Value {
    let states = alert["delivery"].as_array().unwrap_or_else(|| panic!("no delivery array: {alert}"));
    states.iter().find(|s| s["sink"] == sink).unwrap_or_else(|| panic!("no state for sink {sink}: {alert}"))
}

/// Polls until `user`'s alert is in `state` at `sink`; answers the alert.
fn wait_state(gw: &Gateway, user: &str, sink: &str, state: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let alert = alert_of(gw, user);
        if state_at(&alert, sink)["state"] == state {
            return alert;
        }
        assert!(Instant::now() < deadline, "not {state} at {sink} within {timeout:?}: {alert}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The alert as the sinks get it: what `/v1/alerts` lists, without `delivery`.
fn without_delivery(alert: &Value) -> Value {
    let mut a = alert.clone();
    a.as_object_mut().expect("object").remove("delivery");
    a
}

/// Requests that carry the alert of `user` (JSON bodies).
fn for_user(received: &[receiver::Received], user: &str) -> Vec<receiver::Received> {
    received.iter().filter(|r| r.json()["labels"]["user"] == user).cloned().collect()
}

fn metric(gw: &Gateway, name: &str) -> f64 {
    let text =
        gw.client().get(format!("{}/metrics", gw.base_url())).send().expect("metrics").text().expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

#[test]
fn webhook_failing_then_hanging_then_recovering_gets_the_alert_delivered() {
    // Two 500s, two hangs (each cut by the 300 ms timeout), then 200 for ever.
    let hook = HttpReceiver::start(
        &[Reply::Status(500), Reply::Status(500), Reply::Hang, Reply::Hang],
        Reply::Status(200),
    );
    let slack = HttpReceiver::start(&[], Reply::Status(200));
    let sinks = format!(
        "{}{}[[sink]]\nname = \"critical-only\"\ntype = \"log\"\nmin_severity = \"critical\"\n",
        webhook(
            "hook",
            &hook.url(),
            "timeout_ms = 300\nheaders = { Authorization = \"env:ALERT_TOKEN\", X-Team = \"sec\" }"
        ),
        webhook("chat", &slack.url(), "format = \"slack\""),
    );
    let token = "Bearer alert-token-0123456789";
    let gw = Gateway::start_with(
        &config_with(&sinks, 10),
        StartOptions { env: vec![("ALERT_TOKEN".into(), token.into())], ..Default::default() },
    );
    let user = raise_bruteforce(&gw);
    let alert = wait_state(&gw, &user, "hook", "delivered", Duration::from_secs(30));

    let got = for_user(&hook.received(), &user);
    let replies: Vec<Reply> = got.iter().map(|r| r.reply).collect();
    assert_eq!(
        replies,
        [Reply::Status(500), Reply::Status(500), Reply::Hang, Reply::Hang, Reply::Status(200)],
        "one request per attempt, delivered by the fifth"
    );
    for r in &got {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/alerts"));
        assert_eq!(r.headers.get("authorization").map(String::as_str), Some(token), "header from env");
        assert_eq!(r.headers.get("x-team").map(String::as_str), Some("sec"));
        assert_eq!(r.headers.get("content-type").map(String::as_str), Some("application/json"));
        assert_eq!(r.json(), without_delivery(&alert), "the body is the alert as listed");
    }
    let body = got[0].json();
    assert_eq!(body["rule"], "bruteforce.user");
    assert_eq!(body["policy"], "alert-bruteforce");
    assert_eq!(body["severity"], "high");
    assert!(body["id"].as_u64().is_some() && body["seq"].as_u64().is_some(), "{body}");

    let hook_state = state_at(&alert, "hook");
    assert_eq!(hook_state["attempts"], 5, "{alert}");
    assert!(hook_state["next_attempt"].is_null(), "{alert}");
    let last_error = hook_state["last_error"].as_str().unwrap_or_default();
    assert!(last_error.contains("timed out"), "the last failure was a hang: {alert}");
    assert!(!last_error.contains("127.0.0.1"), "errors carry no URL: {last_error}");

    // Slack's shape on the other webhook, first try.
    let chat = wait_state(&gw, &user, "chat", "delivered", Duration::from_secs(10));
    assert_eq!(state_at(&chat, "chat")["attempts"], 1);
    let posted: Vec<Value> = slack
        .received()
        .iter()
        .map(|r| r.json())
        .filter(|b| b["text"].as_str().is_some_and(|t| t.contains(&user)))
        .collect();
    assert_eq!(posted.len(), 1, "{posted:?}");
    let text = posted[0]["text"].as_str().unwrap_or_default();
    assert_eq!(posted[0].as_object().map(|o| o.len()), Some(1), "only `text`: {}", posted[0]);
    assert!(text.starts_with("[high] bruteforce.user: "), "{text}");
    assert!(
        text.contains(&format!("alert {}", body["id"]))
            && text.contains(&format!("event seq {}", body["seq"])),
        "{text}"
    );
    // The default `log` sink delivered too; the critical-only sink never got a `high` alert.
    assert_eq!(
        state_at(&wait_state(&gw, &user, "log", "delivered", Duration::from_secs(10)), "log")["attempts"],
        1
    );
    assert!(
        alert["delivery"].as_array().is_some_and(|d| d.iter().all(|s| s["sink"] != "critical-only")),
        "{alert}"
    );
    assert!(gw.log_tail(200_000).contains("auditgate::alert"), "the log sink wrote the alert");
    // Header values are never logged.
    assert!(!gw.log_tail(1_000_000).contains("alert-token-0123456789"));
}

#[test]
fn a_dead_receiver_makes_the_entry_dead_after_max_attempts() {
    // A port nobody listens on: every attempt is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let sinks = webhook("gone", &format!("http://127.0.0.1:{port}/x"), "timeout_ms = 500");
    let gw = Gateway::start(&config_with(&sinks, 3));
    let user = raise_bruteforce(&gw);
    let alert = wait_state(&gw, &user, "gone", "dead", Duration::from_secs(30));
    let gone = state_at(&alert, "gone");
    assert_eq!(gone["attempts"], 3, "{alert}");
    assert!(gone["next_attempt"].is_null(), "{alert}");
    assert!(gone["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{alert}");

    // The filter: dead ones only; a bad state is refused by name.
    let (status, body) = gw.get(AUDITOR_KEY, "/v1/alerts?delivery=dead&limit=1000");
    assert_eq!(status, 200, "{body}");
    let listed = body["alerts"].as_array().expect("alerts");
    assert!(listed.iter().any(|a| a["id"] == alert["id"]), "{body}");
    assert!(
        listed
            .iter()
            .all(|a| a["delivery"].as_array().is_some_and(|d| d.iter().any(|s| s["state"] == "dead")))
    );
    let (status, body) = gw.get(AUDITOR_KEY, "/v1/alerts?delivery=pending&rule=bruteforce.user");
    assert_eq!(status, 200);
    assert!(body["alerts"].as_array().expect("alerts").iter().all(|a| a["id"] != alert["id"]), "{body}");
    let (status, body) = gw.get(AUDITOR_KEY, "/v1/alerts?delivery=lost");
    assert_error(status, &body, 400, "invalid_query", &["delivery", "lost"]);
    // Nothing left to do: the backlog is empty (the log sink delivered at once).
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&gw, "auditgate_outbox_backlog") != 0.0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(metric(&gw, "auditgate_outbox_backlog"), 0.0);
}

#[test]
fn pending_entries_are_delivered_after_a_restart() {
    let hook = HttpReceiver::start(&[], Reply::Status(503));
    let sinks = webhook("hook", &hook.url(), "timeout_ms = 500");
    let mut gw = Gateway::start(&config_with(&sinks, 1000));
    let user = raise_bruteforce(&gw);
    hook.wait_for(Duration::from_secs(20), |r| for_user(r, &user).len() >= 2);
    let pending = alert_of(&gw, &user);
    assert_eq!(state_at(&pending, "hook")["state"], "pending", "{pending}");
    assert!(metric(&gw, "auditgate_outbox_backlog") >= 1.0);
    // SIGKILL: the entry survives because it was committed with the alert.
    gw.kill();
    let before = for_user(&hook.received(), &user).len();
    hook.set_reply(Reply::Status(200));
    gw.restart();
    let alert = wait_state(&gw, &user, "hook", "delivered", Duration::from_secs(30));
    let got = for_user(&hook.received(), &user);
    assert_eq!(got.len(), before + 1, "one more request after the restart, and it succeeded");
    assert_eq!(got.last().map(|r| r.reply), Some(Reply::Status(200)));
    assert_eq!(got.last().map(|r| r.json()), Some(without_delivery(&alert)));
    let attempts = state_at(&alert, "hook")["attempts"].as_u64().unwrap_or(0);
    assert!(attempts >= 2, "attempts before the restart are kept: {alert}");
    // Only one of each: the restart did not make a second entry or alert.
    assert_eq!(alert["delivery"].as_array().map(Vec::len), Some(2), "{alert}");
}

#[test]
fn syslog_over_udp_and_tcp_gets_rfc5424_messages() {
    let udp = UdpListener::start();
    let mut tcp = TcpFrames::start();
    let sinks = format!(
        "[[sink]]\nname = \"syslog-udp\"\ntype = \"syslog\"\naddress = {}\nfacility = \"local3\"\n\
         [[sink]]\nname = \"syslog-tcp\"\ntype = \"syslog\"\naddress = {}\ntransport = \"tcp\"\napp_name = \"ag-test\"\n",
        toml_str(&udp.addr()),
        toml_str(&tcp.addr())
    );
    let gw = Gateway::start(&config_with(&sinks, 5));
    let user = raise_bruteforce(&gw);
    let from_udp = udp.recv(Duration::from_secs(20)).expect("a datagram");
    let from_tcp = tcp.recv(Duration::from_secs(20)).expect("a TCP frame");
    wait_state(&gw, &user, "syslog-tcp", "delivered", Duration::from_secs(10));
    let alert = wait_state(&gw, &user, "syslog-udp", "delivered", Duration::from_secs(10));
    for (line, facility, app) in [(&from_udp, 19, "auditgate"), (&from_tcp, 4, "ag-test")] {
        let m = parse_5424(line);
        assert_eq!(m.version, 1, "{line}");
        assert_eq!(m.pri, facility * 8 + 3, "facility {facility}, severity err (high): {line}");
        assert_eq!(m.app_name, app, "{line}");
        assert_eq!(m.msgid, "bruteforce.user", "{line}");
        assert!(m.procid.parse::<u32>().is_ok(), "{line}");
        assert!(m.bom, "UTF-8 MSG starts with a BOM: {line}");
        let (id, params) = &m.sd[0];
        assert_eq!(id, "auditgate@32473");
        assert_eq!(params.get("rule").map(String::as_str), Some("bruteforce.user"));
        assert_eq!(params.get("id"), Some(&alert["id"].to_string()));
        assert_eq!(params.get("seq"), Some(&alert["seq"].to_string()));
        let msg: Value =
            serde_json::from_str(&m.msg).unwrap_or_else(|e| panic!("MSG is not JSON ({e}): {line}"));
        assert_eq!(msg, without_delivery(&alert), "{line}");
    }
}

#[test]
fn ingest_keeps_answering_while_the_webhook_hangs() {
    let hook = HttpReceiver::start(&[], Reply::Hang);
    let sinks = webhook("hook", &hook.url(), "timeout_ms = 5000");
    let gw = Gateway::start(&config_with(&sinks, 10));
    let user = raise_bruteforce(&gw);
    // The worker is now inside a POST that will not be answered.
    hook.wait_for(Duration::from_secs(20), |r| !for_user(r, &user).is_empty());
    let started = Instant::now();
    for n in 0..50 {
        let one = Instant::now();
        gw.ingest_one(&json!({"action": "doc.read", "outcome": "success", "user": format!("reader-{n}")}));
        assert!(one.elapsed() < Duration::from_secs(3), "ingest waited for the sink: {:?}", one.elapsed());
    }
    // Generous: 50 events while the sink hangs, far less than one hang per event.
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    let alert = alert_of(&gw, &user);
    assert_eq!(state_at(&alert, "hook")["state"], "pending", "{alert}");
    assert_eq!(state_at(&alert, "log")["state"], "delivered", "other sinks are not held up: {alert}");
}

#[test]
fn bad_sink_configuration_is_refused_naming_the_key() {
    let cases = [
        ("[[sink]]\ntype = \"webhook\"\n", "sink[1].url"),
        ("[[sink]]\ntype = \"webhook\"\nurl = \"ftp://x/\"\n", "sink[1].url"),
        (
            "[[sink]]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:1/\"\nheaders = { A = \"env:AUDITGATE_TEST_UNSET_VAR\" }\n",
            "sink[1].headers.A",
        ),
        ("[[sink]]\ntype = \"syslog\"\naddress = \"nohost\"\n", "sink[1].address"),
        (
            "[[sink]]\ntype = \"syslog\"\naddress = \"127.0.0.1:514\"\nfacility = \"local9\"\n",
            "sink[1].facility",
        ),
        ("[[sink]]\nname = \"x\"\ntype = \"log\"\nmin_severity = \"urgent\"\n", "sink[1].min_severity"),
        // The default config's `log` sink is sink[0].
        ("[[sink]]\ntype = \"log\"\n", "sink[1].name"),
        ("[delivery]\nmax_attempts = 0\n", "delivery.max_attempts"),
    ];
    for (extra, key) in cases {
        let config = default_config().replace(DATA_DIR_PLACEHOLDER, "\"/nonexistent/auditgate-test\"");
        let (status, stderr) = serve_until_exit(&format!("{config}\n{extra}"));
        assert!(!status.success(), "{extra}");
        assert!(stderr.contains(key), "{extra}: expected {key} in:\n{stderr}");
    }
}
