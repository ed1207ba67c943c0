use super::*;

fn matcher(builder: Builder) -> NameMatcher {
    match builder.build() {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    }
}

/// The shared table of real-world names (`tests/fixtures/secret-names.json`).
fn table() -> (Vec<String>, Vec<String>) {
    let text = include_str!("../../../../tests/fixtures/secret-names.json");
    let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let list = |key: &str| -> Vec<String> {
        value[key]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default()
    };
    (list("secret"), list("harmless"))
}

#[test]
fn splits_names_into_words_as_people_write_them() {
    let cases: &[(&str, &[&str])] = &[
        ("clientSecret", &["client", "secret"]),
        ("X-Auth-Token", &["x", "auth", "token"]),
        ("HTTP_X_API_KEY", &["http", "x", "api", "key"]),
        ("APIKey", &["api", "key"]),
        ("XMLHttpRequest", &["xml", "http", "request"]),
        ("db-password", &["db", "password"]),
        ("spring.datasource.password", &["spring", "datasource", "password"]),
        ("cvv2", &["cvv", "2"]),
        ("PGPASSWORD", &["pgpassword"]),
        ("__weird__ name!!", &["weird", "name"]),
        ("MotDePasse", &["mot", "de", "passe"]),
        ("ContraseñaNueva", &["contraseña", "nueva"]),
        ("", &[]),
        ("--", &[]),
    ];
    for (name, want) in cases {
        assert_eq!(words(name), *want, "{name}");
    }
    // Long names take the allocating path and split the same way.
    let long = format!("{}_clientSecret", "segment_".repeat(20));
    let w = words(&long);
    assert_eq!(w.len(), 22);
    assert_eq!(&w[20..], ["client", "secret"]);
}

#[test]
fn the_issue_examples_are_secret() {
    let m = NameMatcher::secrets();
    for name in [
        "X-Auth-Token",
        "HTTP_X_API_KEY",
        "clientSecret",
        "db-password",
        "AWS_SECRET_ACCESS_KEY",
        "Proxy-Authorization",
        "stripe_api_key",
        "PGPASSWORD",
        "mysqlpassword",
    ] {
        assert!(m.matches(name), "{name}");
    }
}

#[test]
fn the_shared_table_holds_with_the_defaults() {
    let m = NameMatcher::secrets();
    let (secret, harmless) = table();
    assert!(secret.len() >= 40 && harmless.len() >= 20, "the table is too short");
    let missed: Vec<&String> = secret.iter().filter(|n| !m.matches(n)).collect();
    let masked: Vec<&String> = harmless.iter().filter(|n| m.matches(n)).collect();
    assert!(missed.is_empty(), "secret names not matched: {missed:?}");
    assert!(masked.is_empty(), "harmless names matched: {masked:?}");
}

#[test]
fn descriptors_flags_and_harmless_compounds_describe_a_secret() {
    let m = NameMatcher::secrets();
    for harmless in [
        "password_policy",
        "PasswordPolicy",
        "X-Token-Count",
        "HTTP_X_TOKEN_COUNT",
        "token_expires_at",
        "passwordMinLength",
        "is_secret",
        "requires_auth",
        "cookie_consent",
        "prompt_tokens",
    ] {
        assert!(!m.matches(harmless), "{harmless}");
    }
    // A descriptor before the secret word, or a non-descriptor after it, keeps it secret.
    for secret in
        ["password_reset_token", "password_hash", "secret_id", "auth_header", "token_value", "count_token"]
    {
        assert!(m.matches(secret), "{secret}");
    }
}

#[test]
fn configured_names_extend_the_defaults_and_match_the_same_way() {
    let m = matcher(NameMatcher::builder().secret_names(["card_holder", "x-*-signature"]));
    for yes in
        ["card_holder", "cardHolder", "X-Card-Holder", "HTTP_CARD_HOLDER", "X-Hub-Signature", "password"]
    {
        assert!(m.matches(yes), "{yes}");
    }
    for no in ["card", "holder", "signature", "x_signature"] {
        assert!(!m.matches(no), "{no}");
    }
    assert!(m.missing_defaults().is_empty());
}

#[test]
fn harmless_names_can_be_added() {
    let m = matcher(NameMatcher::builder().harmless_names(["auth_user", "X-Secret-Santa"]));
    assert!(!m.matches("auth_user"));
    assert!(!m.matches("authUser"));
    assert!(!m.matches("secret_santa"));
    assert!(m.matches("auth"));
    assert!(!m.matches("token_count"), "the built-in harmless names stay");
}

#[test]
fn replacing_the_defaults_is_explicit_and_reports_what_it_drops() {
    let m = matcher(NameMatcher::builder().secret_names(["password", "token"]).replace_secret_words(true));
    assert!(m.matches("db_password") && m.matches("X-Auth-Token"));
    assert!(!m.matches("clientSecret"), "replaced: `secret` is no longer a secret word");
    assert!(!m.matches("PGPASSWORD"), "replaced: no suffix words");
    let missing = m.missing_defaults();
    assert!(missing.contains(&"secret") && missing.contains(&"api key"), "{missing:?}");
    assert!(!missing.contains(&"password") && !missing.contains(&"token"), "{missing:?}");

    let h = matcher(NameMatcher::builder().replace_harmless_names(true));
    assert!(h.matches("max_tokens"));
    assert!(h.missing_defaults().is_empty(), "masking more is not a loss");

    let all = matcher(NameMatcher::builder().secret_names(["*password*"]).replace_secret_words(true));
    assert!(all.matches("oldpassword") && all.matches("Password-Old"));
    assert!(all.missing_defaults().contains(&"token"));
    assert!(!all.missing_defaults().contains(&"password"));
}

#[test]
fn new_matches_exactly_the_given_names() {
    let m = match NameMatcher::new(["api_key", "*_secret"]) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    assert!(m.matches("API-KEY") && m.matches("apiKey") && m.matches("client_secret"));
    assert!(!m.matches("password") && !m.matches("secret"));
    assert!(NameMatcher::new(Vec::<String>::new()).is_ok_and(|m| m.is_empty() && !m.matches("password")));
}

#[test]
fn bad_entries_are_refused() {
    assert_eq!(NameMatcher::new(["ok", ""]).err(), Some(NamePatternError::Empty(1)));
    assert_eq!(NameMatcher::new(["ok", "--"]).err(), Some(NamePatternError::Empty(1)));
    assert_eq!(
        NameMatcher::new(["**"]).err().map(|e| e.to_string()),
        Some("name pattern #0 (\"**\") matches every name".to_string())
    );
}

#[test]
fn globs_match_the_joined_words() {
    assert!(glob(b"a*b*c", b"axxbyyc"));
    assert!(glob(b"a*b*c", b"abbbc"));
    assert!(!glob(b"a*b*c", b"acb"));
    assert!(glob(b"**", b""));
    assert_eq!(normalize_glob("X-*-Token"), "x_*_token");
    assert_eq!(normalize_glob("*_secret"), "*_secret");
    assert_eq!(normalize_glob("*Password*"), "*password*");
}

#[test]
fn word_lists_are_lowercase_single_words_and_sorted_where_searched() {
    let mut sorted = DESCRIPTOR_WORDS.to_vec();
    sorted.sort_unstable();
    assert_eq!(sorted, DESCRIPTOR_WORDS, "DESCRIPTOR_WORDS must stay sorted (binary search)");
    for w in DESCRIPTOR_WORDS.iter().chain(SUFFIX_WORDS).chain(FLAG_WORDS).chain(IGNORED_PREFIXES) {
        assert_eq!(words(w), [*w], "{w} must be one lowercase word");
    }
    for phrase in DEFAULT_SECRET_WORDS {
        assert_eq!(words(phrase).join(" "), *phrase, "{phrase} must be lowercase words");
        assert!(NameMatcher::secrets().covers_default(phrase), "{phrase}");
    }
    for name in DEFAULT_HARMLESS_NAMES {
        assert_eq!(words(name).join("_"), *name, "{name} must be snake_case words");
        assert!(!NameMatcher::secrets().matches(name), "{name}");
    }
}
