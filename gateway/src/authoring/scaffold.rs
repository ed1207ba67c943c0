//! `auditgate policy new NAME`: writes a policy crate that tests natively with
//! `cargo test` and builds to a component with `cargo build --release --target
//! wasm32-wasip2`.
//!
//! The crate depends on `auditgate-sdk` by path: the repository's `sdk/` when the new crate
//! lands inside an Auditgate checkout, else the path given with `--sdk`; with neither, the
//! dependency is left as a placeholder and [`Scaffolded::sdk`] says so. The crate is a
//! workspace of its own (an empty `[workspace]` table), so it builds wherever it is.

use std::path::{Component, Path, PathBuf};

/// Why no crate was written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("invalid policy name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },
    #[error("{0} already exists; choose another name or --dir (nothing was overwritten)")]
    Exists(PathBuf),
    #[error("--sdk {path}: {message}")]
    Sdk { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Where the generated `Cargo.toml` finds `auditgate-sdk`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// The `sdk/` of the Auditgate checkout holding the new crate (a relative path).
    Repository(PathBuf),
    /// The path given with `--sdk` (absolute).
    Given(PathBuf),
    /// Neither: the dependency is a placeholder to edit before the first build.
    Placeholder,
}

/// What [`scaffold`] wrote.
#[derive(Debug, Clone)]
pub struct Scaffolded {
    /// The new crate's directory.
    pub root: PathBuf,
    /// The files written, relative to `root`.
    pub files: Vec<&'static str>,
    pub sdk: SdkSource,
}

/// The placeholder written when the SDK's location is unknown.
pub const SDK_PLACEHOLDER: &str = "/path/to/auditgate/sdk";

/// Names the crate may not take: the Rust keywords, names Cargo or rustc reserve, and the
/// crates the policy itself depends on.
const RESERVED: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "gen",
    "macro",
    "override",
    "priv",
    "try",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "std",
    "core",
    "alloc",
    "proc_macro",
    "test",
    "build",
    "deps",
    "examples",
    "incremental",
    "auditgate",
    "auditgate_sdk",
    "serde",
    "serde_json",
    "con",
    "prn",
    "aux",
    "nul",
];

/// Checks `name` against Cargo's package-name rules (ASCII letters, digits, `-`, `_`;
/// starting with a letter; at most 64 characters; not a keyword or reserved name).
pub fn validate_name(name: &str) -> Result<(), ScaffoldError> {
    let invalid = |reason: &str| ScaffoldError::InvalidName { name: name.to_string(), reason: reason.into() };
    if name.is_empty() {
        return Err(invalid("the name is empty"));
    }
    if name.len() > 64 {
        return Err(invalid("at most 64 characters"));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        return Err(ScaffoldError::InvalidName {
            name: name.to_string(),
            reason: format!("{c:?} is not allowed: use ASCII letters, digits, `-` and `_`"),
        });
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(invalid("must start with a letter"));
    }
    let normalized = name.to_ascii_lowercase().replace('-', "_");
    if RESERVED.contains(&normalized.as_str()) {
        return Err(invalid(
            "reserved (a Rust keyword, a name Cargo reserves, or a dependency of the policy)",
        ));
    }
    Ok(())
}

/// Writes the crate `NAME` into `dir/NAME` (`dir` is created when missing). Never
/// overwrites: an existing `dir/NAME` is an error. `sdk`: the `auditgate-sdk` directory to
/// depend on when `dir` is not inside an Auditgate checkout.
pub fn scaffold(name: &str, dir: &Path, sdk: Option<&Path>) -> Result<Scaffolded, ScaffoldError> {
    validate_name(name)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ScaffoldError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let dir = std::fs::canonicalize(dir).map_err(io(dir))?;
    let root = dir.join(name);
    if root.exists() {
        return Err(ScaffoldError::Exists(root));
    }
    let sdk = match sdk {
        Some(path) => SdkSource::Given(check_sdk(path)?),
        None => match find_repository_sdk(&root) {
            Some(relative) => SdkSource::Repository(relative),
            None => SdkSource::Placeholder,
        },
    };
    // create_dir, not create_dir_all: fails if someone made it in the meantime.
    std::fs::create_dir(&root).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => ScaffoldError::Exists(root.clone()),
        _ => ScaffoldError::Io { path: root.clone(), source: e },
    })?;
    let written = write_files(&root, name, &sdk);
    if let Err(e) = written {
        // Leave nothing half-written behind.
        let _ = std::fs::remove_dir_all(&root);
        return Err(e);
    }
    Ok(Scaffolded { root, files: FILES.to_vec(), sdk })
}

const FILES: [&str; 5] = ["Cargo.toml", "src/lib.rs", "tests/policy.rs", "README.md", ".gitignore"];

fn write_files(root: &Path, name: &str, sdk: &SdkSource) -> Result<(), ScaffoldError> {
    let type_name = type_name(name);
    let lib_name = name.replace('-', "_");
    let sdk_path = match sdk {
        SdkSource::Repository(p) | SdkSource::Given(p) => p.to_string_lossy().replace('\\', "/"),
        SdkSource::Placeholder => SDK_PLACEHOLDER.to_string(),
    };
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{lib}}", &lib_name)
            .replace("{{Type}}", &type_name)
            .replace("{{sdk}}", &sdk_path)
    };
    let contents =
        [fill(CARGO_TOML), fill(LIB_RS), fill(TEST_RS), fill(README), "/target\n/Cargo.lock\n".to_string()];
    for (file, text) in FILES.iter().zip(contents) {
        let path = root.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| ScaffoldError::Io { path: parent.into(), source: e })?;
        }
        std::fs::write(&path, text).map_err(|e| ScaffoldError::Io { path, source: e })?;
    }
    Ok(())
}

/// `my-policy` → `MyPolicy`; a name that would clash with the SDK's prelude gets `Policy`
/// appended.
fn type_name(name: &str) -> String {
    let mut out = String::new();
    for part in name.split(['-', '_']).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    const PRELUDE: &[&str] = &[
        "Alert",
        "AlertBuilder",
        "AnyConfig",
        "Config",
        "Decision",
        "Event",
        "Field",
        "Node",
        "PatchOp",
        "Pointer",
        "Policy",
        "Segment",
        "Severity",
        "Value",
    ];
    if PRELUDE.contains(&out.as_str()) {
        out.push_str("Policy");
    }
    out
}

/// The `auditgate-sdk` crate directory of the checkout holding `root`, as a path relative
/// to `root`.
fn find_repository_sdk(root: &Path) -> Option<PathBuf> {
    let mut ups = PathBuf::new();
    for ancestor in root.ancestors().skip(1) {
        ups.push("..");
        let candidate = ancestor.join("sdk");
        if is_sdk(&candidate) {
            return Some(ups.join("sdk"));
        }
    }
    None
}

fn is_sdk(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|t| t.lines().any(|l| l.replace(' ', "") == "name=\"auditgate-sdk\""))
}

fn check_sdk(path: &Path) -> Result<PathBuf, ScaffoldError> {
    let fail = |message: &str| ScaffoldError::Sdk { path: path.to_path_buf(), message: message.into() };
    let absolute = std::fs::canonicalize(path).map_err(|e| fail(&e.to_string()))?;
    if !is_sdk(&absolute) {
        return Err(fail(
            "not the auditgate-sdk crate (expected its Cargo.toml with name = \"auditgate-sdk\")",
        ));
    }
    // Keep the written path plain (no `\\?\` prefix, no `..`).
    if absolute.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(fail("could not resolve the path"));
    }
    Ok(absolute)
}

const CARGO_TOML: &str = r#"[package]
name = "{{name}}"
description = "An Auditgate policy"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# cdylib: the WebAssembly component the gateway loads; rlib: the native tests.
crate-type = ["cdylib", "rlib"]

[dependencies]
auditgate-sdk = { path = "{{sdk}}" }
serde = { version = "1", features = ["derive"] }

[dev-dependencies]
serde_json = "1"

# Small, fast components. A panic traps the instance; return Err instead where you can.
[profile.release]
opt-level = 3
lto = true
codegen-units = 1
strip = true
panic = "abort"

# A workspace of its own, so the crate builds wherever it lives. To make it a member of
# another workspace instead, delete this table and add the crate to that one's `members`.
[workspace]
"#;

const LIB_RS: &str = r#"//! {{name}}: an Auditgate policy. Masks the configured `details` fields and tags failures.

use auditgate_sdk::prelude::*;

/// `[policy.config]` in policy.toml; an unknown key fails `init`, naming it.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub mask_fields: Vec<String>,
}

pub struct {{Type}} {
    config: Config,
}

impl Policy for {{Type}} {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        Ok(Self { config })
    }

    fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
        for field in &self.config.mask_fields {
            let pointer = format!("/details/{}", escape_token(field));
            if event.get(&pointer).is_some() {
                decision.mask(pointer, "[REDACTED]");
            }
        }
        if event.outcome() == Some("failure") {
            decision.tag("failure");
        }
        Ok(())
    }
}

auditgate_sdk::export_policy!({{Type}});
"#;

const TEST_RS: &str = r#"//! Native tests: the policy runs on the host, host calls go to the SDK's mock.

use auditgate_sdk::testing::Harness;
use serde_json::json;
use {{lib}}::{{Type}};

#[test]
fn masks_the_configured_fields_and_tags_failures() {
    let policy = Harness::<{{Type}}>::new(&json!({"mask_fields": ["otp"]})).expect("valid config");
    let event = json!({"action": "user.login", "outcome": "failure", "details": {"otp": "123456"}});
    let outcome = policy.evaluate(&event).expect("the event passes");
    assert_eq!(outcome.event["details"]["otp"], "[REDACTED]");
    assert_eq!(outcome.redacted, ["/details/otp"]);
    assert_eq!(outcome.tags(), ["failure"]);
}

#[test]
fn leaves_other_events_alone() {
    let policy = Harness::<{{Type}}>::new(&json!({"mask_fields": ["otp"]})).expect("valid config");
    let event = json!({"action": "user.login", "outcome": "success", "details": {"note": "hi"}});
    let outcome = policy.evaluate(&event).expect("the event passes");
    assert!(outcome.decision.is_empty());
    assert_eq!(outcome.event, event);
}

#[test]
fn a_typo_in_the_config_is_refused() {
    let err = Harness::<{{Type}}>::new(&json!({"mask_field": ["otp"]})).err().expect("refused");
    assert!(err.contains("mask_field"), "{err}");
}
"#;

const README: &str = r#"# {{name}}

An Auditgate policy, written with `auditgate-sdk`.

```sh
cargo test                                         # native tests (no WebAssembly needed)
cargo build --release --target wasm32-wasip2       # the component
```

The second command needs the target once: `rustup target add wasm32-wasip2`. The component
is `target/wasm32-wasip2/release/{{lib}}.wasm`. Try it on a file of events (one JSON object
per line) in the gateway's own engine:

```sh
auditgate policy test --policy target/wasm32-wasip2/release/{{lib}}.wasm --config cfg.toml --events events.jsonl
```

where `cfg.toml` holds the policy's config keys (`mask_fields = ["otp"]`). Then name it in
`policy.toml`:

```toml
[[policy]]
name = "{{name}}"
module = "path/to/{{lib}}.wasm"   # relative to policy.toml
on_error = "skip"                  # reject | quarantine | skip

[policy.config]
mask_fields = ["otp"]
```

How to read events, decide, use the detectors and the host functions: the SDK's README
(`sdk/README.md` in the Auditgate repository).
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_crate_rules() {
        for ok in ["my-policy", "mask_ids", "p2", "A-b_c"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for (bad, needle) in [
            ("", "empty"),
            ("2fa", "start with a letter"),
            ("-x", "start with a letter"),
            ("my policy", "' ' is not allowed"),
            ("é", "is not allowed"),
            ("fn", "reserved"),
            ("auditgate-sdk", "reserved"),
            ("Test", "reserved"),
        ] {
            let err = validate_name(bad).expect_err(bad).to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
        assert!(validate_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn type_names_avoid_the_prelude() {
        assert_eq!(type_name("mask-customer_ids"), "MaskCustomerIds");
        assert_eq!(type_name("policy"), "PolicyPolicy");
        assert_eq!(type_name("event"), "EventPolicy");
    }

    #[test]
    fn writes_the_crate_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
        let made = scaffold("mask-otp", dir.path(), Some(&sdk)).expect("scaffolds");
        for file in FILES {
            assert!(made.root.join(file).is_file(), "{file}");
        }
        let cargo = std::fs::read_to_string(made.root.join("Cargo.toml")).expect("read");
        assert!(cargo.contains("name = \"mask-otp\""), "{cargo}");
        assert!(matches!(&made.sdk, SdkSource::Given(p) if cargo.contains(&*p.to_string_lossy())), "{cargo}");
        let lib = std::fs::read_to_string(made.root.join("src/lib.rs")).expect("read");
        assert!(lib.contains("impl Policy for MaskOtp") && lib.contains("export_policy!(MaskOtp)"));

        std::fs::write(made.root.join("src/lib.rs"), "// mine").expect("write");
        let again = scaffold("mask-otp", dir.path(), Some(&sdk)).expect_err("exists");
        assert!(matches!(again, ScaffoldError::Exists(_)), "{again}");
        assert_eq!(std::fs::read_to_string(made.root.join("src/lib.rs")).expect("read"), "// mine");
    }

    #[test]
    fn finds_the_sdk_of_the_enclosing_checkout() {
        let repo = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(repo.path().join("sdk")).expect("mkdir");
        std::fs::write(repo.path().join("sdk/Cargo.toml"), "[package]\nname = \"auditgate-sdk\"\n")
            .expect("w");
        let made = scaffold("inner", &repo.path().join("policies"), None).expect("scaffolds");
        assert_eq!(made.sdk, SdkSource::Repository(PathBuf::from("../../sdk")));

        let outside = tempfile::tempdir().expect("tempdir");
        let made = scaffold("lonely", outside.path(), None).expect("scaffolds");
        assert_eq!(made.sdk, SdkSource::Placeholder);
        let bad = scaffold("x", outside.path(), Some(outside.path())).expect_err("not an sdk");
        assert!(bad.to_string().contains("auditgate-sdk"), "{bad}");
    }
}
