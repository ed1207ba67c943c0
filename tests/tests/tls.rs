//! HTTPS: `[server] tls_cert` / `tls_key` make the real gateway speak TLS, `tls_client_ca`
//! makes ingest need a client certificate, and bad TLS files stop start-up naming them.
//! A throwaway CA, server and client certificates are made here with rcgen.

use std::path::{Path, PathBuf};
use std::time::Duration;

use auditgate_tests::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use reqwest::blocking::Client;

/// A CA and what it signed, written as PEM files into a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
    server_cert: PathBuf,
    server_key: PathBuf,
    ca_file: PathBuf,
    /// The client certificate and its key, one PEM text (what reqwest's Identity wants).
    client_identity: String,
}

fn ca(name: &str) -> (Issuer<'static, KeyPair>, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("self-sign the CA");
    (Issuer::new(params, key), cert.pem())
}

fn leaf(issuer: &Issuer<'static, KeyPair>, names: &[&str], cn: &str) -> (String, String) {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("leaf params");
    params.distinguished_name.push(DnType::CommonName, cn);
    let key = KeyPair::generate().expect("leaf key");
    let cert = params.signed_by(&key, issuer).expect("sign the leaf");
    (cert.pem(), key.serialize_pem())
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("tempdir");
        let (issuer, ca_pem) = ca("auditgate test CA");
        let (server_pem, server_key_pem) =
            leaf(&issuer, &["localhost", "127.0.0.1"], "auditgate test server");
        let (client_pem, client_key_pem) = leaf(&issuer, &[], "test ingest client");
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write PEM");
            p
        };
        let server_cert = write("server.pem", &server_pem);
        let server_key = write("server.key", &server_key_pem);
        let ca_file = write("ca.pem", &ca_pem);
        Pki {
            ca_pem,
            server_cert,
            server_key,
            ca_file,
            client_identity: format!("{client_pem}{client_key_pem}"),
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A client trusting only the test CA; with the client certificate when `with_cert`.
    fn client(&self, identity: Option<&str>) -> Client {
        let ca = reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).expect("CA PEM");
        let mut builder = Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .timeout(Duration::from_secs(30));
        if let Some(pem) = identity {
            builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).expect("identity PEM"));
        }
        builder.build().expect("TLS client")
    }
}

/// `config` with extra lines in `[server]`.
fn with_server_lines(config: &str, lines: &[(&str, &Path)]) -> String {
    let mut extra = String::new();
    for (key, path) in lines {
        extra.push_str(&format!("{key} = {}\n", toml_str(&path.to_string_lossy())));
    }
    assert!(config.contains("\n[server]\n"), "policy.toml has a [server] table");
    config.replacen("\n[server]\n", &format!("\n[server]\n{extra}"), 1)
}

fn tls_config(pki: &Pki) -> String {
    with_server_lines(&default_config(), &[("tls_cert", &pki.server_cert), ("tls_key", &pki.server_key)])
}

#[test]
fn https_serves_ingest_and_queries_and_plain_http_to_the_port_fails() {
    let pki = Pki::new();
    let gw = Gateway::start_with(
        &tls_config(&pki),
        StartOptions { client: Some(pki.client(None)), ..Default::default() },
    );
    assert!(gw.base_url().starts_with("https://"), "the listening line says https: {}", gw.base_url());

    let marker = unique_token("tls-");
    let seq =
        gw.ingest_one(&json(&format!(r#"{{"action":"user.login","outcome":"success","user":"{marker}"}}"#)));
    let found = gw.query_all(&format!("user={marker}"), 10);
    assert_eq!(seqs(&found), vec![seq], "the event sent over HTTPS is found over HTTPS");

    let plain = Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let answer = plain.get(format!("http://{}/healthz", gw.addr())).send();
    assert!(answer.is_err(), "plain HTTP to the TLS port must fail, got {answer:?}");

    // A client that does not trust the test CA refuses the server.
    let untrusting = Client::builder().use_rustls_tls().timeout(Duration::from_secs(10)).build().expect("c");
    let answer = untrusting.get(format!("{}/healthz", gw.base_url())).send();
    assert!(answer.is_err(), "an unknown CA must fail verification, got {answer:?}");
}

#[test]
fn a_client_ca_makes_ingest_need_a_certificate_and_leaves_auditors_on_keys() {
    let pki = Pki::new();
    let config = with_server_lines(&tls_config(&pki), &[("tls_client_ca", &pki.ca_file)]);
    let gw =
        Gateway::start_with(&config, StartOptions { client: Some(pki.client(None)), ..Default::default() });
    let event = json(r#"{"action":"user.login","outcome":"success","user":"cert-test"}"#);
    let body = serde_json::to_vec(&event).expect("json");
    let post = |client: &Client, key: &str| {
        let resp = client
            .post(format!("{}/v1/events", gw.base_url()))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body.clone())
            .send();
        resp.map(|r| {
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().unwrap_or_default())
        })
    };

    // No client certificate: the handshake succeeds, the ingest key is not enough.
    let (status, answer) = post(&pki.client(None), INGEST_KEY).expect("the request itself goes through");
    assert_error(
        status,
        &answer,
        403,
        "client_certificate_required",
        &["client certificate", "tls_client_ca"],
    );

    // A certificate signed by the CA: accepted.
    let with_cert = pki.client(Some(&pki.client_identity));
    let (status, answer) = post(&with_cert, INGEST_KEY).expect("request with a client certificate");
    assert_eq!(status, 200, "{answer}");
    let seq = answer["results"][0]["seq"].as_u64().expect("seq");

    // The certificate does not replace the key.
    let (status, answer) = post(&with_cert, "not-a-key").expect("request");
    assert_error(status, &answer, 401, "unauthorized", &["unknown API key"]);

    // A certificate from another CA: the handshake is refused.
    let (other_ca, _) = ca("some other CA");
    let (stranger_pem, stranger_key) = leaf(&other_ca, &[], "stranger");
    let stranger = pki.client(Some(&format!("{stranger_pem}{stranger_key}")));
    let answer = post(&stranger, INGEST_KEY);
    assert!(answer.is_err(), "a certificate the CA did not sign must fail the handshake: {answer:?}");

    // Auditors keep key-only authentication (the harness's client has no certificate).
    let found = gw.query_all("user=cert-test", 10);
    assert_eq!(seqs(&found), vec![seq]);
}

/// Starts a gateway that must fail and answers its `auditgate: ` error line.
fn start_up_error(config: &str) -> String {
    let data = tempfile::tempdir().expect("tempdir");
    let config = config.replace(DATA_DIR_PLACEHOLDER, &toml_str(&data.path().join("data").to_string_lossy()));
    let (status, stderr) = serve_until_exit(&config);
    assert!(!status.success(), "the gateway must not start: {stderr}");
    stderr
        .lines()
        .find(|l| l.starts_with("auditgate: "))
        .unwrap_or_else(|| panic!("no `auditgate: ` error line in {stderr}"))
        .to_string()
}

#[test]
fn bad_tls_files_stop_start_up_naming_key_and_file() {
    let pki = Pki::new();
    let base = default_config();
    let missing = pki.path("no-such-cert.pem");

    let line =
        start_up_error(&with_server_lines(&base, &[("tls_cert", &missing), ("tls_key", &pki.server_key)]));
    assert!(line.contains("server.tls_cert") && line.contains("no-such-cert.pem"), "{line}");
    // `check-config` reads the same files and fails the same way.
    let checked = pki.path("check.toml");
    let config = with_server_lines(&base, &[("tls_cert", &missing), ("tls_key", &pki.server_key)])
        .replace(DATA_DIR_PLACEHOLDER, &toml_str(&pki.path("data").to_string_lossy()));
    std::fs::write(&checked, config).expect("write the config");
    let run = run_cli(["check-config", "--config", &checked.to_string_lossy()]);
    assert_ne!(run.code, Some(0), "check-config must fail: {}", run.stderr);
    assert!(
        run.stderr.contains("server.tls_cert") && run.stderr.contains("no-such-cert.pem"),
        "{}",
        run.stderr
    );

    // The certificate file given as the key: no private key in it.
    let line = start_up_error(&with_server_lines(
        &base,
        &[("tls_cert", &pki.server_cert), ("tls_key", &pki.server_cert)],
    ));
    assert!(
        line.contains("server.tls_key") && line.contains("server.pem") && line.contains("no private key"),
        "{line}"
    );

    // A key that belongs to another certificate.
    let other_key = pki.path("other.key");
    std::fs::write(&other_key, KeyPair::generate().expect("key").serialize_pem()).expect("write key");
    let line =
        start_up_error(&with_server_lines(&base, &[("tls_cert", &pki.server_cert), ("tls_key", &other_key)]));
    assert!(
        line.contains("other.key") && line.contains("does not belong") && line.contains("server.pem"),
        "{line}"
    );

    // Only half of the pair.
    let line = start_up_error(&with_server_lines(&base, &[("tls_cert", &pki.server_cert)]));
    assert!(line.contains("server.tls_key"), "{line}");

    // A missing client CA bundle.
    let line = start_up_error(&with_server_lines(
        &tls_config(&pki),
        &[("tls_client_ca", &pki.path("no-such-ca.pem"))],
    ));
    assert!(line.contains("server.tls_client_ca") && line.contains("no-such-ca.pem"), "{line}");
}

#[test]
fn plain_http_beyond_loopback_warns_once_naming_the_address_and_https_does_not() {
    let pki = Pki::new();
    let key = unique_token("k-");
    let minimal = format!(
        "# No development keys: they are refused beyond loopback.\n[server]\nlisten = \"0.0.0.0:0\"\n[storage]\ndata_dir = {DATA_DIR_PLACEHOLDER}\n\n[[keys]]\nname = \"k\"\nrole = \"ingest\"\nsha256 = \"{}\"\n",
        sha256_hex(key.as_bytes())
    );
    let mut gw = Gateway::start(&minimal);
    assert!(gw.stop(), "graceful stop");
    let log = std::fs::read_to_string(gw.log_path()).expect("log");
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("plain HTTP")).collect();
    assert_eq!(warnings.len(), 1, "one warning line:\n{log}");
    assert!(
        warnings[0].contains("WARN") && warnings[0].contains(&format!("0.0.0.0:{}", port(gw.addr()))),
        "{log}"
    );

    let https = with_server_lines(&minimal, &[("tls_cert", &pki.server_cert), ("tls_key", &pki.server_key)]);
    let mut gw = Gateway::start(&https);
    assert!(gw.base_url().starts_with("https://0.0.0.0:"), "{}", gw.base_url());
    assert!(gw.stop(), "graceful stop");
    let log = std::fs::read_to_string(gw.log_path()).expect("log");
    assert!(!log.contains("plain HTTP"), "no warning with TLS:\n{log}");
}

fn port(addr: &str) -> &str {
    addr.rsplit(':').next().unwrap_or("")
}
