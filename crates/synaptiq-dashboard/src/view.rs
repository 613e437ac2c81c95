//! Formatting shared by the pages: instants, durations and key rows, computed once in Rust
//! so templates stay declarative.

use synaptiq_core::scope::KeyStatus;
use synaptiq_store::KeyRecord;
use synaptiq_types::time::Timestamp;
use time::OffsetDateTime;
use time::macros::format_description;

/// An instant as shown: machine-readable, absolute and relative.
#[derive(Debug, Clone)]
pub struct When {
    /// ISO 8601 (for `<time datetime>`).
    pub iso: String,
    /// `2026-04-01 09:15 UTC`.
    pub text: String,
    /// `3 min ago`, `in 23 h 59 min`.
    pub rel: String,
}

/// Formats `t` as seen at `now`.
pub fn when(t: Timestamp, now: Timestamp) -> When {
    When {
        iso: t.to_iso(),
        text: absolute(t),
        rel: relative(t.unix_seconds() - now.unix_seconds()),
    }
}

/// `2026-04-01 09:15 UTC`.
pub fn absolute(t: Timestamp) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    OffsetDateTime::from_unix_timestamp(t.unix_seconds())
        .ok()
        .and_then(|d| d.format(&fmt).ok())
        .unwrap_or_default()
}

/// `14:00` (an hour label on charts).
pub fn hour_label(t: Timestamp) -> String {
    let fmt = format_description!("[hour]:[minute]");
    OffsetDateTime::from_unix_timestamp(t.unix_seconds())
        .ok()
        .and_then(|d| d.format(&fmt).ok())
        .unwrap_or_default()
}

/// `Apr 01` (a day label on charts).
pub fn day_label(t: Timestamp) -> String {
    let fmt = format_description!("[month repr:short] [day]");
    OffsetDateTime::from_unix_timestamp(t.unix_seconds())
        .ok()
        .and_then(|d| d.format(&fmt).ok())
        .unwrap_or_default()
}

/// A span of time in the two largest units: `3 days 4 h`, `23 h 59 min`, `5 min`, `42 s`.
pub fn span(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (1, 0, _) => "1 day".to_owned(),
        (1, h, _) => format!("1 day {h} h"),
        (d, 0, _) => format!("{d} days"),
        (d, h, _) => format!("{d} days {h} h"),
    }
}

/// `in 5 min`, `5 min ago`, `just now`.
pub fn relative(delta_secs: i64) -> String {
    if delta_secs.abs() < 30 {
        return "just now".to_owned();
    }
    let s = span(delta_secs.unsigned_abs());
    if delta_secs > 0 {
        format!("in {s}")
    } else {
        format!("{s} ago")
    }
}

/// One key as a table row.
#[derive(Debug, Clone)]
pub struct KeyRow {
    /// `key_…`.
    pub id: String,
    /// Label.
    pub name: String,
    /// `sk_live_abcd…wxyz`.
    pub hint: String,
    /// `read`, `write`, `admin`.
    pub scope: &'static str,
    /// `live` or `test`.
    pub environment: &'static str,
    /// `active`, `rotating`, `expired`, `revoked`.
    pub status: &'static str,
    /// Creation.
    pub created: When,
    /// Last use, if any.
    pub last_used: Option<When>,
    /// Address of the last use.
    pub last_ip: String,
    /// Expiry (or end of the rotation grace period).
    pub expires: Option<When>,
    /// When it was seen over plain HTTP.
    pub exposed: Option<When>,
    /// The allow-list, or `Any address`.
    pub ips: String,
    /// Whether requests with it are served (active or rotating).
    pub usable: bool,
    /// Whether it is in a rotation grace period.
    pub rotating: bool,
}

impl KeyRow {
    /// The row of `k` at `now`.
    pub fn new(k: &KeyRecord, now: Timestamp) -> Self {
        let status = k.status(now);
        Self {
            id: k.id.to_string(),
            name: k.name.clone(),
            hint: k.hint.clone(),
            scope: k.scope.as_str(),
            environment: k.environment.as_str(),
            status: status.as_str(),
            created: when(k.created_at, now),
            last_used: k.last_used_at.map(|t| when(t, now)),
            last_ip: k.last_used_ip.clone().unwrap_or_default(),
            expires: k.expires_at.map(|t| when(t, now)),
            exposed: k.exposed_at.map(|t| when(t, now)),
            ips: if k.allowed_ips.is_empty() {
                "Any address".to_owned()
            } else {
                k.allowed_ips.join(", ")
            },
            usable: status.usable(),
            rotating: status == KeyStatus::Rotating,
        }
    }

    /// Whether it was exposed and still works: the case to flag prominently.
    pub fn exposed_and_usable(&self) -> bool {
        self.exposed.is_some() && self.usable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_relatives() {
        assert_eq!(span(42), "42 s");
        assert_eq!(span(300), "5 min");
        assert_eq!(span(86_340), "23 h 59 min");
        assert_eq!(span(86_400), "1 day");
        assert_eq!(span(3 * 86_400 + 4 * 3600), "3 days 4 h");
        assert_eq!(relative(10), "just now");
        assert_eq!(relative(3600), "in 1 h 0 min");
        assert_eq!(relative(-120), "2 min ago");
        assert_eq!(
            absolute(Timestamp(1_775_034_900_000)),
            "2026-04-01 09:15 UTC"
        );
    }
}
