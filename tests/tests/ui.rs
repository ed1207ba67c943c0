//! The dashboard (`/ui`) in a real headless Chromium, driven over WebDriver (chromedriver +
//! fantoccini) against a real gateway with seeded data: sign-in (refused keys named), search
//! by user, an event's detail with its redacted paths, policy set and the inclusion-proof
//! check computed in the browser, a CSV export saved to disk, the logins chart, alerts,
//! chain verification, and the message when the gateway is gone. Screenshots go to
//! `<target>/test-output/ui/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`./dev test` installs them); without
//! them the test fails saying so.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use auditgate_tests::*;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WAIT: Duration = Duration::from_secs(20);

/// chromedriver on a free port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Driver {
    for tool in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: the browser tests need Debian's chromium and chromium-driver; \
             `./dev test` installs them (apt-get install -y chromium chromium-driver)"
        );
    }
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {CHROMEDRIVER}: {e}"));
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    driver
}

async fn open_browser(driver: &Driver, profile: &Path, downloads: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1440,960",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "download.default_directory": downloads.to_string_lossy(),
                "download.prompt_for_download": false,
                "download.directory_upgrade": true,
            },
        }),
    );
    // chromedriver listens on loopback over plain HTTP: no TLS connector needed.
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("a Chromium session through chromedriver: {e}"))
}

fn screenshot_dir() -> PathBuf {
    let dir = target_dir().join("test-output/ui");
    std::fs::create_dir_all(&dir).expect("create the screenshot directory");
    dir
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).expect("write the screenshot");
}

/// Runs `script` (a function body returning a value) until `done` accepts its result.
async fn wait_for(c: &Client, what: &str, script: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let v = c.execute(script, vec![]).await.unwrap_or_else(|e| panic!("{what}: {e}"));
        if done(&v) {
            return v;
        }
        if Instant::now() > deadline {
            let message = c.execute("return document.getElementById('message').textContent", vec![]).await;
            panic!("waited {WAIT:?} for {what}; last value {v}; page message {message:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).text().await.expect("text")
}

async fn type_into(c: &Client, css: &str, text: &str) {
    let el = c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    el.clear().await.expect("clear");
    el.send_keys(text).await.expect("type");
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.expect("click");
}

async fn sign_in(c: &Client, key: &str) {
    type_into(c, "#key", key).await;
    click(c, "#signin-button").await;
}

/// RFC 4180 records of `text` (quoted fields, doubled quotes, CRLF or LF line ends).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match (quoted, ch) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

fn wait_for_download(dir: &Path, ext: &str) -> PathBuf {
    let deadline = Instant::now() + WAIT;
    loop {
        let done: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| rd.flatten().map(|e| e.path()).collect::<Vec<PathBuf>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        if let Some(p) = done.into_iter().next() {
            return p;
        }
        assert!(Instant::now() < deadline, "no .{ext} file was downloaded into {}", dir.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the test seeds: two users' events at fixed times, a burst of failed logins that
/// raises a brute-force alert, and a login whose password the redaction policy masks.
struct Seeded {
    alice: Vec<u64>,
    bob: Vec<u64>,
    redacted_seq: u64,
}

fn seed(gw: &Gateway) -> Seeded {
    let mut alice = Vec::new();
    for (i, t) in ["2026-01-10T07:10:00Z", "2026-01-10T07:40:00Z", "2026-01-10T08:15:00Z"].iter().enumerate()
    {
        alice.push(gw.ingest_one(&json!({
            "action": "user.login", "outcome": "success", "user": "ui-alice", "time": t,
            "ip": "192.0.2.10", "id": format!("ui-alice-login-{i}"),
            "details": {"password": "hunter2-secret", "method": "password"},
        })));
    }
    alice.push(gw.ingest_one(&json!({
        "action": "document.read", "outcome": "success", "user": "ui-alice", "time": "2026-01-10T08:20:00Z",
        "resource_type": "document", "resource_id": "doc-42",
    })));
    for minute in 0..6 {
        gw.ingest_one(&json!({
            "action": "user.login", "outcome": "failure", "user": "ui-mallory", "ip": "198.51.100.7",
            "time": format!("2026-01-10T09:{:02}:00Z", 5 + minute), "reason": "wrong_password",
        }));
    }
    let reads: Vec<Value> = (0..30)
        .map(|i| {
            json!({"action": "document.read", "outcome": "success", "user": "ui-bob",
                   "time": format!("2026-01-11T10:{i:02}:00Z"), "resource_id": format!("doc-{i}")})
        })
        .collect();
    let (status, answer) = gw.post_bulk(INGEST_KEY, &ndjson(&reads));
    assert_eq!(status, 200, "{answer}");
    let bob = answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["seq"].as_u64().expect("seq"))
        .collect();
    Seeded { redacted_seq: alice[0], alice, bob }
}

#[test]
fn the_dashboard_works_in_a_real_browser() {
    let mut gw = Gateway::start(&format!("{}\n[checkpoints]\nevery_events = 1\n", default_config()));
    let seeded = seed(&gw);
    let record = gw.record(seeded.redacted_seq);
    assert!(
        record["redacted"].as_array().is_some_and(|r| r.iter().any(|p| p == "/details/password")),
        "the seeded login was redacted by the default chain: {record}"
    );
    let deadline = Instant::now() + WAIT;
    let last = seeded.bob.last().copied().expect("seeded");
    while gw.get(AUDITOR_KEY, "/v1/checkpoint").1["size"].as_u64().unwrap_or(0) < last {
        assert!(Instant::now() < deadline, "no checkpoint covers the seeded events");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, alerts) = gw.get(AUDITOR_KEY, "/v1/alerts");
    let alert_rules: Vec<String> = alerts["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| a["rule"].as_str().unwrap_or("").into())
        .collect();
    assert!(alert_rules.iter().any(|r| r.starts_with("bruteforce")), "seeded burst alerted: {alerts}");

    let scratch = tempfile::tempdir().expect("tempdir");
    let downloads = scratch.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("downloads dir");
    let driver = start_driver();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let base = gw.base_url();
    let c = rt.block_on(open_browser(&driver, &scratch.path().join("profile"), &downloads));

    rt.block_on(async {
        // Sign-in: refused keys are named, the auditor key gets in.
        c.goto(&format!("{base}/ui")).await.expect("open /ui");
        assert_eq!(c.title().await.expect("title"), "Auditgate dashboard");
        screenshot(&c, "01-sign-in").await;
        sign_in(&c, "ag_dev_not_a_key").await;
        let err = wait_for(
            &c,
            "the 401 message",
            "return document.getElementById('signin-error').textContent",
            |v| v.as_str().is_some_and(|s| !s.is_empty()),
        )
        .await;
        assert!(err.as_str().unwrap_or("").contains("401"), "{err}");
        sign_in(&c, INGEST_KEY).await;
        let err = wait_for(
            &c,
            "the 403 message",
            "return document.getElementById('signin-error').textContent",
            |v| v.as_str().is_some_and(|s| s.contains("403")),
        )
        .await;
        assert!(err.as_str().unwrap_or("").contains("auditor"), "{err}");
        sign_in(&c, AUDITOR_KEY).await;
        wait_for(&c, "the signed-in page", "return !document.getElementById('app').hidden", |v| {
            v == &json!(true)
        })
        .await;
        let stored =
            c.execute("return sessionStorage.getItem('auditgate.auditor_key')", vec![]).await.expect("js");
        assert_eq!(stored, json!(AUDITOR_KEY), "the key is kept in sessionStorage");

        // Search by user: exactly alice's events, newest first.
        type_into(&c, "#f-user", "ui-alice").await;
        click(&c, "#search-button").await;
        let rows_js = "return Array.from(document.querySelectorAll('#results tbody tr')).map(r => \
            [Number(r.dataset.seq), r.cells[4].textContent])";
        let rows = wait_for(&c, "alice's rows", rows_js, |v| {
            v.as_array().is_some_and(|r| r.len() == 4 && r.iter().all(|row| row[1] == "ui-alice"))
        })
        .await;
        let mut want: Vec<u64> = seeded.alice.clone();
        want.reverse();
        let got: Vec<u64> =
            rows.as_array().expect("rows").iter().map(|r| r[0].as_u64().expect("seq")).collect();
        assert_eq!(got, want, "alice's events, newest first");
        screenshot(&c, "02-search").await;

        // The event detail: all fields, redacted paths, policy set, and the proof check.
        click(&c, &format!("#results tr[data-seq='{}']", seeded.redacted_seq)).await;
        let proof = wait_for(
            &c,
            "the proof check",
            "return document.getElementById('proof').dataset.result || ''",
            |v| v.as_str().is_some_and(|s| !s.is_empty()),
        )
        .await;
        let proof_text = text_of(&c, "#proof").await;
        assert_eq!(proof, json!("ok"), "the inclusion proof check: {proof_text}");
        assert!(proof_text.contains("ok"), "{proof_text}");
        assert!(text_of(&c, "#detail-redacted").await.contains("/details/password"));
        assert_eq!(
            text_of(&c, "#detail-policy-set").await,
            record["policy_set"].as_str().expect("policy_set")
        );
        let fields = c
            .execute(
                "return Array.from(document.querySelectorAll('#detail-fields tr')).map(r => r.dataset.field)",
                vec![],
            )
            .await
            .expect("fields");
        let mut want_fields: Vec<String> = record.as_object().expect("record").keys().cloned().collect();
        want_fields.sort();
        assert_eq!(fields, json!(want_fields), "every field of the record is shown");
        assert!(!text_of(&c, "#detail-fields").await.contains("hunter2"), "the masked secret is not shown");
        screenshot(&c, "03-event-detail").await;

        // The same check fails on a changed record or a changed proof.
        let tampered = c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 (async () => {
                   const r = await fetch(`/v1/events/${arguments[0]}/proof`,
                     {headers: {Authorization: 'Bearer ' + sessionStorage.getItem('auditgate.auditor_key')}});
                   const bundle = await r.json();
                   const honest = await window.auditgate.verifyBundle(bundle);
                   const changed = JSON.parse(JSON.stringify(bundle));
                   changed.record.user = 'someone-else';
                   const badRecord = await window.auditgate.verifyBundle(changed);
                   const badPath = JSON.parse(JSON.stringify(bundle));
                   badPath.proof[0] = btoa(String.fromCharCode(...new Uint8Array(32)));
                   const wrongPath = await window.auditgate.verifyBundle(badPath);
                   return [honest.ok, badRecord.ok, wrongPath.ok, bundle.proof.length];
                 })().then(done, e => done(String(e)));",
                vec![json!(seeded.redacted_seq)],
            )
            .await
            .expect("tamper check");
        assert_eq!(tampered[0], json!(true), "{tampered}");
        assert_eq!(tampered[1], json!(false), "a changed record must fail: {tampered}");
        if tampered[3].as_u64().unwrap_or(0) > 0 {
            assert_eq!(tampered[2], json!(false), "a changed audit path must fail: {tampered}");
        }

        // CSV export of the current filters, saved as a download.
        click(&c, "#export-csv").await;
        wait_for(
            &c,
            "the export",
            "return document.getElementById('export-status').dataset.done || ''",
            |v| v.as_str().is_some_and(|s| s.ends_with(".csv")),
        )
        .await;
    });

    let csv_path = wait_for_download(&downloads, "csv");
    // Chromium renames the file when complete; give the rename a moment to settle.
    std::thread::sleep(Duration::from_millis(200));
    let csv = std::fs::read_to_string(&csv_path).expect("read the downloaded CSV");
    let rows = parse_csv(&csv);
    let header = &rows[0];
    let col = |name: &str| {
        header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name} column: {header:?}"))
    };
    let (seq_col, user_col) = (col("seq"), col("user"));
    let mut exported: Vec<u64> = rows[1..].iter().map(|r| r[seq_col].parse().expect("seq number")).collect();
    exported.sort_unstable();
    assert_eq!(exported, seeded.alice, "the CSV holds exactly the searched user's events: {csv}");
    assert!(rows[1..].iter().all(|r| r[user_col] == "ui-alice" && r.len() == header.len()), "{csv}");
    assert!(!csv.contains("hunter2"), "the export holds what was stored (masked)");

    rt.block_on(async {
        // Paging through next_cursor: 30 events at 25 a page.
        type_into(&c, "#f-user", "ui-bob").await;
        c.find(Locator::Css("#f-limit")).await.expect("limit").select_by_label("25").await.expect("select");
        click(&c, "#search-button").await;
        let page_js = "return [document.querySelectorAll('#results tbody tr').length,
            document.getElementById('next-page').disabled, document.getElementById('prev-page').disabled,
            Number(document.querySelector('#results tbody tr') && document.querySelector('#results tbody tr').dataset.seq)]";
        let first = wait_for(&c, "bob's first page", page_js, |v| v[0] == 25 && v[1] == false).await;
        assert_eq!(first[3], json!(seeded.bob.last().copied().expect("bob")), "newest first: {first}");
        click(&c, "#next-page").await;
        let second = wait_for(&c, "bob's second page", page_js, |v| v[0] == 5).await;
        assert_eq!(second, json!([5, true, false, seeded.bob[4]]), "the last page");
        click(&c, "#prev-page").await;
        wait_for(&c, "bob's first page again", page_js, |v| v == &first).await;

        // The logins chart over six hours: one point per hour and outcome, with the counts.
        click(&c, "#tab-logins").await;
        type_into(&c, "#c-from", "2026-01-10 06:00").await;
        type_into(&c, "#c-to", "2026-01-10 12:00").await;
        c.find(Locator::Css("#c-bucket")).await.expect("bucket").select_by_value("hour").await.expect("select");
        click(&c, "#chart-button").await;
        let points_js = "const pts = s => Array.from(document.querySelectorAll(`#chart circle.point.${s}`))
              .map(p => [p.dataset.start, Number(p.dataset.count)]);
            return document.getElementById('chart-note').textContent.startsWith('Counting')
              ? null : {success: pts('success'), failure: pts('failure')};";
        let points = wait_for(&c, "the chart's points", points_js, |v| {
            v["success"].as_array().is_some_and(|p| p.len() == 6 && v["failure"].as_array().is_some_and(|f| f.len() == 6))
        })
        .await;
        let counts = |series: &str| -> BTreeMap<String, u64> {
            points[series]
                .as_array()
                .expect("points")
                .iter()
                .map(|p| (p[0].as_str().expect("start")[11..13].to_string(), p[1].as_u64().expect("count")))
                .collect()
        };
        let hours = ["06", "07", "08", "09", "10", "11"];
        let expect = |pairs: &[u64; 6]| -> BTreeMap<String, u64> {
            hours.iter().map(|h| h.to_string()).zip(pairs.iter().copied()).collect()
        };
        assert_eq!(counts("success"), expect(&[0, 2, 1, 0, 0, 0]), "successful logins per hour");
        assert_eq!(counts("failure"), expect(&[0, 0, 0, 6, 0, 0]), "failed logins per hour");
        screenshot(&c, "04-logins-chart").await;

        // Alerts: the brute-force alert with a link to its event.
        click(&c, "#tab-alerts").await;
        let rules = wait_for(
            &c,
            "the alerts",
            "return Array.from(document.querySelectorAll('#alerts tbody tr')).map(r => r.cells[3].textContent)",
            |v| v.as_array().is_some_and(|r| !r.is_empty()),
        )
        .await;
        let shown: Vec<String> = rules.as_array().expect("rules").iter().map(|r| r.as_str().unwrap_or("").into()).collect();
        assert_eq!(shown.len(), alert_rules.len(), "every alert is listed: {shown:?} vs {alert_rules:?}");
        assert!(shown.iter().any(|r| r.starts_with("bruteforce")), "{shown:?}");
        screenshot(&c, "05-alerts").await;

        // Chain and checkpoint status.
        click(&c, "#tab-integrity").await;
        click(&c, "#verify-button").await;
        let status = wait_for(&c, "the verification", "return document.getElementById('verify-result').dataset.status || ''", |v| {
            v.as_str().is_some_and(|s| !s.is_empty())
        })
        .await;
        assert_eq!(status, json!("ok"), "{}", text_of(&c, "#verify-result").await);
        assert!(text_of(&c, "#checkpoint-chip").await.starts_with("checkpoint #"));
        assert!(text_of(&c, "#checkpoint-note").await.contains("\n\n"), "the signed note is shown");
        screenshot(&c, "06-integrity").await;
    });

    // The gateway goes away: the page says it cannot reach it.
    gw.stop();
    rt.block_on(async {
        click(&c, "#tab-events").await;
        click(&c, "#search-button").await;
        let message =
            wait_for(&c, "the network error", "return document.getElementById('message').textContent", |v| {
                v.as_str().is_some_and(|s| s.contains("Cannot reach the gateway"))
            })
            .await;
        assert!(!message.as_str().unwrap_or("").is_empty());
        screenshot(&c, "07-gateway-down").await;
        c.close().await.expect("close the browser");
    });
}
