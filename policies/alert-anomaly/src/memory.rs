//! What `alert-anomaly` remembers per user in host state: the last login (time, place)
//! and the countries seen, as one short text: `MICROS LAT LON COUNTRY|DE,FR`
//! (`-` for an unknown part, nothing before `|` when no login had coordinates).

/// Most countries remembered per user (the oldest is forgotten first).
pub const MAX_COUNTRIES: usize = 32;

/// The last login with a place.
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    /// Microseconds since the epoch.
    pub micros: i64,
    /// (lat, lon) in degrees.
    pub coords: (f64, f64),
    /// ISO country code, if known.
    pub country: Option<String>,
}

/// One user's memory.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Memory {
    /// The last login with coordinates.
    pub last: Option<Login>,
    /// Countries of earlier logins, oldest first.
    pub countries: Vec<String>,
}

impl Memory {
    /// Parses the stored text; anything unreadable counts as nothing remembered.
    pub fn parse(bytes: &[u8]) -> Self {
        let Ok(text) = std::str::from_utf8(bytes) else { return Self::default() };
        let (last, countries) = text.split_once('|').unwrap_or(("", text));
        let countries = countries.split(',').filter(|c| !c.is_empty()).map(String::from).collect();
        Self { last: parse_login(last), countries }
    }

    /// The text to store.
    pub fn to_bytes(&self) -> String {
        let mut out = String::with_capacity(64 + 3 * self.countries.len());
        if let Some(l) = &self.last {
            out.push_str(&format!(
                "{} {} {} {}",
                l.micros,
                l.coords.0,
                l.coords.1,
                l.country.as_deref().unwrap_or("-")
            ));
        }
        out.push('|');
        out.push_str(&self.countries.join(","));
        out
    }

    /// Whether `country` was seen before.
    pub fn knows(&self, country: &str) -> bool {
        self.countries.iter().any(|c| c == country)
    }

    /// Adds `country` (at most [`MAX_COUNTRIES`] kept). Characters that would break the
    /// format are dropped.
    pub fn remember_country(&mut self, country: &str) {
        let clean: String = country.chars().filter(|c| !matches!(c, ',' | '|' | ' ')).take(16).collect();
        if clean.is_empty() || self.knows(&clean) {
            return;
        }
        if self.countries.len() >= MAX_COUNTRIES {
            self.countries.remove(0);
        }
        self.countries.push(clean);
    }
}

fn parse_login(text: &str) -> Option<Login> {
    let mut parts = text.split(' ');
    let micros = parts.next()?.parse().ok()?;
    let lat = parts.next()?.parse().ok()?;
    let lon = parts.next()?.parse().ok()?;
    let country = parts.next().filter(|c| *c != "-" && !c.is_empty()).map(String::from);
    Some(Login { micros, coords: (lat, lon), country })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tolerates_garbage() {
        let mut m = Memory::default();
        assert_eq!(m.to_bytes(), "|");
        m.remember_country("DE");
        m.remember_country("F,R|");
        m.remember_country("DE");
        m.last = Some(Login { micros: 1_715_000_000_000_000, coords: (52.52, -13.4), country: None });
        let text = m.to_bytes();
        assert_eq!(text, "1715000000000000 52.52 -13.4 -|DE,FR");
        assert_eq!(Memory::parse(text.as_bytes()), m);
        assert_eq!(Memory::parse(b"\xff"), Memory::default());
        assert_eq!(Memory::parse(b"x y z|DE").countries, ["DE"]);
        assert_eq!(Memory::parse(b"x y z|DE").last, None);
        for n in 0..40 {
            m.remember_country(&format!("C{n}"));
        }
        assert_eq!(m.countries.len(), MAX_COUNTRIES);
        assert!(!m.knows("DE") && m.knows("C39"));
    }
}
