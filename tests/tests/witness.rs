//! Witnesses (`[checkpoints] witnesses`): every new signed checkpoint is POSTed to each
//! URL; a failing witness is retried, a hanging or dead one never holds up ingest, and
//! what a witness keeps is a checkpoint file `auditgate verify` accepts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auditgate_tests::*;
use serde_json::json;

/// A tiny HTTP/1.1 server: answers the first `fail_first` POSTs with 503, then 200, and
/// keeps the bodies of the accepted ones.
struct FlakyWitness {
    url: String,
    accepted: Arc<Mutex<Vec<String>>>,
    refused: Arc<Mutex<u32>>,
}

fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut length = 0usize;
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    assert!(request_line.starts_with("POST "), "witnesses get POSTs: {request_line:?}");
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    String::from_utf8(body).ok()
}

impl FlakyWitness {
    fn start(fail_first: u32) -> FlakyWitness {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/add", listener.local_addr().expect("addr"));
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(0));
        let (a, r) = (accepted.clone(), refused.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(body) = read_request(&mut stream) else { continue };
                let mut refused = r.lock().expect("lock");
                let status = if *refused < fail_first {
                    *refused += 1;
                    "503 Service Unavailable"
                } else {
                    a.lock().expect("lock").push(body);
                    "200 OK"
                };
                let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        FlakyWitness { url, accepted, refused }
    }

    fn sizes(&self) -> Vec<u64> {
        let notes = self.accepted.lock().expect("lock");
        notes.iter().map(|n| n.lines().nth(1).and_then(|l| l.parse().ok()).expect("a size line")).collect()
    }
}

/// Accepts connections and never answers.
fn hanging_witness() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    url
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn checkpoints_reach_witnesses_with_retries_and_never_hold_up_ingest() {
    let flaky = FlakyWitness::start(2);
    let hanging = hanging_witness();
    // Nothing listens on a port that was just bound and released.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/", l.local_addr().expect("addr"))
    };
    let (private, public) = {
        let run = run_cli(["keygen", "--name", "auditgate.local/audit-log"]);
        let mut lines = run.stdout.lines().map(str::to_string);
        (lines.next().expect("private"), lines.next().expect("public"))
    };
    // A witness that hangs for 60 s per POST: were ingest waiting for witnesses, the
    // requests below would hit the harness's 30 s HTTP timeout.
    let config = format!(
        "{}\n[checkpoints]\nevery_events = 5\nkey = {}\nwitness_timeout_secs = 60\nwitness_retry_secs = 1\nwitnesses = [{}, {}, {}]\n",
        default_config(),
        toml_str(&private),
        toml_str(&flaky.url),
        toml_str(&hanging),
        toml_str(&dead),
    );
    let mut gw = Gateway::start(&config);
    // seq 1 is the gateway's start record.
    for i in 1..=12u64 {
        let e = json!({"action": "user.login", "outcome": "success", "user": format!("u{i}"), "time": "2026-01-02T03:04:05Z"});
        assert_eq!(gw.ingest_one(&e), i + 1);
    }
    wait_for("the checkpoints of size 5 and 10 at the flaky witness", || flaky.sizes() == [5, 10]);
    assert_eq!(*flaky.refused.lock().expect("lock"), 2, "the first two POSTs were refused, then retried");
    assert!(gw.stop(), "clean stop");
    // Start, 12 events, the stop record: 14.
    assert_eq!(flaky.sizes(), [5, 10, 14], "the checkpoint made at close is sent at shutdown");
    let log = std::fs::read_to_string(gw.log_path()).expect("log");
    assert!(log.contains("witness did not take the checkpoint"), "failures are logged");
    assert!(log.contains(&dead), "the failing witness is named");

    // What the witness kept is a checkpoint file the offline verifier accepts.
    let kept: String = flaky.accepted.lock().expect("lock").iter().map(|n| format!("{n}\n")).collect();
    let file = gw.data_dir().with_extension("witnessed");
    std::fs::write(&file, kept).expect("write");
    let run = run_cli([
        "verify",
        "--data",
        &gw.data_dir().display().to_string(),
        "--checkpoints",
        &file.display().to_string(),
        "--public-key",
        &public,
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.starts_with("ok: 14 records"), "start, 12 events, stop: {run:?}");
}

#[test]
fn a_witness_url_that_is_not_http_is_refused_by_name() {
    let config =
        format!("{}\n[checkpoints]\nwitnesses = [\"https://witness.example/add\"]\n", default_config());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, config.replace(DATA_DIR_PLACEHOLDER, "\"/nonexistent/data\"")).expect("write");
    let run = run_cli(["check-config", "--config", &path.display().to_string()]);
    assert_ne!(run.code, Some(0), "{run:?}");
    assert!(run.stderr.contains("checkpoints.witnesses[0]"), "{run:?}");
}
