//! `policy.toml`: the gateway's one configuration file, loaded with figment (TOML plus
//! `AUDITGATE_`-prefixed environment overrides, `__` separating nested keys).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};

mod sinks;
pub use sinks::{
    DEFAULT_SINK_TIMEOUT_MS, DeliveryConfig, SinkConfig, SinkKind, SyslogTransport, WebhookFormat,
};

/// A configuration that could not be loaded; the message names the key and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Parse(String),
    #[error("invalid configuration: {key}: {message}")]
    Invalid { key: String, message: String },
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub storage: StorageConfig,
    #[serde(default)]
    pub engine: EngineConfig,
    #[serde(default)]
    pub keys: Vec<KeyConfig>,
    #[serde(default)]
    pub policy: Vec<PolicyConfig>,
    /// `[[lookup]]`: read-only enrichment tables policies query with `lookup(table, key)`.
    #[serde(default)]
    pub lookup: Vec<LookupConfig>,
    #[serde(default)]
    pub checkpoints: CheckpointsConfig,
    /// `[[sink]]`: where alerts are delivered (through the outbox).
    #[serde(default)]
    pub sink: Vec<SinkConfig>,
    /// `[delivery]`: the outbox's retries.
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// `[retention]`: archiving and removing old records (see `crate::retention`).
    #[serde(default)]
    pub retention: crate::retention::RetentionConfig,
    /// `[[legal_hold]]`: records and subjects retention and erasure must leave alone.
    #[serde(default)]
    pub legal_hold: Vec<crate::retention::LegalHoldConfig>,
}

/// `[server]`: where to listen, how much a client may send, and HTTPS.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub max_request_bytes: usize,
    pub max_event_bytes: usize,
    pub max_depth: usize,
    /// Reload the policy chain and `[[lookup]]` tables when the config file changes on
    /// disk (debounced); SIGHUP and `POST /v1/admin/reload` reload whatever this says.
    pub watch_config: bool,
    /// PEM certificate chain (server certificate first). With `tls_key`: serve HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// PEM CA bundle. When set, ingest requests must come over a connection whose client
    /// certificate this CA signed (besides the API key); auditor and admin keys need none.
    pub tls_client_ca: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_request_bytes: 16 << 20,
            max_event_bytes: 64 << 10,
            max_depth: 32,
            watch_config: true,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
        }
    }
}

/// `[storage]`: the sled log.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
    /// Extra time the writer may wait to gather a bigger group commit.
    pub flush_interval_ms: u64,
    pub idempotency_window_secs: u64,
    pub cache_capacity_mb: u64,
    /// Most events the writer puts into one group commit.
    pub max_batch_events: usize,
    /// Encryption at rest: seal the personal fields of every event under a per-subject
    /// data key wrapped by the master key. Opt-in; a store keeps the choice it was
    /// created with (opening it the other way is refused).
    pub encryption: bool,
    /// File holding the master key (64 hex digits); the environment variable
    /// `AUDITGATE_MASTER_KEY` wins over it. Never inside `data_dir`.
    pub master_key_file: Option<PathBuf>,
    /// Top-level event fields sealed besides the personal ones always sealed (`user`,
    /// `ip`, `user_agent`, `session_id`, `details`, `changes`).
    pub encrypted_fields: Vec<String>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            flush_interval_ms: 0,
            idempotency_window_secs: 86_400,
            cache_capacity_mb: 64,
            max_batch_events: 10_000,
            encryption: false,
            master_key_file: None,
            encrypted_fields: Vec::new(),
        }
    }
}

/// A secret from the config (a signing key given inline or by env): `Debug` prints
/// `[redacted]`, so a config dumped in a log line or an error never shows it.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret's text, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `[checkpoints]`: signed checkpoints of the log (C2SP signed notes, Ed25519).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointsConfig {
    /// `false`: no checkpoints are signed (verification cannot detect truncation).
    pub enabled: bool,
    /// The log's name: the first line of every checkpoint and the signing key's name.
    pub origin: String,
    /// A checkpoint after at most this many new events.
    pub every_events: u64,
    /// A checkpoint when new events are this many seconds old.
    pub every_secs: u64,
    /// The signing key (`PRIVATE+KEY+...`), created mode 0600 on first start when missing.
    /// Default: `<data_dir>/checkpoint.key`.
    pub key_file: Option<PathBuf>,
    /// The signing key itself (for `AUDITGATE_CHECKPOINTS__KEY`); wins over `key_file`.
    #[serde(skip_serializing)]
    pub key: Option<Secret>,
    /// The file every checkpoint is appended to; must be outside `data_dir`.
    /// Default: `<data_dir>.checkpoints` beside the data directory.
    pub file: Option<PathBuf>,
    /// `http://` URLs each new checkpoint is POSTed to (`text/plain`, the signed note).
    /// Failures are logged and retried; ingest never waits for a witness.
    pub witnesses: Vec<String>,
    /// Time limit of one POST to a witness.
    pub witness_timeout_secs: u64,
    /// Seconds between attempts to reach a witness that failed.
    pub witness_retry_secs: u64,
}

impl Default for CheckpointsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            origin: "auditgate.local/audit-log".into(),
            every_events: 1000,
            every_secs: 60,
            key_file: None,
            key: None,
            file: None,
            witnesses: Vec::new(),
            witness_timeout_secs: 10,
            witness_retry_secs: 30,
        }
    }
}

/// `[engine]`: the policy engine as a whole.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// File holding the HMAC key used for `pseudonymize`; created (mode 0600) on first
    /// start when missing. Default: `<data_dir>/pseudonym.key`.
    pub pseudonym_key_file: Option<PathBuf>,
    /// Keep what Cranelift compiled from each policy component on disk, so later starts
    /// load it instead of compiling again (seconds saved per start). Default: on.
    pub module_cache: bool,
    /// Where the compiled components live. Default: `<data_dir>/module-cache`. Whoever
    /// can write here can make the gateway run native code: guard it like the binary.
    pub module_cache_dir: Option<PathBuf>,
    /// `[engine.host]`: caps on what policies may keep and write through the host interface.
    pub host: HostLimits,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            pseudonym_key_file: None,
            module_cache: true,
            module_cache_dir: None,
            host: HostLimits::default(),
        }
    }
}

/// `[engine.host]`: the caps of the WIT `host` interface, per policy. A call over a cap
/// traps the calling policy (its `on_error` applies); see `sdk/wit/policy.wit`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostLimits {
    /// Longest counter or state key, in bytes.
    pub max_key_bytes: usize,
    /// Largest state value, in bytes.
    pub max_value_bytes: usize,
    /// Most live state keys one policy may hold.
    pub max_state_keys: usize,
    /// Most bytes (keys plus values) of live state one policy may hold.
    pub max_state_bytes: usize,
    /// Most live counters one policy may hold.
    pub max_counter_keys: usize,
    /// Longest counter window, in seconds.
    pub max_window_secs: u32,
    /// Log lines per second one policy may write (all its instances together)...
    pub log_lines_per_sec: u32,
    /// ...after a burst of this many lines.
    pub log_burst: u32,
    /// Longest log line kept; longer lines are cut.
    pub max_log_bytes: usize,
    /// How often changed counters and state are written to sled and flushed.
    pub persist_interval_ms: u64,
}

impl Default for HostLimits {
    fn default() -> Self {
        Self {
            max_key_bytes: 512,
            max_value_bytes: 64 << 10,
            max_state_keys: 100_000,
            max_state_bytes: 64 << 20,
            max_counter_keys: 100_000,
            max_window_secs: 30 * 86_400,
            log_lines_per_sec: 50,
            log_burst: 200,
            max_log_bytes: 4096,
            persist_interval_ms: 1000,
        }
    }
}

/// The file format of a lookup table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LookupFormat {
    /// A header row; the first column is the key, the others become a JSON object.
    Csv,
    /// A top-level object `{key: value}`.
    Json,
}

/// How a lookup table matches keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LookupKind {
    /// The key as given.
    #[default]
    Exact,
    /// Keys are IP networks; a lookup answers the longest prefix holding the address.
    Cidr,
}

/// `[[lookup]]`: one read-only table, loaded at start-up.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LookupConfig {
    /// The name policies pass to `lookup()`.
    pub name: String,
    /// The file (relative to the config file's directory).
    pub path: PathBuf,
    /// `csv` or `json`; when absent, taken from the file's extension.
    #[serde(default)]
    pub format: Option<LookupFormat>,
    #[serde(default)]
    pub kind: LookupKind,
}

impl LookupConfig {
    /// The format, explicit or from the file's extension.
    pub fn effective_format(&self) -> Option<LookupFormat> {
        self.format.or_else(|| match self.path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => Some(LookupFormat::Csv),
            Some(e) if e.eq_ignore_ascii_case("json") => Some(LookupFormat::Json),
            _ => None,
        })
    }
}

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Ingest,
    Auditor,
    Admin,
}

impl Role {
    /// The role's name as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

/// `[[keys]]`: one API key, stored only as its SHA-256.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub name: String,
    pub role: Role,
    /// Lower-case hex SHA-256 of the key.
    pub sha256: String,
}

/// What happens to an event when a policy fails on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// The event is refused; nothing is stored (fail closed).
    Reject,
    /// The event is kept aside in the quarantine tree with the error.
    Quarantine,
    /// The event goes on without this policy's decision.
    Skip,
}

/// `[[policy]]`: one link of the chain.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub name: String,
    /// `builtin:NAME` or a path to a `.wasm` component (relative to the config file).
    pub module: String,
    /// What happens to an event the policy fails on; when absent, see
    /// [`PolicyConfig::on_error`].
    #[serde(default)]
    pub on_error: Option<OnError>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u64,
    /// Only events whose action matches one of these run through the policy:
    /// an exact action or a prefix ending in `*` (`user.*`). Empty or absent: all events.
    #[serde(default)]
    pub actions: Vec<String>,
    /// Handed to the policy's `init` as JSON.
    #[serde(default = "empty_table")]
    pub config: serde_json::Value,
}

/// The bundled redaction policy: it fails closed by default, and the gateway warns about
/// configurations that let events past it (`engine::warnings`).
pub const REDACTION_MODULE: &str = "builtin:redact-secrets";

impl PolicyConfig {
    /// The `on_error` in force: the configured one, else `reject` for the bundled
    /// redaction policy (an unredacted secret must never reach the store) and `skip` for
    /// every other policy (enrichment and alerting are best effort).
    pub fn on_error(&self) -> OnError {
        self.on_error.unwrap_or(if self.is_redaction() { OnError::Reject } else { OnError::Skip })
    }

    /// Whether this link is the bundled redaction policy.
    pub fn is_redaction(&self) -> bool {
        self.module == REDACTION_MODULE
    }
}
fn default_timeout_ms() -> u64 {
    50
}
fn default_memory_mb() -> u64 {
    32
}
fn empty_table() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// SHA-256 hashes of the development keys shipped in the default `policy.toml`
/// (`ag_dev_ingest_key`, `ag_dev_auditor_key`, `ag_dev_admin_key`). The gateway refuses to
/// listen beyond loopback while any of them is configured.
pub const DEVELOPMENT_KEY_HASHES: [&str; 3] = [
    "679d44db711514c0aa0cdbfc72fac56f3047d0816d8cdb0f3e53fd909d68c893",
    "e970bd77b5fdf60e6d75029ce57c771102f371efb431f2214cc6853e7c1e4d96",
    "ec1e3dedad1caba31af2fac42d3bb9b49695c65c2d92877a3d885bf33fc0ba62",
];

impl Config {
    /// Loads `path` plus `AUDITGATE_` environment overrides, then checks the values.
    /// Relative paths in the file are resolved against the file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        if !path.exists() {
            return Err(ConfigError::Parse(format!("configuration file {} does not exist", path.display())));
        }
        let figment = Figment::new()
            .merge(Toml::file(path))
            // Only nested keys (`AUDITGATE_SERVER__LISTEN`): other AUDITGATE_* variables
            // (a test harness's, a wrapper script's) are not configuration.
            .merge(Env::prefixed("AUDITGATE_").filter(|k| k.as_str().contains("__")).split("__"));
        let mut config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Parse(format!("invalid configuration in {}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        config.validate()?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        if self.storage.data_dir.is_relative() {
            self.storage.data_dir = base.join(&self.storage.data_dir);
        }
        for p in [
            &mut self.storage.master_key_file,
            &mut self.engine.pseudonym_key_file,
            &mut self.engine.module_cache_dir,
            &mut self.server.tls_cert,
            &mut self.server.tls_key,
            &mut self.server.tls_client_ca,
            &mut self.retention.archive_dir,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        for table in &mut self.lookup {
            if table.path.is_relative() {
                table.path = base.join(&table.path);
            }
        }
        for p in [&mut self.checkpoints.key_file, &mut self.checkpoints.file].into_iter().flatten() {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        for policy in &mut self.policy {
            if !policy.module.starts_with("builtin:") && Path::new(&policy.module).is_relative() {
                policy.module = base.join(&policy.module).to_string_lossy().into_owned();
            }
        }
    }

    /// Checks what serde cannot: value ranges, uniqueness, key format, the loopback rule.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: String, message: &str| ConfigError::Invalid { key, message: message.to_string() };
        if self.server.max_event_bytes == 0 || self.server.max_event_bytes > self.server.max_request_bytes {
            return Err(invalid(
                "server.max_event_bytes".into(),
                "expected a number between 1 and server.max_request_bytes",
            ));
        }
        if self.server.max_depth == 0 || self.server.max_depth > crate::event::PARSER_MAX_DEPTH {
            return Err(invalid(
                "server.max_depth".into(),
                &format!("expected a number between 1 and {}", crate::event::PARSER_MAX_DEPTH),
            ));
        }
        if self.storage.max_batch_events == 0 {
            return Err(invalid("storage.max_batch_events".into(), "expected a positive number"));
        }
        self.validate_encryption()?;
        sinks::validate(&self.delivery, &self.sink)?;
        if self.keys.is_empty() {
            return Err(invalid("keys".into(), "expected at least one [[keys]] entry"));
        }
        let mut names = std::collections::HashSet::new();
        for (i, key) in self.keys.iter().enumerate() {
            if key.name.trim().is_empty() {
                return Err(invalid(format!("keys[{i}].name"), "expected a non-empty name"));
            }
            if !names.insert(key.name.as_str()) {
                return Err(invalid(format!("keys[{i}].name"), "key names must be unique"));
            }
            if key.name == crate::own_events::GATEWAY_SOURCE {
                return Err(invalid(
                    format!("keys[{i}].name"),
                    "`auditgate` is the source of the gateway's own records; choose another key name",
                ));
            }
            if key.sha256.len() != 64 || hex::decode(&key.sha256).is_err() {
                return Err(invalid(
                    format!("keys[{i}].sha256"),
                    "expected 64 hex digits (the SHA-256 of the key; `auditgate hash-key KEY` prints it)",
                ));
            }
        }
        let mut policy_names = std::collections::HashSet::new();
        for (i, policy) in self.policy.iter().enumerate() {
            if policy.name.trim().is_empty() {
                return Err(invalid(format!("policy[{i}].name"), "expected a non-empty name"));
            }
            if !policy_names.insert(policy.name.as_str()) {
                return Err(invalid(format!("policy[{i}].name"), "policy names must be unique"));
            }
            if policy.timeout_ms == 0 || policy.timeout_ms > 60_000 {
                return Err(invalid(format!("policy[{i}].timeout_ms"), "expected 1..=60000"));
            }
            if policy.memory_mb == 0 || policy.memory_mb > 4096 {
                return Err(invalid(format!("policy[{i}].memory_mb"), "expected 1..=4096"));
            }
            if !policy.config.is_object() {
                return Err(invalid(format!("policy[{i}].config"), "expected a table"));
            }
        }
        self.validate_host_limits()?;
        let mut table_names = std::collections::HashSet::new();
        for (i, table) in self.lookup.iter().enumerate() {
            if table.name.trim().is_empty() {
                return Err(invalid(format!("lookup[{i}].name"), "expected a non-empty name"));
            }
            if !table_names.insert(table.name.as_str()) {
                return Err(ConfigError::Invalid {
                    key: format!("lookup[{i}].name"),
                    message: format!("duplicate lookup table name `{}`", table.name),
                });
            }
            if table.effective_format().is_none() {
                return Err(invalid(
                    format!("lookup[{i}].format"),
                    "expected \"csv\" or \"json\" (the file's extension does not tell)",
                ));
            }
        }
        let cp = &self.checkpoints;
        if cp.origin.is_empty()
            || cp.origin.contains('+')
            || cp.origin.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid(
                "checkpoints.origin".into(),
                "expected a non-empty name without spaces or '+' (for example example.com/audit)",
            ));
        }
        if cp.every_events == 0 {
            return Err(invalid("checkpoints.every_events".into(), "expected a positive number"));
        }
        if cp.every_secs == 0 {
            return Err(invalid("checkpoints.every_secs".into(), "expected a positive number of seconds"));
        }
        for (i, url) in cp.witnesses.iter().enumerate() {
            let host =
                url.strip_prefix("http://").map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
            if host.is_none_or(str::is_empty) || url.chars().any(char::is_whitespace) {
                return Err(invalid(
                    format!("checkpoints.witnesses[{i}]"),
                    "expected an http://host[:port]/path URL (https is not supported: put a TLS proxy in front)",
                ));
            }
        }
        if cp.witness_timeout_secs == 0 || cp.witness_retry_secs == 0 {
            return Err(invalid(
                "checkpoints.witness_timeout_secs / witness_retry_secs".into(),
                "expected a positive number of seconds",
            ));
        }
        if self.checkpoint_file_path().starts_with(&self.storage.data_dir) {
            return Err(invalid(
                "checkpoints.file".into(),
                "must be outside storage.data_dir (a copy that survives a rewrite of the data directory)",
            ));
        }
        self.validate_retention()?;
        if !self.server.listen.ip().is_loopback() && self.has_development_key() {
            return Err(invalid(
                "server.listen".into(),
                "a development key (ag_dev_*) is configured: replace the [[keys]] before listening on a non-loopback address",
            ));
        }
        Ok(())
    }

    fn validate_encryption(&self) -> Result<(), ConfigError> {
        let s = &self.storage;
        for field in &s.encrypted_fields {
            if !crate::event::KNOWN_FIELDS.contains(&field.as_str()) {
                return Err(ConfigError::Invalid {
                    key: "storage.encrypted_fields".into(),
                    message: format!(
                        "unknown event field `{field}`: expected one of {}",
                        crate::event::KNOWN_FIELDS.join(", ")
                    ),
                });
            }
            if crate::store::UNSEALABLE_FIELDS.contains(&field.as_str()) {
                return Err(ConfigError::Invalid {
                    key: "storage.encrypted_fields".into(),
                    message: format!("`{field}` cannot be encrypted: the store reads it without keys"),
                });
            }
        }
        if let Some(file) = &s.master_key_file
            && file.starts_with(&s.data_dir)
        {
            return Err(ConfigError::Invalid {
                key: "storage.master_key_file".into(),
                message:
                    "must be outside storage.data_dir (whoever copies the data directory must not get the \
                          key with it)"
                        .into(),
            });
        }
        Ok(())
    }

    /// The event fields an encrypted store seals: the personal defaults plus
    /// `storage.encrypted_fields`.
    pub fn sealed_fields(&self) -> Vec<String> {
        let mut fields: Vec<String> =
            crate::store::DEFAULT_SEALED_FIELDS.iter().map(|f| f.to_string()).collect();
        fields.extend(self.storage.encrypted_fields.iter().cloned());
        fields.sort();
        fields.dedup();
        fields
    }

    fn validate_host_limits(&self) -> Result<(), ConfigError> {
        let h = &self.engine.host;
        let positive: [(&str, u64); 9] = [
            ("max_key_bytes", h.max_key_bytes as u64),
            ("max_value_bytes", h.max_value_bytes as u64),
            ("max_state_keys", h.max_state_keys as u64),
            ("max_state_bytes", h.max_state_bytes as u64),
            ("max_counter_keys", h.max_counter_keys as u64),
            ("max_window_secs", u64::from(h.max_window_secs)),
            ("log_burst", u64::from(h.log_burst)),
            ("max_log_bytes", h.max_log_bytes as u64),
            ("persist_interval_ms", h.persist_interval_ms),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    key: format!("engine.host.{name}"),
                    message: "expected a positive number".into(),
                });
            }
        }
        if h.max_value_bytes > 16 << 20 {
            return Err(ConfigError::Invalid {
                key: "engine.host.max_value_bytes".into(),
                message: "expected at most 16777216 (16 MiB)".into(),
            });
        }
        if h.max_key_bytes > 64 << 10 {
            return Err(ConfigError::Invalid {
                key: "engine.host.max_key_bytes".into(),
                message: "expected at most 65536".into(),
            });
        }
        Ok(())
    }

    /// True when one of the shipped development keys is configured.
    pub fn has_development_key(&self) -> bool {
        self.keys.iter().any(|k| DEVELOPMENT_KEY_HASHES.contains(&k.sha256.to_ascii_lowercase().as_str()))
    }

    /// Where the checkpoint signing key lives.
    pub fn checkpoint_key_path(&self) -> PathBuf {
        self.checkpoints.key_file.clone().unwrap_or_else(|| self.storage.data_dir.join("checkpoint.key"))
    }

    /// The file checkpoints are appended to.
    pub fn checkpoint_file_path(&self) -> PathBuf {
        self.checkpoints.file.clone().unwrap_or_else(|| {
            let mut name = self.storage.data_dir.file_name().unwrap_or_default().to_os_string();
            name.push(".checkpoints");
            self.storage.data_dir.with_file_name(name)
        })
    }

    /// The compiled-component cache directory, or `None` when `engine.module_cache` is off.
    pub fn module_cache_dir(&self) -> Option<PathBuf> {
        self.engine.module_cache.then(|| {
            self.engine.module_cache_dir.clone().unwrap_or_else(|| self.storage.data_dir.join("module-cache"))
        })
    }

    /// Where the pseudonymization key lives.
    pub fn pseudonym_key_path(&self) -> PathBuf {
        self.engine.pseudonym_key_file.clone().unwrap_or_else(|| self.storage.data_dir.join("pseudonym.key"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_inline_checkpoint_key_is_never_in_the_configs_debug_output() {
        let secret = "PRIVATE+KEY+auditgate.local/audit-log+0123abcd+QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo";
        let c: Config = serde_json::from_value(serde_json::json!({"checkpoints": {"key": secret}}))
            .expect("a config with an inline key");
        assert_eq!(c.checkpoints.key.as_ref().map(Secret::expose), Some(secret));
        let shown = format!("{c:?}");
        assert!(!shown.contains("QUJDREVG"), "the key leaked: {shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("policy.toml");
        std::fs::write(&p, text).expect("write config");
        p
    }

    const KEY: &str = "[[keys]]\nname = \"k\"\nrole = \"ingest\"\nsha256 = \"679d44db711514c0aa0cdbfc72fac56f3047d0816d8cdb0f3e53fd909d68c893\"\n";

    #[test]
    fn the_default_policy_toml_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policy.toml");
        let config = Config::load(&path).expect("default config loads");
        assert_eq!(config.keys.len(), 3);
        assert!(config.has_development_key());
        assert_eq!(config.policy[0].module, "builtin:redact-secrets");
        assert_eq!(config.policy[0].on_error(), OnError::Reject);
    }

    #[test]
    fn the_module_cache_defaults_into_the_data_dir_and_can_move_or_be_off() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(dir.path(), &format!("[storage]\ndata_dir = \"d\"\n{KEY}"));
        let config = Config::load(&p).expect("loads");
        assert_eq!(config.module_cache_dir(), Some(dir.path().join("d").join("module-cache")));
        let p = write(dir.path(), &format!("[engine]\nmodule_cache_dir = \"cc\"\n{KEY}"));
        assert_eq!(Config::load(&p).expect("loads").module_cache_dir(), Some(dir.path().join("cc")));
        let p = write(dir.path(), &format!("[engine]\nmodule_cache = false\n{KEY}"));
        assert_eq!(Config::load(&p).expect("loads").module_cache_dir(), None);
    }

    #[test]
    fn a_wrong_type_names_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(dir.path(), &format!("[server]\nmax_depth = \"deep\"\n{KEY}"));
        let err = Config::load(&p).expect_err("must fail").to_string();
        assert!(err.contains("max_depth"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(dir.path(), &format!("[storage]\ndata_dri = \"x\"\n{KEY}"));
        let err = Config::load(&p).expect_err("must fail").to_string();
        assert!(err.contains("data_dri"), "{err}");
    }

    #[test]
    fn development_keys_are_refused_off_loopback() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(dir.path(), &format!("[server]\nlisten = \"0.0.0.0:8080\"\n{KEY}"));
        let err = Config::load(&p).expect_err("must fail").to_string();
        assert!(err.contains("server.listen"), "{err}");
    }

    #[test]
    fn a_bad_key_hash_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(dir.path(), "[[keys]]\nname = \"k\"\nrole = \"ingest\"\nsha256 = \"abc\"\n");
        let err = Config::load(&p).expect_err("must fail").to_string();
        assert!(err.contains("keys[0].sha256"), "{err}");
    }

    #[test]
    fn lookup_tables_resolve_and_validate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = "[[lookup]]\nname = \"geo\"\npath = \"t/geo.csv\"\nkind = \"cidr\"\n";
        let p = write(dir.path(), &format!("{KEY}{table}"));
        let config = Config::load(&p).expect("loads");
        assert_eq!(config.lookup[0].path, dir.path().join("t/geo.csv"));
        assert_eq!(config.lookup[0].effective_format(), Some(LookupFormat::Csv));
        assert_eq!(config.lookup[0].kind, LookupKind::Cidr);

        let p = write(dir.path(), &format!("{KEY}{table}{table}"));
        let err = Config::load(&p).expect_err("must fail").to_string();
        assert!(err.contains("lookup[1].name") && err.contains("duplicate") && err.contains("geo"), "{err}");

        let p = write(dir.path(), &format!("{KEY}[[lookup]]\nname = \"x\"\npath = \"x.txt\"\n"));
        let err = Config::load(&p).expect_err("must fail").to_string();
        assert!(err.contains("lookup[0].format"), "{err}");

        let p = write(
            dir.path(),
            &format!("{KEY}[[lookup]]\nname = \"x\"\npath = \"x.csv\"\nkind = \"range\"\n"),
        );
        let err = Config::load(&p).expect_err("must fail").to_string();
        assert!(err.contains("kind") || err.contains("range"), "{err}");
    }

    #[test]
    fn host_limits_name_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(dir.path(), &format!("[engine.host]\nmax_counter_keys = 0\n{KEY}"));
        let err = Config::load(&p).expect_err("must fail").to_string();
        assert!(err.contains("engine.host.max_counter_keys"), "{err}");
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(dir.path(), &format!("[storage]\ndata_dir = \"d\"\n{KEY}"));
        let config = Config::load(&p).expect("loads");
        assert_eq!(config.storage.data_dir, dir.path().join("d"));
    }

    #[test]
    fn tls_paths_follow_the_config_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let server =
            "[server]\ntls_cert = \"tls/c.pem\"\ntls_key = \"/abs/k.pem\"\ntls_client_ca = \"ca.pem\"\n";
        let config = Config::load(&write(dir.path(), &format!("{server}{KEY}"))).expect("loads");
        assert_eq!(config.server.tls_cert, Some(dir.path().join("tls/c.pem")));
        assert_eq!(config.server.tls_key, Some(PathBuf::from("/abs/k.pem")));
        assert_eq!(config.server.tls_client_ca, Some(dir.path().join("ca.pem")));
    }
}
