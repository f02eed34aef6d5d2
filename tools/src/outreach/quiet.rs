//! Quiet hours: a daily window, in the contact's own time zone, when nobody is texted or
//! called. The default is 21:00–08:00; a window whose start is after its end runs overnight.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone as _, Utc};
use chrono_tz::Tz;

/// A daily window `[start, end)` of local time. Equal ends mean no quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietHours {
    /// Whether `local` falls inside the window.
    pub fn contains(&self, local: NaiveTime) -> bool {
        if self.start == self.end {
            false
        } else if self.start < self.end {
            self.start <= local && local < self.end
        } else {
            local >= self.start || local < self.end
        }
    }

    /// `None` when `at` is outside quiet hours in `tz`; otherwise the first moment after it
    /// when they end (the local clock reaches `end`).
    pub fn next_allowed(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&tz);
        if !self.contains(local.time()) {
            return None;
        }
        let today = local.date_naive();
        let day = if local.time() < self.end {
            today
        } else {
            today.succ_opt().unwrap_or(today)
        };
        Some(at_local(tz, day, self.end).max(at))
    }

    /// "21:00–08:00".
    pub fn describe(&self) -> String {
        format!(
            "{}–{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

impl Default for QuietHours {
    fn default() -> Self {
        QuietHours {
            start: NaiveTime::from_hms_opt(21, 0, 0).unwrap_or_default(),
            end: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
        }
    }
}

/// `time` on `day` in `tz`, in UTC. A local time skipped by a DST change is moved forward
/// past the gap; a repeated one takes its first occurrence.
pub fn at_local(tz: Tz, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = day.and_time(time);
    for shift in 0..=4 {
        let candidate = naive + Duration::minutes(30 * shift);
        if let Some(t) = tz.from_local_datetime(&candidate).earliest() {
            return t.with_timezone(&Utc);
        }
    }
    naive.and_utc()
}

/// The start of the local day after the one containing `at`, in UTC.
pub fn next_local_midnight(at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let day = at.with_timezone(&tz).date_naive();
    at_local(
        tz,
        day.succ_opt().unwrap_or(day),
        NaiveTime::from_hms_opt(0, 0, 0).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn overnight_window() {
        let q = QuietHours::default();
        assert!(q.contains(t(21, 0)) && q.contains(t(23, 59)) && q.contains(t(7, 59)));
        assert!(!q.contains(t(8, 0)) && !q.contains(t(20, 59)) && !q.contains(t(12, 0)));
        let ny = chrono_tz::America::New_York;
        // 23:30 in New York (03:30 UTC next day, EST) → 08:00 New York the next morning.
        assert_eq!(
            q.next_allowed(utc("2026-01-16T04:30:00Z"), ny),
            Some(utc("2026-01-16T13:00:00Z"))
        );
        // 06:00 in New York → 08:00 the same day.
        assert_eq!(
            q.next_allowed(utc("2026-01-16T11:00:00Z"), ny),
            Some(utc("2026-01-16T13:00:00Z"))
        );
        assert_eq!(q.next_allowed(utc("2026-01-16T17:00:00Z"), ny), None);
    }

    #[test]
    fn daytime_and_empty_windows() {
        let q = QuietHours {
            start: t(12, 0),
            end: t(14, 0),
        };
        assert!(q.contains(t(12, 0)) && !q.contains(t(14, 0)) && !q.contains(t(11, 0)));
        assert_eq!(
            q.next_allowed(utc("2026-03-02T13:00:00Z"), chrono_tz::UTC),
            Some(utc("2026-03-02T14:00:00Z"))
        );
        let none = QuietHours {
            start: t(9, 0),
            end: t(9, 0),
        };
        assert_eq!(
            none.next_allowed(utc("2026-03-02T09:00:00Z"), chrono_tz::UTC),
            None
        );
    }

    #[test]
    fn dst_gap_moves_forward() {
        // 2026-03-08 02:30 does not exist in New York.
        let ny = chrono_tz::America::New_York;
        let at = at_local(ny, NaiveDate::from_ymd_opt(2026, 3, 8).unwrap(), t(2, 30));
        assert_eq!(at, utc("2026-03-08T07:00:00Z"));
    }
}
