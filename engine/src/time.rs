//! Points in time and durations.
//!
//! The engine never reads a clock: every request and command carries its own
//! time `at`, and every record carries its own timestamps. Internally a time
//! is a whole number of seconds since the Unix epoch, UTC (SPEC §1): fractional
//! seconds in the input are floored, and output always uses `Z` and whole
//! seconds, so the same input always prints the same bytes.
//!
//! Timestamps are limited to what RFC 3339 can write, `0000-01-01T00:00:00Z`
//! to `9999-12-31T23:59:59Z`. Arithmetic that would pass the upper bound
//! (a huge session `ttl`, say) saturates at it; durations are limited to
//! 10,000 years so no sum of a time and a duration overflows an `i64`.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::{error::ErrorKind, Error};

/// A point in time: whole seconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

/// `0000-01-01T00:00:00Z`.
const MIN_SECS: i64 = -62_167_219_200;
/// `9999-12-31T23:59:59Z`.
const MAX_SECS: i64 = 253_402_300_799;

/// The longest accepted duration: 10,000 years of 365.25 days.
pub const MAX_DURATION_SECS: i64 = 315_576_000_000;

impl Timestamp {
    /// The Unix epoch, the default of memberships' `since` and resources'
    /// `created_at`.
    pub const EPOCH: Timestamp = Timestamp(0);
    /// The earliest representable time.
    pub const MIN: Timestamp = Timestamp(MIN_SECS);
    /// The latest representable time.
    pub const MAX: Timestamp = Timestamp(MAX_SECS);

    /// A timestamp from Unix seconds, or `None` outside `0000..=9999`.
    pub fn from_unix(secs: i64) -> Option<Timestamp> {
        (MIN_SECS..=MAX_SECS)
            .contains(&secs)
            .then_some(Timestamp(secs))
    }

    /// Seconds since the Unix epoch.
    pub fn unix(self) -> i64 {
        self.0
    }

    /// `self + d`, saturating at [`Timestamp::MAX`].
    pub fn saturating_add(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(d.0).clamp(MIN_SECS, MAX_SECS))
    }

    /// `self - d`, saturating at [`Timestamp::MIN`].
    pub fn saturating_sub(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(d.0).clamp(MIN_SECS, MAX_SECS))
    }

    /// Parses an RFC 3339 timestamp; offsets are converted to UTC and
    /// fractional seconds are floored.
    pub fn parse(s: &str) -> Result<Timestamp, Error> {
        if let Some(t) = Timestamp::parse_plain_utc(s.as_bytes()) {
            return Ok(t);
        }
        let odt = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|_| Error::new(ErrorKind::Timestamp))?;
        // `unix_timestamp` floors toward negative infinity for the whole
        // second, which is what "fractional seconds are floored" means.
        Timestamp::from_unix(odt.unix_timestamp())
            .ok_or_else(|| Error::new(ErrorKind::TimestampRange))
    }
}

impl Timestamp {
    /// The form every snapshot this engine writes uses,
    /// `YYYY-MM-DDTHH:MM:SSZ`, without the general RFC 3339 parser (loading
    /// a large snapshot parses millions of them). `None` for anything else,
    /// including seconds = 60, which the general parser handles.
    fn parse_plain_utc(b: &[u8]) -> Option<Timestamp> {
        if b.len() != 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'Z'
        {
            return None;
        }
        let num = |from: usize, to: usize| -> Option<i64> {
            b[from..to].iter().try_fold(0i64, |n, &d| {
                d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
            })
        };
        let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (hh, mm, ss) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        let month_days = match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        if d < 1 || d > month_days || hh > 23 || mm > 59 || ss > 59 {
            return None;
        }
        let secs = days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss;
        Timestamp::from_unix(secs)
    }
}

/// Howard Hinnant's `days_from_civil`: (y, m, d) to days since 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Civil-from-days (proleptic Gregorian), so formatting cannot fail.
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        // A stack buffer instead of `write!`: timestamps are printed on every
        // export and decision, and the range (years 0..=9999) is fixed.
        let mut buf = *b"0000-00-00T00:00:00Z";
        let mut put = |at: usize, width: usize, mut v: i64| {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, y);
        put(5, 2, i64::from(m));
        put(8, 2, i64::from(d));
        put(11, 2, secs / 3600);
        put(14, 2, secs / 60 % 60);
        put(17, 2, secs % 60);
        f.write_str(std::str::from_utf8(&buf).expect("digits are ASCII"))
    }
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (y, m, d).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp such as \"2026-05-28T12:00:00Z\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Timestamp, E> {
                // The value is not echoed: a misplaced secret must not end
                // up in an error message.
                Timestamp::parse(s).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// A length of time in whole seconds, never negative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(i64);

impl Duration {
    /// A duration of `secs` seconds, or `None` when negative or longer than
    /// [`MAX_DURATION_SECS`].
    pub fn from_secs(secs: i64) -> Option<Duration> {
        (0..=MAX_DURATION_SECS)
            .contains(&secs)
            .then_some(Duration(secs))
    }

    /// The length in seconds.
    pub fn secs(self) -> i64 {
        self.0
    }

    /// Parses `"<n>s"`, `"<n>m"`, `"<n>h"` or `"<n>d"`.
    pub fn parse(s: &str) -> Result<Duration, Error> {
        let unit = match s.as_bytes().last() {
            Some(b's') => 1,
            Some(b'm') => 60,
            Some(b'h') => 3600,
            Some(b'd') => 86_400,
            _ => return Err(Error::new(ErrorKind::Duration)),
        };
        let digits = &s[..s.len() - 1];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::new(ErrorKind::Duration));
        }
        let range = || Error::new(ErrorKind::DurationRange);
        let n: i64 = digits.parse().map_err(|_| range())?;
        n.checked_mul(unit)
            .and_then(Duration::from_secs)
            .ok_or_else(range)
    }
}

impl fmt::Display for Duration {
    /// The largest whole unit, so a policy prints as it was written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s != 0 && s % 86_400 == 0 {
            write!(f, "{}d", s / 86_400)
        } else if s != 0 && s % 3600 == 0 {
            write!(f, "{}h", s / 3600)
        } else if s != 0 && s % 60 == 0 {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration: \"<n>s\", \"<n>m\", \"<n>h\", \"<n>d\" or whole seconds")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
                Duration::parse(s).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Duration, E> {
                Duration::from_secs(n)
                    .ok_or_else(|| E::custom(Error::new(ErrorKind::DurationRange)))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Duration, E> {
                i64::try_from(n)
                    .ok()
                    .and_then(Duration::from_secs)
                    .ok_or_else(|| E::custom(Error::new(ErrorKind::DurationRange)))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_utc() {
        let t = Timestamp::parse("2026-05-28T12:00:00Z").unwrap();
        assert_eq!(t.to_string(), "2026-05-28T12:00:00Z");
        assert_eq!(t.unix(), 1_779_969_600);
    }

    #[test]
    fn offsets_convert_and_fractions_floor() {
        let t = Timestamp::parse("2026-05-28T14:00:00.999+02:00").unwrap();
        assert_eq!(t.to_string(), "2026-05-28T12:00:00Z");
        let before_epoch = Timestamp::parse("1969-12-31T23:59:59.5Z").unwrap();
        assert_eq!(before_epoch.unix(), -1);
    }

    #[test]
    fn range_is_rfc3339() {
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59Z");
        assert_eq!(Timestamp::MIN.to_string(), "0000-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::parse("0000-01-01T00:00:00+01:00")
                .unwrap_err()
                .kind(),
            &ErrorKind::TimestampRange
        );
        assert!(Timestamp::parse("2026-05-28").is_err());
        assert!(Timestamp::parse("not a time").is_err());
    }

    #[test]
    fn plain_utc_fast_path_agrees_with_rfc3339() {
        let general = |s: &str| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .ok()
                .and_then(|t| Timestamp::from_unix(t.unix_timestamp()))
        };
        // Every day of a few years around the edge cases, at several times.
        for start in [
            -62_167_219_200i64,
            -86_400 * 800,
            0,
            951_782_400,
            253_370_764_800,
        ] {
            for day in 0..800 {
                for secs in [0, 1, 59, 3599, 43_200, 86_399] {
                    let Some(t) = Timestamp::from_unix(start + day * 86_400 + secs) else {
                        continue;
                    };
                    let text = t.to_string();
                    assert_eq!(
                        Timestamp::parse_plain_utc(text.as_bytes()),
                        Some(t),
                        "{text}"
                    );
                    assert_eq!(general(&text), Some(t), "{text}");
                }
            }
        }
        // What the fast path refuses, the general parser decides.
        for s in [
            "2026-02-29T00:00:00Z",
            "2024-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-01-00T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T23:60:00Z",
            "2026-06-30T23:59:60Z",
            "2026-01-01t00:00:00Z",
            "2026-01-01T00:00:00z",
            "2026-01-01T00:00:0+Z",
            "+026-01-01T00:00:00Z",
        ] {
            assert_eq!(Timestamp::parse_plain_utc(s.as_bytes()), None, "{s}");
        }
        assert_eq!(
            Timestamp::parse("2024-02-29T12:34:56Z"),
            Ok(general("2024-02-29T12:34:56Z").unwrap())
        );
    }

    #[test]
    fn saturates_at_max() {
        let d = Duration::from_secs(MAX_DURATION_SECS).unwrap();
        assert_eq!(Timestamp::MAX.saturating_add(d), Timestamp::MAX);
    }

    #[test]
    fn durations() {
        assert_eq!(Duration::parse("30d").unwrap().secs(), 30 * 86_400);
        assert_eq!(Duration::parse("90m").unwrap().secs(), 5400);
        assert_eq!(Duration::parse("1h").unwrap().secs(), 3600);
        assert_eq!(Duration::parse("0s").unwrap().secs(), 0);
        for bad in [
            "",
            "d",
            "1w",
            "-1d",
            "1.5h",
            " 1d",
            "1 d",
            "99999999999999999999d",
        ] {
            assert!(Duration::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Duration::parse("30d").unwrap().to_string(), "30d");
        assert_eq!(Duration::from_secs(90).unwrap().to_string(), "90s");
    }
}
