//! Bundled Auditgate policy `alert-anomaly`: unusual behaviour worth a look.
//!
//! Rules (each raises an alert and tags the event):
//! - `anomaly.off_hours` (medium, tag `off-hours`): an action matching
//!   `sensitive_actions` (default `admin.*`, `credential.*`) outside the working hours
//!   (`time_zone`, `work_start`, `work_end`, `work_days`; off until `time_zone` is set),
//!   judged on the event's `time`.
//! - `anomaly.new_country` (medium, tag `new-country`): a successful login
//!   (`login_actions`, default `user.login`) of a user from a country not among the
//!   countries of their earlier logins (remembered `memory_days`, default 90). The first
//!   login seen for a user only sets the baseline.
//! - `anomaly.impossible_travel` (high, tag `impossible-travel`): between a user's
//!   consecutive successful logins, a distance of at least `min_travel_km` (default 500)
//!   covered faster than `max_speed_kmh` (default 1000), from the logins' `time`s.
//! - `anomaly.privilege_change` (medium; low when the outcome is `failure`; tag
//!   `privilege-change`): an action matching `privilege_actions` (default
//!   `admin.role.change`, `*.privilege.*`, `*.role.*`).
//! - `anomaly.scanner` (high, tag `scanner`): a `user_agent` of a known security scanner
//!   (sqlmap, Nikto, Nmap, masscan, zgrab, Nuclei, …). Every such event is tagged; the
//!   alert comes once per source IP (or user) per `scanner_alert_secs` (default 3600).
//!
//! Geo data is read from `/details/geo` (written by `enrich-context` earlier in the
//! chain); without it, the policy asks the lookup table `geo_table` (default `"geo"`, `""`
//! to never ask). Per user, one host state entry holds the last login's time and place and
//! the countries seen. Events that match no rule return without allocating.
//!
//! The action lists (`sensitive_actions`, `login_actions`, `privilege_actions`) **extend**
//! their defaults; `replace_defaults = ["login_actions", …]` replaces one instead and logs
//! which defaults it drops. `work_days` is a schedule and replaces the default.

use auditgate_sdk::prelude::*;
use policy_common::geo::{Place, distance_km, valid_coords};
use policy_common::hours::{WorkingHours, default_work_days, epoch_micros};
use policy_common::lists;
use policy_common::pattern::{ActionPattern, any_matches, patterns};
use policy_common::ua;

mod memory;

use memory::{Login, Memory};

/// The policy's configuration.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// More actions that are sensitive outside working hours (after
    /// [`DEFAULT_SENSITIVE_ACTIONS`]).
    #[serde(default)]
    pub sensitive_actions: Vec<String>,
    /// IANA time zone of the working hours; `None` turns the off-hours rule off.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Start of the working day, `HH:MM`.
    #[serde(default = "default_work_start")]
    pub work_start: String,
    /// End of the working day (exclusive), `HH:MM`.
    #[serde(default = "default_work_end")]
    pub work_end: String,
    /// Working days, `mon` … `sun`. A schedule, not a detection list: the configured days
    /// replace the default Monday to Friday.
    #[serde(default = "default_work_days")]
    pub work_days: Vec<String>,
    /// More actions that are logins, for new-country and impossible-travel (after
    /// [`DEFAULT_LOGIN_ACTIONS`]).
    #[serde(default)]
    pub login_actions: Vec<String>,
    /// Lookup table asked when the event has no `/details/geo`; empty: never ask.
    #[serde(default = "default_geo_table")]
    pub geo_table: String,
    /// Whether to alert on a login from a new country.
    #[serde(default = "yes")]
    pub new_country: bool,
    /// How long a user's countries and last login are remembered, in days.
    #[serde(default = "default_memory_days")]
    pub memory_days: u32,
    /// Speed above which travel between two logins is impossible; 0 turns the rule off.
    #[serde(default = "default_max_speed_kmh")]
    pub max_speed_kmh: f64,
    /// Shorter distances never count as travel (geo data is approximate).
    #[serde(default = "default_min_travel_km")]
    pub min_travel_km: f64,
    /// More actions that change privileges (after [`DEFAULT_PRIVILEGE_ACTIONS`]).
    #[serde(default)]
    pub privilege_actions: Vec<String>,
    /// Lists (`sensitive_actions`, `login_actions`, `privilege_actions`) whose configured
    /// entries replace the defaults instead of extending them.
    #[serde(default)]
    pub replace_defaults: Vec<String>,
    /// Whether to alert on scanner user agents.
    #[serde(default = "yes")]
    pub scanner: bool,
    /// At most one scanner alert per source per this many seconds.
    #[serde(default = "default_scanner_alert_secs")]
    pub scanner_alert_secs: u32,
}

/// Sensitive actions, whatever the config adds.
pub const DEFAULT_SENSITIVE_ACTIONS: &[&str] = &["admin.*", "credential.*"];
/// Login actions, whatever the config adds.
pub const DEFAULT_LOGIN_ACTIONS: &[&str] = &["user.login"];
/// Privilege-changing actions, whatever the config adds.
pub const DEFAULT_PRIVILEGE_ACTIONS: &[&str] = &["admin.role.change", "*.privilege.*", "*.role.*"];
/// The lists `replace_defaults` may name.
const LISTS: &[&str] = &["sensitive_actions", "login_actions", "privilege_actions"];
fn default_work_start() -> String {
    "08:00".into()
}
fn default_work_end() -> String {
    "18:00".into()
}
fn default_geo_table() -> String {
    "geo".into()
}
fn yes() -> bool {
    true
}
fn default_memory_days() -> u32 {
    90
}
fn default_max_speed_kmh() -> f64 {
    1000.0
}
fn default_min_travel_km() -> f64 {
    500.0
}
fn default_scanner_alert_secs() -> u32 {
    3600
}

/// Rule names.
pub mod rule {
    /// A sensitive action outside working hours.
    pub const OFF_HOURS: &str = "anomaly.off_hours";
    /// A login from a country the user never logged in from.
    pub const NEW_COUNTRY: &str = "anomaly.new_country";
    /// Two logins too far apart for the time between them.
    pub const IMPOSSIBLE_TRAVEL: &str = "anomaly.impossible_travel";
    /// A change of roles or privileges.
    pub const PRIVILEGE_CHANGE: &str = "anomaly.privilege_change";
    /// A security scanner's user agent.
    pub const SCANNER: &str = "anomaly.scanner";
}

/// Detects off-hours sensitive actions, new countries, impossible travel, privilege
/// changes and scanners.
#[derive(Debug)]
pub struct AlertAnomaly {
    sensitive_actions: Vec<ActionPattern>,
    hours: Option<WorkingHours>,
    login_actions: Vec<ActionPattern>,
    geo_table: Option<String>,
    new_country: bool,
    memory_secs: u32,
    max_speed_kmh: f64,
    min_travel_km: f64,
    privilege_actions: Vec<ActionPattern>,
    classifier: Option<ua::Classifier>,
    scanner_alert_secs: u32,
}

impl Policy for AlertAnomaly {
    type Config = Config;

    fn new(c: Config) -> Result<Self, String> {
        lists::check_replace(&c.replace_defaults, LISTS)?;
        let list = |name: &str, defaults: &[&str], configured: &[String]| {
            lists::resolve(name, defaults, configured, &c.replace_defaults)
        };
        let hours = match &c.time_zone {
            Some(zone) => Some(WorkingHours::new(zone, &c.work_start, &c.work_end, &c.work_days)?),
            None => None,
        };
        if c.memory_days == 0 {
            return Err("invalid config: `memory_days` must be at least 1".into());
        }
        if !(c.max_speed_kmh.is_finite() && c.max_speed_kmh >= 0.0) {
            return Err("invalid config: `max_speed_kmh` must be a number ≥ 0".into());
        }
        if !(c.min_travel_km.is_finite() && c.min_travel_km >= 0.0) {
            return Err("invalid config: `min_travel_km` must be a number ≥ 0".into());
        }
        if c.scanner_alert_secs == 0 {
            return Err("invalid config: `scanner_alert_secs` must be at least 1".into());
        }
        Ok(Self {
            sensitive_actions: patterns(&list(
                "sensitive_actions",
                DEFAULT_SENSITIVE_ACTIONS,
                &c.sensitive_actions,
            ))?,
            hours,
            login_actions: patterns(&list("login_actions", DEFAULT_LOGIN_ACTIONS, &c.login_actions))?,
            geo_table: Some(c.geo_table).filter(|t| !t.is_empty()),
            new_country: c.new_country,
            memory_secs: c.memory_days.saturating_mul(86_400),
            max_speed_kmh: c.max_speed_kmh,
            min_travel_km: c.min_travel_km,
            privilege_actions: patterns(&list(
                "privilege_actions",
                DEFAULT_PRIVILEGE_ACTIONS,
                &c.privilege_actions,
            ))?,
            classifier: c.scanner.then(ua::Classifier::new),
            scanner_alert_secs: c.scanner_alert_secs,
        })
    }

    fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
        let Some(action) = event.action() else { return Ok(()) };
        if let Some(hours) = &self.hours
            && any_matches(&self.sensitive_actions, action)
        {
            self.off_hours(hours, action, event, decision);
        }
        if any_matches(&self.privilege_actions, action) {
            privilege_change(action, event, decision);
        }
        if (self.new_country || self.max_speed_kmh > 0.0)
            && event.outcome() == Some("success")
            && any_matches(&self.login_actions, action)
            && let Some(user) = event.user()
        {
            self.login(user, event, decision);
        }
        if let Some(classifier) = &self.classifier {
            self.scanner(classifier, event, decision);
        }
        Ok(())
    }
}

/// The user, or a stand-in for alert texts.
fn who<'e>(event: &'e Event) -> &'e str {
    event.user().unwrap_or("(unknown user)")
}

impl AlertAnomaly {
    fn off_hours(&self, hours: &WorkingHours, action: &str, event: &Event, decision: &mut Decision) {
        let Some(local) = event.field("time").and_then(|t| t.as_str()).and_then(|t| hours.local(t)) else {
            return;
        };
        if !local.off_hours {
            return;
        }
        let when = local.rfc3339();
        decision.tag("off-hours");
        let mut alert = decision
            .alert(
                rule::OFF_HOURS,
                Severity::Medium,
                format!("{action} by {} at {when}, outside working hours", who(event)),
            )
            .label("action", action)
            .label("local_time", when);
        if let Some(user) = event.user() {
            alert = alert.label("user", user);
        }
        if let Some(ip) = event.ip() {
            alert.label("ip", ip);
        }
    }

    /// New country and impossible travel, from one state entry per user.
    fn login(&self, user: &str, event: &Event, decision: &mut Decision) {
        let Some(place) = self.place(event) else { return };
        let micros = event.field("time").and_then(|t| t.as_str()).and_then(epoch_micros);
        let key = format!("user:{user}");
        let mut memory = host::state_get(&key).map(|bytes| Memory::parse(&bytes)).unwrap_or_default();

        if self.new_country
            && let Some(country) = place.country.as_deref()
            && !memory.countries.is_empty()
            && !memory.knows(country)
        {
            decision.tag("new-country");
            decision
                .alert(
                    rule::NEW_COUNTRY,
                    Severity::Medium,
                    format!("{user} logged in from {country} for the first time"),
                )
                .label("user", user)
                .label("country", country)
                .label("known", memory.countries.join(","));
        }

        if self.max_speed_kmh > 0.0
            && let (Some(last), Some(now), Some(coords)) = (&memory.last, micros, place.coords)
        {
            self.travel(user, last, now, coords, place.country.as_deref(), decision);
        }

        if let Some(country) = place.country.as_deref() {
            memory.remember_country(country);
        }
        if let (Some(now), Some(coords)) = (micros, place.coords)
            && memory.last.as_ref().is_none_or(|last| now >= last.micros)
        {
            memory.last = Some(Login { micros: now, coords, country: place.country.clone() });
        }
        host::state_set(&key, memory.to_bytes().as_bytes(), self.memory_secs);
    }

    fn travel(
        &self,
        user: &str,
        last: &Login,
        now: i64,
        coords: (f64, f64),
        country: Option<&str>,
        decision: &mut Decision,
    ) {
        let km = distance_km(last.coords, coords);
        if km < self.min_travel_km {
            return;
        }
        let hours = (now - last.micros).unsigned_abs() as f64 / 3.6e9;
        let speed = if hours > 0.0 { km / hours } else { f64::INFINITY };
        if speed <= self.max_speed_kmh {
            return;
        }
        let from = last.country.as_deref().unwrap_or("?");
        let to = country.unwrap_or("?");
        decision.tag("impossible-travel");
        decision
            .alert(
                rule::IMPOSSIBLE_TRAVEL,
                Severity::High,
                format!("{user}: {km:.0} km from {from} to {to} in {:.1} min", hours * 60.0),
            )
            .label("user", user)
            .label("from", from)
            .label("to", to)
            .label("distance_km", format!("{km:.0}"))
            .label("minutes", format!("{:.1}", hours * 60.0))
            .label("speed_kmh", if speed.is_finite() { format!("{speed:.0}") } else { "inf".into() });
    }

    /// Where the event came from: `/details/geo`, else the lookup table.
    fn place(&self, event: &Event) -> Option<Place> {
        if let Some(geo) = event.get("/details/geo").filter(|g| g.as_object().is_some()) {
            let text = |name: &str| geo.member(name).and_then(|v| v.as_str());
            let number = |name: &str| {
                let v = geo.member(name)?;
                v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            };
            let coords = match (number("lat"), number("lon")) {
                (Some(lat), Some(lon)) if valid_coords(lat, lon) => Some((lat, lon)),
                _ => None,
            };
            return Some(Place {
                country: text("country").filter(|c| !c.is_empty()).map(String::from),
                coords,
            });
        }
        let (table, ip) = (self.geo_table.as_deref()?, event.ip()?);
        Place::from_answer(&host::lookup(table, ip)?)
    }

    fn scanner(&self, classifier: &ua::Classifier, event: &Event, decision: &mut Decision) {
        let scanner = match event.get("/details/ua/scanner").and_then(|v| v.as_bool()) {
            Some(flag) => flag.then(|| event.str("/details/ua/bot_name").unwrap_or("scanner")),
            None => {
                let Some(header) = event.field("user_agent").and_then(|v| v.as_str()) else { return };
                let class = classifier.classify(header);
                if class.scanner { class.bot } else { None }
            }
        };
        let Some(name) = scanner else { return };
        decision.tag("scanner");
        let source = event.ip().or(event.user()).unwrap_or("unknown");
        if host::counter_add(&format!("scanner:{source}"), 1, self.scanner_alert_secs) != 1 {
            return;
        }
        let mut alert = decision
            .alert(rule::SCANNER, Severity::High, format!("{name} seen from {source}"))
            .label("scanner", name)
            .label("source", source);
        if let Some(user) = event.user() {
            alert = alert.label("user", user);
        }
        if let Some(action) = event.action() {
            alert.label("action", action);
        }
    }
}

fn privilege_change(action: &str, event: &Event, decision: &mut Decision) {
    let failed = event.outcome() == Some("failure");
    let severity = if failed { Severity::Low } else { Severity::Medium };
    let target = event.field("resource_id").and_then(|v| v.as_str());
    let summary = match target {
        Some(target) => format!("{action} by {} on {target}", who(event)),
        None => format!("{action} by {}", who(event)),
    };
    decision.tag("privilege-change");
    let mut alert = decision
        .alert(rule::PRIVILEGE_CHANGE, severity, summary)
        .label("action", action)
        .label("outcome", event.outcome().unwrap_or("unknown"));
    if let Some(user) = event.user() {
        alert = alert.label("user", user);
    }
    if let Some(target) = target {
        alert = alert.label("resource_id", target);
    }
    for (side, pointer) in [("before", "/changes/before/role"), ("after", "/changes/after/role")] {
        if let Some(role) = event.str(pointer) {
            alert = alert.label(side, role);
        }
    }
}

auditgate_sdk::export_policy!(AlertAnomaly);

#[cfg(test)]
mod tests;
