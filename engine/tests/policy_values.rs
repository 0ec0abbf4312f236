//! Issue 12: policy values that can never work are refused at load, with
//! the key's path; TOML errors point at the right line.

use authproof_engine::{load, Error};

#[track_caller]
fn refused(toml: &str, path: &str) -> Error {
    let e = load::policy(toml, "p.toml").unwrap_err();
    assert_eq!(e.file().unwrap(), "p.toml");
    assert_eq!(e.path().unwrap(), path, "{toml:?}: {e}");
    assert!(!e.message().is_empty());
    // The same policy as JSON (the form traces carry) is refused the same way.
    let value: toml::Value = toml::from_str(toml).unwrap();
    let json = serde_json::to_value(value).unwrap();
    let j = load::policy_json(json, "trace.json").unwrap_err();
    assert_eq!(
        j.path().unwrap(),
        format!("$.{path}"),
        "{toml:?} as JSON: {j}"
    );
    e
}

#[test]
fn cookie_names_must_be_http_tokens() {
    for bad in [
        "",
        "a;b",
        "a=b",
        "a b",
        " a",
        "a\t",
        "a\u{1}b",
        "a,b",
        "a\"b",
        "caf\u{e9}",
    ] {
        let toml = format!("[session]\ncookies = [\"sid\", {}]\n", toml_str(bad));
        let e = refused(&toml, "session.cookies[1]");
        assert!(!e.to_string().contains('\u{1}'), "{e}");
    }
    for good in [
        "sid",
        "__Secure-better-auth.session_token",
        "a!#$%&'*+-.^_`|~9",
    ] {
        let toml = format!("[session]\ncookies = [{}]\n", toml_str(good));
        load::policy(&toml, "p.toml").unwrap();
    }
    load::policy("[session]\ncookies = []\n", "p.toml").unwrap();
}

#[test]
fn api_key_header_must_be_an_http_token_of_its_own() {
    for bad in [
        "",
        "x api key",
        "x-api-key:",
        "x;y",
        "x\u{7f}",
        "Cookie",
        "AUTHORIZATION",
    ] {
        let toml = format!("[api_key]\nheader = {}\n", toml_str(bad));
        refused(&toml, "api_key.header");
    }
    load::policy("[api_key]\nheader = \"X-Api-Key\"\n", "p.toml").unwrap();
}

#[test]
fn prefixes_must_be_non_empty_token_text() {
    for bad in ["", "sk live", "sk\"", "sk;"] {
        let toml = format!("[api_key]\nprefixes = [\"sk_\", {}]\n", toml_str(bad));
        refused(&toml, "api_key.prefixes[1]");
    }
    load::policy("[api_key]\nprefixes = []\n", "p.toml").unwrap();
    load::policy(
        "[api_key]\nprefixes = [\"sk_live_\", \"pk/+=\"]\n",
        "p.toml",
    )
    .unwrap();
}

#[test]
fn session_ttl_must_be_positive() {
    refused("[session]\nttl = \"0s\"\n", "session.ttl");
    refused("[session]\nttl = 0\n", "session.ttl");
}

#[test]
fn toml_errors_name_the_right_line() {
    let text = "version = 1\n[session]\nttl = \"1h\"\ncolour = \"red\"\n";
    let e = load::policy(text, "p.toml").unwrap_err();
    assert_eq!(e.line(), Some(4), "{e}");
    let text = "version = 1\n[session]\nttl = \"1h\"\nttl = \"2h\"\n";
    let e = load::policy(text, "p.toml").unwrap_err();
    assert_eq!(e.line(), Some(4), "{e}");
    let text = "[session]\n\n\nbearer = 3\n";
    let e = load::policy(text, "p.toml").unwrap_err();
    assert_eq!(e.line(), Some(4), "{e}");
    let text = "[session]\n[session]\n";
    let e = load::policy(text, "p.toml").unwrap_err();
    assert_eq!(e.line(), Some(2), "{e}");
    let e = load::policy("colour = 1\n", "p.toml").unwrap_err();
    assert_eq!(e.line(), Some(1), "{e}");
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}
