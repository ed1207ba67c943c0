//! `auditgate export`: downloads `GET /v1/export` into a file. The body goes to a
//! temporary file beside the target, which is renamed into place only once the whole
//! answer has arrived and is on disk, so an interrupted download never leaves a
//! truncated file under the requested name.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The arguments of `auditgate export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// The gateway's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An auditor API key.
    #[arg(long, env = "AUDITGATE_KEY", hide_env_values = true)]
    pub key: String,
    /// `jsonl`, `csv`, `ocsf` or `cef`.
    #[arg(long, default_value = "jsonl")]
    pub format: String,
    /// The file to write (replaced only when the download succeeds).
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    /// Exact user.
    #[arg(long)]
    pub user: Option<String>,
    /// Exact action, or a prefix ending in `*`.
    #[arg(long)]
    pub action: Option<String>,
    /// `success`, `failure`, `error` or `unknown`.
    #[arg(long)]
    pub outcome: Option<String>,
    /// IPv4 or IPv6 address.
    #[arg(long)]
    pub ip: Option<String>,
    #[arg(long)]
    pub resource_type: Option<String>,
    #[arg(long)]
    pub resource_id: Option<String>,
    #[arg(long)]
    pub session_id: Option<String>,
    /// Name of the key that sent the events.
    #[arg(long)]
    pub source: Option<String>,
    /// Events at or after this time (RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Events before this time (RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
    /// Most events to export.
    #[arg(long)]
    pub limit: Option<u64>,
    /// `asc` (default) or `desc`.
    #[arg(long)]
    pub order: Option<String>,
}

impl ExportArgs {
    /// The query string pairs of `GET /v1/export`.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = vec![("format", self.format.clone())];
        let optional = [
            ("user", &self.user),
            ("action", &self.action),
            ("outcome", &self.outcome),
            ("ip", &self.ip),
            ("resource_type", &self.resource_type),
            ("resource_id", &self.resource_id),
            ("session_id", &self.session_id),
            ("source", &self.source),
            ("from", &self.from),
            ("to", &self.to),
            ("order", &self.order),
        ];
        q.extend(optional.into_iter().filter_map(|(k, v)| v.clone().map(|v| (k, v))));
        if let Some(l) = self.limit {
            q.push(("limit", l.to_string()));
        }
        q
    }
}

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// No answer, or the answer broke off.
    #[error("GET {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    /// The gateway refused the export (4xx/5xx): its error code and message.
    #[error("the gateway refused the export: HTTP {status} {code}: {message}")]
    Refused { status: u16, code: String, message: String },
    /// The file could not be written.
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// What a finished download wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Downloaded {
    pub bytes: u64,
    /// Line ends seen (events and alerts for jsonl/ocsf/cef; CSV also counts its header).
    pub lines: u64,
}

/// Downloads the export `args` names into `args.output`; `progress(bytes, lines)` is
/// called as data arrives.
pub fn download(args: &ExportArgs, mut progress: impl FnMut(u64, u64)) -> Result<Downloaded, DownloadError> {
    let url = format!("{}/v1/export", args.url.trim_end_matches('/'));
    let http = |source| DownloadError::Http { url: url.clone(), source };
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(None)
        .build()
        .map_err(http)?;
    let mut response = client.get(&url).query(&args.query()).bearer_auth(&args.key).send().map_err(http)?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().unwrap_or_default();
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let text = |k: &str| parsed["error"][k].as_str().map(str::to_string);
        return Err(DownloadError::Refused {
            status: status.as_u16(),
            code: text("code").unwrap_or_else(|| "error".into()),
            message: text("message").unwrap_or(body),
        });
    }
    let target = &args.output;
    let temp = temp_path(target);
    let io = |source| DownloadError::Io { path: temp.display().to_string(), source };
    let result = (|| {
        let file = std::fs::File::create(&temp).map_err(io)?;
        let mut writer = std::io::BufWriter::new(file);
        let mut buf = vec![0u8; 64 * 1024];
        let mut done = Downloaded { bytes: 0, lines: 0 };
        loop {
            let n = match response.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(DownloadError::Io {
                        path: url.clone(),
                        source: std::io::Error::other(format!("the answer broke off: {e}")),
                    });
                }
            };
            writer.write_all(&buf[..n]).map_err(io)?;
            done.bytes += n as u64;
            done.lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            progress(done.bytes, done.lines);
        }
        let file = writer.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        Ok(done)
    })();
    match result {
        Ok(done) => {
            std::fs::rename(&temp, target)
                .map_err(|source| DownloadError::Io { path: target.display().to_string(), source })?;
            Ok(done)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

/// `DIR/.NAME.partial-PID`: beside the target, so the rename stays on one file system.
fn temp_path(target: &Path) -> PathBuf {
    let name =
        target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "export".into());
    target.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}
