//! Builds the bundled policies (crates under `policies/`) for `wasm32-wasip2` and puts the
//! components in OUT_DIR, where `src/builtin.rs` embeds them.
//!
//! A nested `cargo build` with its own target directory (`<target>/wasm-policies`), so it
//! never waits on the lock of the build that runs this script. The wrapper variables of
//! the outer build (clippy, coverage, rustflags for the host) are removed: they are for
//! the host target, not for wasm.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (crate name, file stem of the component).
const BUNDLED: &[(&str, &str)] = &[
    ("redact-secrets", "redact_secrets"),
    ("enrich-context", "enrich_context"),
    ("alert-bruteforce", "alert_bruteforce"),
    ("alert-password-spray", "alert_password_spray"),
    ("alert-anomaly", "alert_anomaly"),
];
const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "policy";

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.parent().expect("gateway/ sits in the workspace").to_path_buf();
    let out_dir = PathBuf::from(env("OUT_DIR"));
    for dir in ["sdk/src", "sdk/wit", "sdk/Cargo.toml", "policies", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }

    let target_dir = policy_target_dir(&workspace, &out_dir);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace).args(["build", "--target", TARGET, "--profile", PROFILE]);
    for (krate, _) in BUNDLED {
        cmd.args(["-p", krate]);
    }
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_DIR",
    ] {
        cmd.env_remove(var);
    }
    // Set after the removals above: the outer build's CARGO_TARGET_DIR is one of them.
    cmd.env("CARGO_TARGET_DIR", &target_dir);
    let status =
        cmd.status().unwrap_or_else(|e| panic!("cannot run cargo to build the bundled policies: {e}"));
    if !status.success() {
        panic!(
            "building the bundled policies for {TARGET} failed (see above). If the target is \
             missing, install it with `rustup target add {TARGET}` (the README's commands do this)."
        );
    }
    for (_, stem) in BUNDLED {
        let built = target_dir.join(TARGET).join(PROFILE).join(format!("{stem}.wasm"));
        let dest = out_dir.join(format!("{stem}.wasm"));
        std::fs::copy(&built, &dest)
            .unwrap_or_else(|e| panic!("copying {} to {}: {e}", built.display(), dest.display()));
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name} for build scripts"))
}

/// `<target dir>/wasm-policies`, where the target dir is the one holding OUT_DIR
/// (`<target>/<profile>/build/<pkg>/out`, or one level deeper when cross-compiling).
fn policy_target_dir(workspace: &Path, out_dir: &Path) -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("wasm-policies");
    }
    out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(|t| t.join("wasm-policies"))
        .unwrap_or_else(|| workspace.join("target").join("wasm-policies"))
}
