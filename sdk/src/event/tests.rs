use super::*;
use crate::json::MAX_DEPTH;
use crate::pointer::Segment;

const LOGIN: &[u8] = br#"{
    "action": "user.login", "outcome": "failure", "user": "alice", "ip": "192.0.2.7",
    "details": {"reason": "wrong_password", "attempts": 3, "a/b": {"c~d": "deep"},
                "list": ["x", {"k": "y"}, 5, ["z"]]},
    "changes": {"before": {"role": "user"}, "after": {"role": "admin"}}
}"#;

fn pointers_and_strings(e: &Event) -> Vec<(String, String)> {
    e.strings().map(|(p, s)| (p.to_string(), s.to_string())).collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(p, s)| (p.to_string(), s.to_string())).collect()
}

/// Whether `s` points into `bytes` (borrowed, not copied).
fn borrowed_from(s: &str, bytes: &[u8]) -> bool {
    bytes.as_ptr_range().contains(&s.as_ptr())
}

#[test]
fn top_level_accessors() {
    let bytes = LOGIN;
    let e = Event::new(bytes);
    assert!(!e.is_parsed());
    assert_eq!(e.action(), Some("user.login"));
    assert!(e.is_parsed());
    assert_eq!(e.outcome(), Some("failure"));
    assert_eq!(e.user(), Some("alice"));
    assert_eq!(e.ip(), Some("192.0.2.7"));
    assert!(
        e.user().is_some_and(|u| borrowed_from(u, bytes)),
        "{:?} {:?}",
        e.user().map(str::as_ptr),
        bytes.as_ptr_range()
    );
    assert_eq!(e.str("/details/reason"), Some("wrong_password"));
    assert_eq!(e.str("/details/attempts"), None);
    assert_eq!(e.get("/details/attempts").and_then(Value::as_u64), Some(3));
    assert_eq!(e.str("/details/a~1b/c~0d"), Some("deep"));
    assert_eq!(e.str("/details/list/1/k"), Some("y"));
    assert_eq!(e.str("/details/list/3/0"), Some("z"));
    assert_eq!(e.str("/changes/after/role"), Some("admin"));
    assert_eq!(e.get("/nope"), None);
    assert_eq!(e.get("/details/list/4"), None);
    assert_eq!(e.get("/details/list/01"), None);
    assert_eq!(e.get("/details/reason/x"), None);
    assert_eq!(e.get("details"), None, "a pointer starts with /");
    assert_eq!(e.get("/details/a~2b"), None, "~2 is no escape");
    assert!(e.get("").is_some_and(|root| root.as_object().is_some()));
    assert_eq!(e.field("details").map(Value::kind), Some("object"));
    assert_eq!(e.field("missing"), None);
    assert!(e.check().is_ok());
    let names: Vec<&str> = e.members().map(|(name, _)| name).collect();
    assert_eq!(names, ["action", "outcome", "user", "ip", "details", "changes"]);
}

#[test]
fn objects_and_arrays_read_in_place() {
    let e = Event::new(LOGIN);
    let details = e.field("details").and_then(Value::as_object).expect("an object");
    assert_eq!(details.len(), 4);
    assert!(!details.is_empty());
    let names: Vec<&str> = details.iter().map(|(k, _)| k).collect();
    assert_eq!(names, ["reason", "attempts", "a/b", "list"]);
    let list = details.get("list").and_then(Value::as_array).expect("an array");
    assert_eq!(list.len(), 4);
    let kinds: Vec<&str> = list.iter().map(Value::kind).collect();
    assert_eq!(kinds, ["string", "object", "number", "array"]);
    assert_eq!(list.get(1).and_then(|v| v.member("k")).and_then(Value::as_str), Some("y"));
    assert_eq!(list.get(4), None);
    let empty = Event::new(br#"{"o": {}, "a": [ ]}"#);
    assert!(empty.field("o").and_then(Value::as_object).is_some_and(Object::is_empty));
    assert!(
        empty.field("a").and_then(Value::as_array).is_some_and(|a| a.is_empty() && a.iter().count() == 0)
    );
    // Display and to_json give compact JSON.
    assert_eq!(e.get("/details/list").map(|v| v.to_string()).as_deref(), Some(r#"["x",{"k":"y"},5,["z"]]"#));
    let expected: serde_json::Value = serde_json::from_slice(LOGIN).expect("valid JSON");
    assert_eq!(e.root().map(Value::to_json), Some(expected));
    // Equality is structural.
    let other = Event::new(br#"{"list": ["x", {"k": "y"}, 5, ["z"]]}"#);
    assert_eq!(e.get("/details/list"), other.get("/list"));
    assert_ne!(e.get("/details/list"), other.get(""));
}

#[test]
fn numbers_convert_like_serde_json() {
    let e = Event::new(
        br#"{"u": 18446744073709551615, "i": -9223372036854775808, "f": 2.5, "e": 4.111111111111111e15,
             "z": -0, "big": 18446744073709551616, "one": 1.0}"#,
    );
    let n = |name: &str| e.field(name).and_then(Value::as_number).expect("a number");
    assert_eq!(n("u").as_u64(), Some(u64::MAX));
    assert_eq!(n("u").as_i64(), None);
    assert_eq!(n("i").as_i64(), Some(i64::MIN));
    assert_eq!(n("i").as_u64(), None);
    assert_eq!(n("f").as_f64(), Some(2.5));
    assert_eq!(n("f").as_i64(), None);
    assert_eq!(n("e").as_f64(), Some(4.111111111111111e15));
    assert_eq!(n("e").as_u64(), None, "a float is not an integer, as in serde_json");
    assert_eq!(n("e").as_str(), "4.111111111111111e15");
    assert_eq!(n("big").as_u64(), None);
    assert_eq!(n("big").as_f64(), Some(18446744073709551616.0));
    assert_eq!(n("one").as_u64(), None);
    for name in ["u", "i", "f", "e", "z", "big", "one"] {
        let ours = n(name).to_serde();
        let theirs: serde_json::Value =
            serde_json::from_slice(e.bytes()).map(|v: serde_json::Value| v[name].clone()).expect("valid");
        assert_eq!(ours.map(serde_json::Value::Number), Some(theirs), "{name}");
    }
    assert_eq!(e.field("one"), Event::new(br#"{"x":1.0}"#).field("x"));
    assert_ne!(e.field("one"), Event::new(br#"{"x":1}"#).field("x"), "1.0 is not 1, as in serde_json");
}

#[test]
fn strings_with_pointers_over_nested_objects_and_arrays() {
    let e = Event::new(LOGIN);
    assert_eq!(
        pointers_and_strings(&e),
        pairs(&[
            ("/action", "user.login"),
            ("/outcome", "failure"),
            ("/user", "alice"),
            ("/ip", "192.0.2.7"),
            ("/details/reason", "wrong_password"),
            ("/details/a~1b/c~0d", "deep"),
            ("/details/list/0", "x"),
            ("/details/list/1/k", "y"),
            ("/details/list/3/0", "z"),
            ("/changes/before/role", "user"),
            ("/changes/after/role", "admin"),
        ])
    );
    // every pointer leads back to its string, and strings without escapes are borrowed
    for (p, s) in e.strings() {
        assert_eq!(e.str(&p.to_string()), Some(s));
        assert!(borrowed_from(s, LOGIN), "{p}");
    }
}

#[test]
fn fields_at_every_depth_and_skipping() {
    let e = Event::new(LOGIN);
    let keys: Vec<String> = e.fields().map(|f| f.pointer.to_string()).collect();
    assert_eq!(
        keys,
        [
            "/action",
            "/outcome",
            "/user",
            "/ip",
            "/details",
            "/details/reason",
            "/details/attempts",
            "/details/a~1b",
            "/details/a~1b/c~0d",
            "/details/list",
            "/details/list/1/k",
            "/changes",
            "/changes/before",
            "/changes/before/role",
            "/changes/after",
            "/changes/after/role",
        ]
    );
    let mut fields = e.fields();
    let mut seen = Vec::new();
    while let Some(f) = fields.next() {
        if f.key == "details" || f.key == "before" {
            fields.skip_children();
        }
        seen.push(f.pointer.to_string());
    }
    assert_eq!(
        seen,
        [
            "/action",
            "/outcome",
            "/user",
            "/ip",
            "/details",
            "/changes",
            "/changes/before",
            "/changes/after",
            "/changes/after/role"
        ]
    );
}

#[test]
fn walk_sees_array_elements_and_skips_on_request() {
    let e = Event::new(br#"{"a":[1,[2]], "b": {"c": [{"d": true}], "e": null}}"#);
    let all: Vec<String> = e.walk().map(|n| format!("{}={}", n.pointer, n.value)).collect();
    assert_eq!(
        all,
        [
            "/a=[1,[2]]",
            "/a/0=1",
            "/a/1=[2]",
            "/a/1/0=2",
            r#"/b={"c":[{"d":true}],"e":null}"#,
            r#"/b/c=[{"d":true}]"#,
            r#"/b/c/0={"d":true}"#,
            "/b/c/0/d=true",
            "/b/e=null",
        ]
    );
    // Skipping right after a container steps over it; skipping after a scalar changes
    // nothing.
    let mut walk = e.walk();
    let mut seen = Vec::new();
    while let Some(node) = walk.next() {
        seen.push(node.pointer.to_string());
        if node.pointer == "/b/c" || node.pointer == "/a/0" {
            walk.skip_children();
        }
    }
    assert_eq!(seen, ["/a", "/a/0", "/a/1", "/a/1/0", "/b", "/b/c", "/b/e"]);
}

#[test]
fn nodes_give_their_childrens_pointers_and_depth() {
    let e = Event::new(br#"{"h": [{"name": "Cookie", "value": "x"}], "s": "t"}"#);
    let nodes: Vec<Node> = e.walk().collect();
    assert_eq!(nodes[0].child(Segment::Index(0)).map(|p| p.to_string()).as_deref(), Some("/h/0"));
    assert_eq!(
        nodes[1].child(Segment::Key("va/lue")).map(|p| p.to_string()).as_deref(),
        Some("/h/0/va~1lue")
    );
    assert!(nodes[1].child(Segment::Key("value")).is_some_and(|p| p == nodes[3].pointer));
    assert!(nodes[3].pointer.starts_with(&nodes[1].pointer));
    assert_eq!(nodes[2].child(Segment::Index(0)), None, "a string has no children");
    let depths: Vec<usize> = nodes.iter().map(|n| n.pointer.depth()).collect();
    assert_eq!(depths, [1, 2, 3, 3, 1]);
    assert!(nodes[0].pointer.is_top_level() && !nodes[1].pointer.is_top_level());
}

#[test]
fn lazy_parse_of_a_non_object() {
    for (bytes, why) in [
        (&b"[1,2]"[..], "event is not a JSON object (found array)"),
        (b" \"text\" ", "event is not a JSON object (found string)"),
        (b"null", "event is not a JSON object (found null)"),
        (b"12", "event is not a JSON object (found number)"),
        (b"true", "event is not a JSON object (found boolean)"),
    ] {
        let e = Event::new(bytes);
        assert!(!e.is_parsed());
        assert_eq!(e.action(), None);
        assert!(e.is_parsed());
        assert_eq!(e.strings().count(), 0);
        assert_eq!(e.fields().count(), 0);
        assert_eq!(e.walk().count(), 0);
        assert_eq!(e.members().count(), 0);
        assert!(e.root().is_none());
        assert_eq!(e.get(""), None);
        assert_eq!(e.check(), Err(why));
    }
}

#[test]
fn malformed_json_is_refused_with_where_and_why() {
    for (bytes, why) in [
        (&b"{\"action\":"[..], "event is not valid JSON: unexpected end of input at byte 10"),
        (b"", "event is not valid JSON: unexpected end of input at byte 0"),
        (b"{\"a\":1,}", "event is not valid JSON: expected a member name at byte 7"),
        (b"{\"a\" 1}", "event is not valid JSON: expected `:` at byte 5"),
        (b"{\"a\":1 \"b\":2}", "event is not valid JSON: expected `,` or `}` at byte 7"),
        (b"{\"a\":[1,2}", "event is not valid JSON: expected `,` or `]` at byte 9"),
        (b"{\"a\":tru}", "event is not valid JSON: invalid literal at byte 5"),
        (b"{\"a\":01}", "event is not valid JSON: expected `,` or `}` at byte 6"),
        (b"{\"a\":1e999}", "event is not valid JSON: invalid number at byte 5"),
        (b"{\"a\":\"x\ty\"}", "event is not valid JSON: control character in a string at byte 7"),
        (b"{\"a\":\"\\q\"}", "event is not valid JSON: invalid escape at byte 7"),
        (b"{\"a\":\"\\udc00\"}", "event is not valid JSON: lone surrogate in a \\u escape at byte 6"),
        (b"{\"a\":1} x", "event is not valid JSON: trailing characters at byte 8"),
        (b"{} {}", "event is not valid JSON: trailing characters at byte 3"),
        (b"[1] x", "event is not valid JSON: trailing characters at byte 4"),
        (b"{\"a\":\"\xff\"}", "event is not valid JSON: invalid UTF-8 at byte 6"),
        // A problem deep inside a value nobody asked for still fails the event.
        (
            b"{\"action\":\"a\",\"details\":{\"x\":[1,{\"y\":nul}]}}",
            "event is not valid JSON: invalid literal at byte 37",
        ),
    ] {
        let e = Event::new(bytes);
        assert_eq!(e.check(), Err(why), "{}", String::from_utf8_lossy(bytes));
        assert_eq!(e.action(), None);
        assert!(serde_json::from_slice::<serde_json::Value>(bytes).is_err());
    }
    assert!(Event::new(b" { } \n").check().is_ok());
}

#[test]
fn escaped_strings_are_unescaped_and_plain_ones_borrowed() {
    let bytes = br#"{"k\/x":"a\"b","t":"\u00e9\ud83d\ude00","plain":"p","n\u0061me":"v"}"#;
    let e = Event::new(bytes);
    assert_eq!(
        pointers_and_strings(&e),
        pairs(&[("/k~1x", "a\"b"), ("/t", "é😀"), ("/plain", "p"), ("/name", "v")])
    );
    assert_eq!(e.str("/t"), Some("é😀"));
    assert_eq!(e.field("name").and_then(Value::as_str), Some("v"), "escaped names are found");
    assert_eq!(e.str("/k~1x"), Some("a\"b"));
    assert!(e.str("/plain").is_some_and(|s| borrowed_from(s, bytes)));
    assert!(e.str("/t").is_some_and(|s| !borrowed_from(s, bytes)));
    let keys: Vec<&str> = e.fields().map(|f| f.key).collect();
    assert_eq!(keys, ["k/x", "t", "plain", "name"]);
}

#[test]
fn duplicate_names_last_wins_for_lookups_and_every_one_is_walked() {
    let bytes = br#"{"user":"first","a":{"b":1,"b":2},"user":"last","a":{"b":3,"c":[{"d":"x","d":"y"}]}}"#;
    let e = Event::new(bytes);
    let serde: serde_json::Value = serde_json::from_slice(bytes).expect("valid JSON");
    // Lookups agree with serde_json (the gateway's parser): the last one.
    assert_eq!(e.user(), Some("last"));
    assert_eq!(e.user(), serde["user"].as_str());
    assert_eq!(e.get("/a/b").and_then(Value::as_u64), Some(3));
    assert_eq!(e.get("/a/b").and_then(Value::as_u64), serde["a"]["b"].as_u64());
    assert_eq!(e.str("/a/c/0/d"), Some("y"));
    assert_eq!(e.root().map(Value::to_json), Some(serde));
    // The iterators see every member where it stands.
    assert_eq!(
        pointers_and_strings(&e),
        pairs(&[("/user", "first"), ("/user", "last"), ("/a/c/0/d", "x"), ("/a/c/0/d", "y")])
    );
    let numbers: Vec<(String, u64)> =
        e.walk().filter_map(|n| Some((n.pointer.to_string(), n.value.as_u64()?))).collect();
    assert_eq!(numbers, [("/a/b".to_string(), 1), ("/a/b".to_string(), 2), ("/a/b".to_string(), 3)]);
    assert_eq!(e.get("/a").and_then(Value::as_object).map(Object::len), Some(2));
}

/// `{"a":{"a":…{"a":"leaf"}…}}` with `depth` objects in all.
fn nested(depth: usize) -> String {
    format!("{}\"leaf\"{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

#[test]
fn deep_nesting_up_to_the_limit_works_and_beyond_is_refused() {
    let text = nested(MAX_DEPTH);
    let e = Event::new(text.as_bytes());
    assert!(e.check().is_ok());
    let pointer = "/a".repeat(MAX_DEPTH);
    assert_eq!(e.str(&pointer), Some("leaf"));
    let found: Vec<(String, &str)> = e.strings().map(|(p, s)| (p.to_string(), s)).collect();
    assert_eq!(found, [(pointer.clone(), "leaf")]);
    assert_eq!(e.walk().count(), MAX_DEPTH);
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());

    let text = nested(MAX_DEPTH + 1);
    let e = Event::new(text.as_bytes());
    assert_eq!(
        e.check(),
        Err(format!("event is not valid JSON: nesting deeper than 127 at byte {}", 5 * MAX_DEPTH).as_str())
    );
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
    // Arrays count the same.
    let text = format!("{{\"a\":{}{}}}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert!(Event::new(text.as_bytes()).check().is_err());
}

#[test]
fn whitespace_anywhere_json_allows_it() {
    let e = Event::new(b" \t\r\n{ \"a\" : [ 1 , { \"b\" : \"c\" } ] , \"d\" : \"e\" } \n");
    assert!(e.check().is_ok());
    assert_eq!(pointers_and_strings(&e), pairs(&[("/a/1/b", "c"), ("/d", "e")]));
    assert_eq!(e.get("/a/0").and_then(Value::as_i64), Some(1));
    assert_eq!(e.get("/a").and_then(Value::as_array).map(|a| a.len()), Some(2));
}

mod against_serde_json {
    //! Random documents and random damage: the view accepts exactly what serde_json
    //! accepts, and reads the same values.

    use proptest::prelude::*;

    use super::*;

    fn leaf() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            (-1e300f64..1e300).prop_map(serde_json::Value::from),
            "[a-z\"\\\\/\u{0}-\u{1f}é😀 ~]{0,12}".prop_map(serde_json::Value::String),
        ]
    }

    fn json() -> impl Strategy<Value = serde_json::Value> {
        leaf().prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                prop::collection::btree_map("[a-z/~\"é]{0,4}", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn event() -> impl Strategy<Value = serde_json::Value> {
        prop::collection::btree_map("[a-z_\"]{1,8}", json(), 0..8)
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()))
    }

    /// Every string of a serde_json value with its pointer, in document order.
    fn strings_of(value: &serde_json::Value, pointer: &mut String, out: &mut Vec<(String, String)>) {
        let len = pointer.len();
        match value {
            serde_json::Value::String(s) => out.push((pointer.clone(), s.clone())),
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    crate::pointer::push_segment(pointer, Segment::Index(i));
                    strings_of(item, pointer, out);
                    pointer.truncate(len);
                }
            }
            serde_json::Value::Object(members) => {
                for (k, v) in members {
                    crate::pointer::push_segment(pointer, Segment::Key(k));
                    strings_of(v, pointer, out);
                    pointer.truncate(len);
                }
            }
            _ => {}
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn reads_what_serde_json_reads(value in event(), pretty in any::<bool>()) {
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap_or_default()
            } else {
                value.to_string()
            };
            let e = Event::new(text.as_bytes());
            prop_assert!(e.check().is_ok());
            prop_assert_eq!(e.root().map(Value::to_json), Some(value.clone()));
            let mut expected = Vec::new();
            strings_of(&value, &mut String::new(), &mut expected);
            prop_assert_eq!(pointers_and_strings(&e), expected.clone());
            for (pointer, text) in &expected {
                prop_assert_eq!(e.str(pointer), Some(text.as_str()));
            }
            prop_assert_eq!(e.walk().count() as u64, count_below(&value));
        }

        #[test]
        fn accepts_exactly_what_serde_json_accepts(
            value in event(),
            cuts in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        ) {
            let mut bytes = value.to_string().into_bytes();
            for (at, byte) in cuts {
                let at = at.index(bytes.len());
                // Damage where JSON is picky: a structural byte, a quote, a digit, a cut.
                match byte % 4 {
                    0 => bytes[at] = b"{}[],:\"\\"[usize::from(byte) % 8],
                    1 => bytes[at] = byte,
                    2 => { bytes.remove(at); }
                    _ => bytes.truncate(at),
                }
                if bytes.is_empty() { break; }
            }
            let theirs = serde_json::from_slice::<serde_json::Value>(&bytes);
            let e = Event::new(&bytes);
            let is_object = matches!(theirs, Ok(serde_json::Value::Object(_)));
            prop_assert_eq!(e.check().is_ok(), is_object, "{:?} {:?}", String::from_utf8_lossy(&bytes), e.check());
            if let Ok(serde_json::Value::Object(_)) = &theirs {
                prop_assert_eq!(e.root().map(Value::to_json), theirs.ok());
            }
        }
    }

    /// How many values are below the root (members and elements at every depth).
    fn count_below(value: &serde_json::Value) -> u64 {
        match value {
            serde_json::Value::Array(items) => items.iter().map(|v| 1 + count_below(v)).sum(),
            serde_json::Value::Object(members) => members.values().map(|v| 1 + count_below(v)).sum(),
            _ => 0,
        }
    }
}
