//! The bundled policies, compiled to wasm32-wasip2 components by `build.rs` and embedded in
//! the binary, so one binary is a complete product (`module = "builtin:NAME"`).

/// (name, component bytes) of every bundled policy.
const BUILTINS: &[(&str, &[u8])] = &[
    ("redact-secrets", include_bytes!(concat!(env!("OUT_DIR"), "/redact_secrets.wasm"))),
    ("enrich-context", include_bytes!(concat!(env!("OUT_DIR"), "/enrich_context.wasm"))),
    ("alert-bruteforce", include_bytes!(concat!(env!("OUT_DIR"), "/alert_bruteforce.wasm"))),
    ("alert-password-spray", include_bytes!(concat!(env!("OUT_DIR"), "/alert_password_spray.wasm"))),
    ("alert-anomaly", include_bytes!(concat!(env!("OUT_DIR"), "/alert_anomaly.wasm"))),
];

/// The component of the bundled policy `name`.
pub fn module(name: &str) -> Option<&'static [u8]> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, bytes)| *bytes)
}

/// Names of the bundled policies.
pub fn names() -> Vec<&'static str> {
    BUILTINS.iter().map(|(n, _)| *n).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn bundled_policies_are_components() {
        for name in super::names() {
            let bytes = super::module(name).expect("present");
            // A component's preamble: magic, then version 0x0d and layer 1.
            assert_eq!(&bytes[..8], b"\0asm\x0d\x00\x01\x00", "{name} is not a component");
        }
    }
}
