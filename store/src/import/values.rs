//! Cell conversions: times (to microseconds, then to whole seconds),
//! booleans, token columns (to a SHA-256), capabilities, JSON members.
//! No function here puts a cell's value in an error: errors say what kind
//! of value was found and what was expected.

use authproof_engine::TokenHash;
use sha2::{Digest, Sha256};

use super::mapping::{CapabilitiesFormat, IntegerTimes, TokenEncoding};
use super::source::Value;

/// Microseconds since the Unix epoch, from a time cell. `None` for NULL.
pub fn micros(v: &Value, integers: Option<IntegerTimes>) -> Result<Option<i64>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Micros(m) => Ok(Some(*m)),
        Value::Text(s) => parse_time(s)
            .map(Some)
            .ok_or_else(|| "text that is not an ISO-8601 / RFC 3339 time".to_string()),
        Value::Int(i) => match integers {
            Some(IntegerTimes::UnixSeconds) => i
                .checked_mul(1_000_000)
                .map(Some)
                .ok_or_else(|| "an integer time out of range".into()),
            Some(IntegerTimes::UnixMillis) => i
                .checked_mul(1_000)
                .map(Some)
                .ok_or_else(|| "an integer time out of range".into()),
            None => Err(
                "an integer, and the mapping does not say what it counts: set `integer_times = \"unix-s\"` or `\"unix-ms\"`"
                    .into(),
            ),
        },
        other => Err(format!("{}, expected a time", other.kind())),
    }
}

/// Whole seconds, rounded toward the past.
pub fn floor_secs(us: i64) -> i64 {
    us.div_euclid(1_000_000)
}

/// Whole seconds, rounded toward the future.
pub fn ceil_secs(us: i64) -> i64 {
    -(-us).div_euclid(1_000_000)
}

/// Parses `YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]]][Z|z|±HH[:MM]|±HHMM]`
/// (what better-auth writes in SQLite, `2026-12-02T22:36:13.805Z`, what
/// SQLite's `CURRENT_TIMESTAMP` writes, `2026-12-02 22:36:13`, and
/// PostgreSQL's text form, `2026-12-02 22:36:53.851+00`). No zone: UTC.
/// Returns microseconds (fractions beyond are floored).
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    let mut secs = days_from_civil(y, mo, d) * 86_400;
    let mut us = 0i64;
    let mut i = 10;
    if i < b.len() {
        if !matches!(b[i], b'T' | b't' | b' ') {
            return None;
        }
        let (h, mi) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
        if b.get(i + 3) != Some(&b':') || h > 23 || mi > 59 {
            return None;
        }
        secs += h * 3600 + mi * 60;
        i += 6;
        if b.get(i) == Some(&b':') {
            let sec = num(i + 1..i + 3)?;
            if sec > 60 {
                return None;
            }
            secs += sec.min(59);
            i += 3;
            if matches!(b.get(i), Some(b'.') | Some(b',')) {
                i += 1;
                let start = i;
                let mut scale = 100_000i64;
                while i < b.len() && b[i].is_ascii_digit() {
                    us += i64::from(b[i] - b'0') * scale;
                    scale /= 10;
                    i += 1;
                }
                if i == start {
                    return None;
                }
            }
        }
        // the zone
        match b.get(i) {
            None => {}
            Some(b'Z') | Some(b'z') if i + 1 == b.len() => {}
            Some(&sign @ (b'+' | b'-')) => {
                let rest = &b[i + 1..];
                let (oh, om) = match rest.len() {
                    2 => (num(i + 1..i + 3)?, 0),
                    4 => (num(i + 1..i + 3)?, num(i + 3..i + 5)?),
                    5 if rest[2] == b':' => (num(i + 1..i + 3)?, num(i + 4..i + 6)?),
                    _ => return None,
                };
                if oh > 23 || om > 59 {
                    return None;
                }
                let off = oh * 3600 + om * 60;
                secs -= if sign == b'+' { off } else { -off };
            }
            _ => return None,
        }
    }
    secs.checked_mul(1_000_000)?.checked_add(us)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A boolean cell; `None` for NULL.
pub fn boolean(v: &Value) -> Result<Option<bool>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::Int(0) => Ok(Some(false)),
        Value::Int(1) => Ok(Some(true)),
        Value::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "t" | "true" | "yes" | "y" => Ok(Some(true)),
            "0" | "f" | "false" | "no" | "n" => Ok(Some(false)),
            _ => Err("text that is not a boolean".into()),
        },
        other => Err(format!("{}, expected a boolean", other.kind())),
    }
}

/// A text cell; `None` for NULL. Integers are written in decimal (an id
/// column may be an integer key).
pub fn text(v: &Value) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Text(s) => Ok(Some(s.clone())),
        Value::Int(i) => Ok(Some(i.to_string())),
        other => Err(format!("{}, expected text", other.kind())),
    }
}

/// What a token cell gave.
#[derive(Debug)]
pub enum Token {
    /// The SHA-256 as the column's encoding holds it.
    Hash(TokenHash),
    /// The value did not decode as the encoding (e.g. a better-auth key
    /// stored with `disableKeyHashing`); its SHA-256 as a raw token.
    RawFallback(TokenHash),
}

/// The SHA-256 of the token a cell holds. The value itself never leaves
/// this function: an error says only what kind of value it was.
pub fn token(v: &Value, enc: TokenEncoding, fallback_raw: bool) -> Result<Option<Token>, String> {
    let raw_hash =
        |bytes: &[u8]| TokenHash::from_hex(&hex(&Sha256::digest(bytes))).expect("64 hex");
    let decoded = match (v, enc) {
        (Value::Null, _) => return Ok(None),
        (Value::Text(s), TokenEncoding::Raw) => {
            if s.is_empty() {
                return Err("an empty token".into());
            }
            return Ok(Some(Token::Hash(raw_hash(s.as_bytes()))));
        }
        (Value::Bytes(b), TokenEncoding::Raw) => {
            if b.is_empty() {
                return Err("an empty token".into());
            }
            return Ok(Some(Token::Hash(raw_hash(b))));
        }
        (Value::Text(s), TokenEncoding::Sha256Hex) => TokenHash::from_hex(&s.to_ascii_lowercase()),
        (Value::Text(s), TokenEncoding::Sha256Base64url) => base64(s, true)
            .filter(|b| b.len() == 32)
            .and_then(|b| TokenHash::from_hex(&hex(&b))),
        (Value::Text(s), TokenEncoding::Sha256Base64) => base64(s, false)
            .filter(|b| b.len() == 32)
            .and_then(|b| TokenHash::from_hex(&hex(&b))),
        (Value::Bytes(b), TokenEncoding::Sha256Bytes) if b.len() == 32 => {
            TokenHash::from_hex(&hex(b))
        }
        (Value::Bytes(_), TokenEncoding::Sha256Bytes) => None,
        (other, _) => {
            return Err(format!(
                "{}, which the token encoding {enc:?} cannot hold",
                other.kind()
            ))
        }
    };
    match decoded {
        Some(h) => Ok(Some(Token::Hash(h))),
        None if fallback_raw => match v {
            Value::Text(s) if !s.is_empty() => Ok(Some(Token::RawFallback(raw_hash(s.as_bytes())))),
            _ => Err("an empty token".into()),
        },
        None => Err(format!(
            "a value that is not a SHA-256 in the encoding {enc:?} (and `token_fallback` is not \"raw\")"
        )),
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(char::from(HEX[usize::from(x >> 4)]));
        s.push(char::from(HEX[usize::from(x & 0xf)]));
    }
    s
}

/// Decodes base64 (`url`: the URL-safe alphabet), with or without `=`
/// padding; `None` for anything else (another alphabet, a bad length,
/// non-zero trailing bits).
pub fn base64(s: &str, url: bool) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' if url => 62,
            b'_' if url => 63,
            b'+' if !url => 62,
            b'/' if !url => 63,
            _ => return None,
        } as u32)
    };
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

/// Parses a JSON text, then decodes again while the result is a string
/// that itself holds JSON (better-auth's legacy double-encoded metadata).
/// Returns the value and how many times it was decoded.
pub fn json_deep(s: &str) -> Option<(serde_json::Value, u32)> {
    let mut v: serde_json::Value = serde_json::from_str(s).ok()?;
    let mut depth = 1;
    while let serde_json::Value::String(inner) = &v {
        match serde_json::from_str(inner) {
            Ok(next) if depth < 8 => {
                v = next;
                depth += 1;
            }
            _ => break,
        }
    }
    Some((v, depth))
}

/// The capabilities a cell lists, sorted and without duplicates.
pub fn capabilities(v: &Value, format: CapabilitiesFormat) -> Result<Vec<String>, String> {
    let s = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Text(s) => s,
        other => return Err(format!("{}, expected text", other.kind())),
    };
    let mut caps: Vec<String> = match format {
        CapabilitiesFormat::Comma => s
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect(),
        CapabilitiesFormat::Space => s.split_whitespace().map(String::from).collect(),
        CapabilitiesFormat::JsonArray => match json_deep(s) {
            Some((serde_json::Value::Null, _)) => Vec::new(),
            Some((serde_json::Value::Array(a), _)) => a
                .into_iter()
                .map(|x| match x {
                    serde_json::Value::String(c) => Ok(c),
                    _ => Err("a JSON array holding a non-string".to_string()),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err("text that is not a JSON array".into()),
        },
        CapabilitiesFormat::PermissionsObject => match json_deep(s) {
            Some((serde_json::Value::Null, _)) => Vec::new(),
            Some((serde_json::Value::Object(o), _)) => {
                let mut out = Vec::new();
                for (resource, actions) in o {
                    let serde_json::Value::Array(actions) = actions else {
                        return Err(
                            "a permissions object whose member is not an array of actions".into(),
                        );
                    };
                    for a in actions {
                        let serde_json::Value::String(a) = a else {
                            return Err("a permissions object with a non-string action".into());
                        };
                        out.push(format!("{resource}:{a}"));
                    }
                }
                out
            }
            _ => return Err("text that is not a JSON object {resource: [actions]}".into()),
        },
    };
    caps.sort();
    caps.dedup();
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let t = |s| parse_time(s);
        assert_eq!(t("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(t("1970-01-01T00:00:01.5Z"), Some(1_500_000));
        assert_eq!(t("2026-12-02T22:36:13.805Z"), Some(1_796_250_973_805_000));
        assert_eq!(t("2026-12-02 22:36:13.805+00"), Some(1_796_250_973_805_000));
        assert_eq!(
            t("2026-12-02 23:36:13.805+01:00"),
            Some(1_796_250_973_805_000)
        );
        assert_eq!(t("2026-12-02 22:36:13"), Some(1_796_250_973_000_000));
        assert_eq!(t("2026-12-02"), Some(1_796_169_600_000_000));
        assert_eq!(t("1969-12-31T23:59:59.250Z"), Some(-750_000));
        for bad in [
            "",
            "2026-13-01",
            "2026-02-30",
            "2026-12-02X",
            "2026-12-02T22:36:13.Z",
            "x",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
        assert_eq!(floor_secs(-750_000), -1);
        assert_eq!(ceil_secs(-750_000), 0);
        assert_eq!(ceil_secs(1_500_000), 2);
        assert_eq!(ceil_secs(2_000_000), 2);
        assert_eq!(floor_secs(1_999_999), 1);
    }

    #[test]
    fn base64_and_tokens() {
        // sha256("abc")
        let hexd = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let url = "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0";
        let std = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";
        let h = |v: &str, e| match token(&Value::Text(v.into()), e, false).unwrap().unwrap() {
            Token::Hash(h) => hex(h.as_bytes()),
            Token::RawFallback(_) => panic!(),
        };
        assert_eq!(h("abc", TokenEncoding::Raw), hexd);
        assert_eq!(h(url, TokenEncoding::Sha256Base64url), hexd);
        assert_eq!(h(std, TokenEncoding::Sha256Base64), hexd);
        assert_eq!(h(&hexd.to_uppercase(), TokenEncoding::Sha256Hex), hexd);
        assert!(token(
            &Value::Text("abc".into()),
            TokenEncoding::Sha256Base64url,
            false
        )
        .is_err());
        match token(
            &Value::Text("abc".into()),
            TokenEncoding::Sha256Base64url,
            true,
        ) {
            Ok(Some(Token::RawFallback(x))) => assert_eq!(hex(x.as_bytes()), hexd),
            other => panic!("{other:?}"),
        }
        let e = token(
            &Value::Text("sk_secret_value".into()),
            TokenEncoding::Sha256Hex,
            false,
        )
        .unwrap_err();
        assert!(!e.contains("secret"));
    }

    #[test]
    fn caps_and_json() {
        let p =
            Value::Text(r#"{"supervisor":["connect"],"conversation":["resume","read"]}"#.into());
        assert_eq!(
            capabilities(&p, CapabilitiesFormat::PermissionsObject).unwrap(),
            [
                "conversation:read",
                "conversation:resume",
                "supervisor:connect"
            ]
        );
        let double = serde_json::to_string(
            &serde_json::to_string(&serde_json::json!({"organizationId": "acme"})).unwrap(),
        )
        .unwrap();
        let (v, depth) = json_deep(&double).unwrap();
        assert_eq!(depth, 2);
        assert_eq!(v["organizationId"], "acme");
        assert_eq!(json_deep("null").unwrap().0, serde_json::Value::Null);
    }
}
