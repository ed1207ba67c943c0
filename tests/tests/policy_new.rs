//! `auditgate policy new`: the scaffolded crate passes its own `cargo test` as written,
//! and the command refuses bad names and existing directories.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use auditgate_tests::*;

fn auditgate(args: &[&str], dir: &Path) -> Output {
    Command::new(binary_path())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run auditgate")
}

#[test]
fn the_scaffolded_crate_passes_its_own_tests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sdk = workspace_root().join("sdk");
    let out = auditgate(
        &["policy", "new", "scaffold-check", "--dir", "policies", "--sdk", &sdk.to_string_lossy()],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let root = dir.path().join("policies/scaffold-check");
    assert!(stdout.contains("created") && stdout.contains("scaffold-check"), "{stdout}");
    for file in ["Cargo.toml", "src/lib.rs", "tests/policy.rs", "README.md"] {
        assert!(root.join(file).is_file(), "{file} missing");
    }
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    assert!(readme.contains("cargo test") && readme.contains("cargo build --release --target wasm32-wasip2"));

    // The workspace's lock file pins the versions this repository builds with, so the
    // crate resolves offline and reuses what is already compiled in the target dir.
    std::fs::copy(workspace_root().join("Cargo.lock"), root.join("Cargo.lock")).expect("copy Cargo.lock");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let test = Command::new(cargo)
        .args(["test", "--offline", "--quiet"])
        .env("CARGO_TARGET_DIR", target_dir())
        .current_dir(&root)
        .stdin(Stdio::null())
        .output()
        .expect("run cargo test");
    let report =
        format!("{}{}", String::from_utf8_lossy(&test.stdout), String::from_utf8_lossy(&test.stderr));
    assert!(test.status.success(), "cargo test in the scaffolded crate failed:\n{report}");
    assert!(report.contains("3 passed"), "the three native tests ran:\n{report}");
}

#[test]
fn bad_names_and_existing_directories_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, needle) in
        [("9lives", "must start with a letter"), ("my policy", "is not allowed"), ("fn", "reserved")]
    {
        let out = auditgate(&["policy", "new", name], dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} accepted");
        assert!(stderr.contains(needle) && stderr.contains(name), "{name}: {stderr}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).expect("read_dir").count(), 0, "nothing was written");

    std::fs::create_dir(dir.path().join("taken")).expect("mkdir");
    std::fs::write(dir.path().join("taken/keep.txt"), "mine").expect("write");
    let out = auditgate(&["policy", "new", "taken"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("already exists"), "{stderr}");
    assert_eq!(std::fs::read_to_string(dir.path().join("taken/keep.txt")).expect("read"), "mine");
    assert!(!dir.path().join("taken/Cargo.toml").exists());

    // Outside a checkout and without --sdk, the crate is written with a clear note.
    let out = auditgate(&["policy", "new", "lonely"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("--sdk"), "{stdout}");
}
