//! Geo data: the row a CIDR lookup table answers, the `/details/geo` object the enrichment
//! writes, and great-circle distances.

use serde_json::{Map, Value};

/// What the policies need to know about where an address is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Place {
    /// ISO country code, e.g. `DE`.
    pub country: Option<String>,
    /// Latitude and longitude in degrees, when both are known.
    pub coords: Option<(f64, f64)>,
}

/// The lookup answer (a JSON object whose values are strings, keyed by the table's
/// column names) as the object written to `/details/geo`: `lat` and `lon` become numbers,
/// empty values are dropped, other columns stay as they are. `None` if the answer is not a
/// JSON object.
pub fn enrichment(answer: &str) -> Option<Map<String, Value>> {
    let Ok(Value::Object(row)) = serde_json::from_str::<Value>(answer) else {
        return None;
    };
    let mut out = Map::with_capacity(row.len());
    for (key, value) in row {
        let value = match (key.as_str(), value) {
            (_, Value::String(s)) if s.is_empty() => continue,
            (_, Value::Null) => continue,
            ("lat" | "lon", Value::String(s)) => match s.trim().parse::<f64>() {
                Ok(n) => Value::from(n),
                Err(_) => continue,
            },
            (_, v) => v,
        };
        out.insert(key, value);
    }
    Some(out)
}

/// A number given as a JSON number or as decimal text.
fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Place {
    /// The place described by a geo object (a lookup answer or `/details/geo`).
    pub fn from_object(object: &Map<String, Value>) -> Self {
        let country =
            object.get("country").and_then(Value::as_str).filter(|c| !c.is_empty()).map(String::from);
        let coords = match (number(object.get("lat")), number(object.get("lon"))) {
            (Some(lat), Some(lon)) if valid_coords(lat, lon) => Some((lat, lon)),
            _ => None,
        };
        Self { country, coords }
    }

    /// The place in a lookup answer; `None` if it is not a JSON object.
    pub fn from_answer(answer: &str) -> Option<Self> {
        match serde_json::from_str::<Value>(answer) {
            Ok(Value::Object(object)) => Some(Self::from_object(&object)),
            _ => None,
        }
    }
}

/// Whether (lat, lon) are finite degrees on the globe.
pub fn valid_coords(lat: f64, lon: f64) -> bool {
    lat.is_finite() && lon.is_finite() && (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)
}

/// Mean Earth radius in km (IUGG).
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle distance in km between two (lat, lon) points in degrees (haversine).
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h =
        ((lat2 - lat1) / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_answer_becomes_enrichment_with_numbers() {
        let row = r#"{"country":"DE","city":"Berlin","lat":"52.52","lon":"13.40","asn":"AS3320","note":""}"#;
        let geo = enrichment(row).expect("object");
        assert_eq!(
            Value::Object(geo.clone()),
            serde_json::json!({"country": "DE", "city": "Berlin", "lat": 52.52, "lon": 13.4, "asn": "AS3320"})
        );
        let place = Place::from_object(&geo);
        assert_eq!(place.country.as_deref(), Some("DE"));
        assert_eq!(place.coords, Some((52.52, 13.4)));
        assert_eq!(Place::from_answer(row), Some(place));
        assert_eq!(enrichment("[1]"), None);
        assert_eq!(enrichment("nope"), None);
        let bad = Place::from_answer(r#"{"country":"","lat":"95","lon":"x"}"#).expect("object");
        assert_eq!(bad, Place::default());
    }

    #[test]
    fn distances_match_known_city_pairs() {
        let berlin = (52.52, 13.405);
        let paris = (48.8566, 2.3522);
        let sydney = (-33.8688, 151.2093);
        let d = distance_km(berlin, paris);
        assert!((d - 878.0).abs() < 10.0, "{d}");
        let d = distance_km(berlin, sydney);
        assert!((d - 16_090.0).abs() < 60.0, "{d}");
        assert_eq!(distance_km(berlin, berlin), 0.0);
        assert!(valid_coords(-90.0, 180.0));
        assert!(!valid_coords(91.0, 0.0));
        assert!(!valid_coords(f64::NAN, 0.0));
    }
}
