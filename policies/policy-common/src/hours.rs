//! Working hours in an IANA time zone: is an instant inside them, and what is its local time.

use chrono::{DateTime, Datelike, FixedOffset, Timelike, Weekday};
use chrono_tz::Tz;

/// The week's days in `Weekday::num_days_from_monday` order, as written in configs.
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The default working days, Monday to Friday.
pub fn default_work_days() -> Vec<String> {
    DAY_NAMES[..5].iter().map(|d| d.to_string()).collect()
}

/// Working hours: a time zone, a daily span of local time, and the working days.
#[derive(Debug, Clone)]
pub struct WorkingHours {
    zone: Tz,
    /// Minutes after local midnight; the span is `[start, end)`, wrapping past midnight
    /// when `start > end` (a night shift).
    start: u16,
    end: u16,
    /// Indexed by `Weekday::num_days_from_monday`.
    days: [bool; 7],
}

/// An instant seen in the working hours' time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalTime {
    /// The instant in the configured zone.
    pub time: DateTime<Tz>,
    /// Outside the working span, or on a day that is not a working day.
    pub off_hours: bool,
}

impl LocalTime {
    /// RFC 3339 text with the zone's offset, seconds precision: `2024-05-06T21:30:00+02:00`.
    pub fn rfc3339(&self) -> String {
        self.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    }

    /// The weekday, as written in configs (`mon` … `sun`).
    pub fn weekday(&self) -> &'static str {
        DAY_NAMES[self.time.weekday().num_days_from_monday() as usize]
    }
}

impl WorkingHours {
    /// Builds working hours from config text: `zone` an IANA name (`Europe/Berlin`, `UTC`),
    /// `start`/`end` as `HH:MM` (`end` may be `24:00`), `days` as `mon` … `sun` (or full
    /// English names). Errors name the bad value.
    pub fn new(zone: &str, start: &str, end: &str, days: &[String]) -> Result<Self, String> {
        let zone: Tz = zone.parse().map_err(|_| {
            format!(
                "invalid config: unknown time zone {zone:?} (want an IANA name such as \"Europe/Berlin\")"
            )
        })?;
        let start =
            parse_hhmm(start).ok_or_else(|| format!("invalid config: work_start {start:?} is not HH:MM"))?;
        let end = parse_hhmm(end).ok_or_else(|| format!("invalid config: work_end {end:?} is not HH:MM"))?;
        if start == end {
            return Err("invalid config: work_start and work_end must differ".into());
        }
        let mut set = [false; 7];
        for day in days {
            let index = parse_day(day).ok_or_else(|| {
                format!("invalid config: work_days: {day:?} is not a day (want mon, tue, wed, thu, fri, sat or sun)")
            })?;
            set[index] = true;
        }
        Ok(Self { zone, start, end, days: set })
    }

    /// The configured zone.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// Whether the local time `t` falls outside the working hours.
    pub fn is_off_hours(&self, t: &DateTime<Tz>) -> bool {
        let day = t.weekday().num_days_from_monday() as usize;
        let minute = (t.hour() * 60 + t.minute()) as u16;
        let in_span = if self.start < self.end {
            self.start <= minute && minute < self.end
        } else {
            minute >= self.start || minute < self.end
        };
        !(self.days[day] && in_span)
    }

    /// The instant `time` (RFC 3339 text, as the event's `time`) in the configured zone,
    /// or `None` if the text is not RFC 3339.
    pub fn local(&self, time: &str) -> Option<LocalTime> {
        let parsed: DateTime<FixedOffset> = DateTime::parse_from_rfc3339(time).ok()?;
        let local = parsed.with_timezone(&self.zone);
        let off_hours = self.is_off_hours(&local);
        Some(LocalTime { time: local, off_hours })
    }
}

/// An RFC 3339 time (the event's `time`) as microseconds since the Unix epoch.
pub fn epoch_micros(time: &str) -> Option<i64> {
    Some(DateTime::parse_from_rfc3339(time).ok()?.timestamp_micros())
}

/// `HH:MM` as minutes after midnight; `24:00` is the end of the day.
fn parse_hhmm(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    match (h, m) {
        (24, 0) => Some(24 * 60),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

/// A day name (`mon`, `Monday`, …) as an index from Monday.
fn parse_day(text: &str) -> Option<usize> {
    let day: Weekday = text.trim().parse().ok()?;
    Some(day.num_days_from_monday() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn office(zone: &str) -> WorkingHours {
        WorkingHours::new(zone, "09:00", "17:30", &default_work_days()).expect("valid")
    }

    #[test]
    fn working_and_off_hours_in_the_zone() {
        let berlin = office("Europe/Berlin");
        // Wednesday 2024-05-08, 07:30 UTC = 09:30 CEST: working.
        let t = berlin.local("2024-05-08T07:30:00Z").expect("parses");
        assert!(!t.off_hours);
        assert_eq!(t.rfc3339(), "2024-05-08T09:30:00+02:00");
        assert_eq!(t.weekday(), "wed");
        // 06:59 UTC = 08:59 local: before the start.
        assert!(berlin.local("2024-05-08T06:59:00Z").expect("parses").off_hours);
        // 15:29 UTC = 17:29: still in; 15:30 = 17:30: out (the end is exclusive).
        assert!(!berlin.local("2024-05-08T15:29:59Z").expect("parses").off_hours);
        assert!(berlin.local("2024-05-08T15:30:00Z").expect("parses").off_hours);
        // Saturday noon.
        assert!(berlin.local("2024-05-11T10:00:00Z").expect("parses").off_hours);
        // Winter time: 08:30 UTC in January = 09:30 CET.
        assert_eq!(
            berlin.local("2024-01-10T08:30:00Z").expect("parses").rfc3339(),
            "2024-01-10T09:30:00+01:00"
        );
        // Offsets in the input are honoured.
        assert!(!berlin.local("2024-05-08T12:00:00+05:00").expect("parses").off_hours);
        assert_eq!(berlin.local("yesterday"), None);
        assert_eq!(epoch_micros("1970-01-01T00:00:01.5+00:00"), Some(1_500_000));
        assert_eq!(epoch_micros("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(epoch_micros("noon"), None);
    }

    #[test]
    fn night_shift_wraps_past_midnight() {
        let night = WorkingHours::new("UTC", "22:00", "06:00", &["sat".to_string(), "Sunday".to_string()])
            .expect("valid");
        assert!(!night.local("2024-05-11T23:00:00Z").expect("parses").off_hours);
        assert!(!night.local("2024-05-12T05:59:00Z").expect("parses").off_hours);
        assert!(night.local("2024-05-12T06:00:00Z").expect("parses").off_hours);
        assert!(night.local("2024-05-13T01:00:00Z").expect("parses").off_hours, "Monday is not a work day");
    }

    #[test]
    fn bad_config_names_the_value() {
        let days = default_work_days();
        let err = |r: Result<WorkingHours, String>| r.err().unwrap_or_default();
        assert!(err(WorkingHours::new("Mars/Olympus", "09:00", "17:00", &days)).contains("\"Mars/Olympus\""));
        assert!(err(WorkingHours::new("UTC", "9am", "17:00", &days)).contains("work_start \"9am\""));
        assert!(err(WorkingHours::new("UTC", "09:00", "24:30", &days)).contains("work_end \"24:30\""));
        assert!(err(WorkingHours::new("UTC", "09:00", "09:00", &days)).contains("must differ"));
        assert!(err(WorkingHours::new("UTC", "09:00", "17:00", &["funday".into()])).contains("\"funday\""));
        assert!(WorkingHours::new("UTC", "00:00", "24:00", &days).is_ok());
    }
}
