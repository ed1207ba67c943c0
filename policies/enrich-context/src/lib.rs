//! Bundled Auditgate policy `enrich-context`: adds where a request came from, what client
//! sent it, and when it happened in the organisation's time zone.
//!
//! Everything goes under `details` (the event schema refuses unknown top-level fields):
//! - `/details/geo`: the row of the CIDR lookup table matching the event's `ip`
//!   (`country`, `city`, `lat`, `lon` as numbers, `asn`, any other column as text);
//!   nothing when the table has no row for the address or `geo_table` is empty.
//! - `/details/ua`: the class of `user_agent` (`browser`, `version`, `os`, `device`,
//!   `bot`, `bot_name`, `scanner`); the event is also tagged `scanner` for a scanner.
//! - `/details/local_time`: with `time_zone` set, the event's `time` in that zone
//!   (`time`, `time_zone`, `weekday`, `off_hours`); outside the working hours the event
//!   is tagged `off-hours` (or `off_hours_tag`).
//!
//! Config (`[policy.config]`, every key optional):
//! - `geo_table` (default `"geo"`): the `[[lookup]]` table to ask; `""` turns geo off.
//! - `user_agent` (default `true`): classify `user_agent`.
//! - `time_zone` (IANA name, no default: local time is off until it is set),
//!   `work_start` (`"08:00"`), `work_end` (`"18:00"`), `work_days` (`["mon" … "fri"]`).
//! - `off_hours_tag` (default `"off-hours"`).
//!
//! Per event it reads three top-level strings (`ip`, `user_agent`, `time`) and nothing
//! else. The geo row and the user-agent class are remembered per distinct address and
//! header ([`GEO_CACHE_ENTRIES`], [`UA_CACHE_ENTRIES`]), already written as the JSON text
//! the patch carries: a repeated address costs no host call and no JSON work. That holds
//! because the gateway's lookup tables never change under a running instance (a reload
//! makes new instances).

use std::cell::RefCell;

use auditgate_sdk::prelude::*;
use policy_common::cache::BoundedCache;
use policy_common::hours::{WorkingHours, default_work_days};
use policy_common::{geo, ua};
use serde_json::{Map, Value as Json};

/// Distinct addresses whose geo answer an instance remembers (then it starts over).
pub const GEO_CACHE_ENTRIES: usize = 4096;
/// Distinct user-agent headers whose class an instance remembers (then it starts over).
pub const UA_CACHE_ENTRIES: usize = 1024;

/// The policy's configuration.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Lookup table for geo data; empty turns geo enrichment off.
    #[serde(default = "default_geo_table")]
    pub geo_table: String,
    /// Whether to classify `user_agent`.
    #[serde(default = "yes")]
    pub user_agent: bool,
    /// IANA time zone of the working hours; `None` turns local time off.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Start of the working day, `HH:MM` local time.
    #[serde(default = "default_work_start")]
    pub work_start: String,
    /// End of the working day (exclusive), `HH:MM`; before `work_start` for a night shift.
    #[serde(default = "default_work_end")]
    pub work_end: String,
    /// Working days, `mon` … `sun`.
    #[serde(default = "default_work_days")]
    pub work_days: Vec<String>,
    /// Tag for events outside the working hours.
    #[serde(default = "default_off_hours_tag")]
    pub off_hours_tag: String,
}

fn default_geo_table() -> String {
    "geo".into()
}
fn yes() -> bool {
    true
}
/// Default start of the working day.
pub fn default_work_start() -> String {
    "08:00".into()
}
/// Default end of the working day.
pub fn default_work_end() -> String {
    "18:00".into()
}
fn default_off_hours_tag() -> String {
    "off-hours".into()
}

/// Tag added to events whose user agent is a security scanner.
pub const SCANNER_TAG: &str = "scanner";

/// Adds geo, user-agent and local-time context to events.
#[derive(Debug)]
pub struct EnrichContext {
    geo_table: Option<String>,
    classifier: Option<ua::Classifier>,
    hours: Option<WorkingHours>,
    zone_name: String,
    off_hours_tag: String,
    /// What the geo table says about each address seen.
    geo_rows: RefCell<BoundedCache<GeoRow>>,
    /// The class of each user-agent header seen.
    ua_classes: RefCell<BoundedCache<UaClass>>,
}

/// The geo table's answer for one address, ready to patch.
#[derive(Debug)]
enum GeoRow {
    /// The `/details/geo` object as JSON text.
    Found(String),
    /// The table has no row for the address.
    Missing,
    /// The table answered something that is not a JSON object.
    NotAnObject,
}

/// One header's class, ready to patch.
#[derive(Debug)]
struct UaClass {
    /// The `/details/ua` object as JSON text.
    json: String,
    scanner: bool,
}

impl EnrichContext {
    fn geo_row(table: &str, ip: &str) -> GeoRow {
        match host::lookup(table, ip) {
            None => GeoRow::Missing,
            Some(answer) => match geo::enrichment(&answer) {
                Some(row) => GeoRow::Found(Json::Object(row).to_string()),
                None => GeoRow::NotAnObject,
            },
        }
    }

    fn ua_class(classifier: &ua::Classifier, header: &str) -> UaClass {
        let class = classifier.classify(header);
        UaClass { json: Json::Object(class.to_json()).to_string(), scanner: class.scanner }
    }
}

impl Policy for EnrichContext {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        let hours = match &config.time_zone {
            Some(zone) => {
                Some(WorkingHours::new(zone, &config.work_start, &config.work_end, &config.work_days)?)
            }
            None => None,
        };
        if config.off_hours_tag.is_empty() {
            return Err("invalid config: `off_hours_tag` must not be empty".into());
        }
        Ok(Self {
            geo_table: Some(config.geo_table).filter(|t| !t.is_empty()),
            classifier: config.user_agent.then(ua::Classifier::new),
            hours,
            zone_name: config.time_zone.unwrap_or_default(),
            off_hours_tag: config.off_hours_tag,
            geo_rows: RefCell::new(BoundedCache::new(GEO_CACHE_ENTRIES)),
            ua_classes: RefCell::new(BoundedCache::new(UA_CACHE_ENTRIES)),
        })
    }

    fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
        if let (Some(table), Some(ip)) = (&self.geo_table, event.ip()) {
            let mut rows = self.geo_rows.borrow_mut();
            match rows.get_or_insert_with(ip, || Self::geo_row(table, ip)) {
                GeoRow::Found(json) => {
                    decision.set_json("/details/geo", json.as_str());
                }
                GeoRow::Missing => {}
                GeoRow::NotAnObject => host::log(
                    host::Level::Warn,
                    &format!("lookup table {table:?}: answer is not a JSON object"),
                ),
            }
        }
        if let (Some(classifier), Some(header)) =
            (&self.classifier, event.field("user_agent").and_then(|v| v.as_str()))
        {
            let mut classes = self.ua_classes.borrow_mut();
            let class = classes.get_or_insert_with(header, || Self::ua_class(classifier, header));
            if class.scanner {
                decision.tag(SCANNER_TAG);
            }
            decision.set_json("/details/ua", class.json.as_str());
        }
        if let (Some(hours), Some(time)) = (&self.hours, event.field("time").and_then(|v| v.as_str()))
            && let Some(local) = hours.local(time)
        {
            let mut object = Map::with_capacity(4);
            object.insert("time".into(), local.rfc3339().into());
            object.insert("time_zone".into(), self.zone_name.as_str().into());
            object.insert("weekday".into(), local.weekday().into());
            object.insert("off_hours".into(), local.off_hours.into());
            decision.set("/details/local_time", Json::Object(object));
            if local.off_hours {
                decision.tag(self.off_hours_tag.as_str());
            }
        }
        Ok(())
    }
}

auditgate_sdk::export_policy!(EnrichContext);

#[cfg(test)]
mod tests;
