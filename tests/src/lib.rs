//! Harness for Auditgate's black-box tests: start the real `auditgate` binary on a fresh
//! data directory, talk HTTP to it, kill it, restart it, and look at the files it wrote.
//!
//! Nothing here knows the gateway's internals: only the contract (config file format, the
//! `auditgate: listening on ADDR` line, the HTTP API).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub mod attacker;
pub mod receiver;

use reqwest::blocking::Client;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The development keys of the default `policy.toml`.
pub const INGEST_KEY: &str = "ag_dev_ingest_key";
pub const AUDITOR_KEY: &str = "ag_dev_auditor_key";
pub const ADMIN_KEY: &str = "ag_dev_admin_key";
/// Key names, as stored in each event's `source`.
pub const INGEST_NAME: &str = "dev-ingest";

/// Replaced by `Gateway::start` with the (TOML-quoted) path of the instance's data dir.
pub const DATA_DIR_PLACEHOLDER: &str = "\"@DATA_DIR@\"";

/// How long the gateway may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Time limit of one HTTP request made by the helpers.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// `<target>/<profile>`: the directory holding `deps/`, where the test executable runs.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("the test executable is in a directory");
    if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().expect("deps/ has a parent").to_path_buf()
    } else {
        deps.to_path_buf()
    }
}

/// Cargo's target directory (derived from the running test executable).
pub fn target_dir() -> PathBuf {
    profile_dir().parent().expect("the profile directory has a parent").to_path_buf()
}

/// The `auditgate` binary under test: `$AUDITGATE_BIN`, else `<target>/debug/auditgate`.
pub fn binary_path() -> PathBuf {
    let path = match std::env::var_os("AUDITGATE_BIN") {
        Some(p) => PathBuf::from(p),
        None => target_dir().join("debug").join(format!("auditgate{}", std::env::consts::EXE_SUFFIX)),
    };
    if !path.is_file() {
        panic!("{} does not exist: build it first: cargo build -p auditgate", path.display());
    }
    path
}

/// What one run of the `auditgate` command line gave.
#[derive(Debug)]
pub struct CliRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `auditgate ARGS` (standard input closed) to completion.
pub fn run_cli<I, S>(args: I) -> CliRun
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = Command::new(binary_path())
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run auditgate");
    CliRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `auditgate serve` on `config` (a complete config, data dir included) until it
/// exits by itself: for start-ups that must fail. Answers the exit status and stderr.
pub fn serve_until_exit(config: &str) -> (std::process::ExitStatus, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, config).expect("write config");
    let out = Command::new(binary_path())
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run auditgate serve");
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Paths of the hostile test policies, compiled to WASM components.
#[derive(Debug, Clone)]
pub struct TestPolicies {
    /// Traps on events whose `details.trap` is true; tags the others `trap-policy-saw`.
    pub trap: PathBuf,
    /// Loops forever on events whose `details.spin` is true.
    pub spin: PathBuf,
    /// Makes the host calls listed in `details.ops`, writes the results to `details.results`.
    pub host_probe: PathBuf,
    /// Memory bomb, giant output, panic or slow work, chosen by `details.hostile`.
    pub hostile: PathBuf,
    /// Imports `test:foreign-import/net`, which the gateway does not offer.
    pub foreign_import: PathBuf,
}

/// Builds the hostile test policies under `tests/policies/` for wasm32-wasip2 (once per
/// test process).
pub fn test_policies() -> &'static TestPolicies {
    static POLICIES: OnceLock<TestPolicies> = OnceLock::new();
    POLICIES.get_or_init(|| {
        let wasm_target = target_dir().join("wasm-policies");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(cargo)
            .args(["build", "--target", "wasm32-wasip2", "--profile", "policy"])
            .args([
                "-p",
                "trap-policy",
                "-p",
                "spin-policy",
                "-p",
                "host-probe-policy",
                "-p",
                "hostile-policy",
                "-p",
                "foreign-import-policy",
            ])
            .env("CARGO_TARGET_DIR", &wasm_target)
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .output()
            .expect("cannot run cargo to build the test policies");
        if !output.status.success() {
            panic!(
                "building the test policies failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let dir = wasm_target.join("wasm32-wasip2").join("policy");
        let policies = TestPolicies {
            trap: dir.join("trap_policy.wasm"),
            spin: dir.join("spin_policy.wasm"),
            host_probe: dir.join("host_probe_policy.wasm"),
            hostile: dir.join("hostile_policy.wasm"),
            foreign_import: dir.join("foreign_import_policy.wasm"),
        };
        for p in [
            &policies.trap,
            &policies.spin,
            &policies.host_probe,
            &policies.hostile,
            &policies.foreign_import,
        ] {
            assert!(p.is_file(), "cargo succeeded but {} is missing", p.display());
        }
        policies
    })
}

/// The example policy `examples/custom-policy`, built for wasm32-wasip2 (once per test
/// process) the way an author builds a policy that is not bundled.
pub fn custom_policy() -> &'static Path {
    static POLICY: OnceLock<PathBuf> = OnceLock::new();
    POLICY.get_or_init(|| {
        let wasm_target = target_dir().join("wasm-policies");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(cargo)
            .args(["build", "--target", "wasm32-wasip2", "--profile", "policy", "-p", "custom-policy"])
            .env("CARGO_TARGET_DIR", &wasm_target)
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .output()
            .expect("cannot run cargo to build examples/custom-policy");
        if !output.status.success() {
            panic!(
                "building examples/custom-policy failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let path = wasm_target.join("wasm32-wasip2").join("policy").join("custom_policy.wasm");
        assert!(path.is_file(), "cargo succeeded but {} is missing", path.display());
        path
    })
}

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

/// A TOML basic string holding `s`.
pub fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A master key (64 hex digits) made of one repeated digit.
pub fn master_key(digit: char) -> String {
    digit.to_string().repeat(64)
}

/// `config` (with a `[storage]` table) with encryption on and the master key read from `key_file`.
pub fn encrypted(config: &str, key_file: &std::path::Path) -> String {
    config.replacen(
        "[storage]\n",
        &format!(
            "[storage]\nencryption = true\nmaster_key_file = {}\n",
            toml_str(&key_file.to_string_lossy())
        ),
        1,
    )
}

/// Replaces the value of the first line `KEY = …` (at the start of a line) in `config`.
/// Panics when there is no such line, so a changed `policy.toml` is noticed.
pub fn set_value(config: &str, key: &str, value: &str) -> String {
    let mut done = false;
    let mut out = String::with_capacity(config.len() + value.len());
    for line in config.lines() {
        let trimmed = line.trim_start();
        let is_key =
            trimmed.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('=')) && !done;
        if is_key {
            out.push_str(&format!("{key} = {value}"));
            done = true;
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    assert!(done, "no `{key} = …` line in the configuration:\n{config}");
    out
}

/// The repository's `policy.toml`, listening on a free loopback port and storing into the
/// instance's data dir (via [`DATA_DIR_PLACEHOLDER`]).
pub fn default_config() -> String {
    let path = workspace_root().join("policy.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = set_value(&text, "listen", "\"127.0.0.1:0\"");
    // Relative paths in policy.toml are relative to its directory; the test's copy lives
    // elsewhere, so point them back into the repository.
    let examples = format!("path = \"{}/examples/", workspace_root().display());
    let text = text.replace("path = \"examples/", &examples);
    set_value(&text, "data_dir", DATA_DIR_PLACEHOLDER)
}

/// `config` with `lines` (TOML key/value lines) added to the `[policy.config]` of its
/// `builtin:redact-secrets` policy.
pub fn with_redaction_config(config: &str, lines: &str) -> String {
    let module = config
        .find("module = \"builtin:redact-secrets\"")
        .unwrap_or_else(|| panic!("no builtin:redact-secrets in the configuration:\n{config}"));
    let table = module
        + config[module..]
            .find("[policy.config]\n")
            .unwrap_or_else(|| panic!("redact-secrets has no [policy.config] table:\n{config}"));
    let at = table + "[policy.config]\n".len();
    format!("{}{}\n{}", &config[..at], lines.trim_end(), &config[at..])
}

/// `config` without its `[[lookup]]` tables, for tests that bring their own.
pub fn without_lookups(config: &str) -> String {
    let mut out = String::with_capacity(config.len());
    let mut in_lookup = false;
    for line in config.lines() {
        let header = line.trim_start();
        if header.starts_with('[') {
            in_lookup = header.starts_with("[[lookup]]");
        }
        if !in_lookup {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// What a test policy does when it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    Reject,
    Quarantine,
    Skip,
}

impl OnError {
    pub fn as_str(self) -> &'static str {
        match self {
            OnError::Reject => "reject",
            OnError::Quarantine => "quarantine",
            OnError::Skip => "skip",
        }
    }
}

/// One extra `[[policy]]` table.
#[derive(Debug, Clone)]
pub struct PolicySpec {
    pub name: String,
    pub module: PathBuf,
    pub on_error: OnError,
    pub timeout_ms: u64,
    pub memory_mb: u64,
    pub actions: Option<Vec<String>>,
}

impl PolicySpec {
    pub fn new(name: &str, module: &Path, on_error: OnError) -> Self {
        Self {
            name: name.to_string(),
            module: module.to_path_buf(),
            on_error,
            timeout_ms: 200,
            memory_mb: 16,
            actions: None,
        }
    }

    pub fn timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = ms;
        self
    }

    pub fn actions(mut self, actions: &[&str]) -> Self {
        self.actions = Some(actions.iter().map(|a| a.to_string()).collect());
        self
    }

    /// The TOML of this table (with an empty `[policy.config]`).
    pub fn to_toml(&self) -> String {
        let mut s = String::from("\n[[policy]]\n");
        s.push_str(&format!("name = {}\n", toml_str(&self.name)));
        s.push_str(&format!("module = {}\n", toml_str(&self.module.to_string_lossy())));
        s.push_str(&format!("on_error = {}\n", toml_str(self.on_error.as_str())));
        s.push_str(&format!("timeout_ms = {}\n", self.timeout_ms));
        s.push_str(&format!("memory_mb = {}\n", self.memory_mb));
        if let Some(actions) = &self.actions {
            let list: Vec<String> = actions.iter().map(|a| toml_str(a)).collect();
            s.push_str(&format!("actions = [{}]\n", list.join(", ")));
        }
        s.push_str("[policy.config]\n");
        s
    }
}

/// `config` with `policies` appended at the end of the chain.
pub fn with_policies(config: &str, policies: &[PolicySpec]) -> String {
    let mut s = config.to_string();
    for p in policies {
        s.push_str(&p.to_toml());
    }
    s
}

/// `config` with one more `[[keys]]` entry for `key` (the SHA-256 is computed here),
/// placed before the first `[[policy]]` table.
pub fn with_key(config: &str, name: &str, role: &str, key: &str) -> String {
    let table = format!(
        "[[keys]]\nname = {}\nrole = {}\nsha256 = {}\n\n",
        toml_str(name),
        toml_str(role),
        toml_str(&sha256_hex(key.as_bytes()))
    );
    match config.find("\n[[policy]]") {
        Some(i) => format!("{}\n{table}{}", &config[..i], &config[i + 1..]),
        None => format!("{config}\n{table}"),
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

// ---------------------------------------------------------------------------------------
// The gateway process
// ---------------------------------------------------------------------------------------

/// A running `auditgate serve` on its own temporary directory.
pub struct Gateway {
    dir: tempfile::TempDir,
    config_path: PathBuf,
    log_path: PathBuf,
    child: Option<Child>,
    addr: String,
    /// `http` or `https`, from the listening line (`https://ADDR` when TLS is on).
    scheme: &'static str,
    client: Client,
    starts: u32,
    /// Extra environment variables of every start (after `AUDITGATE_*` are cleared).
    env: Vec<(String, String)>,
}

/// How [`Gateway::start_with`] starts the gateway, beyond its config.
#[derive(Default)]
pub struct StartOptions {
    /// The HTTP client of the helpers (one trusting a test CA, say); default: plain.
    pub client: Option<Client>,
    /// Environment variables for the process (`AUDITGATE_CHECKPOINTS__KEY`, `RUST_LOG`…).
    pub env: Vec<(String, String)>,
}

impl Gateway {
    /// Starts the gateway with `config` (where [`DATA_DIR_PLACEHOLDER`] becomes the data
    /// dir) and waits for its listening line.
    pub fn start(config: &str) -> Gateway {
        Gateway::start_prepared(config, |_| {})
    }

    /// Like [`Gateway::start`], calling `prepare` with the data dir's path (not created
    /// yet) before the first start: to put a file system of its own there, say.
    pub fn start_prepared(config: &str, prepare: impl FnOnce(&Path)) -> Gateway {
        Gateway::start_full(config, prepare, StartOptions::default())
    }

    /// Like [`Gateway::start`], with a client and environment of the test's choosing.
    pub fn start_with(config: &str, options: StartOptions) -> Gateway {
        Gateway::start_full(config, |_| {}, options)
    }

    fn start_full(config: &str, prepare: impl FnOnce(&Path), options: StartOptions) -> Gateway {
        let dir = tempfile::Builder::new().prefix("auditgate-test-").tempdir().expect("tempdir");
        let data_dir = dir.path().join("data");
        prepare(&data_dir);
        let config = config.replace(DATA_DIR_PLACEHOLDER, &toml_str(&data_dir.to_string_lossy()));
        let config_path = dir.path().join("policy.toml");
        std::fs::write(&config_path, config).expect("write the config");
        let client = match options.client {
            Some(c) => c,
            None => Client::builder().timeout(HTTP_TIMEOUT).build().expect("http client"),
        };
        let mut gw = Gateway {
            log_path: dir.path().join("gateway.log"),
            dir,
            config_path,
            child: None,
            addr: String::new(),
            scheme: "http",
            client,
            starts: 0,
            env: options.env,
        };
        gw.spawn();
        gw
    }

    /// Starts the gateway with [`default_config`].
    pub fn start_default() -> Gateway {
        Gateway::start(&default_config())
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open the gateway log");
        let mut cmd = Command::new(binary_path());
        cmd.arg("serve").arg("--config").arg(&self.config_path);
        // Configuration overrides from the environment would make the test meaningless.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AUDITGATE_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        // A plain-text log, easier to read in a failure report.
        cmd.env("NO_COLOR", "1");
        cmd.current_dir(self.dir.path()).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log);
        let mut child = cmd.spawn().expect("spawn auditgate");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        let mut copy = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.stdout_path())
            .expect("open the gateway's stdout copy");
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let reader = BufReader::new(stdout);
            for line in reader.lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(copy, "{line}");
                if let Some(addr) = line.strip_prefix("auditgate: listening on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.trim().to_string());
                }
                // Keep draining stdout so the child never blocks on a full pipe.
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(addr) => {
                    match addr.strip_prefix("https://") {
                        Some(a) => (self.scheme, self.addr) = ("https", a.to_string()),
                        None => (self.scheme, self.addr) = ("http", addr),
                    }
                    self.child = Some(child);
                    return;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        panic!("auditgate exited ({status}) before listening (its log follows)");
                    }
                    if Instant::now() > deadline {
                        let _ = child.kill();
                        let _ = child.wait();
                        panic!(
                            "auditgate did not print its listening line within {START_TIMEOUT:?} (its log follows)"
                        );
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().ok();
                    panic!("auditgate closed stdout before listening (exit: {status:?}; its log follows)");
                }
            }
        }
    }

    /// `http://127.0.0.1:PORT` (`https://` when the gateway serves TLS).
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// `127.0.0.1:PORT`, without a scheme.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The data directory (`<tempdir>/data`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs `auditgate verify` on the (stopped) data dir with the external checkpoint file
    /// when there is one and the public key the gateway printed at its last start.
    pub fn verify_offline(&self) -> CliRun {
        let data = self.data_dir();
        let mut args = vec!["verify".to_string(), "--data".into(), data.display().to_string()];
        let cp_file = data.with_extension("checkpoints");
        if cp_file.is_file() {
            args.extend(["--checkpoints".to_string(), cp_file.display().to_string()]);
        }
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        if let Some(key) = log.lines().rev().find_map(|l| l.split(" key=").nth(1)?.split_whitespace().next())
        {
            args.extend(["--public-key".to_string(), key.to_string()]);
        }
        run_cli(args)
    }

    /// The config file the gateway runs with (a hot reload reads it again).
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Replaces the config file with `config` ([`DATA_DIR_PLACEHOLDER`] becomes the data
    /// dir), by writing a temporary file and renaming it over the old one, as editors do.
    pub fn rewrite_config(&self, config: &str) {
        let config = config.replace(DATA_DIR_PLACEHOLDER, &toml_str(&self.data_dir().to_string_lossy()));
        let tmp = self.dir.path().join(".policy.toml.tmp");
        std::fs::write(&tmp, config).expect("write the new config");
        std::fs::rename(&tmp, &self.config_path).expect("rename the new config into place");
    }

    /// Sends `signal` (`HUP`, `TERM`, ...) to the running gateway with `kill`.
    pub fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("the gateway is running");
        let sent = Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -{signal} {} failed", child.id());
    }

    /// A copy of everything the gateway printed on stdout (all starts).
    pub fn stdout_path(&self) -> PathBuf {
        self.dir.path().join("gateway.stdout")
    }

    /// The gateway's stderr (its log), as written so far.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `max` bytes of the gateway's log.
    pub fn log_tail(&self, max: usize) -> String {
        let bytes = std::fs::read(&self.log_path).unwrap_or_default();
        let start = bytes.len().saturating_sub(max);
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGKILL (no chance to flush or clean up), and reap the process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM (a graceful shutdown), then waits for the process to exit; true when it
    /// exited successfully within the start timeout.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else { return false };
        let sent = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        if !sent.is_ok_and(|s| s.success()) {
            let _ = child.kill();
        }
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return status.success(),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return false;
                }
            }
        }
    }

    /// Kills the gateway if it runs, then starts it again on the same data dir and config
    /// (it gets a new port).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// The process id of the running gateway.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How many times the process was started.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// A new HTTP client (for other threads).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base_url(), path_and_query)
    }

    /// Any request; `key` is sent as `Authorization: Bearer KEY`, `auth` (if given)
    /// replaces the whole header.
    pub fn request(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        auth: Auth<'_>,
        body: Option<(&str, Vec<u8>)>,
    ) -> (u16, Value) {
        let mut req = self.client.request(method.clone(), self.url(path_and_query));
        match auth {
            Auth::None => {}
            Auth::Bearer(k) => req = req.header(AUTHORIZATION, format!("Bearer {k}")),
            Auth::Raw(h) => req = req.header(AUTHORIZATION, h),
        }
        if let Some((content_type, bytes)) = body {
            req = req.header(CONTENT_TYPE, content_type).body(bytes);
        }
        let resp = req.send().unwrap_or_else(|e| {
            panic!("{method} {path_and_query}: {e}\ngateway log:\n{}", self.log_tail(4000))
        });
        let status = resp.status().as_u16();
        let bytes = resp.bytes().unwrap_or_default();
        (status, parse_body(&bytes))
    }

    /// `POST /v1/events` with a JSON body.
    pub fn post_events(&self, key: &str, body: &Value) -> (u16, Value) {
        self.post_events_raw(key, serde_json::to_vec(body).expect("serialize"))
    }

    /// `POST /v1/events` with any bytes.
    pub fn post_events_raw(&self, key: &str, body: Vec<u8>) -> (u16, Value) {
        self.request(reqwest::Method::POST, "/v1/events", Auth::Bearer(key), Some(("application/json", body)))
    }

    /// `POST /v1/events/bulk` with NDJSON text.
    pub fn post_bulk(&self, key: &str, ndjson: &str) -> (u16, Value) {
        self.post_bulk_raw(key, ndjson.as_bytes().to_vec())
    }

    /// `POST /v1/events/bulk` with any bytes.
    pub fn post_bulk_raw(&self, key: &str, body: Vec<u8>) -> (u16, Value) {
        self.request(
            reqwest::Method::POST,
            "/v1/events/bulk",
            Auth::Bearer(key),
            Some(("application/x-ndjson", body)),
        )
    }

    /// The stored record `seq`, read with the auditor key; panics unless the answer is 200.
    #[track_caller]
    pub fn record(&self, seq: u64) -> Value {
        let (status, rec) = self.get(AUDITOR_KEY, &format!("/v1/events/{seq}"));
        assert_eq!(status, 200, "GET /v1/events/{seq}: {rec}");
        rec
    }

    /// `GET path_and_query` with `key`.
    pub fn get(&self, key: &str, path_and_query: &str) -> (u16, Value) {
        self.request(reqwest::Method::GET, path_and_query, Auth::Bearer(key), None)
    }

    /// Posts one event that must be accepted and returns its `seq`.
    pub fn ingest_one(&self, event: &Value) -> u64 {
        let (status, body) = self.post_events(INGEST_KEY, event);
        assert_eq!(status, 200, "POST /v1/events {event}: {body}");
        let seq = body["results"][0]["seq"].as_u64();
        assert!(seq.is_some(), "no seq in the answer to {event}: {body}");
        assert!(body["results"][0].get("duplicate").is_none(), "unexpected duplicate: {body}");
        seq.unwrap()
    }

    /// Every event matching `query` (e.g. `"user=alice&order=desc"`), following
    /// `next_cursor` with pages of `limit`. Checks each page's shape.
    ///
    /// Unless `query` asks for them (filters on `source`, or on an `auditgate.*` action),
    /// the gateway's own records (`source = "auditgate"`: its start, and a record of each
    /// of these very queries) are left out, so that tests see the events their apps sent.
    pub fn query_all(&self, query: &str, limit: usize) -> Vec<Value> {
        let own_asked =
            query.split('&').any(|p| p.starts_with("source=") || p.starts_with("action=auditgate"));
        let mut all = self.query_all_records(query, limit);
        if !own_asked {
            all.retain(|r| r["source"] != "auditgate");
        }
        all
    }

    /// Like [`Gateway::query_all`], the gateway's own records included.
    pub fn query_all_records(&self, query: &str, limit: usize) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100_000 {
            let mut q = format!("/v1/events?limit={limit}");
            if !query.is_empty() {
                q.push('&');
                q.push_str(query);
            }
            if let Some(c) = &cursor {
                q.push_str(&format!("&cursor={}", enc(c)));
            }
            let (status, body) = self.get(AUDITOR_KEY, &q);
            assert_eq!(status, 200, "GET {q}: {body}");
            let events =
                body["events"].as_array().unwrap_or_else(|| panic!("GET {q}: no events array: {body}"));
            assert!(events.len() <= limit, "GET {q}: {} events on a page of {limit}", events.len());
            out.extend(events.iter().cloned());
            match &body["next_cursor"] {
                Value::Null => return out,
                Value::String(c) => {
                    assert!(
                        cursor.as_deref() != Some(c.as_str()),
                        "GET {q}: next_cursor did not move: {c:?}"
                    );
                    cursor = Some(c.clone());
                }
                other => panic!("GET {q}: next_cursor is neither a string nor null: {other}"),
            }
        }
        panic!("GET /v1/events?{query}: the cursor never reached null");
    }

    /// How many events the apps' keys stored (through the query API; the gateway's own
    /// records not counted).
    pub fn count_events(&self) -> usize {
        self.query_all("", 1000).len()
    }

    /// Every file under the data dir (recursively), as (path, bytes).
    pub fn data_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        read_tree(&self.data_dir(), &mut out);
        out
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "---- auditgate log ({}, {} start(s)), last 6000 bytes ----\n{}\n---- end of log ----",
                self.log_path.display(),
                self.starts,
                self.log_tail(6000)
            );
        }
    }
}

/// The `Authorization` header of a request.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    None,
    Bearer(&'a str),
    Raw(&'a str),
}

fn parse_body(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(format!("<not JSON> {}", String::from_utf8_lossy(bytes))))
}

fn read_tree(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            read_tree(&path, out);
        } else if ft.is_file() {
            let mut bytes = Vec::new();
            if let Ok(mut f) = std::fs::File::open(&path)
                && f.read_to_end(&mut bytes).is_ok()
            {
                out.push((path, bytes));
            }
        }
    }
}

/// The files (of `files`) whose bytes contain `needle`.
pub fn files_containing(files: &[(PathBuf, Vec<u8>)], needle: &[u8]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle))
        .map(|(p, _)| p.clone())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

/// Percent-encodes a query component (everything but RFC 3986 unreserved characters).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A string that is unique in this machine's history (for secrets and markers).
pub fn unique_token(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let seed = format!("{prefix}/{}/{nanos}/{n}", std::process::id());
    format!("{prefix}{}", &sha256_hex(seed.as_bytes())[..40])
}

/// A small deterministic PRNG (xorshift64*), enough for jitter and shuffles.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// Seeded from the clock and the process id.
    pub fn from_clock() -> Self {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
        Rng::new(nanos ^ (u64::from(std::process::id()) << 32))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The error code of an error answer (`body.error.code`), or "" when there is none.
pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// The error message of an error answer, or "".
pub fn error_message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or("")
}

/// Asserts an error answer: status, code, a non-empty message, and every `needles`
/// (case-insensitive) in the message.
#[track_caller]
pub fn assert_error(status: u16, body: &Value, want_status: u16, want_code: &str, needles: &[&str]) {
    assert_eq!(status, want_status, "want {want_status} {want_code}, got {status}: {body}");
    assert_eq!(error_code(body), want_code, "want code {want_code}: {body}");
    let message = error_message(body);
    assert!(!message.is_empty(), "error without a message: {body}");
    for n in needles {
        assert!(message.to_lowercase().contains(&n.to_lowercase()), "the message should name {n:?}: {body}");
    }
}

/// The sequence numbers of `events` (each must have a `seq`).
pub fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["seq"].as_u64().unwrap_or_else(|| panic!("record without seq: {e}"))).collect()
}

/// Asserts that `seqs` holds no duplicates.
#[track_caller]
pub fn assert_no_dups(seqs: &[u64]) {
    let mut seen = HashSet::new();
    for s in seqs {
        assert!(seen.insert(*s), "seq {s} appears twice in {seqs:?}");
    }
}

/// The gateway's own fields in a stored record.
pub const GATEWAY_FIELDS: [&str; 7] =
    ["seq", "received_at", "source", "policy_set", "redacted", "tags", "prev"];

/// Checks the gateway-added fields of a stored record (types and shapes).
#[track_caller]
pub fn assert_record_shape(record: &Value) {
    assert!(record["seq"].as_u64().is_some_and(|s| s >= 1), "bad seq: {record}");
    let received = record["received_at"].as_str().unwrap_or_else(|| panic!("no received_at: {record}"));
    assert!(chrono::DateTime::parse_from_rfc3339(received).is_ok(), "received_at is not RFC 3339: {record}");
    assert!(record["source"].as_str().is_some_and(|s| !s.is_empty()), "no source: {record}");
    let prev = record["prev"].as_str().unwrap_or_else(|| panic!("no prev: {record}"));
    assert!(
        prev.len() == 64 && prev.bytes().all(|b| b.is_ascii_hexdigit()),
        "prev is not a hex hash: {record}"
    );
    let ps = record["policy_set"].as_str().unwrap_or_else(|| panic!("no policy_set: {record}"));
    assert!(
        !ps.is_empty() && ps.bytes().all(|b| b.is_ascii_hexdigit()),
        "policy_set is not a hex string: {record}"
    );
    assert!(record["redacted"].is_array(), "redacted is not an array: {record}");
    assert!(record["tags"].is_array(), "tags is not an array: {record}");
    assert!(record["time"].as_str().is_some(), "no time: {record}");
}

/// The instant of an RFC 3339 time, in microseconds since the epoch.
pub fn time_micros(t: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t)
        .unwrap_or_else(|e| panic!("not RFC 3339: {t:?}: {e}"))
        .timestamp_micros()
}

/// Whether the stored `record` holds `sent` as sent: every field equal, except `time`
/// (same instant) and `ip` (compared with `canonical_ip`, when given). Returns the first
/// difference.
pub fn diff_event(sent: &Value, record: &Value, canonical_ip: Option<&str>) -> Option<String> {
    let sent = sent.as_object()?;
    for (k, v) in sent {
        let got = &record[k.as_str()];
        let same = match k.as_str() {
            "time" => got.as_str().is_some_and(|g| time_micros(g) == time_micros(v.as_str().unwrap_or(""))),
            "ip" => got.as_str() == Some(canonical_ip.unwrap_or(v.as_str().unwrap_or(""))),
            _ => got == v,
        };
        if !same {
            return Some(format!("field {k}: sent {v}, stored {got}"));
        }
    }
    if let Some(rec) = record.as_object() {
        for k in rec.keys() {
            // The gateway's fields, the defaults (time, severity), and absent fields
            // written as null are fine.
            let expected_extra = GATEWAY_FIELDS.contains(&k.as_str())
                || k == "time"
                || (k == "severity" && rec[k] == "info")
                || rec[k].is_null();
            if !sent.contains_key(k) && !expected_extra {
                return Some(format!("field {k} was not sent but is stored: {}", rec[k]));
            }
        }
    }
    None
}

/// `serde_json` value of a JSON text (panics on a bad literal in a test).
pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("bad JSON literal in a test: {e}: {text}"))
}

/// Events as NDJSON text (one line each, final newline).
pub fn ndjson(events: &[Value]) -> String {
    let mut s = String::new();
    for e in events {
        s.push_str(&e.to_string());
        s.push('\n');
    }
    s
}

/// The `tags` of a stored record (empty when it has none).
pub fn tags(record: &Value) -> Vec<&str> {
    record["tags"].as_array().map(|t| t.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}
