//! The client side of `auditgate keys rotate-master`: reads the new master key (a file or
//! [`NEW_MASTER_KEY_ENV`]), checks it locally, and posts it to a running gateway's
//! `POST /v1/admin/keys/rotate-master`. The key never goes over plain HTTP beyond
//! loopback, and is never printed.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use zeroize::Zeroize;

use crate::crypto::MasterKey;

/// The environment variable the new master key may come from (64 hex digits).
pub const NEW_MASTER_KEY_ENV: &str = "AUDITGATE_NEW_MASTER_KEY";

/// How long one rotation request may take (re-wrapping is fast; a big store fsyncs once).
const TIMEOUT: Duration = Duration::from_secs(120);

/// Why `keys rotate-master` failed. Messages never hold key material.
#[derive(Debug, thiserror::Error)]
pub enum KeysCliError {
    #[error("{0}")]
    NewKey(String),
    #[error("--url {url}: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot read the CA certificate {path}: {reason}")]
    CaCert { path: String, reason: String },
    #[error("request to {url} failed: {reason}")]
    Request { url: String, reason: String },
    #[error("the gateway refused the rotation ({status} {code}): {message}")]
    Refused { status: u16, code: String, message: String },
}

/// The new master key as 64 hex digits, from `file` or else [`NEW_MASTER_KEY_ENV`],
/// checked (a typo never leaves the machine). Answers the normalized text and the key.
pub fn read_new_key(file: Option<&Path>) -> Result<(String, MasterKey), KeysCliError> {
    let (mut text, origin) = match file {
        Some(path) => (
            std::fs::read_to_string(path).map_err(|e| {
                KeysCliError::NewKey(format!("cannot read the new master key file {}: {e}", path.display()))
            })?,
            path.display().to_string(),
        ),
        None => match std::env::var(NEW_MASTER_KEY_ENV) {
            Ok(text) => (text, NEW_MASTER_KEY_ENV.to_owned()),
            Err(_) => {
                return Err(KeysCliError::NewKey(format!(
                    "give the new master key with --new-key-file PATH or {NEW_MASTER_KEY_ENV} (64 hex digits, \
                     e.g. from `openssl rand -hex 32`)"
                )));
            }
        },
    };
    let key = MasterKey::from_hex(&text, &origin).map_err(|e| KeysCliError::NewKey(e.to_string()));
    let normalized = text.trim().to_ascii_lowercase();
    text.zeroize();
    Ok((normalized, key?))
}

/// Refuses a URL that would send the key in the clear beyond this machine: `https://`
/// anywhere, `http://` only to a loopback address or `localhost`.
pub fn check_url(url: &str) -> Result<reqwest::Url, KeysCliError> {
    let bad = |reason: String| KeysCliError::Url { url: url.to_owned(), reason };
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" => {
            let host = parsed.host_str().unwrap_or("");
            let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>();
            let loopback = host.eq_ignore_ascii_case("localhost") || ip.is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(parsed)
            } else {
                Err(bad(
                    "plain http:// would send the new master key in the clear beyond this machine: use https:// \
                     (or run this on the gateway's host against a loopback address)"
                        .into(),
                ))
            }
        }
        other => Err(bad(format!("expected an http:// or https:// URL, not {other}://"))),
    }
}

/// Posts `new_key_hex` to the gateway at `url` with `admin_key`; answers the gateway's
/// JSON answer (`seq`, `old_master_key_id`, `new_master_key_id`, `keys_rewrapped`).
/// `ca_cert`: a PEM file of the CA to trust for `https://` (else the system's roots are
/// not used either: the gateway's own CA is expected).
pub fn rotate_online(
    url: &str,
    admin_key: &str,
    new_key_hex: &str,
    ca_cert: Option<&Path>,
) -> Result<Value, KeysCliError> {
    let base = check_url(url)?;
    let endpoint = base
        .join("/v1/admin/keys/rotate-master")
        .map_err(|e| KeysCliError::Url { url: url.to_owned(), reason: e.to_string() })?;
    let mut builder = reqwest::blocking::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(concat!("auditgate/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_cert {
        let ca_error = |reason: String| KeysCliError::CaCert { path: path.display().to_string(), reason };
        let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| ca_error(e.to_string()))?;
        builder = builder.add_root_certificate(cert);
    }
    let request_error = |e: reqwest::Error| KeysCliError::Request {
        url: endpoint.to_string(),
        reason: e.without_url().to_string(),
    };
    let client = builder.build().map_err(request_error)?;
    let mut body = serde_json::json!({ "new_master_key": new_key_hex }).to_string();
    let sent = client
        .post(endpoint.clone())
        .bearer_auth(admin_key)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.clone())
        .send();
    body.zeroize();
    let response = sent.map_err(request_error)?;
    let status = response.status().as_u16();
    let answer: Value = response.json().unwrap_or(Value::Null);
    if !(200..300).contains(&status) {
        let text =
            |name: &str| answer.pointer(&format!("/error/{name}")).and_then(Value::as_str).unwrap_or("");
        return Err(KeysCliError::Refused {
            status,
            code: text("code").to_owned(),
            message: text("message").to_owned(),
        });
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in
            ["http://127.0.0.1:8080", "http://[::1]:1", "http://localhost:9", "https://audit.example.com"]
        {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in
            ["http://10.0.0.1:8080", "http://audit.example.com", "http://0.0.0.0:8080", "ftp://localhost"]
        {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        let e = check_url("http://192.0.2.1").expect_err("remote").to_string();
        assert!(e.contains("https://"), "{e}");
    }
}
