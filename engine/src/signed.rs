//! Signed session tokens (SPEC §5.1): the cookie format of better-auth.
//!
//! better-auth sets its session cookie to
//! `percent-encode(token "." base64(HMAC-SHA256(secret, token)))`, the
//! signature in standard base64 with its `=` padding (44 characters), and
//! reads it back by percent-decoding the value, splitting it at the **last**
//! `.`, checking that the signature is 44 characters ending in `=`, and
//! verifying the HMAC (better-call `getSignedCookie`). Its bearer plugin
//! takes `Authorization: Bearer` as that same value (encoded or not) when it
//! holds a `.`, and as the raw token otherwise.
//!
//! Under `session.cookie_format = "signed"` the engine does the same before
//! hashing the token. The secret is a runtime value ([`CookieSecret`], held
//! in [`Policy::cookie_secret`](crate::Policy::cookie_secret), never read
//! from or written to a policy file); without one the signature's shape is
//! checked but the signature is not verified. Verification compares MACs
//! in constant time (`hmac`'s `verify_slice`). Neither the secret, the token
//! nor the signature is ever printed.

use std::borrow::Cow;
use std::fmt;

use base64::alphabet::STANDARD;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};

use crate::credential::Malformed;
use crate::error::ErrorKind;
use crate::{is_valid_token, Error};

type HmacSha256 = Hmac<sha2_hmac::Sha256>;

/// Standard base64 with `=` padding, forgiving of non-zero trailing bits as
/// the `atob` better-call decodes signatures with is.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// The length of a signature: the padded standard base64 of 32 bytes.
pub const SIGNATURE_LEN: usize = 44;

/// The environment variable the CLI reads the cookie secret from.
pub const SECRET_ENV: &str = "AUTHPROOF_COOKIE_SECRET";

/// The secret that signs session tokens (better-auth's `BETTER_AUTH_SECRET`).
///
/// Its `Debug` never shows it and it has no `Serialize`: it cannot reach an
/// output by accident. Two secrets compare in constant time.
#[derive(Clone)]
pub struct CookieSecret(Vec<u8>);

impl CookieSecret {
    /// A secret from its exact bytes (better-auth signs with the UTF-8
    /// bytes of its secret string). An empty secret (an empty environment
    /// variable, an empty file) is refused; the error never quotes it.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<CookieSecret, Error> {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Err(Error::new(ErrorKind::SecretEmpty));
        }
        Ok(CookieSecret(bytes))
    }

    /// A secret from a file's contents: one trailing line ending (`\n` or
    /// `\r\n`) is removed, nothing else (so a file written by `echo` or by
    /// `targets/better-auth/seed.mjs` works).
    pub fn from_file_contents(bytes: &[u8]) -> Result<CookieSecret, Error> {
        let bytes = bytes
            .strip_suffix(b"\n")
            .map(|b| b.strip_suffix(b"\r").unwrap_or(b))
            .unwrap_or(bytes);
        CookieSecret::new(bytes)
    }

    /// The secret's bytes. Never print them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for CookieSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieSecret(<redacted>)")
    }
}

impl PartialEq for CookieSecret {
    fn eq(&self, other: &Self) -> bool {
        // Constant time in the contents (the lengths are not secret here).
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

impl Eq for CookieSecret {}

/// The cookie secret the CLI runs with: the file's contents when a file was
/// given (`--cookie-secret-file`), else the environment variable
/// [`SECRET_ENV`] when it is set, else none. Pure: the caller reads the file
/// and the environment and passes their bytes.
pub fn cookie_secret(
    env: Option<&[u8]>,
    file: Option<&[u8]>,
) -> Result<Option<CookieSecret>, Error> {
    match (file, env) {
        (Some(contents), _) => CookieSecret::from_file_contents(contents).map(Some),
        (None, Some(value)) => CookieSecret::new(value).map(Some),
        (None, None) => Ok(None),
    }
}

/// What was established about a session token's signature; the explanation
/// says it (SPEC §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signature {
    /// The HMAC matches under the given secret.
    Verified,
    /// Well-formed, but no secret was given: not verified.
    NotVerified,
    /// A Bearer token without a `.`: the raw token, no signature to check.
    Raw,
}

impl Signature {
    /// The words the explanation uses.
    pub fn describe(self) -> &'static str {
        match self {
            Signature::Verified => "signature verified",
            Signature::NotVerified => "signature not verified: no secret given",
            Signature::Raw => "raw token, no signature",
        }
    }
}

/// `token "." base64(HMAC-SHA256(secret, token))`: the value better-auth's
/// `set-auth-token` header carries, not percent-encoded.
pub fn sign(secret: &CookieSecret, token: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.expose()).expect("HMAC takes any key length");
    mac.update(token.as_bytes());
    let tag = mac.finalize().into_bytes();
    format!("{token}.{}", BASE64.encode(tag))
}

/// The session cookie's value better-auth sets: [`sign`], percent-encoded
/// as JavaScript's `encodeURIComponent` does.
pub fn cookie_value(secret: &CookieSecret, token: &str) -> String {
    encode_uri_component(&sign(secret, token))
}

/// JavaScript's `encodeURIComponent`: every byte but `A-Z a-z 0-9 - _ . ! ~
/// * ' ( )` as `%XX` (upper-case hex).
pub fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            )
        {
            out.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

/// Percent-decodes `s`: every `%` must start `%HH` (either case), the
/// result must be UTF-8. `None` otherwise.
fn percent_decode(s: &str) -> Option<Cow<'_, str>> {
    if !s.contains('%') {
        return Some(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex(*bytes.get(i + 1)?)?;
            let lo = hex(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether `sig` has the shape of a signature: 43 characters of the
/// standard base64 alphabet, then `=`.
fn signature_shaped(sig: &str) -> bool {
    let b = sig.as_bytes();
    b.len() == SIGNATURE_LEN
        && b[SIGNATURE_LEN - 1] == b'='
        && b[..SIGNATURE_LEN - 1]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
}

/// Whether `sig` is the HMAC-SHA256 of `token` under `secret`, compared in
/// constant time (`Mac::verify_slice`).
fn verify(secret: &CookieSecret, token: &str, sig: &str) -> bool {
    let Ok(given) = BASE64.decode(sig) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(secret.expose()).expect("HMAC takes any key length");
    mac.update(token.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// The session token in a value presented under `cookie_format = "signed"`
/// (SPEC §5.1), and what is known of its signature. `value` is already a
/// valid token (SPEC §1). A Bearer value (`bearer`) without a `.` is the raw
/// token; any other value is percent-decoded, split at its last `.`, and the
/// part after it must be a signature, verified when a secret is given.
pub(crate) fn unwrap<'v>(
    value: &'v str,
    bearer: bool,
    secret: Option<&CookieSecret>,
) -> Result<(Cow<'v, str>, Signature), Malformed> {
    if bearer && !value.contains('.') {
        return Ok((Cow::Borrowed(value), Signature::Raw));
    }
    let decoded = match percent_decode(value) {
        Some(d) if is_valid_token(&d) => d,
        _ => return Err(Malformed::PercentEncoding),
    };
    let (token_len, sig_start) = match decoded.rfind('.') {
        Some(dot) if dot > 0 => (dot, dot + 1),
        _ => return Err(Malformed::Unsigned),
    };
    if !signature_shaped(&decoded[sig_start..]) {
        return Err(Malformed::SignatureShape);
    }
    let signature = match secret {
        Some(secret) if verify(secret, &decoded[..token_len], &decoded[sig_start..]) => {
            Signature::Verified
        }
        Some(_) => return Err(Malformed::BadSignature),
        None => Signature::NotVerified,
    };
    let token = match decoded {
        Cow::Borrowed(b) => Cow::Borrowed(&b[..token_len]),
        Cow::Owned(mut o) => {
            o.truncate(token_len);
            Cow::Owned(o)
        }
    };
    Ok((token, signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> CookieSecret {
        CookieSecret::new("authproof-better-auth-test-secret-not-for-production-0001").unwrap()
    }

    #[test]
    fn sign_matches_hmac_sha256_base64() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let s = CookieSecret::new("Jefe").unwrap();
        let signed = sign(&s, "what do ya want for nothing?");
        let sig = signed.rsplit_once('.').unwrap().1;
        let want = BASE64.encode(
            [
                0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95,
                0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9,
                0x64, 0xec, 0x38, 0x43u8,
            ]
            .as_slice(),
        );
        assert_eq!(sig, want);
        assert_eq!(sig.len(), SIGNATURE_LEN);
    }

    #[test]
    fn unwrap_cookie() {
        let s = secret();
        let v = cookie_value(&s, "abc.def");
        assert_eq!(
            unwrap(&v, false, Some(&s)).unwrap(),
            (Cow::Borrowed("abc.def"), Signature::Verified)
        );
        assert_eq!(unwrap(&v, false, None).unwrap().1, Signature::NotVerified);
        let other = CookieSecret::new("other").unwrap();
        assert_eq!(
            unwrap(&v, false, Some(&other)),
            Err(Malformed::BadSignature)
        );
        assert_eq!(unwrap("abc", false, None), Err(Malformed::Unsigned));
        assert_eq!(unwrap("abc", true, None).unwrap().1, Signature::Raw);
        assert_eq!(unwrap("abc.x", true, None), Err(Malformed::SignatureShape));
        assert_eq!(
            unwrap("%zz.x", false, None),
            Err(Malformed::PercentEncoding)
        );
        assert_eq!(
            unwrap("a%20b.x", false, None),
            Err(Malformed::PercentEncoding)
        );
        let sig = &sign(&s, "t")[2..];
        assert_eq!(
            unwrap(&format!(".{sig}"), false, None),
            Err(Malformed::Unsigned)
        );
    }

    #[test]
    fn secret_sources() {
        assert_eq!(cookie_secret(None, None), Ok(None));
        assert_eq!(
            cookie_secret(Some(b"env"), Some(b"file\r\n")),
            Ok(Some(CookieSecret::new("file").unwrap()))
        );
        assert_eq!(
            cookie_secret(Some(b"env"), None),
            Ok(Some(CookieSecret::new("env").unwrap()))
        );
        let empty = Err(Error::new(ErrorKind::SecretEmpty));
        assert_eq!(cookie_secret(None, Some(b"\n")), empty);
        assert_eq!(cookie_secret(Some(b""), None), empty);
        assert_eq!(
            cookie_secret(Some(b""), None).unwrap_err().to_string(),
            "the cookie secret is empty"
        );
        assert_eq!(
            CookieSecret::from_file_contents(b"a\n\n").unwrap().expose(),
            b"a\n"
        );
        assert!(!format!("{:?}", secret()).contains("test-secret"));
    }
}
