//! A request body, as `POST /v1/events` (JSON) or `POST /v1/events/bulk` (NDJSON) reads
//! it: splitting into events and validating each one must never panic, every accepted
//! event must keep the schema's promises, and the per-item answer must be consistent.
#![no_main]

use auditgate::event::Limits;
use auditgate::ingest::{BodyFormat, Parsed, parse_body};
use auditgate_fuzz::{check_valid_event, received};
use libfuzzer_sys::fuzz_target;

/// The defaults of `[server]`, with a small size limit so the fuzzer reaches it.
const LIMITS: Limits = Limits { max_event_bytes: 2048, max_depth: 32 };

fuzz_target!(|data: &[u8]| {
    let Some((&choice, body)) = data.split_first() else { return };
    let format = if choice & 1 == 0 { BodyFormat::Json } else { BodyFormat::Ndjson };
    let (items, single) = match parse_body(body, format, LIMITS, received()) {
        Ok(parsed) => parsed,
        Err(e) => {
            assert!(format == BodyFormat::Json, "only a JSON body fails as a whole");
            assert!(!e.to_string().is_empty() && (400..500).contains(&e.status()));
            return;
        }
    };
    if single {
        assert!(format == BodyFormat::Json && items.len() == 1, "a single object is one item");
    }
    let mut last_line = 0;
    for item in &items {
        let line = match item {
            Parsed::Valid(ev, line) => {
                check_valid_event(ev);
                line
            }
            Parsed::Invalid(e, line) => {
                assert!(!e.to_string().is_empty() && !e.code().is_empty());
                assert!((400..500).contains(&e.status()));
                line
            }
        };
        match format {
            BodyFormat::Json => assert_eq!(*line, None, "JSON items have no line number"),
            BodyFormat::Ndjson => {
                let line = line.expect("NDJSON items have a line number");
                assert!(line > last_line, "line numbers go up");
                last_line = line;
            }
        }
    }
    if format == BodyFormat::Ndjson {
        let non_blank =
            body.split(|&b| b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)).count();
        assert_eq!(items.len(), non_blank, "one item per non-blank line");
    }
});
