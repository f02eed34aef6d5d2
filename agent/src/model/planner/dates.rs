//! Dates and times in plain English, read in the user's time zone and turned into UTC.
//!
//! A small grammar over tokens. An expression is a run of parts with optional connectors
//! ("on", "at", "by", ","), at most one day and one time of day:
//!
//! - days: `today`, `tomorrow`, `the day after tomorrow`, `yesterday`, `tonight`,
//!   `[this|next|on|coming] <weekday>`, `next week` (its Monday), `end of [the] week` (the coming
//!   Friday), `end of [the] month`, `start of next month`, `<month> <day>[, <year>]`,
//!   `<day> [of] <month> [<year>]`, `the <nth>`, `YYYY-MM-DD`, `D/M` or `M/D` (asked about when
//!   both readings are dates), `in N days|weeks|months`;
//! - times: `at 10`, `10am`, `3:30 pm`, `15:00`, `noon`, `end of day`, `morning`, `afternoon`,
//!   `evening`, `in N minutes|hours` (an exact moment).
//!
//! Conventions, so the same words always mean the same moment:
//! - a day without a time is 09:00 local (today: 09:00, else 17:00 if 09:00 has passed);
//! - a time without a day is its next occurrence;
//! - a bare hour after "at"/"by" reads as working hours: 1–6 are afternoon (13–18h), 7–11
//!   morning, 12 noon; `3:30` likewise; `am`/`pm` or 24-hour times are taken as written;
//! - `<weekday>` and `on <weekday>` are the next such day after today; `this <weekday>` may be
//!   today; `next <weekday>` is that day of next week (Monday-based);
//! - a month and day without a year that has passed this year is next year's, unless it passed
//!   within the last 30 days (then it is probably a slip, and we ask);
//! - a local time skipped by a DST change moves forward by the gap (02:30 → 03:30); a repeated
//!   one takes the first occurrence.
//!
//! Vague ("next month", "in a few days", "later"), ambiguous (`3/4`), invalid (`February 30`,
//! `25:00`) and past moments are returned as a [`DateIssue`] with the question to ask.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime,
    Offset as _, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

use super::text::{Sentence, Token};

/// A moment the user named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When {
    pub at: DateTime<Utc>,
    /// Whether the user gave a time of day (otherwise a default was used).
    pub timed: bool,
}

impl When {
    /// RFC 3339 in UTC, e.g. `2026-11-22T09:00:00Z`.
    pub fn rfc3339(&self) -> String {
        self.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
}

/// Why a date expression cannot be used as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateIssue {
    /// Two readings, e.g. `3/4`.
    Ambiguous(String),
    /// Not specific enough, e.g. "next month".
    Vague(String),
    /// Not a real date or time, e.g. "February 30".
    Invalid(String),
    /// The moment has already passed.
    Past,
}

impl DateIssue {
    /// The clarifying question to ask.
    pub fn question(&self) -> String {
        match self {
            DateIssue::Ambiguous(q) | DateIssue::Vague(q) | DateIssue::Invalid(q) => q.clone(),
            DateIssue::Past => {
                "That time has already passed. When should it be due instead?".to_string()
            }
        }
    }
}

/// A date expression found in a message: its token range and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Token ranges `[start, end)` the expression covers.
    pub spans: Vec<(usize, usize)>,
    pub result: Result<When, DateIssue>,
}

/// The clock of a turn: now, and the user's zone.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub now: DateTime<Utc>,
    pub tz: Tz,
}

impl Clock {
    pub fn new(now: DateTime<Utc>, tz: Tz) -> Clock {
        Clock { now, tz }
    }

    fn local_now(&self) -> NaiveDateTime {
        self.now.with_timezone(&self.tz).naive_local()
    }

    pub fn today(&self) -> NaiveDate {
        self.local_now().date()
    }

    /// A local wall time in UTC, DST-safe (see the module notes).
    pub fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            LocalResult::None => {
                // In a gap: read the wall time with the offset in force just before the gap,
                // which lands as far past the gap as the time was into it.
                let before = local - Duration::hours(6);
                let offset = self
                    .tz
                    .from_local_datetime(&before)
                    .earliest()
                    .map(|t| t.offset().fix());
                match offset {
                    Some(o) => {
                        (local - Duration::seconds(i64::from(o.local_minus_utc()))).and_utc()
                    }
                    None => local.and_utc(),
                }
            }
        }
    }
}

/// One part of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Day(NaiveDate),
    Time(NaiveTime),
    /// A loose time of day ("morning"), overridden by an exact time.
    Period(NaiveTime),
    /// A day and a period together ("tonight", "this afternoon").
    DayPeriod(NaiveDate, NaiveTime),
    Instant(DateTime<Utc>),
}

type Parsed = Result<(usize, Part), (usize, DateIssue)>;

const CONNECTORS: &[&str] = &[
    "on", "at", "by", "due", "before", "until", "for", ",", "@", "around",
];
const MIDDLE: &[&str] = &["on", "at", "by", ",", "@", "around"];

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

fn weekday(w: &str) -> Option<(Weekday, bool)> {
    // (day, whether the word is a full name, which may stand alone)
    Some(match w {
        "monday" => (Weekday::Mon, true),
        "tuesday" => (Weekday::Tue, true),
        "wednesday" => (Weekday::Wed, true),
        "thursday" => (Weekday::Thu, true),
        "friday" => (Weekday::Fri, true),
        "saturday" => (Weekday::Sat, true),
        "sunday" => (Weekday::Sun, true),
        "mon" => (Weekday::Mon, false),
        "tue" | "tues" => (Weekday::Tue, false),
        "wed" => (Weekday::Wed, false),
        "thu" | "thur" | "thurs" => (Weekday::Thu, false),
        "fri" => (Weekday::Fri, false),
        "sat" => (Weekday::Sat, false),
        "sun" => (Weekday::Sun, false),
        _ => return None,
    })
}

pub fn month(w: &str) -> Option<u32> {
    const NAMES: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let w = w.trim_end_matches('.');
    if w.len() < 3 {
        return None;
    }
    NAMES
        .iter()
        .position(|n| *n == w || (w.len() >= 3 && n.starts_with(w) && (w.len() <= 4)))
        .map(|p| p as u32 + 1)
}

/// "3", "3rd", "21st" → 3, 21 (day numbers 1–31 only).
fn day_number(w: &str) -> Option<(u32, bool)> {
    let (digits, ordinal) = match w.strip_suffix("st").or_else(|| w.strip_suffix("nd")) {
        Some(d) => (d, true),
        None => match w.strip_suffix("rd").or_else(|| w.strip_suffix("th")) {
            Some(d) => (d, true),
            None => (w, false),
        },
    };
    if digits.is_empty() || digits.len() > 2 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: u32 = digits.parse().ok()?;
    (1..=31).contains(&n).then_some((n, ordinal))
}

fn year(w: &str) -> Option<i32> {
    (w.len() == 4 && w.chars().all(|c| c.is_ascii_digit()))
        .then(|| w.parse().ok())
        .flatten()
        .filter(|y| (2000..=2200).contains(y))
}

/// "2", "two", "a", "an" → 2, 2, 1, 1.
fn count(w: &str) -> Option<u32> {
    const WORDS: [&str; 12] = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve",
    ];
    if let Some(p) = WORDS.iter().position(|x| *x == w) {
        return Some(p as u32 + 1);
    }
    match w {
        "a" | "an" => Some(1),
        _ if !w.is_empty() && w.len() <= 4 && w.chars().all(|c| c.is_ascii_digit()) => {
            w.parse().ok()
        }
        _ => None,
    }
}

struct Reader<'a> {
    toks: &'a [Token],
    clock: Clock,
    today: NaiveDate,
}

impl Reader<'_> {
    fn w(&self, i: usize) -> &str {
        self.toks.get(i).map(|t| t.low.as_str()).unwrap_or("")
    }

    fn seq(&self, i: usize, words: &[&str]) -> bool {
        words.iter().enumerate().all(|(k, w)| self.w(i + k) == *w)
    }

    /// One part starting at token `i`, with the index after it.
    fn part(&self, i: usize) -> Option<Parsed> {
        self.relative(i)
            .or_else(|| self.named_day(i))
            .or_else(|| self.calendar_date(i))
            .or_else(|| self.time(i))
            .or_else(|| self.period(i))
    }

    fn day(&self, i: usize, d: Option<NaiveDate>, question: &str) -> Parsed {
        match d {
            Some(d) => Ok((i, Part::Day(d))),
            None => Err((i, DateIssue::Invalid(question.to_string()))),
        }
    }

    /// "in 2 days", "in an hour", "3 weeks from now".
    fn relative(&self, i: usize) -> Option<Parsed> {
        let (n_at, had_in) = if self.w(i) == "in" {
            (i + 1, true)
        } else {
            (i, false)
        };
        let mut j = n_at;
        let n = if self.seq(j, &["half", "an", "hour"]) || self.seq(j, &["half", "hour"]) {
            let len = if self.w(j + 1) == "an" { 3 } else { 2 };
            return Some(Ok((
                j + len,
                Part::Instant(self.clock.now + Duration::minutes(30)),
            )));
        } else if self.seq(j, &["a", "couple", "of"]) || self.seq(j, &["couple", "of"]) {
            j += if self.w(j) == "a" { 3 } else { 2 };
            Some(2)
        } else if (self.w(j) == "a" && self.w(j + 1) == "few") || self.w(j) == "few" {
            let unit_at = j + if self.w(j) == "a" { 2 } else { 1 };
            if unit(self.w(unit_at)).is_some() && had_in {
                return Some(Err((
                    unit_at + 1,
                    DateIssue::Vague(format!("How many {} exactly?", self.w(unit_at))),
                )));
            }
            return None;
        } else {
            let n = count(self.w(j));
            j += 1;
            n
        }?;
        let u = unit(self.w(j))?;
        let mut end = j + 1;
        if !had_in {
            // Without "in", only "N units from now/today".
            if self.seq(end, &["from", "now"]) || self.seq(end, &["from", "today"]) {
                end += 2;
            } else {
                return None;
            }
        }
        let n64 = i64::from(n);
        let part = match u {
            Unit::Minute => Part::Instant(self.clock.now + Duration::minutes(n64)),
            Unit::Hour => Part::Instant(self.clock.now + Duration::hours(n64)),
            Unit::Day => {
                return Some(self.day(
                    end,
                    self.today.checked_add_signed(Duration::days(n64)),
                    "That date is out of range.",
                ));
            }
            Unit::Week => {
                return Some(self.day(
                    end,
                    self.today.checked_add_signed(Duration::weeks(n64)),
                    "That date is out of range.",
                ));
            }
            Unit::Month => {
                return Some(self.day(
                    end,
                    self.today.checked_add_months(Months::new(n)),
                    "That date is out of range.",
                ));
            }
        };
        Some(Ok((end, part)))
    }

    /// today, tomorrow, weekdays, next week, end of week/month, vague ones.
    fn named_day(&self, i: usize) -> Option<Parsed> {
        let t = self.today;
        let w = self.w(i);
        let simple = |n: i64, len: usize| Some(Ok((i + len, Part::Day(t + Duration::days(n)))));
        if self.seq(i, &["the", "day", "after", "tomorrow"]) {
            return simple(2, 4);
        }
        if self.seq(i, &["day", "after", "tomorrow"]) {
            return simple(2, 3);
        }
        match w {
            "today" => return simple(0, 1),
            "tomorrow" | "tmrw" | "tmr" | "tomorow" | "tommorow" => return simple(1, 1),
            "yesterday" => return simple(-1, 1),
            "tonight" => return Some(Ok((i + 1, Part::DayPeriod(t, hm(20, 0))))),
            "eow" => return Some(Ok((i + 1, Part::Day(self.end_of_week())))),
            "eom" => return Some(Ok((i + 1, Part::Day(end_of_month(t))))),
            "later" | "soon" | "sometime" | "someday" | "eventually" => {
                return Some(Err((
                    i + 1,
                    DateIssue::Vague(
                        "When exactly? For example “tomorrow at 10” or “next Friday”.".into(),
                    ),
                )));
            }
            _ => {}
        }
        for (prefix, len) in [
            (&["end", "of", "the"][..], 3),
            (&["end", "of", "this"][..], 3),
            (&["end", "of"][..], 2),
        ] {
            if self.seq(i, prefix) {
                match self.w(i + len) {
                    "week" => return Some(Ok((i + len + 1, Part::Day(self.end_of_week())))),
                    "month" => return Some(Ok((i + len + 1, Part::Day(end_of_month(t))))),
                    "day" | "today" => return Some(Ok((i + len + 1, Part::Time(hm(17, 0))))),
                    _ => {}
                }
            }
        }
        if self.seq(i, &["end", "of", "next", "week"]) {
            return Some(Ok((
                i + 4,
                Part::Day(self.monday_next_week() + Duration::days(4)),
            )));
        }
        for p in [
            &["start", "of", "next", "month"][..],
            &["beginning", "of", "next", "month"][..],
        ] {
            if self.seq(i, p) {
                let first = t
                    .with_day(1)
                    .and_then(|d| d.checked_add_months(Months::new(1)));
                return Some(self.day(i + 4, first, "That date is out of range."));
            }
        }
        let (which, wd_at) = match w {
            "next" => ("next", i + 1),
            "this" if self.w(i + 1) == "coming" => ("on", i + 2),
            "this" => ("this", i + 1),
            "coming" | "on" | "upcoming" => ("on", i + 1),
            _ => ("bare", i),
        };
        if which == "next" || which == "this" {
            match self.w(wd_at) {
                "week" if which == "next" => {
                    return Some(Ok((wd_at + 1, Part::Day(self.monday_next_week()))));
                }
                "week" => {
                    return Some(Err((
                        wd_at + 1,
                        DateIssue::Vague("Which day this week?".into()),
                    )));
                }
                "month" | "year" => {
                    return Some(Err((
                        wd_at + 1,
                        DateIssue::Vague(format!("Which day {} {}?", which, self.w(wd_at))),
                    )));
                }
                "morning" | "afternoon" | "evening" if which == "this" => {
                    let p = period_time(self.w(wd_at))?;
                    return Some(Ok((wd_at + 1, Part::DayPeriod(t, p))));
                }
                _ => {}
            }
        }
        let (wd, full) = weekday(self.w(wd_at))?;
        if which == "bare" && !full {
            return None;
        }
        let ahead = |from: NaiveDate, include: bool| {
            let mut d = if include {
                from
            } else {
                from + Duration::days(1)
            };
            while d.weekday() != wd {
                d += Duration::days(1);
            }
            d
        };
        let day = match which {
            "next" => {
                let monday = self.monday_next_week();
                monday + Duration::days(i64::from(wd.num_days_from_monday()))
            }
            "this" => ahead(t, true),
            _ => ahead(t, false),
        };
        Some(Ok((wd_at + 1, Part::Day(day))))
    }

    fn monday_next_week(&self) -> NaiveDate {
        let t = self.today;
        t + Duration::days(7 - i64::from(t.weekday().num_days_from_monday()))
    }

    fn end_of_week(&self) -> NaiveDate {
        let mut d = self.today;
        while d.weekday() != Weekday::Fri {
            d += Duration::days(1);
        }
        d
    }

    /// Month names, ISO dates, slash dates, "the 5th".
    fn calendar_date(&self, i: usize) -> Option<Parsed> {
        let w = self.w(i);
        // YYYY-MM-DD
        if w.len() == 10 && w.as_bytes().get(4) == Some(&b'-') && w.as_bytes().get(7) == Some(&b'-')
        {
            let d = NaiveDate::parse_from_str(w, "%Y-%m-%d").ok();
            return Some(match d {
                Some(d) => Ok((i + 1, Part::Day(d))),
                None => Err((
                    i + 1,
                    DateIssue::Invalid(format!("“{w}” is not a real date. Which day do you mean?")),
                )),
            });
        }
        if let Some(p) = self.slash_date(i) {
            return Some(p);
        }
        // <month> <day>[,] [<year>]
        if let Some(m) = month(w) {
            let (d, _) = day_number(self.w(i + 1))?;
            let mut end = i + 2;
            if self.w(end) == "," && year(self.w(end + 1)).is_some() {
                end += 1;
            }
            let y = year(self.w(end));
            if y.is_some() {
                end += 1;
            }
            return Some(self.month_day(end, m, d, y));
        }
        // [the] <day>[ of] <month> [<year>]  |  the <nth>
        let (at, had_the) = if w == "the" {
            (i + 1, true)
        } else {
            (i, false)
        };
        let (d, ordinal) = day_number(self.w(at))?;
        let mut j = at + 1;
        if self.w(j) == "of" {
            j += 1;
        }
        if let Some(m) = month(self.w(j)) {
            let y = year(self.w(j + 1));
            let end = if y.is_some() { j + 2 } else { j + 1 };
            return Some(self.month_day(end, m, d, y));
        }
        if had_the && ordinal {
            // The next such day of a month, this month first.
            let mut first = self.today.with_day(1)?;
            for _ in 0..13 {
                if let Some(date) = first.with_day(d)
                    && date >= self.today
                {
                    return Some(Ok((at + 1, Part::Day(date))));
                }
                first = first.checked_add_months(Months::new(1))?;
            }
        }
        None
    }

    fn month_day(&self, end: usize, m: u32, d: u32, y: Option<i32>) -> Parsed {
        let this_year = self.today.year();
        let Some(date) = NaiveDate::from_ymd_opt(y.unwrap_or(this_year), m, d) else {
            return Err((
                end,
                DateIssue::Invalid(
                    "That day does not exist in that month. Which day do you mean?".into(),
                ),
            ));
        };
        if y.is_none() && date < self.today {
            if (self.today - date).num_days() <= 30 {
                return Err((end, DateIssue::Past));
            }
            return match NaiveDate::from_ymd_opt(this_year + 1, m, d) {
                Some(next) => Ok((end, Part::Day(next))),
                None => Err((
                    end,
                    DateIssue::Invalid(
                        "That day does not exist next year. Which day do you mean?".into(),
                    ),
                )),
            };
        }
        Ok((end, Part::Day(date)))
    }

    /// "3/4", "25/12", "12/25/2026".
    fn slash_date(&self, i: usize) -> Option<Parsed> {
        let w = self.w(i);
        let bits: Vec<&str> = w.split('/').collect();
        if !(bits.len() == 2 || bits.len() == 3)
            || !bits
                .iter()
                .all(|b| !b.is_empty() && b.chars().all(|c| c.is_ascii_digit()))
        {
            return None;
        }
        let a: u32 = bits[0].parse().ok()?;
        let b: u32 = bits[1].parse().ok()?;
        let y = match bits.get(2) {
            Some(y) if y.len() == 4 => Some(y.parse::<i32>().ok()?),
            Some(y) if y.len() == 2 => Some(2000 + y.parse::<i32>().ok()?),
            Some(_) => return None,
            None => None,
        };
        let dm = NaiveDate::from_ymd_opt(y.unwrap_or(self.today.year()), b, a);
        let md = NaiveDate::from_ymd_opt(y.unwrap_or(self.today.year()), a, b);
        Some(match (dm, md) {
            (Some(_), Some(_)) if a != b => Err((
                i + 1,
                DateIssue::Ambiguous(format!(
                    "I can't tell whether “{w}” is day/month or month/day. Could you write the month as a word?"
                )),
            )),
            (Some(_), _) => self.month_day(i + 1, b, a, y),
            (None, Some(_)) => self.month_day(i + 1, a, b, y),
            (None, None) => Err((
                i + 1,
                DateIssue::Invalid(format!(
                    "“{w}” is not a date I can read. Which day do you mean?"
                )),
            )),
        })
    }

    /// "at 10", "10am", "3:30 pm", "15:00", "noon", "10 o'clock".
    fn time(&self, i: usize) -> Option<Parsed> {
        let w = self.w(i);
        match w {
            "noon" | "midday" => return Some(Ok((i + 1, Part::Time(hm(12, 0))))),
            "midnight" => {
                return Some(Err((i + 1, DateIssue::Ambiguous("Midnight at the start or at the end of that day? Please give a time like 23:30.".into()))));
            }
            "eod" | "cob" => return Some(Ok((i + 1, Part::Time(hm(17, 0))))),
            _ => {}
        }
        let after_at = i > 0 && matches!(self.w(i - 1), "at" | "@" | "by" | "around");
        let (body, suffix) = split_meridiem(w);
        let (mut suffix, mut end) = (suffix, i + 1);
        if suffix.is_none()
            && let Some(s) = meridiem(self.w(i + 1))
        {
            suffix = Some(s);
            end = i + 2;
        }
        let (h, m, colon) = match body.split_once([':', '.']) {
            Some((h, m)) if m.len() == 2 && !h.is_empty() && h.len() <= 2 => {
                (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?, true)
            }
            Some(_) => return None,
            None if !body.is_empty()
                && body.len() <= 2
                && body.chars().all(|c| c.is_ascii_digit()) =>
            {
                (body.parse::<u32>().ok()?, 0, false)
            }
            None => return None,
        };
        if body.contains('.') && !after_at {
            return None;
        }
        if !colon && suffix.is_none() && !after_at {
            return None;
        }
        if !colon && suffix.is_none() && self.w(end) == "o'clock" {
            end += 1;
        }
        let bad = || {
            Some(Err((
                end,
                DateIssue::Invalid(format!(
                    "I couldn't read the time “{}”. What time do you mean?",
                    self.toks[i].raw
                )),
            )))
        };
        if m > 59 {
            return bad();
        }
        let hour = match suffix {
            Some(pm) => {
                if !(1..=12).contains(&h) {
                    return bad();
                }
                (h % 12) + if pm { 12 } else { 0 }
            }
            None if h > 23 => return bad(),
            None if body.starts_with('0') || h == 0 || h >= 13 => h,
            None if (1..=6).contains(&h) => h + 12,
            None => h,
        };
        Some(Ok((end, Part::Time(hm(hour, m)))))
    }

    /// "morning", "in the afternoon", "first thing".
    fn period(&self, i: usize) -> Option<Parsed> {
        if self.seq(i, &["in", "the"]) {
            let p = period_time(self.w(i + 2))?;
            return Some(Ok((i + 3, Part::Period(p))));
        }
        if self.seq(i, &["first", "thing"]) {
            return Some(Ok((i + 2, Part::Period(hm(9, 0)))));
        }
        let p = period_time(self.w(i))?;
        // A bare period word only after a day ("tomorrow morning"), checked by the caller.
        Some(Ok((i + 1, Part::Period(p))))
    }
}

#[derive(Clone, Copy)]
enum Unit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
}

fn unit(w: &str) -> Option<Unit> {
    Some(match w {
        "minute" | "minutes" | "min" | "mins" => Unit::Minute,
        "hour" | "hours" | "hr" | "hrs" => Unit::Hour,
        "day" | "days" => Unit::Day,
        "week" | "weeks" | "wk" | "wks" => Unit::Week,
        "month" | "months" => Unit::Month,
        _ => return None,
    })
}

fn period_time(w: &str) -> Option<NaiveTime> {
    Some(match w {
        "morning" => hm(9, 0),
        "lunch" | "lunchtime" => hm(12, 0),
        "afternoon" => hm(14, 0),
        "evening" => hm(18, 0),
        "night" => hm(20, 0),
        _ => return None,
    })
}

fn meridiem(w: &str) -> Option<bool> {
    match w.trim_end_matches('.') {
        "am" | "a.m" => Some(false),
        "pm" | "p.m" => Some(true),
        _ => None,
    }
}

fn split_meridiem(w: &str) -> (&str, Option<bool>) {
    for (suffix, pm) in [
        ("a.m.", false),
        ("p.m.", true),
        ("a.m", false),
        ("p.m", true),
        ("am", false),
        ("pm", true),
    ] {
        if let Some(body) = w.strip_suffix(suffix)
            && !body.is_empty()
            && body
                .chars()
                .all(|c| c.is_ascii_digit() || c == ':' || c == '.')
        {
            return (body, Some(pm));
        }
    }
    (w, None)
}

fn end_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1)
        .and_then(|f| f.checked_add_months(Months::new(1)))
        .and_then(|n| n.pred_opt())
        .unwrap_or(d)
}

/// A run of adjacent parts.
struct Run {
    start: usize,
    end: usize,
    parts: Vec<Part>,
    issue: Option<DateIssue>,
}

fn is_dayish(p: &Part) -> bool {
    matches!(p, Part::Day(_) | Part::DayPeriod(..) | Part::Instant(_))
}

fn is_timeish(p: &Part) -> bool {
    matches!(p, Part::Time(_) | Part::DayPeriod(..) | Part::Instant(_))
}

/// Reads a run of parts starting at `i` (connectors allowed before and between parts).
fn run(r: &Reader<'_>, i: usize) -> Option<Run> {
    let mut parts: Vec<Part> = Vec::new();
    let mut j = i;
    let mut issue = None;
    loop {
        let connectors = if parts.is_empty() { CONNECTORS } else { MIDDLE };
        let mut k = j;
        while k < r.toks.len() && connectors.contains(&r.w(k)) {
            k += 1;
        }
        // A part may start with a connector ("on Friday"); otherwise skip the connectors,
        // which are consumed only when a part follows them.
        let (at, found) = match r.part(j) {
            Some(p) => (j, p),
            None if k > j => match r.part(k) {
                Some(p) => (k, p),
                None => break,
            },
            None => break,
        };
        match found {
            Ok((e, part)) => {
                let clash = (is_dayish(&part) && parts.iter().any(is_dayish))
                    || (is_timeish(&part) && parts.iter().any(is_timeish))
                    || (matches!(part, Part::Period(_))
                        && parts.iter().any(|p| matches!(p, Part::Period(_))));
                // "morning" alone is no date ("morning standup"); "in the morning" is.
                let lone_period = matches!(part, Part::Period(_))
                    && parts.is_empty()
                    && !matches!(r.w(at), "in" | "first");
                if clash || lone_period {
                    break;
                }
                parts.push(part);
                j = e;
            }
            Err((e, why)) => {
                issue.get_or_insert(why);
                j = e;
            }
        }
    }
    (j > i).then_some(Run {
        start: i,
        end: j,
        parts,
        issue,
    })
}

fn combine(r: &Reader<'_>, parts: &[Part]) -> Result<When, DateIssue> {
    let clock = r.clock;
    if parts.iter().filter(|p| is_dayish(p)).count() > 1
        || parts.iter().filter(|p| is_timeish(p)).count() > 1
    {
        return Err(DateIssue::Ambiguous(
            "I read more than one date or time there. When exactly?".into(),
        ));
    }
    let mut day = None;
    let mut time = None;
    let mut period = None;
    for p in parts {
        match *p {
            Part::Instant(at) => return ok_if_future(clock, When { at, timed: true }),
            Part::Day(d) => day = Some(d),
            Part::Time(t) => time = Some(t),
            Part::Period(t) => period = Some(t),
            Part::DayPeriod(d, t) => {
                day = Some(d);
                period = Some(t);
            }
        }
    }
    // "at 3 in the afternoon", "tonight at 8": an afternoon period moves a morning hour on.
    if let (Some(t), Some(p)) = (time, period) {
        use chrono::Timelike as _;
        if p.hour() >= 12 && t.hour() < 12 {
            time = Some(hm(t.hour() + 12, t.minute()));
        }
    }
    let timed = time.is_some() || period.is_some();
    let local = match (day, time.or(period)) {
        (Some(d), Some(t)) => d.and_time(t),
        (Some(d), None) if d == r.today => {
            let nine = d.and_time(hm(9, 0));
            if clock.to_utc(nine) > clock.now {
                nine
            } else {
                d.and_time(hm(17, 0))
            }
        }
        (Some(d), None) => d.and_time(hm(9, 0)),
        (None, Some(t)) => {
            let today = r.today.and_time(t);
            if clock.to_utc(today) > clock.now {
                today
            } else {
                (r.today + Duration::days(1)).and_time(t)
            }
        }
        (None, None) => return Err(DateIssue::Vague("When should it be due?".into())),
    };
    ok_if_future(
        clock,
        When {
            at: clock.to_utc(local),
            timed,
        },
    )
}

fn ok_if_future(clock: Clock, w: When) -> Result<When, DateIssue> {
    if w.at < clock.now {
        Err(DateIssue::Past)
    } else {
        Ok(w)
    }
}

fn runs(s: &Sentence, r: &Reader<'_>) -> Vec<Run> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.toks.len() {
        match run(r, i) {
            Some(run) => {
                i = run.end;
                out.push(run);
            }
            None => i += 1,
        }
    }
    out
}

/// The date expression of a sentence, possibly in pieces ("tomorrow … at 10"): the token
/// ranges it covers and the moment they name together. None when there is none.
pub fn find(s: &Sentence, clock: Clock) -> Option<Found> {
    let r = Reader {
        toks: &s.toks,
        clock,
        today: clock.today(),
    };
    let runs = runs(s, &r);
    if runs.is_empty() {
        return None;
    }
    let spans = runs.iter().map(|run| (run.start, run.end)).collect();
    let result = match runs.iter().find_map(|run| run.issue.clone()) {
        Some(why) => Err(why),
        None => {
            let parts: Vec<Part> = runs.iter().flat_map(|run| run.parts.clone()).collect();
            combine(&r, &parts)
        }
    };
    Some(Found { spans, result })
}

/// Words that may surround a date given on its own ("tomorrow at 10 please").
const FILLER: &[&str] = &[
    "please", "then", "ok", "okay", "make", "it", "how", "about", "let's", "lets", "say", "maybe",
    "instead", "thanks", "thank", "you", "due", "remind", "me",
];

/// Reads a whole text as a date expression ("tomorrow at 10"); None if it is something else.
pub fn parse(text: &str, clock: Clock) -> Option<Result<When, DateIssue>> {
    let s = Sentence::new(text);
    let found = find(&s, clock)?;
    let covered = |i: usize| found.spans.iter().any(|(a, b)| (*a..*b).contains(&i));
    let all = (0..s.len())
        .all(|i| covered(i) || !s.toks[i].is_word() || FILLER.contains(&s.toks[i].low.as_str()));
    all.then_some(found.result)
}
