//! `type = "webhook"`: one POST per alert, JSON or Slack's `{"text": ...}`.

use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::DeliveryError;
use crate::config::{DEFAULT_SINK_TIMEOUT_MS, SinkConfig, WebhookFormat};

/// A webhook sink: its client (with the time limit and the configured headers), URL
/// and body shape.
pub(crate) struct Webhook {
    client: Client,
    url: String,
    format: WebhookFormat,
}

impl Webhook {
    pub(crate) fn new(index: usize, config: &SinkConfig) -> Result<Webhook, DeliveryError> {
        let client_error =
            |message: String| DeliveryError::Client { sink: config.name().to_string(), message };
        let mut headers = HeaderMap::new();
        for (name, value) in config.resolved_headers(index)? {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| client_error(format!("sink[{index}].headers: {name:?} is not a header name")))?;
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                client_error(format!("sink[{index}].headers.{name}: not a valid header value"))
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let timeout = Duration::from_millis(config.timeout_ms.unwrap_or(DEFAULT_SINK_TIMEOUT_MS));
        let client = Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .default_headers(headers)
            .user_agent(concat!("auditgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| client_error(e.to_string()))?;
        Ok(Webhook { client, url: config.url.clone().unwrap_or_default(), format: config.format })
    }

    /// POSTs `alert`; a 2xx is a delivery, anything else an error.
    pub(crate) fn post(&self, alert: &Value) -> Result<(), String> {
        let body = match self.format {
            WebhookFormat::Json => alert.clone(),
            WebhookFormat::Slack => serde_json::json!({ "text": super::slack_text(alert) }),
        };
        let body = serde_json::to_vec(&body).map_err(|e| format!("cannot encode the alert: {e}"))?;
        let resp = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            // Without the URL: a Slack webhook's URL is its secret.
            .map_err(|e| chain(&e.without_url()))?;
        if resp.status().is_success() { Ok(()) } else { Err(format!("answered {}", resp.status())) }
    }
}

/// An error and its causes, one after the other (reqwest's own text alone says "error
/// sending request", its cause says "operation timed out").
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
