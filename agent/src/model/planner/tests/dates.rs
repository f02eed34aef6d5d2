//! The date parser: relative days, weekdays, calendar dates, times, DST and month ends.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::model::planner::dates::{Clock, DateIssue, parse};

fn at(now: &str, tz: Tz, text: &str) -> Result<String, DateIssue> {
    let now: DateTime<Utc> = now.parse().unwrap_or_default();
    match parse(text, Clock::new(now, tz)) {
        Some(r) => r.map(|w| w.rfc3339()),
        None => Err(DateIssue::Invalid(format!("not a date: {text}"))),
    }
}

/// Saturday 21 Nov 2026, 15:00 in Oslo (UTC+1).
fn oslo(text: &str) -> Result<String, DateIssue> {
    at("2026-11-21T14:00:00Z", chrono_tz::Europe::Oslo, text)
}

#[test]
fn relative_days_and_default_times() {
    let cases = [
        ("tomorrow", "2026-11-22T08:00:00Z"),
        ("tomorrow at 10", "2026-11-22T09:00:00Z"),
        ("tomorrow 10am", "2026-11-22T09:00:00Z"),
        ("at 10 tomorrow", "2026-11-22T09:00:00Z"),
        ("tomorrow morning", "2026-11-22T08:00:00Z"),
        ("tomorrow afternoon", "2026-11-22T13:00:00Z"),
        ("the day after tomorrow", "2026-11-23T08:00:00Z"),
        // 09:00 has passed today, so "today" without a time is 17:00.
        ("today", "2026-11-21T16:00:00Z"),
        ("today at 4:30pm", "2026-11-21T15:30:00Z"),
        ("tonight", "2026-11-21T19:00:00Z"),
        ("this evening", "2026-11-21T17:00:00Z"),
        ("in 2 days", "2026-11-23T08:00:00Z"),
        ("in a week", "2026-11-28T08:00:00Z"),
        ("in two weeks", "2026-12-05T08:00:00Z"),
        ("in 2 hours", "2026-11-21T16:00:00Z"),
        ("in 30 minutes", "2026-11-21T14:30:00Z"),
        ("in half an hour", "2026-11-21T14:30:00Z"),
        ("3 days from now", "2026-11-24T08:00:00Z"),
    ];
    for (text, want) in cases {
        assert_eq!(oslo(text), Ok(want.to_string()), "{text}");
    }
}

#[test]
fn weekdays_and_weeks() {
    let cases = [
        // Today is Saturday 21 Nov.
        ("Monday", "2026-11-23T08:00:00Z"),
        ("on Friday", "2026-11-27T08:00:00Z"),
        ("next Friday", "2026-11-27T08:00:00Z"),
        ("next Monday", "2026-11-23T08:00:00Z"),
        ("this Sunday", "2026-11-22T08:00:00Z"),
        ("this Saturday", "2026-11-21T16:00:00Z"),
        ("Saturday", "2026-11-28T08:00:00Z"),
        ("next week", "2026-11-23T08:00:00Z"),
        ("end of the week", "2026-11-27T08:00:00Z"),
        ("by end of week", "2026-11-27T08:00:00Z"),
        ("Friday at 3pm", "2026-11-27T14:00:00Z"),
        ("at 10am on Friday", "2026-11-27T09:00:00Z"),
        ("on tue at 9", "2026-11-24T08:00:00Z"),
    ];
    for (text, want) in cases {
        assert_eq!(oslo(text), Ok(want.to_string()), "{text}");
    }
    // On a Monday, "next Friday" is the Friday of next week and "Friday" this week's.
    let monday = "2026-11-16T10:00:00Z";
    let tz = chrono_tz::Europe::Oslo;
    assert_eq!(
        at(monday, tz, "next Friday"),
        Ok("2026-11-27T08:00:00Z".into())
    );
    assert_eq!(at(monday, tz, "Friday"), Ok("2026-11-20T08:00:00Z".into()));
    assert_eq!(
        at(monday, tz, "end of week"),
        Ok("2026-11-20T08:00:00Z".into())
    );
}

#[test]
fn calendar_dates() {
    let cases = [
        ("December 3", "2026-12-03T08:00:00Z"),
        ("Dec 3rd at 14:30", "2026-12-03T13:30:00Z"),
        ("3 December", "2026-12-03T08:00:00Z"),
        ("the 3rd of December", "2026-12-03T08:00:00Z"),
        ("on the 5th", "2026-12-05T08:00:00Z"),
        ("the 31st", "2026-12-31T08:00:00Z"),
        ("2026-12-01", "2026-12-01T08:00:00Z"),
        ("2026-12-01 at 15:00", "2026-12-01T14:00:00Z"),
        ("25/12", "2026-12-25T08:00:00Z"),
        ("12/25/2026", "2026-12-25T08:00:00Z"),
        // Long past this year: next year's.
        ("Jan 5", "2027-01-05T08:00:00Z"),
        ("March 1, 2027", "2027-03-01T08:00:00Z"),
        ("end of month", "2026-11-30T08:00:00Z"),
        ("start of next month", "2026-12-01T08:00:00Z"),
    ];
    for (text, want) in cases {
        assert_eq!(oslo(text), Ok(want.to_string()), "{text}");
    }
}

#[test]
fn times_of_day() {
    let cases = [
        ("at 5", "2026-11-21T16:00:00Z"),
        ("at 10", "2026-11-22T09:00:00Z"),
        ("3:30pm", "2026-11-21T14:30:00Z"),
        ("at 3:30", "2026-11-21T14:30:00Z"),
        ("at 18:45", "2026-11-21T17:45:00Z"),
        ("at noon", "2026-11-22T11:00:00Z"),
        ("in the morning", "2026-11-22T08:00:00Z"),
        ("tomorrow at 8 in the evening", "2026-11-22T19:00:00Z"),
        ("end of day", "2026-11-21T16:00:00Z"),
        ("at 10 a.m. tomorrow", "2026-11-22T09:00:00Z"),
    ];
    for (text, want) in cases {
        assert_eq!(oslo(text), Ok(want.to_string()), "{text}");
    }
}

#[test]
fn unclear_dates_are_questions() {
    assert!(matches!(oslo("3/4"), Err(DateIssue::Ambiguous(q)) if q.contains("day/month")));
    assert!(matches!(oslo("next month"), Err(DateIssue::Vague(_))));
    assert!(matches!(oslo("this week"), Err(DateIssue::Vague(_))));
    assert!(matches!(oslo("in a few days"), Err(DateIssue::Vague(_))));
    assert!(matches!(oslo("later"), Err(DateIssue::Vague(_))));
    assert!(matches!(oslo("February 30"), Err(DateIssue::Invalid(_))));
    assert!(matches!(oslo("at 25:00"), Err(DateIssue::Invalid(_))));
    assert!(matches!(oslo("at 13pm"), Err(DateIssue::Invalid(_))));
    assert!(matches!(oslo("midnight"), Err(DateIssue::Ambiguous(_))));
    assert_eq!(oslo("yesterday"), Err(DateIssue::Past));
    assert_eq!(oslo("today at 9"), Err(DateIssue::Past));
    // A day that passed days ago is probably a slip, not next year.
    assert_eq!(oslo("Nov 20"), Err(DateIssue::Past));
    assert_eq!(oslo("2026-01-01"), Err(DateIssue::Past));
    assert!(oslo("tomorrow and Friday").is_err());
    assert!(
        parse(
            "call Jane",
            Clock::new(super::now(), chrono_tz::Europe::Oslo)
        )
        .is_none()
    );
}

#[test]
fn dst_gaps_and_repeats() {
    let oslo = chrono_tz::Europe::Oslo;
    // Spring forward: 28 Mar 2027 02:00 → 03:00 in Oslo; 02:30 does not exist.
    let sat = "2027-03-27T12:00:00Z";
    assert_eq!(
        at(sat, oslo, "tomorrow at 2:30am"),
        Ok("2027-03-28T01:30:00Z".into())
    );
    assert_eq!(
        at(sat, oslo, "tomorrow at 9"),
        Ok("2027-03-28T07:00:00Z".into())
    );
    assert_eq!(
        at(sat, oslo, "tomorrow at 1:30am"),
        Ok("2027-03-28T00:30:00Z".into())
    );
    // Fall back: 25 Oct 2026 03:00 → 02:00; 02:30 happens twice, the first is taken.
    let fall = "2026-10-24T12:00:00Z";
    assert_eq!(
        at(fall, oslo, "tomorrow at 2:30am"),
        Ok("2026-10-25T00:30:00Z".into())
    );
    assert_eq!(
        at(fall, oslo, "tomorrow at 9"),
        Ok("2026-10-25T08:00:00Z".into())
    );
    // "In 2 days" counts calendar days in the zone, not 48 hours.
    assert_eq!(
        at(fall, oslo, "in 2 days at 10"),
        Ok("2026-10-26T09:00:00Z".into())
    );
    // New York: 1 Nov 2026 falls back to EST.
    let ny = chrono_tz::America::New_York;
    let before = "2026-10-31T16:00:00Z";
    assert_eq!(
        at(before, ny, "tomorrow at 9am"),
        Ok("2026-11-01T14:00:00Z".into())
    );
    assert_eq!(
        at(before, ny, "today at 5pm"),
        Ok("2026-10-31T21:00:00Z".into())
    );
    // Spring forward in New York, 14 Mar 2027 02:00 → 03:00.
    assert_eq!(
        at("2027-03-13T15:00:00Z", ny, "tomorrow at 2:30am"),
        Ok("2027-03-14T07:30:00Z".into())
    );
}

#[test]
fn month_ends() {
    let utc = chrono_tz::UTC;
    // Jan 31 + one month is the last day of February.
    assert_eq!(
        at("2027-01-31T08:00:00Z", utc, "in a month"),
        Ok("2027-02-28T09:00:00Z".into())
    );
    assert_eq!(
        at("2028-01-31T08:00:00Z", utc, "in 1 month"),
        Ok("2028-02-29T09:00:00Z".into())
    );
    assert_eq!(
        at("2028-02-10T08:00:00Z", utc, "end of month"),
        Ok("2028-02-29T09:00:00Z".into())
    );
    assert_eq!(
        at("2026-12-31T08:00:00Z", utc, "tomorrow"),
        Ok("2027-01-01T09:00:00Z".into())
    );
    assert_eq!(
        at("2026-12-20T08:00:00Z", utc, "start of next month"),
        Ok("2027-01-01T09:00:00Z".into())
    );
    // "The 31st" skips months without one.
    assert_eq!(
        at("2027-04-05T08:00:00Z", utc, "the 31st"),
        Ok("2027-05-31T09:00:00Z".into())
    );
    assert!(at("2027-01-10T08:00:00Z", utc, "February 29").is_err());
    assert_eq!(
        at("2027-01-10T08:00:00Z", utc, "February 28"),
        Ok("2027-02-28T09:00:00Z".into())
    );
}
