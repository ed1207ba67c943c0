//! Hostile test policy `foreign-import-policy`: a component built against the real policy
//! world plus an import the gateway does not offer (`test:foreign-import/net`). It calls
//! the import from `evaluate`, so the import stays in the component. The gateway must
//! refuse to load it with an error naming the import, not start with it and fail later.

wit_bindgen::generate!({
    path: ["../../../sdk/wit", "wit"],
    world: "test:foreign-import/policy-with-net",
    generate_all,
});

/// Tries to open a connection for every event.
struct ForeignImport;

impl Guest for ForeignImport {
    fn init(_config: Vec<u8>) -> Result<(), String> {
        Ok(())
    }

    fn evaluate(events: Vec<Vec<u8>>) -> Vec<Result<Decision, String>> {
        events
            .iter()
            .map(|event| {
                let host = String::from_utf8_lossy(event).into_owned();
                let handle = test::foreign_import::net::connect(&host);
                Ok(Decision {
                    patches: Vec::new(),
                    alerts: Vec::new(),
                    tags: vec![format!("connected-{handle}")],
                })
            })
            .collect()
    }
}

export!(ForeignImport);
