//! Issue 12 checks shared by the loader targets (`snapshot_json`,
//! `request_json`, `policy_toml`, `commands_jsonl`): the strict reader and
//! the typed loaders agree (duplicate keys refused, objects only), and no
//! error echoes a value the oracle planted or a raw control character.

use authproof_engine::{load, Error};
use serde_json::Value;

/// The planted secret and number: no error may ever contain them.
pub const SECRET: &str = "sk_live_PLANTEDfuzzSecret01";
pub const NUMBER: u64 = 271_828_182_845_904;

/// Whether the fuzzer's input already holds a marker (the dictionary and
/// the seeds carry them): it may then sit in an object key, and key
/// names are echoed (escaped) by design (docs/SPEC.md §1.1) — only
/// values the oracle itself planted are checked for.
pub fn has_marker(doc: &[u8]) -> bool {
    let has = |m: &[u8]| doc.windows(m.len()).any(|w| w == m);
    has(b"PLANTED") || has(b"271828182845904")
}

/// [`assert_clean`] for an error on `doc`: markers only when `doc` had
/// none of its own; control characters always.
pub fn assert_clean_in(doc: &[u8], e: &Error, what: &str) {
    if has_marker(doc) {
        let text = format!("{e}");
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{what}: an input error holds a raw control character"
        );
    } else {
        assert_clean(e, what);
    }
}

pub fn assert_clean(e: &Error, what: &str) {
    let text = format!("{e}");
    assert!(
        !text.contains("PLANTED") && !text.contains("271828182845904"),
        "{what}: an input error echoes a planted value: {text}"
    );
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{what}: an input error holds a raw control character"
    );
}

/// `v` with its `k`-th value (strings and numbers, keys excluded; `k`
/// wraps) replaced by the secret or the number.
pub fn plant(v: &mut Value, k: usize) -> bool {
    fn count(v: &Value) -> usize {
        match v {
            Value::Object(m) => m.values().map(count).sum(),
            Value::Array(a) => a.iter().map(count).sum(),
            Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => 1,
        }
    }
    fn walk(v: &mut Value, k: &mut usize, number: bool) -> bool {
        match v {
            Value::Object(m) => m.values_mut().any(|x| walk(x, k, number)),
            Value::Array(a) => a.iter_mut().any(|x| walk(x, k, number)),
            leaf => {
                if *k == 0 {
                    *leaf = if number { NUMBER.into() } else { SECRET.into() };
                    true
                } else {
                    *k -= 1;
                    false
                }
            }
        }
    }
    let n = count(v);
    if n == 0 {
        return false;
    }
    let mut i = k % n;
    walk(v, &mut i, k / n % 2 == 1)
}

/// The strict reader and a typed loader agree: a document `json_value`
/// refuses for a duplicate key is never loaded (no "last wins"), and
/// what the typed loader accepts is an object (never serde's positional
/// array form). `load` parses one document.
pub fn agree<T>(doc: &[u8], load: impl Fn(&[u8]) -> Result<T, Error>, what: &str) {
    let strict = load::json_value(doc, "doc.json");
    let typed = load(doc);
    if let Err(e) = &strict {
        if e.message().contains("duplicate") {
            assert!(typed.is_err(), "{what}: a duplicate key was accepted: {e}");
        }
    }
    if typed.is_ok() {
        match &strict {
            Ok(v) => assert!(v.is_object(), "{what}: a non-object loaded"),
            Err(e) => panic!("{what}: the typed loader accepts what json_value refuses: {e}"),
        }
    }
    if let Err(e) = &typed {
        assert_clean_in(doc, e, what);
    }
}

/// Each value of `doc` in turn (chosen by `k`) replaced by the planted
/// secret or number: whatever the loader says must not contain it.
pub fn planted<T>(doc: &[u8], k: usize, load: impl Fn(&[u8]) -> Result<T, Error>) {
    if has_marker(doc) {
        return;
    }
    let Ok(mut v) = serde_json::from_slice::<Value>(doc) else {
        return;
    };
    if plant(&mut v, k) {
        let bytes = serde_json::to_vec(&v).expect("a value serializes");
        if let Err(e) = load(&bytes) {
            assert_clean(&e, "planted");
        }
    }
}

/// The same document with its first object turned into an array of its
/// values (serde's positional form) must not load.
pub fn as_array<T>(doc: &[u8], load: impl Fn(&[u8]) -> Result<T, Error>, what: &str) {
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(doc) else {
        return;
    };
    let arr = Value::Array(m.into_iter().map(|(_, v)| v).collect());
    let bytes = serde_json::to_vec(&arr).expect("a value serializes");
    assert!(
        load(&bytes).is_err(),
        "{what}: an array loaded as an object"
    );
}

/// The same document with its first key repeated must not load.
pub fn with_duplicate<T>(doc: &[u8], load: impl Fn(&[u8]) -> Result<T, Error>, what: &str) {
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(doc) else {
        return;
    };
    let Some((k, v)) = m.iter().next() else {
        return;
    };
    let mut text = serde_json::to_string(&Value::Object(m.clone())).expect("serializes");
    let extra = format!(",{}:{}}}", serde_json::to_string(k).unwrap(), v);
    text.pop();
    text.push_str(&extra);
    assert!(
        load(text.as_bytes()).is_err(),
        "{what}: a repeated key loaded"
    );
}
