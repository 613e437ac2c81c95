//! Timestamps on the wire: ISO 8601 UTC with milliseconds, `2026-04-01T09:15:00.000Z`.
//!
//! Internally a timestamp is milliseconds since the Unix epoch (what storage keeps, so both
//! database backends compare and sort them the same way).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// A UTC instant with millisecond precision.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        // `SystemTime` directly: `OffsetDateTime::now_utc` also computes the calendar date,
        // which a millisecond count does not need (several calls per request).
        Self::from_system(std::time::SystemTime::now())
    }

    /// The instant `t` of the system clock.
    pub fn from_system(t: std::time::SystemTime) -> Self {
        match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Self(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            Err(e) => Self(-i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX)),
        }
    }

    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch.
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This instant plus `secs` seconds.
    pub fn plus_seconds(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs.saturating_mul(1000)))
    }

    /// Parses RFC 3339 (any offset; converted to UTC, truncated to milliseconds).
    pub fn parse(s: &str) -> Option<Self> {
        let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
        i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000))
            .ok()
            .map(Self)
    }

    /// The wire form.
    pub fn to_iso(self) -> String {
        if let Some(b) = iso_bytes(self.0) {
            return String::from_utf8_lossy(&b).into_owned();
        }
        let fmt = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&fmt).ok())
            .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned())
    }

    /// RFC 9110 HTTP-date, as the `Sunset` header wants it.
    pub fn to_http_date(self) -> String {
        let fmt = format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        OffsetDateTime::from_unix_timestamp(self.unix_seconds())
            .ok()
            .and_then(|t| t.format(&fmt).ok())
            .unwrap_or_default()
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Every JSON answer carries a few timestamps: formatted on the stack, no allocation.
        match iso_bytes(self.0) {
            Some(b) => s.serialize_str(std::str::from_utf8(&b).unwrap_or_default()),
            None => s.serialize_str(&self.to_iso()),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of `ms` (milliseconds since the epoch) for years 0–9999, or
/// `None` outside them (then `time` formats it).
///
/// Written by hand: `time`'s `format_description` path interprets the description at run time
/// and allocates, which was the largest part of serializing a key (callgrind, issue 7); this
/// is a few divisions into a stack buffer. The property test below checks it against `time`.
fn iso_bytes(ms: i64) -> Option<[u8; 24]> {
    const DAY_MS: i64 = 86_400_000;
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    if !(0..=9999).contains(&y) {
        return None;
    }
    let rem = ms.rem_euclid(DAY_MS);
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, m);
    put(8, 2, d);
    put(11, 2, rem / 3_600_000);
    put(14, 2, rem / 60_000 % 60);
    put(17, 2, rem / 1000 % 60);
    put(20, 3, rem % 1000);
    Some(b)
}

/// (year, month, day) of a day number counted from 1970-01-01 (proleptic Gregorian; H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(
                "expected an ISO 8601 timestamp such as 2026-04-01T09:15:00.000Z",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let t = Timestamp::parse("2026-04-01T09:15:00.123Z").expect("parses");
        assert_eq!(t.to_iso(), "2026-04-01T09:15:00.123Z");
        let off = Timestamp::parse("2026-04-01T11:15:00+02:00").expect("parses");
        assert_eq!(off.to_iso(), "2026-04-01T09:15:00.000Z");
        assert_eq!(t.to_http_date(), "Wed, 01 Apr 2026 09:15:00 GMT");
        assert!(Timestamp::parse("yesterday").is_none());
    }

    fn iso_by_time(ms: i64) -> String {
        let fmt = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .expect("in range")
            .format(&fmt)
            .expect("formats")
    }

    #[test]
    fn stack_formatter_edges() {
        for ms in [
            0,
            -1,
            951_782_400_000,     // 2000-02-29
            4_107_542_399_999,   // 2100-02-28T23:59:59.999
            -62_167_219_200_000, // 0000-01-01
            253_402_300_799_999, // 9999-12-31T23:59:59.999
        ] {
            assert_eq!(Timestamp(ms).to_iso(), iso_by_time(ms), "{ms}");
        }
        assert!(iso_bytes(253_402_300_800_000).is_none());
        assert!(iso_bytes(-62_167_219_200_001).is_none());
    }

    proptest::proptest! {
        #[test]
        fn stack_formatter_matches_time(ms in -62_167_219_200_000i64..253_402_300_800_000) {
            let b = iso_bytes(ms).expect("years 0-9999");
            proptest::prop_assert_eq!(std::str::from_utf8(&b).expect("ascii"), iso_by_time(ms));
        }
    }
}
