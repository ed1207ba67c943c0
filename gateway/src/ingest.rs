//! Ingest: from a request body to durable records. Parses and validates each event, runs
//! the valid ones through the policy chain, hands the results to the store's writer and
//! builds the per-event answer. A 2xx is only built after the writer reports the batch
//! flushed to disk.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::engine::ChainOutcome;
use crate::event::{self, EventError, Limits, ValidEvent};
use crate::metrics::{IngestTally, NotStored};
use crate::reload::ActiveEngine;
use crate::store::{AppendOutcome, NewQuarantine, NewRecord, Pending, Store};

/// How the body holds its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// One JSON object, or an array of them (`POST /v1/events`).
    Json,
    /// One JSON object per line (`POST /v1/events/bulk`).
    Ndjson,
}

/// What became of one event of the request.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemResult {
    Stored(u64),
    Duplicate(u64),
    Quarantined { id: u64, error: String },
    Invalid { index: usize, line: Option<usize>, error: EventError },
    Rejected { index: usize, line: Option<usize>, policy: String, error: String },
}

impl ItemResult {
    /// The item's entry in the answer's `results`.
    pub fn to_json(&self) -> Value {
        match self {
            ItemResult::Stored(seq) => json!({"seq": seq}),
            ItemResult::Duplicate(seq) => json!({"seq": seq, "duplicate": true}),
            ItemResult::Quarantined { id, error } => json!({"quarantined": id, "error": error}),
            ItemResult::Invalid { index, line, error } => {
                let mut v =
                    json!({"index": index, "error": {"code": error.code(), "message": error.to_string()}});
                if let Some(line) = line {
                    v["line"] = json!(line);
                }
                v
            }
            ItemResult::Rejected { index, line, policy, error } => {
                let mut v = json!({
                    "index": index,
                    "error": {"code": "policy_rejected", "message": rejection_message(policy, error)},
                });
                if let Some(line) = line {
                    v["line"] = json!(line);
                }
                v
            }
        }
    }
}

/// The message of a `policy_rejected` error.
pub fn rejection_message(policy: &str, error: &str) -> String {
    format!("policy `{policy}` failed on this event and its on_error is `reject`: {error}")
}

/// Why a whole request failed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The body as a whole is unusable (not JSON, a single invalid event).
    #[error("{0}")]
    Event(EventError),
    /// The log could not be written: nothing in this request was acknowledged.
    #[error("the audit log could not be written: {0}")]
    Store(String),
}

/// Everything ingest needs, shared by all requests.
#[derive(Clone)]
pub struct Ingestor {
    pub store: Store,
    /// The policy set in service; a request takes one snapshot of it (hot reload swaps it).
    pub engine: Arc<ActiveEngine>,
    pub limits: Limits,
}

/// One parsed item of a request: valid, or refused with its error. Both carry the item's
/// NDJSON line number (`None` for `POST /v1/events`).
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// A valid event, with its NDJSON line number.
    Valid(ValidEvent, Option<usize>),
    Invalid(EventError, Option<usize>),
}

/// Splits a request body into its events and validates each one, exactly as ingest does
/// before the policy chain (public so that the fuzz targets reach the same code). `Ok`
/// holds one item per event in input order, and whether the body was a single object;
/// `Err` means the body as a whole is unusable (a JSON body that is not UTF-8, empty, or
/// an unreadable array).
pub fn parse_body(
    body: &[u8],
    format: BodyFormat,
    limits: Limits,
    received: DateTime<Utc>,
) -> Result<(Vec<Parsed>, bool), EventError> {
    match format {
        BodyFormat::Json => parse_json(body, limits, received),
        BodyFormat::Ndjson => Ok((parse_ndjson(body, limits, received), false)),
    }
}

/// `POST /v1/events`: one object or an array of objects.
fn parse_json(
    body: &[u8],
    limits: Limits,
    received: DateTime<Utc>,
) -> Result<(Vec<Parsed>, bool), EventError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        EventError::InvalidJson(format!(
            "the body is not valid UTF-8 (first bad byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    let first = text.trim_start().as_bytes().first().copied();
    match first {
        Some(b'[') => {
            let raws: Vec<&RawValue> =
                serde_json::from_str(text).map_err(|e| event::json_error(e, limits.max_depth))?;
            let parsed =
                raws.into_iter().map(|raw| parse_one(raw.get().as_bytes(), limits, received, None)).collect();
            Ok((parsed, false))
        }
        None => Err(EventError::InvalidJson("the body is empty".into())),
        Some(_) => Ok((vec![parse_one(body, limits, received, None)], true)),
    }
}

/// `POST /v1/events/bulk`: one event per line; blank lines are skipped; a bad line fails
/// alone.
fn parse_ndjson(body: &[u8], limits: Limits, received: DateTime<Utc>) -> Vec<Parsed> {
    body.split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(i, line)| {
            let line_no = i + 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            match parse_one(line, limits, received, Some(line_no)) {
                // serde_json accepts only UTF-8, so a parsed line needs no second pass; a
                // refused one that is not UTF-8 is named for that, whatever else is wrong.
                Parsed::Invalid(e, at) => match std::str::from_utf8(line) {
                    Ok(_) => Parsed::Invalid(e, at),
                    Err(bad) => Parsed::Invalid(
                        EventError::InvalidJson(format!(
                            "line {line_no} is not valid UTF-8 (first bad byte at offset {})",
                            bad.valid_up_to()
                        )),
                        at,
                    ),
                },
                valid => valid,
            }
        })
        .collect()
}

fn parse_one(bytes: &[u8], limits: Limits, received: DateTime<Utc>, line: Option<usize>) -> Parsed {
    match event::parse_event(bytes, limits, received) {
        Ok(ev) => Parsed::Valid(ev, line),
        Err(e) => Parsed::Invalid(e, line),
    }
}

impl Ingestor {
    /// Ingests one request body from key `source`. `Ok` holds one result per event, in
    /// input order, and whether the body was a single object.
    ///
    /// Every event of the body is counted in `/metrics` once (stored, or why not); a body
    /// that is unusable as a whole has no events and is counted by the HTTP metrics only.
    /// A request failed by the store counts all its events `unavailable`.
    pub async fn ingest(
        &self,
        body: &[u8],
        format: BodyFormat,
        source: &str,
    ) -> Result<(Vec<ItemResult>, bool), IngestError> {
        let received = Utc::now();
        let (parsed, single) = parse_body(body, format, self.limits, received).map_err(IngestError::Event)?;

        // Idempotency pre-check, so a retried event does not run the chain (and its
        // counters) again. The writer re-checks authoritatively.
        let mut results: Vec<Option<ItemResult>> = Vec::with_capacity(parsed.len());
        let mut valid = Vec::new();
        let mut valid_index = Vec::new();
        let mut valid_line = Vec::new();
        for (index, item) in parsed.into_iter().enumerate() {
            match item {
                Parsed::Invalid(error, line) => {
                    results.push(Some(ItemResult::Invalid { index, line, error }))
                }
                Parsed::Valid(ev, line) => {
                    let seen = match &ev.client_id {
                        Some(id) => {
                            self.store.lookup_client_id(id).map_err(|e| IngestError::Store(e.to_string()))?
                        }
                        None => None,
                    };
                    match seen {
                        Some(seq) => results.push(Some(ItemResult::Duplicate(seq))),
                        None => {
                            results.push(None);
                            valid.push(ev);
                            valid_index.push(index);
                            valid_line.push(line);
                        }
                    }
                }
            }
        }
        if single && let Some(Some(ItemResult::Invalid { error, .. })) = results.first() {
            crate::metrics::global().ingested(&IngestTally::one(NotStored::Invalid, 1));
            return Err(IngestError::Event(error.clone()));
        }
        let events = results.len() as u64;
        let unavailable = move |e: String| {
            crate::metrics::global().ingested(&IngestTally::one(NotStored::Unavailable, events));
            IngestError::Store(e)
        };

        // One snapshot of the policy set for the whole request: a reload meanwhile does not
        // change which set processes these events, nor the `policy_set` they record.
        let engine = self.engine.load_full();
        let policy_set = engine.policy_set().to_string();
        let outcomes = if valid.is_empty() {
            Vec::new()
        } else {
            tokio::task::spawn_blocking(move || engine.process(valid, received))
                .await
                .map_err(|e| unavailable(format!("policy worker failed: {e}")))?
        };

        let received_at = event::format_time(received);
        let mut pending = Vec::new();
        let mut pending_index = Vec::new();
        for ((outcome, index), line) in outcomes.into_iter().zip(valid_index).zip(valid_line) {
            match outcome {
                ChainOutcome::Pass(p) => {
                    pending.push(Pending::Record(NewRecord {
                        client_id: p.event.client_id,
                        event: p.event.fields,
                        time_micros: p.event.time_micros,
                        received_at: received_at.clone(),
                        source: source.to_string(),
                        policy_set: policy_set.clone(),
                        redacted: p.redacted,
                        tags: p.tags,
                        alerts: p.alerts,
                    }));
                    pending_index.push(index);
                }
                ChainOutcome::Quarantined { policy, error, event } => {
                    pending.push(Pending::Quarantine(NewQuarantine {
                        event,
                        policy,
                        error,
                        received_at: received_at.clone(),
                        source: source.to_string(),
                    }));
                    pending_index.push(index);
                }
                ChainOutcome::Rejected { policy, error } => {
                    results[index] = Some(ItemResult::Rejected { index, line, policy, error });
                }
            }
        }
        if !pending.is_empty() {
            let quarantine_errors: Vec<Option<String>> = pending
                .iter()
                .map(|p| match p {
                    Pending::Quarantine(q) => Some(q.error.clone()),
                    Pending::Record(_) => None,
                })
                .collect();
            let appended = self.store.append(pending).await.map_err(|e| unavailable(e.to_string()))?;
            for ((outcome, index), qerr) in appended.into_iter().zip(pending_index).zip(quarantine_errors) {
                results[index] = Some(match outcome {
                    AppendOutcome::Stored { seq } => ItemResult::Stored(seq),
                    AppendOutcome::Duplicate { seq } => ItemResult::Duplicate(seq),
                    AppendOutcome::Quarantined { id } => {
                        ItemResult::Quarantined { id, error: qerr.unwrap_or_default() }
                    }
                });
            }
        }
        let results = results
            .into_iter()
            .enumerate()
            .map(|(index, r)| {
                r.unwrap_or(ItemResult::Rejected {
                    index,
                    line: None,
                    policy: String::new(),
                    error: "internal: no outcome".into(),
                })
            })
            .collect::<Vec<_>>();
        crate::metrics::global().ingested(&tally(&results));
        Ok((results, single))
    }
}

/// The outcomes of one request for `/metrics`.
fn tally(results: &[ItemResult]) -> IngestTally {
    let mut t = IngestTally::default();
    for r in results {
        match r {
            ItemResult::Stored(_) => t.stored += 1,
            ItemResult::Duplicate(_) => t.add(NotStored::Duplicate, 1),
            ItemResult::Quarantined { .. } => t.add(NotStored::Quarantined, 1),
            ItemResult::Invalid { .. } => t.add(NotStored::Invalid, 1),
            ItemResult::Rejected { .. } => t.add(NotStored::PolicyRejected, 1),
        }
    }
    t
}
