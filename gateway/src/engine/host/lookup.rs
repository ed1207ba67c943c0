//! The read-only enrichment tables of `[[lookup]]` (`lookup(table, key)`).
//!
//! Loaded once at start-up (and by `check-config`); any problem fails the load with a
//! message naming the table, the file and, where it has one, the line. Every answer is
//! prepared at load time as compact JSON text, so a lookup only finds and copies it.
//!
//! - CSV: a header row; the first column is the key, the answer is a JSON object of the
//!   other columns keyed by their header names, in header order, all values strings.
//! - JSON: a top-level object `{key: value}`; the answer is the value as compact JSON.
//! - `kind = "cidr"`: keys are networks (or single addresses); a lookup takes an IP and
//!   answers the longest-prefix match (see [`super::cidr`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::{LookupConfig, LookupFormat, LookupKind};

use super::cidr::{CidrBuilder, CidrTable, parse_network};

/// Largest lookup file read, in bytes (the tables live in memory).
pub const MAX_TABLE_FILE_BYTES: u64 = 512 << 20;

/// A table that could not be loaded: names the table, the file and the line.
#[derive(Debug, thiserror::Error)]
#[error("lookup table `{table}` ({file}{}): {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct LookupError {
    pub table: String,
    pub file: PathBuf,
    pub line: Option<u64>,
    pub message: String,
}

/// How one table finds its answers.
#[derive(Debug)]
enum Index {
    Exact(HashMap<Box<str>, u32>),
    Cidr(CidrTable),
}

/// One loaded table.
#[derive(Debug)]
pub struct Table {
    /// SHA-256 of the file, for the policy-set hash.
    digest: [u8; 32],
    index: Index,
    /// The answers, as compact JSON text.
    values: Vec<Box<str>>,
}

impl Table {
    /// The answer for `key` (for a CIDR table: an IP address), if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        let i = match &self.index {
            Index::Exact(map) => *map.get(key)?,
            Index::Cidr(cidr) => cidr.find(key.trim().parse::<IpAddr>().ok()?)?,
        };
        self.values.get(i as usize).map(|v| &**v)
    }

    /// How many keys (or networks) the table holds.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when the table holds nothing.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Every `[[lookup]]` table, by name.
#[derive(Debug, Default)]
pub struct LookupTables {
    tables: HashMap<String, Table>,
}

impl LookupTables {
    /// Loads every table of `configs`.
    pub fn load(configs: &[LookupConfig]) -> Result<LookupTables, LookupError> {
        let mut tables = HashMap::with_capacity(configs.len());
        for config in configs {
            let table = load_table(config)?;
            tracing::info!(table = %config.name, file = %config.path.display(), keys = table.len(), "lookup table loaded");
            if tables.insert(config.name.clone(), table).is_some() {
                return Err(LookupError {
                    table: config.name.clone(),
                    file: config.path.clone(),
                    line: None,
                    message: "a table of this name is already declared".into(),
                });
            }
        }
        Ok(LookupTables { tables })
    }

    /// Each table's name and the SHA-256 of its file, sorted by name.
    pub fn digests(&self) -> Vec<(&str, [u8; 32])> {
        let mut out: Vec<(&str, [u8; 32])> =
            self.tables.iter().map(|(n, t)| (n.as_str(), t.digest)).collect();
        out.sort_unstable();
        out
    }

    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }
}

/// Collects keys and answers for one table, refusing duplicates.
struct TableBuilder<'a> {
    config: &'a LookupConfig,
    exact: HashMap<Box<str>, u32>,
    cidr: CidrBuilder,
    values: Vec<Box<str>>,
}

impl<'a> TableBuilder<'a> {
    fn new(config: &'a LookupConfig) -> Self {
        Self { config, exact: HashMap::new(), cidr: CidrBuilder::default(), values: Vec::new() }
    }

    fn fail(&self, line: Option<u64>, message: impl Into<String>) -> LookupError {
        LookupError {
            table: self.config.name.clone(),
            file: self.config.path.clone(),
            line,
            message: message.into(),
        }
    }

    fn add(&mut self, key: &str, value: String, line: Option<u64>) -> Result<(), LookupError> {
        let index = u32::try_from(self.values.len()).map_err(|_| self.fail(line, "too many rows"))?;
        match self.config.kind {
            LookupKind::Exact => {
                if key.is_empty() {
                    return Err(self.fail(line, "empty key"));
                }
                if self.exact.insert(key.into(), index).is_some() {
                    return Err(self.fail(line, format!("duplicate key `{key}`")));
                }
            }
            LookupKind::Cidr => {
                let net = parse_network(key).map_err(|e| self.fail(line, e.to_string()))?;
                if !self.cidr.insert(net, index) {
                    return Err(self.fail(line, format!("duplicate network `{net}`")));
                }
            }
        }
        self.values.push(value.into_boxed_str());
        Ok(())
    }

    fn build(self, digest: [u8; 32]) -> Table {
        let index = match self.config.kind {
            LookupKind::Exact => Index::Exact(self.exact),
            LookupKind::Cidr => Index::Cidr(self.cidr.build()),
        };
        Table { digest, index, values: self.values }
    }
}

fn load_table(config: &LookupConfig) -> Result<Table, LookupError> {
    let mut builder = TableBuilder::new(config);
    let bytes = read_file(&config.path).map_err(|e| builder.fail(None, e))?;
    match config.effective_format() {
        Some(LookupFormat::Csv) => load_csv(&mut builder, &bytes)?,
        Some(LookupFormat::Json) => load_json(&mut builder, &bytes)?,
        None => return Err(builder.fail(None, "unknown format: set format = \"csv\" or \"json\"")),
    }
    Ok(builder.build(Sha256::digest(&bytes).into()))
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read the file: {e}"))?;
    if meta.len() > MAX_TABLE_FILE_BYTES {
        return Err(format!("the file has {} bytes (at most {MAX_TABLE_FILE_BYTES})", meta.len()));
    }
    std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))
}

fn load_csv(builder: &mut TableBuilder<'_>, bytes: &[u8]) -> Result<(), LookupError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(bytes);
    let headers = reader.headers().map_err(|e| builder.fail(csv_line(&e), e.to_string()))?.clone();
    if headers.len() < 2 {
        return Err(
            builder.fail(Some(1), "expected a header row with a key column and at least one value column")
        );
    }
    // Each value column's name, already as a JSON string.
    let names: Vec<String> = headers.iter().skip(1).map(json_string).collect();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(builder.fail(csv_line(&e), csv_message(&e))),
        }
        let line = record.position().map(|p| p.line());
        let mut value = String::from("{");
        for (i, (name, field)) in names.iter().zip(record.iter().skip(1)).enumerate() {
            if i > 0 {
                value.push(',');
            }
            value.push_str(name);
            value.push(':');
            value.push_str(&json_string(field));
        }
        value.push('}');
        builder.add(record.get(0).unwrap_or(""), value, line)?;
    }
    Ok(())
}

fn csv_line(e: &csv::Error) -> Option<u64> {
    e.position().map(|p| p.line())
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("expected {expected_len} fields like the header, found {len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".into(),
        _ => e.to_string(),
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

fn load_json(builder: &mut TableBuilder<'_>, bytes: &[u8]) -> Result<(), LookupError> {
    let root: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(bytes).map_err(|e| {
        let line = u64::try_from(e.line()).ok().filter(|l| *l > 0);
        builder.fail(line, format!("expected a JSON object {{key: value}}: {e}"))
    })?;
    for (key, value) in root {
        builder.add(&key, value.to_string(), None).map_err(|mut e| {
            e.message = format!("key \"{key}\": {}", e.message);
            e
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, file: &str, text: &str, kind: LookupKind) -> LookupConfig {
        let path = dir.join(file);
        std::fs::write(&path, text).expect("write table");
        LookupConfig { name: "t".into(), path, format: None, kind }
    }

    #[test]
    fn csv_cidr_answers_json_objects_in_header_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = "network,country,city\n203.0.113.0/24,DE,Berlin\n203.0.113.128/25,FR,\"Paris, 1er\"\n2001:db8::/32,NL,Amsterdam\n";
        let t = load_table(&config(dir.path(), "g.csv", text, LookupKind::Cidr)).expect("loads");
        assert_eq!(t.get("203.0.113.7"), Some(r#"{"country":"DE","city":"Berlin"}"#));
        assert_eq!(t.get("203.0.113.200"), Some(r#"{"country":"FR","city":"Paris, 1er"}"#));
        assert_eq!(t.get("2001:db8::1"), Some(r#"{"country":"NL","city":"Amsterdam"}"#));
        assert_eq!(t.get("::ffff:203.0.113.7"), Some(r#"{"country":"DE","city":"Berlin"}"#));
        assert_eq!(t.get("198.51.100.1"), None);
        assert_eq!(t.get("not an ip"), None);
    }

    #[test]
    fn json_exact_answers_the_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = r#"{"alice": {"team": "ops", "level": 3}, "bob": "x"}"#;
        let t = load_table(&config(dir.path(), "u.json", text, LookupKind::Exact)).expect("loads");
        assert_eq!(t.get("alice"), Some(r#"{"level":3,"team":"ops"}"#));
        assert_eq!(t.get("bob"), Some(r#""x""#));
        assert_eq!(t.get("carol"), None);
    }

    #[test]
    fn errors_name_table_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = "network,country\n10.0.0.0/8,A\n10.0.0.300/24,B\n";
        let c = config(dir.path(), "bad.csv", bad, LookupKind::Cidr);
        let err = load_table(&c).expect_err("bad network").to_string();
        assert!(err.contains("`t`") && err.contains("bad.csv") && err.contains("line 3"), "{err}");
        assert!(err.contains("10.0.0.300/24"), "{err}");

        let ragged = "k,v\na,1\nb,2,3\n";
        let err = load_table(&config(dir.path(), "r.csv", ragged, LookupKind::Exact)).expect_err("ragged");
        assert!(err.to_string().contains("line 3"), "{err}");

        let dup = "k,v\na,1\na,2\n";
        let err = load_table(&config(dir.path(), "d.csv", dup, LookupKind::Exact)).expect_err("dup");
        assert!(err.to_string().contains("line 3") && err.to_string().contains("duplicate"), "{err}");

        let missing = LookupConfig {
            name: "t".into(),
            path: dir.path().join("nope.csv"),
            format: None,
            kind: LookupKind::Exact,
        };
        let err = load_table(&missing).expect_err("missing").to_string();
        assert!(err.contains("nope.csv") && err.contains("cannot read"), "{err}");

        let err = load_table(&config(dir.path(), "b.json", "{\n\"a\": 1,\n}", LookupKind::Exact))
            .expect_err("bad json")
            .to_string();
        assert!(err.contains("line 3"), "{err}");
    }
}
