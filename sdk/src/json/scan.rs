//! The validating scanner: where a value, a string or a number ends, checked against the
//! JSON grammar (RFC 8259) on the way, without allocating or converting anything.
//!
//! What it accepts is what serde_json (the gateway's parser) accepts: the same escapes,
//! paired `\u` surrogates only, no control characters inside strings, numbers within a
//! double's range, at most [`MAX_DEPTH`] nested containers.

use super::error::{JsonError, Problem};

/// The deepest nesting of arrays and objects accepted: 127, the most serde_json accepts
/// (its recursion limit), so that an event the gateway parsed is never refused here.
pub const MAX_DEPTH: usize = 127;

pub(crate) type Scan<T> = Result<T, JsonError>;

/// What a value is, from its first bytes (a string also says whether it holds escapes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    False,
    True,
    Number,
    String { escaped: bool },
    Array,
    Object,
}

impl Kind {
    /// The JSON type's name, as [`Value::kind`](crate::Value::kind) says it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::False | Kind::True => "boolean",
            Kind::Number => "number",
            Kind::String { .. } => "string",
            Kind::Array => "array",
            Kind::Object => "object",
        }
    }
}

fn fail<T>(problem: Problem, b: &[u8], at: usize) -> Scan<T> {
    let problem = if at >= b.len() { Problem::Eof } else { problem };
    Err(JsonError::at(problem, at))
}

/// The first offset at or after `i` that is not JSON whitespace.
#[inline]
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = b.get(i) {
        i += 1;
    }
    i
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `word` that is `"`, `\` or below 0x20. Exact for the
/// lowest such byte (a borrow only ever flags bytes above a flagged one), which is the
/// only one used.
#[inline]
fn special_bytes(word: u64) -> u64 {
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let zero_quote = quote.wrapping_sub(ONES) & !quote;
    let zero_backslash = backslash.wrapping_sub(ONES) & !backslash;
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    (zero_quote | zero_backslash | control) & HIGH
}

/// The string whose opening quote is at `open`: the offset of its closing quote, and
/// whether it holds escapes. Eight bytes at a time between escapes.
pub(crate) fn string_end(b: &[u8], open: usize) -> Scan<(usize, bool)> {
    let mut i = open + 1;
    let mut escaped = false;
    loop {
        while let Some(chunk) = b.get(i..i + 8) {
            let Ok(word) = <[u8; 8]>::try_from(chunk) else { break };
            let special = special_bytes(u64::from_le_bytes(word));
            if special != 0 {
                i += (special.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        match b.get(i) {
            None => return fail(Problem::Eof, b, i),
            Some(b'"') => return Ok((i, escaped)),
            Some(b'\\') => {
                escaped = true;
                i = escape_end(b, i)?;
            }
            Some(&c) if c < 0x20 => return fail(Problem::Control, b, i),
            Some(_) => i += 1,
        }
    }
}

/// The escape whose backslash is at `i`: where it ends. A `\u` escape of a high surrogate
/// must be followed by one of a low surrogate; a low surrogate alone is refused.
fn escape_end(b: &[u8], i: usize) -> Scan<usize> {
    match b.get(i + 1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 2),
        Some(b'u') => match hex4(b, i + 2)? {
            0xDC00..=0xDFFF => fail(Problem::Surrogate, b, i),
            0xD800..=0xDBFF => {
                if b.get(i + 6..i + 8) != Some(b"\\u") {
                    return fail(Problem::Surrogate, b, i + 6);
                }
                match hex4(b, i + 8)? {
                    0xDC00..=0xDFFF => Ok(i + 12),
                    _ => fail(Problem::Surrogate, b, i + 6),
                }
            }
            _ => Ok(i + 6),
        },
        _ => fail(Problem::Escape, b, i + 1),
    }
}

/// The four hex digits at `i` as a UTF-16 code unit.
pub(crate) fn hex4(b: &[u8], i: usize) -> Scan<u16> {
    let mut unit = 0u16;
    for at in i..i + 4 {
        let digit = match b.get(at) {
            Some(c @ b'0'..=b'9') => c - b'0',
            Some(c @ b'a'..=b'f') => c - b'a' + 10,
            Some(c @ b'A'..=b'F') => c - b'A' + 10,
            _ => return fail(Problem::Escape, b, at),
        };
        unit = unit << 4 | u16::from(digit);
    }
    Ok(unit)
}

fn digits_end(b: &[u8], mut i: usize) -> usize {
    while let Some(b'0'..=b'9') = b.get(i) {
        i += 1;
    }
    i
}

/// The number starting at `start`: where it ends. Refuses what serde_json refuses,
/// including numbers beyond a double's range (`1e400`).
pub(crate) fn number_end(b: &[u8], start: usize) -> Scan<usize> {
    let mut i = start;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits_end(b, i + 1),
        _ => return fail(Problem::Number, b, i),
    }
    let mut plain = true;
    if b.get(i) == Some(&b'.') {
        plain = false;
        let end = digits_end(b, i + 1);
        if end == i + 1 {
            return fail(Problem::Number, b, end);
        }
        i = end;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        plain = false;
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let end = digits_end(b, i);
        if end == i {
            return fail(Problem::Number, b, end);
        }
        i = end;
    }
    // Only a fraction, an exponent or many digits can leave a double's range.
    if !plain || i - start > 18 {
        let text = std::str::from_utf8(&b[start..i]).unwrap_or("x");
        if !text.parse::<f64>().is_ok_and(f64::is_finite) {
            return fail(Problem::Number, b, start);
        }
    }
    Ok(i)
}

/// A scalar at `i` (no whitespace before it): its kind and where it ends.
fn scalar_end(b: &[u8], i: usize) -> Scan<(Kind, usize)> {
    let literal = |word: &[u8], kind: Kind| {
        let found = &b[i.min(b.len())..b.len().min(i + word.len())];
        if found == word {
            Ok((kind, i + word.len()))
        } else if word.starts_with(found) {
            fail(Problem::Eof, b, b.len())
        } else {
            fail(Problem::Literal, b, i)
        }
    };
    match b.get(i) {
        Some(b'"') => string_end(b, i).map(|(close, escaped)| (Kind::String { escaped }, close + 1)),
        Some(b'-' | b'0'..=b'9') => number_end(b, i).map(|end| (Kind::Number, end)),
        Some(b't') => literal(b"true", Kind::True),
        Some(b'f') => literal(b"false", Kind::False),
        Some(b'n') => literal(b"null", Kind::Null),
        _ => fail(Problem::ExpectedValue, b, i),
    }
}

/// The value at `i` (no whitespace before it), nested containers included: its kind and
/// where it ends. `outer` containers are already open around it (for the depth limit).
pub(crate) fn value_end(b: &[u8], i: usize, outer: usize) -> Scan<(Kind, usize)> {
    match b.get(i) {
        Some(b'{') => container_end(b, i, outer).map(|end| (Kind::Object, end)),
        Some(b'[') => container_end(b, i, outer).map(|end| (Kind::Array, end)),
        _ => scalar_end(b, i),
    }
}

/// The containers open during a scan: which are objects, one bit per level.
struct Nesting {
    objects: u128,
    open: usize,
    outer: usize,
}

impl Nesting {
    fn enter(&mut self, bracket: u8, at: usize) -> Scan<()> {
        if self.outer + self.open >= MAX_DEPTH {
            return Err(JsonError::at(Problem::TooDeep, at));
        }
        let bit = 1u128 << self.open;
        if bracket == b'{' {
            self.objects |= bit;
        } else {
            self.objects &= !bit;
        }
        self.open += 1;
        Ok(())
    }

    fn in_object(&self) -> bool {
        self.open > 0 && self.objects & (1u128 << (self.open - 1)) != 0
    }

    fn close(&self) -> u8 {
        if self.in_object() { b'}' } else { b']' }
    }

    /// Closes the innermost container; true when none is left open.
    fn leave(&mut self) -> bool {
        self.open -= 1;
        self.open == 0
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Right after an opening bracket: an entry or the closing bracket.
    Open,
    /// After a comma: an entry.
    Entry,
    /// After an entry: a comma or the closing bracket.
    After,
}

/// The container whose opening bracket is at `open`: where it ends (after its closing
/// bracket). Iterative: nesting costs one bit per level, not a stack frame.
pub(crate) fn container_end(b: &[u8], open: usize, outer: usize) -> Scan<usize> {
    let mut nesting = Nesting { objects: 0, open: 0, outer };
    let bracket = b.get(open).copied().unwrap_or(0);
    if bracket != b'{' && bracket != b'[' {
        return fail(Problem::ExpectedValue, b, open);
    }
    nesting.enter(bracket, open)?;
    let mut i = open + 1;
    let mut state = State::Open;
    loop {
        i = skip_ws(b, i);
        let Some(&c) = b.get(i) else { return fail(Problem::Eof, b, i) };
        if state == State::After {
            if c == b',' {
                i += 1;
                state = State::Entry;
            } else if c == nesting.close() {
                i += 1;
                if nesting.leave() {
                    return Ok(i);
                }
            } else if nesting.in_object() {
                return fail(Problem::ExpectedCommaOrBrace, b, i);
            } else {
                return fail(Problem::ExpectedCommaOrBracket, b, i);
            }
            continue;
        }
        if state == State::Open && c == nesting.close() {
            i += 1;
            if nesting.leave() {
                return Ok(i);
            }
            state = State::After;
            continue;
        }
        if nesting.in_object() {
            if c != b'"' {
                return fail(Problem::ExpectedKey, b, i);
            }
            let (close, _) = string_end(b, i)?;
            i = skip_ws(b, close + 1);
            if b.get(i) != Some(&b':') {
                return fail(Problem::ExpectedColon, b, i);
            }
            i = skip_ws(b, i + 1);
        }
        match b.get(i) {
            Some(&bracket @ (b'{' | b'[')) => {
                nesting.enter(bracket, i)?;
                i += 1;
                state = State::Open;
            }
            _ => {
                i = scalar_end(b, i)?.1;
                state = State::After;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(text: &str) -> Scan<(Kind, usize)> {
        value_end(text.as_bytes(), 0, 0)
    }

    fn problem(text: &str) -> Option<Problem> {
        end(text).err().map(|e| e.problem)
    }

    #[test]
    fn finds_the_end_of_every_kind_of_value() {
        for (text, kind) in [
            ("null", Kind::Null),
            ("true", Kind::True),
            ("false", Kind::False),
            ("0", Kind::Number),
            ("-12.5e+3", Kind::Number),
            ("\"\"", Kind::String { escaped: false }),
            ("\"plain text that is longer than eight bytes\"", Kind::String { escaped: false }),
            (r#""a\"b\\c\/\b\f\n\r\t\u00e9\ud83d\ude00""#, Kind::String { escaped: true }),
            ("[]", Kind::Array),
            (r#"[1,"x",[[]],{"a":{}}]"#, Kind::Array),
            (r#"{ "a" : [ 1 , 2 ] , "b" : { } }"#, Kind::Object),
        ] {
            assert_eq!(end(text), Ok((kind, text.len())), "{text}");
            // what follows is not looked at
            assert_eq!(end(&format!("{text} ,x")), Ok((kind, text.len())), "{text}");
        }
    }

    #[test]
    fn the_quote_search_sees_every_position_of_a_word() {
        for at in 0..20 {
            let text = format!("\"{}\\n{}\" ", "a".repeat(at), "b".repeat(20 - at));
            assert_eq!(string_end(text.as_bytes(), 0), Ok((text.len() - 2, true)), "{text}");
            let text = format!("\"{}\"{}", "é".repeat(at), "\"".repeat(3));
            assert_eq!(string_end(text.as_bytes(), 0), Ok((1 + 2 * at, false)), "{text}");
            let text = format!("\"{}\u{1}\"", "a".repeat(at));
            assert_eq!(
                string_end(text.as_bytes(), 0).map_err(|e| (e.problem, e.offset)),
                Err((Problem::Control, at + 1))
            );
        }
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for (text, why) in [
            ("", Problem::Eof),
            ("nul", Problem::Eof),
            ("nulL", Problem::Literal),
            ("tru", Problem::Eof),
            ("-", Problem::Eof),
            ("-x", Problem::Number),
            ("1.", Problem::Eof),
            ("1.e5", Problem::Number),
            ("1e", Problem::Eof),
            ("1e400", Problem::Number),
            ("-1e400", Problem::Number),
            (&"9".repeat(400), Problem::Number),
            ("\"abc", Problem::Eof),
            ("\"a\u{1f}b\"", Problem::Control),
            (r#""\x""#, Problem::Escape),
            (r#""\u12G4""#, Problem::Escape),
            (r#""\udc00""#, Problem::Surrogate),
            (r#""\ud800""#, Problem::Surrogate),
            (r#""\ud800\n""#, Problem::Surrogate),
            (r#""\ud800\u0041""#, Problem::Surrogate),
            ("[1,]", Problem::ExpectedValue),
            ("[1 2]", Problem::ExpectedCommaOrBracket),
            ("[1}", Problem::ExpectedCommaOrBracket),
            (r#"{"a":1]"#, Problem::ExpectedCommaOrBrace),
            (r#"{"a" 1}"#, Problem::ExpectedColon),
            (r#"{"a":1,}"#, Problem::ExpectedKey),
            ("{1:2}", Problem::ExpectedKey),
            ("{\"a\":", Problem::Eof),
            ("[", Problem::Eof),
            ("x", Problem::ExpectedValue),
            ("'a'", Problem::ExpectedValue),
        ] {
            assert_eq!(problem(text), Some(why), "{text}");
            assert!(serde_json::from_str::<serde_json::Value>(text).is_err(), "{text}");
        }
        // Numbers serde_json reads.
        for text in ["1e-400", "-0", "0.5", "18446744073709551616", "1E+2", &"9".repeat(300)] {
            assert_eq!(end(text), Ok((Kind::Number, text.len())), "{text}");
        }
    }

    #[test]
    fn nesting_is_limited_like_serde_json() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(end(&nested(MAX_DEPTH)), Ok((Kind::Array, 2 * MAX_DEPTH)));
        assert!(serde_json::from_str::<serde_json::Value>(&nested(MAX_DEPTH)).is_ok());
        assert_eq!(problem(&nested(MAX_DEPTH + 1)), Some(Problem::TooDeep));
        assert!(serde_json::from_str::<serde_json::Value>(&nested(MAX_DEPTH + 1)).is_err());
        // Levels already open count.
        let b = nested(10);
        assert_eq!(value_end(b.as_bytes(), 0, MAX_DEPTH - 10), Ok((Kind::Array, 20)));
        assert!(value_end(b.as_bytes(), 0, MAX_DEPTH - 9).is_err());
        // Objects and arrays alternate: each level closes with its own bracket.
        let mixed = format!("{}1{}", r#"{"a":["#.repeat(60), "]}".repeat(60));
        assert_eq!(end(&mixed), Ok((Kind::Object, mixed.len())));
        let crossed = format!("{}1{}", r#"{"a":["#.repeat(3), "}]".repeat(3));
        assert_eq!(problem(&crossed), Some(Problem::ExpectedCommaOrBracket));
    }
}
