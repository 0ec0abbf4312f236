//! Keeping presented secrets out of every output a checker prints.
//!
//! `replay` and `conform` print what an implementation said — explanations,
//! messages, a live service's answers — and an implementation under test may
//! echo a token (a faulty engine does: `--inject F14`). So the checker
//! redacts from what the *trace* presents, never from what the
//! implementation extracted: redaction must not depend on the implementation
//! being right. One module for both, so the set of strings and the mark are
//! the same everywhere (docs/CONFORM.md shows the mark).

use authproof_engine::{Command, Op, TokenHash};

use authproof_models::invariants::MIN_SECRET_LEN;

/// Every string `cmd` presents where a secret goes: the token of a
/// `mint_api_key` or `login`; for `authenticate`, every header value, each
/// cookie pair's value (quoted and not), and what follows a scheme such as
/// `Bearer` (trimmed and not). Strings shorter than [`MIN_SECRET_LEN`] are
/// left out: they occur in ids and times by coincidence (as in I9).
pub fn secrets(cmd: &Command) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    match &cmd.op {
        Op::MintApiKey { token, .. } | Op::Login { token, .. } => {
            out.push(token.expose().to_string());
        }
        Op::Authenticate { headers, .. } => {
            for (name, value) in headers.iter() {
                out.push(value.to_string());
                if name.eq_ignore_ascii_case("cookie") {
                    for pair in value.split(';') {
                        if let Some((_, v)) = pair.trim_matches(' ').split_once('=') {
                            out.push(v.to_string());
                            out.push(v.trim_matches('"').to_string());
                        }
                    }
                }
                for v in [value, value.trim_matches(' ')] {
                    if let Some((_, rest)) = v.split_once(' ') {
                        out.push(rest.to_string());
                        out.push(rest.trim_matches(' ').to_string());
                    }
                }
            }
        }
        _ => {}
    }
    out.retain(|s| s.len() >= MIN_SECRET_LEN);
    out
}

/// [`secrets`] of every command, longest first, without repeats.
pub fn secrets_of(steps: &[Command]) -> Vec<String> {
    let mut out: Vec<String> = steps.iter().flat_map(secrets).collect();
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup();
    out
}

/// `text` with every secret — raw, or as a JSON string escapes it —
/// replaced by `<token sha256 xxxxxxxx>` (the first 8 hex characters of
/// its SHA-256, the only form an output may show). Longer secrets first, so
/// a token inside a header value is not half replaced.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut sorted: Vec<&String> = secrets.iter().collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for s in sorted {
        let mark = format!("<token sha256 {}>", TokenHash::of(s).short());
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), &mark);
        }
        let escaped = serde_json::to_string(s).expect("strings serialize");
        let escaped = &escaped[1..escaped.len() - 1];
        if escaped != s && out.contains(escaped) {
            out = out.replace(escaped, &mark);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the implementation printed — a faulty engine echoes tokens
    /// into its explanation — the redacted text holds no presented token,
    /// raw or JSON-escaped.
    #[test]
    fn no_presented_token_survives() {
        let steps: Vec<Command> = [
            r#"{"at":"2026-05-28T12:00:00Z","op":"authenticate","action":"a",
                "headers":{"x-api-key":"sk_live_a/b+c=d%e","cookie":"n=\"ses/sec+ret=1\"",
                           "authorization":"  Bearer  tok_bearer_123 "}}"#,
            r#"{"at":"2026-05-28T12:00:00Z","op":"login","session":"s","user":"u",
                "token":"login_tok_987"}"#,
        ]
        .iter()
        .map(|j| authproof_engine::load::commands_jsonl(j.replace('\n', " ").as_bytes(), "t"))
        .map(|r| r.unwrap().remove(0))
        .collect();
        let secrets = secrets_of(&steps);
        let leaked = "explain: sk_live_a/b+c=d%e, ses/sec+ret=1, tok_bearer_123, login_tok_987; \
                      json: \"n=\\\"ses/sec+ret=1\\\"\"";
        let out = redact(leaked, &secrets);
        for t in [
            "sk_live_a/b+c=d%e",
            "ses/sec+ret=1",
            "tok_bearer_123",
            "login_tok_987",
        ] {
            assert!(!out.contains(t), "{t} leaked: {out}");
        }
        let mark = format!("<token sha256 {}>", TokenHash::of("login_tok_987").short());
        assert!(out.contains(&mark), "{out}");
        assert!(secrets.windows(2).all(|w| w[0].len() >= w[1].len()));
        // Short strings are left alone: they occur in ids by coincidence.
        assert_eq!(redact("user u acted", &secrets), "user u acted");
    }

    #[test]
    fn short_strings_and_other_ops_are_not_secrets() {
        let c = authproof_engine::load::commands_jsonl(
            br#"{"at":"2026-05-28T12:00:00Z","op":"authenticate","action":"a","headers":{"x":"short"}}"#,
            "t",
        )
        .unwrap()
        .remove(0);
        assert!(secrets(&c).is_empty());
    }
}
