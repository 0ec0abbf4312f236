//! Issue 12: every JSON input is read strictly. A key repeated anywhere is
//! an input error naming the file, line and JSON path (never "last wins");
//! an array where an object is expected is refused.

use authproof_engine::{load, Error};

const AT: &str = "2026-05-28T12:00:00Z";

#[track_caller]
fn dup_error(e: Error, file: &str, line: usize, path: &str) {
    assert_eq!(e.file().unwrap(), file, "{e}");
    assert_eq!(e.line(), Some(line), "{e}");
    assert_eq!(e.path().unwrap(), path, "{e}");
    assert!(e.message().contains("duplicate"), "{e}");
}

#[test]
fn json_value_rejects_duplicate_keys_with_path_and_position() {
    let text = "{\"a\": 1,\n \"b\": {\"c\": [1, {\"d\": 1,\n  \"d\": 2}]}}";
    let e = load::json_value(text.as_bytes(), "t.json").unwrap_err();
    dup_error(e, "t.json", 3, "$.b.c[1].d");
    let e = load::json_value(br#"{"a":1,"a":1}"#, "t.json").unwrap_err();
    dup_error(e, "t.json", 1, "$.a");
    // The same key spelled with an escape is the same key.
    let e = load::json_value(br#"{"a":1,"\u0061":2}"#, "t.json").unwrap_err();
    dup_error(e, "t.json", 1, "$.a");
    // A key that is not a plain name is quoted, control characters escaped.
    let e = load::json_value(br#"{"x\u001b[31m":1,"x\u001b[31m":2}"#, "t.json").unwrap_err();
    assert_eq!(e.path().unwrap(), r#"$["x\u{1b}[31m"]"#, "{e}");
    assert!(!e.to_string().contains('\u{1b}'), "{e}");
}

#[test]
fn json_value_reads_what_serde_json_reads() {
    let text = r#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": {"d": []}}"#;
    let strict = load::json_value(text.as_bytes(), "t.json").unwrap();
    let plain: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(strict, plain);
    // Same keys in sibling objects are fine.
    load::json_value(br#"[{"a":1},{"a":2}]"#, "t.json").unwrap();
    let e = load::json_value(b"{} {}", "t.json").unwrap_err();
    assert_eq!(e.path().unwrap(), "$");
    let e = load::json_value(b"{\"a\": [1, 2,", "t.json").unwrap_err();
    assert_eq!(e.path().unwrap(), "$.a[2]", "{e}");
}

#[test]
fn commands_reject_duplicate_keys() {
    let ok = format!(r#"{{"at":"{AT}","op":"create_tenant","tenant":"t1"}}"#);
    let cases = [
        (
            format!(r#"{{"at":"{AT}","op":"create_tenant","tenant":"t9","tenant":"t10"}}"#),
            "$.tenant",
        ),
        (
            format!(r#"{{"at":"{AT}","at":"{AT}","op":"create_tenant","tenant":"t9"}}"#),
            "$.at",
        ),
        (
            format!(r#"{{"at":"{AT}","op":"create_tenant","op":"create_user","tenant":"t9"}}"#),
            "$.op",
        ),
        (
            format!(
                r#"{{"at":"{AT}","op":"authenticate","action":"workspace.read",
                "headers":{{"x-api-key":"sk_live_a","x-api-key":"sk_live_b"}}}}"#
            )
            .replace('\n', " "),
            "$.headers.x-api-key",
        ),
        (
            format!(
                r#"{{"at":"{AT}","op":"update_api_key","key":"k","metadata":{{"a":{{"b":1,"b":2}}}}}}"#
            ),
            "$.metadata.a.b",
        ),
    ];
    for (line, path) in cases {
        let text = format!("{ok}\n\n{line}\n");
        let e = load::commands_jsonl(text.as_bytes(), "c.jsonl").unwrap_err();
        dup_error(e, "c.jsonl", 3, path);
    }
}

#[test]
fn typed_inputs_reject_duplicate_keys() {
    let e = load::snapshot(
        b"{\"tenants\": [{\"id\": \"a\"},\n {\"id\": \"b\", \"id\": \"c\"}]}",
        "s.json",
    )
    .unwrap_err();
    dup_error(e, "s.json", 2, "$.tenants[1].id");
    let e = load::snapshot(b"{\"tenants\": [], \"tenants\": []}", "s.json").unwrap_err();
    dup_error(e, "s.json", 1, "$.tenants");
    let r = format!(r#"{{"at":"{AT}","action":"a","action":"b"}}"#);
    let e = load::request(r.as_bytes(), "r.json").unwrap_err();
    dup_error(e, "r.json", 1, "$.action");
    let r =
        format!(r#"{{"at":"{AT}","action":"a","headers":{{"x-api-key":"k1","x-api-key":"k2"}}}}"#);
    let e = load::request(r.as_bytes(), "r.json").unwrap_err();
    assert_eq!(e.path().unwrap(), "$.headers", "{e}");
    assert!(e.message().contains("duplicate"), "{e}");
    let text = format!("{{\"at\":\"{AT}\",\"action\":\"a\"}}\n{r}\n");
    let e = load::requests_jsonl(text.as_bytes(), "r.jsonl").unwrap_err();
    assert_eq!(e.line(), Some(2), "{e}");
}

#[test]
fn arrays_are_not_objects() {
    let e = load::parse_snapshot(
        format!(r#"["{AT}",[],[],[],[],[],[]]"#).as_bytes(),
        "s.json",
    )
    .unwrap_err();
    assert_eq!(e.path().unwrap(), "$", "{e}");
    let e = load::snapshot(br#"{"tenants": [["acme", false]]}"#, "s.json").unwrap_err();
    assert_eq!(e.path().unwrap(), "$.tenants[0]", "{e}");
    let e = load::snapshot(br#"{"users": [["u", false]]}"#, "s.json").unwrap_err();
    assert_eq!(e.path().unwrap(), "$.users[0]", "{e}");
    let e =
        load::request(format!(r#"["{AT}","workspace.read"]"#).as_bytes(), "r.json").unwrap_err();
    assert_eq!(e.path().unwrap(), "$", "{e}");
    let e = load::requests_jsonl(
        format!(r#"["{AT}","workspace.read"]"#).as_bytes(),
        "r.jsonl",
    )
    .unwrap_err();
    assert_eq!(e.line(), Some(1), "{e}");
    let e = load::request(
        format!(r#"{{"at":"{AT}","action":"a","headers":[["x-api-key","k"]]}}"#).as_bytes(),
        "r.json",
    )
    .unwrap_err();
    assert_eq!(e.path().unwrap(), "$.headers", "{e}");
    let e = load::commands_jsonl(format!(r#"["{AT}","create_tenant"]"#).as_bytes(), "c.jsonl")
        .unwrap_err();
    assert_eq!(e.line(), Some(1), "{e}");
    let e = load::policy("session = [\"1h\", true]\n", "p.toml").unwrap_err();
    assert_eq!(e.path().unwrap(), "session", "{e}");
    let e = load::policy_json(serde_json::json!([1, {}, {}, {}, {}]), "t.json").unwrap_err();
    assert_eq!(e.path().unwrap(), "$", "{e}");
}

/// Linear work (issue 12): 80k headers used to take seconds in the
/// duplicate-name check. Correctness on a large input only; the timing is in
/// the report and `benches/`.
#[test]
fn many_headers_load_and_a_late_duplicate_is_found() {
    let n = 80_000;
    let mut headers = serde_json::Map::new();
    for i in 0..n {
        headers.insert(format!("X-H-{i}"), "v".into());
    }
    let mut req = serde_json::json!({"at": AT, "action": "workspace.read"});
    req["headers"] = serde_json::Value::Object(headers.clone());
    let bytes = serde_json::to_vec(&req).unwrap();
    let r = load::request(&bytes, "r.json").unwrap();
    assert_eq!(r.headers.iter().count(), n);
    assert_eq!(r.headers.get("x-h-79999"), Some("v"));
    // The last header repeats the first one's name in another case.
    let text = String::from_utf8(bytes)
        .unwrap()
        .replacen("}}", ",\"x-h-0\":\"w\"}}", 1);
    let e = load::request(text.as_bytes(), "r.json").unwrap_err();
    assert_eq!(e.path().unwrap(), "$.headers", "{e}");
    assert!(e.message().contains("duplicate header"), "{e}");
    let pairs = (0..n)
        .map(|i| (format!("h{i}"), "v"))
        .chain([("H0".to_string(), "v")]);
    assert_eq!(authproof_engine::Headers::new(pairs).unwrap_err(), "H0");
    // A JSON Lines batch of large requests, and large command lines.
    let line = serde_json::to_string(&req).unwrap();
    let batch = format!("{line}\n{line}\n");
    assert_eq!(
        load::requests_jsonl(batch.as_bytes(), "r.jsonl")
            .unwrap()
            .len(),
        2
    );
    let mut cmd = serde_json::json!({"at": AT, "op": "authenticate", "action": "workspace.read"});
    cmd["headers"] = serde_json::Value::Object(headers);
    let line = serde_json::to_string(&cmd).unwrap();
    assert_eq!(
        load::commands_jsonl(line.as_bytes(), "c.jsonl")
            .unwrap()
            .len(),
        1
    );
}
