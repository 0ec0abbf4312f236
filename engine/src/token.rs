//! Tokens as presented, and the only form the engine ever keeps: their hash.
//!
//! A snapshot never holds a token, only the SHA-256 of its exact bytes. The
//! engine hashes what it extracted from a request and looks the hash up; it
//! never decodes or re-encodes a token first (F03: a re-encoded token with
//! `/ + = %` stops matching). When a token must be named in output, only the
//! first 8 hex characters of its hash are printed ([`TokenHash::short`]).
//!
//! Every decision hashes one token, so [`TokenHash::of`] pads the message
//! itself and calls SHA-256's compression function directly (one call for
//! a token of up to 55 bytes, which every generated or better-auth token
//! is): the `Digest` wrapper's block buffer, its update and its finalize
//! cost about as much again as the compression itself with SHA-NI
//! (docs/PERFORMANCE.md "Decide hot path, session 8"). The digest is the
//! same, tested against `sha2::Sha256::digest` for every length up to 300.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
// sha2 0.11's raw compression function takes plain `[u8; 64]` blocks; the
// engine already depends on it for the cookie HMAC.
use sha2_hmac::block_api::compress256;

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
///
/// Aligned to 8: the token index hashes it as `u64` words, which from a
/// 1-aligned copy (the hash moved through an enum at an odd offset) were
/// loads straddling earlier stores, a stall the CPU cannot forward.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(align(8))]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// A placeholder to write a hash over (`decide`'s step 1).
    pub(crate) const UNSET: TokenHash = TokenHash([0; 32]);

    /// Hashes a token exactly as presented.
    pub fn of(token: &str) -> TokenHash {
        TokenHash(sha256(token.as_bytes()))
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

/// SHA-256's initial hash value (FIPS 180-4 §5.3.3).
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// SHA-256 of `msg` (FIPS 180-4): the full blocks compressed as they are,
/// the rest padded here (`0x80`, zeros, the length in bits big-endian) into
/// one block, or two when fewer than 9 bytes are left for the padding.
fn sha256(msg: &[u8]) -> [u8; 32] {
    let mut state = IV;
    let mut blocks = msg.chunks_exact(64);
    for b in &mut blocks {
        compress256(&mut state, &[b.try_into().expect("chunks of 64")]);
    }
    let rest = blocks.remainder();
    let mut last = [[0u8; 64]; 2];
    last[0][..rest.len()].copy_from_slice(rest);
    last[0][rest.len()] = 0x80;
    let n = if rest.len() < 56 { 1 } else { 2 };
    let bits = (msg.len() as u64).wrapping_mul(8).to_be_bytes();
    last[n - 1][56..].copy_from_slice(&bits);
    compress256(&mut state, &last[..n]);
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

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

    /// The padding by hand is SHA-256: against sha2's `Digest` for every
    /// length across the one-, two- and three-block boundaries (55/56,
    /// 63/64, 119/120), of bytes with the token characters `/ + = %` and
    /// pseudo-random ones.
    #[test]
    fn sha256_is_digest() {
        use sha2::{Digest, Sha256};
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut random = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        };
        for len in 0..=300 {
            let tokenish: Vec<u8> = (0..len).map(|i| b"ab/+=%Z9"[i % 8]).collect();
            let noise: Vec<u8> = (0..len).map(|_| random()).collect();
            let zeros = vec![0u8; len];
            for msg in [tokenish, noise, zeros] {
                let want: [u8; 32] = Sha256::digest(&msg).into();
                assert_eq!(sha256(&msg), want, "length {len}");
            }
        }
    }

    #[test]
    fn debug_hides_token() {
        let t = Token::new("sk_live_secret");
        assert!(!format!("{t:?}").contains("secret"));
    }
}
