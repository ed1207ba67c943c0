//! Checkpoint files, signed notes and note keys from arbitrary text: reading must never
//! panic; what parses must print back to something that parses to the same thing; a body
//! signed with a key must open with that key.
#![no_main]

use auditgate::ledger::checkpoint::{self, Checkpoint};
use auditgate::ledger::note::{self, NoteSigner, NoteVerifier};
use libfuzzer_sys::fuzz_target;

/// A key made for this target only (`auditgate keygen --name fuzz.example/log`).
const SIGNER: &str = "PRIVATE+KEY+fuzz.example/log+3c419003+Ackzs9tfGHaBXqnMSNBl8M/exfpDmnXt0s0e8ZPnoynK";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };

    if let Ok(cp) = Checkpoint::parse_body(text) {
        assert_eq!(Checkpoint::parse_body(&cp.body()).as_ref(), Ok(&cp), "body() does not parse back");
    }
    for n in checkpoint::split_file(text) {
        // Blank lines separate notes; other stray text (a line of a form feed, say) is kept
        // as a note so that `auditgate verify` reports it.
        assert!(!n.bytes().all(|b| b == b'\n'), "split_file returned a blank note: {n:?}");
        let _ = Checkpoint::parse_note_unverified(&n);
    }
    let _ = Checkpoint::parse_note_unverified(text);
    if let Ok((body, sigs)) = note::split_note(text) {
        assert!(body.ends_with('\n') && !sigs.trim().is_empty());
    }

    if let Ok(v) = NoteVerifier::parse(text) {
        assert_eq!(NoteVerifier::parse(&v.to_text()).as_ref(), Ok(&v), "verifier key round trip");
    }
    if let Ok(s) = NoteSigner::parse(text) {
        let again = NoteSigner::parse(&s.to_text()).expect("signer key round trip");
        assert_eq!(again.verifier(), s.verifier());
    }

    let signer = NoteSigner::parse(SIGNER).expect("the target's own key parses");
    let verifier = signer.verifier();
    let _ = verifier.open(text);
    // A body as `NoteSigner::sign` takes it: lines ending in `\n`, none of them empty.
    if text.ends_with('\n') && !text.starts_with('\n') && !text.contains("\n\n") {
        let signed = signer.sign(text);
        assert_eq!(verifier.open(&signed), Ok(text), "a signed body does not open");
        let file = checkpoint::file_entry(&signed);
        assert_eq!(checkpoint::split_file(&file), vec![signed.clone()], "a file of one note");
    }
});
