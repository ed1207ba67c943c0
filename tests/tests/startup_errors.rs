//! A gateway that cannot start says why once, on one line, naming what is wrong.

use auditgate_tests::*;

#[test]
fn a_missing_lookup_table_stops_start_up_and_is_named_once() {
    let data = tempfile::tempdir().expect("tempdir");
    let missing = data.path().join("no-such-table.csv");
    let config = default_config()
        .replace(DATA_DIR_PLACEHOLDER, &toml_str(&data.path().join("data").to_string_lossy()))
        .replace(
            &format!("path = \"{}/examples/geo-cidr.csv\"", workspace_root().display()),
            &format!("path = {}", toml_str(&missing.to_string_lossy())),
        );
    assert!(config.contains("no-such-table.csv"), "the test must point the geo table elsewhere");

    let (status, stderr) = serve_until_exit(&config);
    assert!(!status.success(), "the gateway must not start: {stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("auditgate: "))
        .unwrap_or_else(|| panic!("no `auditgate: ` error line in {stderr}"));
    assert!(line.contains("cannot load the policy chain"), "{line}");
    assert!(line.contains("lookup table `geo`"), "{line}");
    assert_eq!(line.matches("no-such-table.csv").count(), 1, "the cause is named once: {line}");
}
