//! Times and durations as fixtures write them (`now-15m`, RFC 3339, `7d`), and the years a
//! time may fall in so that both dialects store it alike.

use chrono::{DateTime, Duration, Utc};

/// The years a fixture time may fall in, in UTC. PostgreSQL would take 4713 BC to
/// 294276 AD, but SQLite stores times as ISO-8601 text, which sorts and parses as a time only
/// with a four-digit year.
pub const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// `now`, `now-15m`, `now+2h`, `now-7d`, or an RFC 3339 timestamp.
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix("now") {
        if rest.is_empty() {
            return Some(now);
        }
        let (sign, amount) = match rest.split_at(1) {
            ("-", amount) => (-1, amount),
            ("+", amount) => (1, amount),
            _ => return None,
        };
        let duration = parse_duration(amount)?;
        return now.checked_add_signed(duration * sign);
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `30s`, `15m`, `2h`, `7d`, `1w`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(unit_at);
    let n: i64 = digits.parse().ok()?;
    match unit {
        "s" => Duration::try_seconds(n),
        "m" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        "w" => Duration::try_weeks(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn relative_times() {
        let now = utc("2026-02-07T12:00:00Z");
        assert_eq!(parse_time("now", now), Some(now));
        assert_eq!(
            parse_time("now-15m", now),
            Some(now - Duration::minutes(15))
        );
        assert_eq!(parse_time("now+2h", now), Some(now + Duration::hours(2)));
        assert_eq!(parse_time("now-7d", now), Some(now - Duration::days(7)));
        assert_eq!(parse_time("now-7x", now), None);
        assert_eq!(
            parse_time("2026-02-01T08:30:00+01:00", now),
            Some(utc("2026-02-01T07:30:00Z"))
        );
        assert_eq!(parse_time("yesterday", now), None);
    }
}
