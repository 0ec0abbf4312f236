//! Tokens as presented, and the only form the engine ever keeps: their hash.
//!
//! A snapshot never holds a token, only the SHA-256 of its exact bytes. The
//! engine hashes what it extracted from a request and looks the hash up; it
//! never decodes or re-encodes a token first (F03: a re-encoded token with
//! `/ + = %` stops matching). When a token must be named in output, only the
//! first 8 hex characters of its hash are printed ([`TokenHash::short`]).

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// True when `s` is a token as SPEC §1 defines one: non-empty visible ASCII
/// (`0x21..=0x7E`) without `"`, `,`, `;` or `\`.
///
/// Every byte is tested, without an early exit, so that the loop compiles
/// to vector compares (every decision checks its token: 40-odd bytes).
pub fn is_valid_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().fold(true, |ok, b| {
            ok & (0x21..=0x7E).contains(&b) & !matches!(b, b'"' | b',' | b';' | b'\\')
        })
}

/// The SHA-256 of a token's exact bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes a token exactly as presented.
    pub fn of(token: &str) -> TokenHash {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// Parses 64 lowercase hex characters.
    pub fn from_hex(s: &str) -> Option<TokenHash> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            out[i] = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        Some(TokenHash(out))
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first 8 hex characters: the most of a token any output shows.
    pub fn short(&self) -> String {
        // Straight from the first four bytes: every decision prints it.
        let mut s = String::with_capacity(8);
        for b in &self.0[..4] {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        s
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One write of a stack buffer: hashes are printed on every export.
        let mut buf = [0u8; 64];
        for (i, b) in self.0.iter().enumerate() {
            buf[2 * i] = HEX[usize::from(b >> 4)];
            buf[2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
        f.write_str(std::str::from_utf8(&buf).expect("hex is ASCII"))
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", self.short())
    }
}

impl Serialize for TokenHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TokenHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = TokenHash;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("64 lowercase hex characters (a SHA-256)")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<TokenHash, E> {
                TokenHash::from_hex(s)
                    .ok_or_else(|| E::custom("expected 64 lowercase hex characters (a SHA-256)"))
            }
        }
        d.deserialize_str(V)
    }
}

/// A token as presented in a command (`mint_api_key`, `login`).
///
/// It is kept only long enough to hash; its `Debug` shows the hash prefix,
/// never the token, so a stray `{:?}` cannot leak it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    /// Wraps a raw token.
    pub fn new(raw: impl Into<String>) -> Token {
        Token(raw.into())
    }

    /// The raw token. Never print it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its SHA-256.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(sha256:{})", self.hash().short())
    }
}

/// Tokens are serialized verbatim because traces must replay on another
/// machine: a trace is test input, like a request file, not output about one.
impl Serialize for Token {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_charset() {
        assert!(is_valid_token("abc/+=%"));
        assert!(is_valid_token("sk_live_~!"));
        for bad in [
            "", "a b", "a\"b", "a,b", "a;b", "a\\b", "a\tb", "é", "a\x7f",
        ] {
            assert!(!is_valid_token(bad), "{bad:?}");
        }
    }

    #[test]
    fn hash_round_trip() {
        let h = TokenHash::of("abc/+=");
        assert_eq!(TokenHash::from_hex(&h.to_string()), Some(h));
        assert_eq!(h.short().len(), 8);
        assert_eq!(h.short(), h.to_string()[..8]);
        assert!(TokenHash::from_hex(&h.to_string().to_uppercase()).is_none());
        assert!(TokenHash::from_hex("abc").is_none());
        // sha256("abc")
        assert_eq!(
            TokenHash::of("abc").to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn debug_hides_token() {
        let t = Token::new("sk_live_secret");
        assert!(!format!("{t:?}").contains("secret"));
    }
}
