//! The pure half of the demo seed: which companies, contacts, deals, tasks and activities a tenant
//! gets, generated deterministically from a fixed seed. Nothing here touches the database or the
//! clock: entities refer to each other by index, and times are offsets from "now" (or local
//! calendar positions) that [`crate::seed`] turns into timestamps when it writes them.
//!
//! The generator is a small SplitMix64 of our own rather than `rand`'s `StdRng`, whose output is
//! not promised to stay the same across `rand` releases: the natural keys that make the seed
//! idempotent (company domains, contact emails, deal names, task titles) must never drift.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use super::names::*;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

/// SplitMix64: tiny, fast, and its output is fixed forever.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as usize) as i64
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    /// Picks with a skew towards the front of the list (index ~ len·u^1.5): the first of 150
    /// names comes up about 3% of the time, the last about 0.2%, like real name frequencies.
    pub fn pick_skewed<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        let i = (xs.len() as f64 * self.unit().powf(1.5)) as usize;
        &xs[i.min(xs.len() - 1)]
    }

    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i + 1);
            xs.swap(i, j);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tenants and their people

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    Us,
    No,
}

pub struct UserSpec {
    pub email: &'static str,
    pub name: &'static str,
    pub role: &'static str,
    pub phone: &'static str,
}

pub struct TenantSpec {
    pub name: &'static str,
    pub country: &'static str,
    pub timezone: &'static str,
    pub currency: &'static str,
    pub locale: Locale,
    /// The domain of the tenant's own users (`acme.example`).
    pub email_domain: &'static str,
    pub seed: u64,
    /// Admin, manager, then the reps. Indices into this list are what plans call "users".
    pub users: &'static [UserSpec],
    /// Deal values are 5,000–250,000 major units times this (NOK deals are ~10x the USD ones).
    pub value_scale: i64,
}

/// Users who own records: the manager and the reps (the admin owns nothing).
pub const TEAM: &[usize] = &[1, 2, 3];

pub const TENANTS: &[TenantSpec] = &[
    TenantSpec {
        name: "Acme Demo",
        country: "US",
        timezone: "America/New_York",
        currency: "USD",
        locale: Locale::Us,
        email_domain: "acme.example",
        seed: 0xAC3E_0001,
        users: &[
            UserSpec {
                email: "admin@acme.example",
                name: "Alex Morgan",
                role: "admin",
                phone: "+12125079134",
            },
            UserSpec {
                email: "manager@acme.example",
                name: "Priya Raman",
                role: "manager",
                phone: "+16465203318",
            },
            UserSpec {
                email: "rep1@acme.example",
                name: "Jordan Ellis",
                role: "rep",
                phone: "+17184362257",
            },
            UserSpec {
                email: "rep2@acme.example",
                name: "Sam Okafor",
                role: "rep",
                phone: "+19176084471",
            },
        ],
        value_scale: 1,
    },
    TenantSpec {
        name: "Nordlys Demo",
        country: "NO",
        timezone: "Europe/Oslo",
        currency: "NOK",
        locale: Locale::No,
        email_domain: "nordlys.example",
        seed: 0x0D17_5002,
        users: &[
            UserSpec {
                email: "admin@nordlys.example",
                name: "Ingrid Solberg",
                role: "admin",
                phone: "+4791234567",
            },
            UserSpec {
                email: "manager@nordlys.example",
                name: "Lars Haugen",
                role: "manager",
                phone: "+4740312288",
            },
            UserSpec {
                email: "rep1@nordlys.example",
                name: "Nora Berg",
                role: "rep",
                phone: "+4798455120",
            },
            UserSpec {
                email: "rep2@nordlys.example",
                name: "Henrik Dahl",
                role: "rep",
                phone: "+4745077391",
            },
        ],
        value_scale: 10,
    },
];

struct Vocab {
    cities: &'static [City],
    company_words: &'static [&'static str],
    trades: &'static [Trade],
    legal: &'static [&'static str],
    first: &'static [&'static str],
    last: &'static [&'static str],
    titles: &'static [&'static str],
}

fn vocab(locale: Locale) -> Vocab {
    match locale {
        Locale::Us => Vocab {
            cities: US_CITIES,
            company_words: US_COMPANY_WORDS,
            trades: US_TRADES,
            legal: US_LEGAL,
            first: US_FIRST_NAMES,
            last: US_LAST_NAMES,
            titles: US_TITLES,
        },
        Locale::No => Vocab {
            cities: NO_CITIES,
            company_words: NO_COMPANY_WORDS,
            trades: NO_TRADES,
            legal: NO_LEGAL,
            first: NO_FIRST_NAMES,
            last: NO_LAST_NAMES,
            titles: NO_TITLES,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Small generators (public to the tests)

/// Lower-case ASCII for an email local part or a domain label: Norwegian letters transliterated
/// the way Norwegians do it in addresses, apostrophes dropped, anything else non-alphanumeric
/// (spaces, dots) dropped, hyphens kept.
pub fn ascii_slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'æ' => out.push_str("ae"),
            'ø' => out.push('o'),
            'å' => out.push('a'),
            'é' | 'è' | 'ê' => out.push('e'),
            'ü' => out.push('u'),
            'ö' => out.push('o'),
            'ä' => out.push('a'),
            '-' => out.push('-'),
            c if c.is_ascii_alphanumeric() => out.push(c),
            _ => {}
        }
    }
    out.trim_matches('-').to_string()
}

/// A valid E.164 phone number for the locale: `landline` picks a company switchboard number in
/// the city, otherwise a number a person would give (US numbers look the same either way; in
/// Norway people give mobiles, 4xx xx xxx or 9xx xx xxx).
pub fn phone(rng: &mut Rng, locale: Locale, city: &City, landline: bool) -> String {
    match locale {
        Locale::Us => {
            // Exchange: 2xx–9xx, never N11 and never 555 (fictional and refused by the plan).
            let exchange = loop {
                let e = rng.range(200, 999);
                if e % 100 != 11 && e != 555 && e != 950 && e != 958 && e != 959 && e != 976 {
                    break e;
                }
            };
            format!("+1{}{exchange:03}{:04}", city.prefix, rng.range(0, 9999))
        }
        Locale::No => {
            if landline {
                format!("+47{}{:06}", city.prefix, rng.range(0, 999_999))
            } else {
                let lead = *rng.pick(&["4", "9", "9", "4", "9"]);
                format!("+47{lead}{:07}", rng.range(1_000_000, 9_999_999))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Plans

#[derive(Debug, Clone)]
pub struct CompanyPlan {
    pub name: String,
    /// The natural key: unique per tenant, lower-case.
    pub domain: String,
    pub industry: &'static str,
    pub phone: String,
    pub city: usize,
    pub owner: Option<usize>,
    pub age_days: i64,
    pub email_style: EmailStyle,
}

impl CompanyPlan {
    /// The name without its legal suffix ("Summit Logistics" for "Summit Logistics Inc.").
    pub fn short_name(&self, locale: Locale) -> &str {
        let legal = vocab(locale).legal;
        for l in legal.iter().filter(|l| !l.is_empty()) {
            if let Some(s) = self.name.strip_suffix(l) {
                return s.trim_end();
            }
        }
        &self.name
    }
}

#[derive(Debug, Clone, Default)]
pub struct ContactPlan {
    pub company: usize,
    pub first_name: String,
    pub last_name: String,
    /// The natural key (lower-case); only the anonymised contact has none.
    pub email: Option<String>,
    pub phone: Option<String>,
    pub title: Option<String>,
    pub owner: Option<usize>,
    pub timezone: Option<&'static str>,
    /// Minutes ago each consent event happened, if it did.
    pub email_opt_out_ago: Option<i64>,
    pub sms_opt_out_ago: Option<i64>,
    pub do_not_call_ago: Option<i64>,
    pub marketing_consent_ago: Option<i64>,
    pub lawful_basis: Option<&'static str>,
    pub anonymised_ago: Option<i64>,
    pub age_days: i64,
}

impl ContactPlan {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// Where an expected close date sits relative to today in the tenant's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseWhen {
    /// `n` days from today (negative: in the past).
    Days(i64),
    /// A day from today to the end of the current month, as a fraction in thousandths of that span.
    ThisMonth(u32),
}

impl CloseWhen {
    pub fn date(self, today: NaiveDate) -> NaiveDate {
        match self {
            CloseWhen::Days(n) => today + Duration::days(n),
            CloseWhen::ThisMonth(permille) => {
                let first = today.with_day(1).unwrap_or(today);
                let next = first
                    .checked_add_months(chrono::Months::new(1))
                    .unwrap_or(first);
                let left = (next - today).num_days(); // today included
                today + Duration::days(left * i64::from(permille.min(999)) / 1000)
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct DealPlan {
    /// The natural key.
    pub name: String,
    pub company: usize,
    pub contact: Option<usize>,
    /// Index into [`STAGES`].
    pub stage: usize,
    pub value_minor: i64,
    pub owner: Option<usize>,
    pub close: CloseWhen,
    pub last_activity_ago: i64,
    pub closed_ago: Option<i64>,
    pub age_days: i64,
}

/// The default pipeline's stages: name, probability, is_won, is_lost (positions are 1-based).
pub use heimdell_tools::tenancy::DEFAULT_STAGES as STAGES;
pub const WON: usize = 4;
pub const LOST: usize = 5;

/// When a task is due, by calendar position in the tenant's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskDue {
    /// Due `days` (≥ 1) before today at the local time.
    Overdue { days: i64, hour: u32, minute: u32 },
    /// Due today at the local time.
    Today { hour: u32, minute: u32 },
    /// Due `days` (≥ 1) after today.
    Later { days: i64, hour: u32, minute: u32 },
    /// Was due `days` ago and done `done_ago` minutes ago.
    Done { days: i64, done_ago: i64 },
}

impl TaskDue {
    /// The due instant, given today's date in the tenant's zone.
    pub fn due_at(self, tz: Tz, today: NaiveDate) -> DateTime<Utc> {
        match self {
            TaskDue::Overdue { days, hour, minute } => {
                local_instant(tz, today - Duration::days(days), hour, minute)
            }
            TaskDue::Today { hour, minute } => local_instant(tz, today, hour, minute),
            TaskDue::Later { days, hour, minute } => {
                local_instant(tz, today + Duration::days(days), hour, minute)
            }
            TaskDue::Done { days, .. } => local_instant(tz, today - Duration::days(days), 12, 0),
        }
    }
}

/// A local wall-clock time as an instant; in a DST gap, the first instant after it.
pub fn local_instant(tz: Tz, date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    let time = NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or(NaiveTime::MIN);
    heimdell_tools::outreach::quiet::at_local(tz, date, time)
}

#[derive(Debug, Clone)]
pub struct TaskPlan {
    /// The natural key.
    pub title: String,
    pub notes: Option<String>,
    pub owner: Option<usize>,
    pub due: TaskDue,
    pub contact: Option<usize>,
    pub company: Option<usize>,
    pub deal: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct ActivityPlan {
    pub kind: &'static str,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub contact: Option<usize>,
    pub company: Option<usize>,
    pub deal: Option<usize>,
    pub actor: Option<usize>,
    pub ago: i64,
}

/// Everything one tenant gets.
#[derive(Debug, Clone)]
pub struct Plan {
    pub companies: Vec<CompanyPlan>,
    pub contacts: Vec<ContactPlan>,
    pub deals: Vec<DealPlan>,
    pub tasks: Vec<TaskPlan>,
    pub activities: Vec<ActivityPlan>,
}

pub const COMPANIES: usize = 64;
pub const CONTACTS: usize = 224;
pub const DEALS: usize = 36;

const MINUTES_PER_DAY: i64 = 24 * 60;

/// How an organisation spells its people's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailStyle {
    /// jane.cooper@
    FirstDotLast,
    /// jcooper@
    InitialLast,
    /// jane_cooper@
    FirstUnderscoreLast,
    /// jane@ (small companies)
    First,
}

impl EmailStyle {
    fn pick(rng: &mut Rng) -> EmailStyle {
        match rng.below(20) {
            0..=11 => EmailStyle::FirstDotLast,
            12..=15 => EmailStyle::InitialLast,
            16..=17 => EmailStyle::FirstUnderscoreLast,
            _ => EmailStyle::First,
        }
    }

    fn local(self, first: &str, last: &str) -> String {
        let (f, l) = (ascii_slug(first), ascii_slug(last));
        match self {
            EmailStyle::FirstDotLast => format!("{f}.{l}"),
            EmailStyle::InitialLast => format!("{}{l}", f.chars().next().unwrap_or('x')),
            EmailStyle::FirstUnderscoreLast => format!("{f}_{l}"),
            EmailStyle::First => f,
        }
    }
}

/// A person's address at `domain` in the given style, with a number after the name when it is
/// already taken there (`taken` counts addresses handed out and is updated).
fn email_for(
    style: EmailStyle,
    first: &str,
    last: &str,
    domain: &str,
    taken: &mut HashMap<String, u32>,
) -> String {
    let local = style.local(first, last);
    let n = taken.entry(format!("{local}@{domain}")).or_insert(0);
    *n += 1;
    if *n == 1 {
        format!("{local}@{domain}")
    } else {
        format!("{local}{n}@{domain}")
    }
}

/// A consent picture for a contact: lawful basis on most, a few opt-outs, some marketing consent.
fn consent(rng: &mut Rng, c: &mut ContactPlan) {
    let age = c.age_days * MINUTES_PER_DAY;
    let when = |rng: &mut Rng| rng.range(60, age.max(120));
    if rng.chance(25) {
        c.marketing_consent_ago = Some(when(rng));
        c.lawful_basis = Some("consent");
    } else {
        c.lawful_basis = match rng.below(20) {
            0..=12 => Some("legitimate_interests"),
            13..=16 => Some("contract"),
            17 => Some("legal_obligation"),
            _ => None,
        };
    }
    if rng.chance(6) {
        c.email_opt_out_ago = Some(when(rng));
        c.marketing_consent_ago = None;
        if c.lawful_basis == Some("consent") {
            c.lawful_basis = Some("legitimate_interests");
        }
    }
    if c.phone.is_some() && rng.chance(7) {
        c.sms_opt_out_ago = Some(when(rng));
    }
    if c.phone.is_some() && rng.chance(4) {
        c.do_not_call_ago = Some(when(rng));
    }
}

fn owner_near(rng: &mut Rng, company_owner: Option<usize>) -> Option<usize> {
    match rng.below(10) {
        0 => None,
        1 | 2 => Some(*rng.pick(TEAM)),
        _ => company_owner.or_else(|| Some(*rng.pick(TEAM))),
    }
}

pub fn plan(spec: &TenantSpec) -> Plan {
    let v = vocab(spec.locale);
    let mut rng = Rng::new(spec.seed);

    // Companies: distinct word + trade pairs, so names and domains never repeat.
    let mut pairs: Vec<(usize, usize)> = (0..v.company_words.len())
        .flat_map(|w| (0..v.trades.len()).map(move |t| (w, t)))
        .collect();
    rng.shuffle(&mut pairs);
    let mut used_words = HashSet::new();
    let mut companies = Vec::with_capacity(COMPANIES);
    for (w, t) in pairs {
        if companies.len() == COMPANIES {
            break;
        }
        if !used_words.insert(w) {
            continue;
        }
        let word = v.company_words[w];
        let trade = &v.trades[t];
        let legal = *rng.pick(v.legal);
        let base = format!("{word} {}", trade.word);
        let name = if legal.is_empty() {
            base.clone()
        } else {
            format!("{base} {legal}")
        };
        let domain = format!("{}.example", ascii_slug(&base));
        let city = rng.below(v.cities.len());
        let phone = phone(&mut rng, spec.locale, &v.cities[city], true);
        let owner = if rng.chance(12) {
            None
        } else {
            Some(TEAM[companies.len() % TEAM.len()])
        };
        companies.push(CompanyPlan {
            name,
            domain,
            industry: trade.industry,
            phone,
            city,
            owner,
            age_days: rng.range(90, 720),
            email_style: EmailStyle::pick(&mut rng),
        });
    }

    // Contacts: two per company, the rest spread at random.
    let mut taken: HashMap<String, u32> = HashMap::new();
    let mut contacts = Vec::with_capacity(CONTACTS);
    for i in 0..CONTACTS {
        let company = if i < 2 * COMPANIES {
            i / 2
        } else {
            rng.below(COMPANIES)
        };
        let co = &companies[company];
        let first = rng.pick_skewed(v.first).to_string();
        let last = rng.pick_skewed(v.last).to_string();
        let email = email_for(co.email_style, &first, &last, &co.domain, &mut taken);
        let city = &v.cities[co.city];
        let phone = rng
            .chance(88)
            .then(|| phone(&mut rng, spec.locale, city, false));
        let mut c = ContactPlan {
            company,
            first_name: first,
            last_name: last,
            email: Some(email),
            phone,
            title: rng.chance(92).then(|| rng.pick(v.titles).to_string()),
            owner: owner_near(&mut rng, co.owner),
            timezone: rng.chance(80).then_some(city.timezone),
            age_days: rng.range(30, co.age_days),
            ..ContactPlan::default()
        };
        consent(&mut rng, &mut c);
        contacts.push(c);
    }
    // One contact who asked to be forgotten: placeholder name, no identifiers, everything off.
    let anon_company = rng.below(COMPANIES);
    contacts.push(ContactPlan {
        company: anon_company,
        first_name: "Anonymised".into(),
        last_name: "Contact".into(),
        email_opt_out_ago: Some(12 * MINUTES_PER_DAY),
        sms_opt_out_ago: Some(12 * MINUTES_PER_DAY),
        do_not_call_ago: Some(12 * MINUTES_PER_DAY),
        anonymised_ago: Some(12 * MINUTES_PER_DAY),
        age_days: 200,
        ..ContactPlan::default()
    });

    let deals = plan_deals(spec, &mut rng, &companies, &contacts);
    let tasks = plan_tasks(&mut rng, spec.locale, &companies, &contacts, &deals);
    let activities = plan_activities(spec, &mut rng, &companies, &contacts, &deals);
    Plan {
        companies,
        contacts,
        deals,
        tasks,
        activities,
    }
}

fn plan_deals(
    spec: &TenantSpec,
    rng: &mut Rng,
    companies: &[CompanyPlan],
    contacts: &[ContactPlan],
) -> Vec<DealPlan> {
    // Stage mix: a healthy funnel with closed deals on both sides.
    let stages: Vec<usize> = [(0, 8), (1, 7), (2, 7), (3, 5), (WON, 5), (LOST, 4)]
        .iter()
        .flat_map(|&(s, n)| std::iter::repeat_n(s, n))
        .collect();
    debug_assert_eq!(stages.len(), DEALS);
    let mut by_company: Vec<Vec<usize>> = vec![Vec::new(); companies.len()];
    for (i, c) in contacts.iter().enumerate() {
        if c.anonymised_ago.is_none() {
            by_company[c.company].push(i);
        }
    }
    let mut order: Vec<usize> = (0..companies.len()).collect();
    rng.shuffle(&mut order);
    let mut names = HashSet::new();
    let mut deals = Vec::with_capacity(DEALS);
    for (k, &stage) in stages.iter().enumerate() {
        // Most deals at distinct companies; a few companies carry a second deal.
        let company = if k < 30 {
            order[k]
        } else {
            order[rng.below(10)]
        };
        let co = &companies[company];
        let name = loop {
            let pattern = rng.pick(DEAL_PATTERNS);
            let n = *rng.pick(&[5, 10, 12, 20, 25, 40, 50, 75, 100, 150, 250]);
            let candidate = format!(
                "{} – {}",
                co.short_name(spec.locale),
                pattern.replace("{n}", &n.to_string())
            );
            if names.insert(candidate.to_lowercase()) {
                break candidate;
            }
        };
        let contact = (!by_company[company].is_empty()).then(|| *rng.pick(&by_company[company]));
        // Log-ish spread of 5,000–250,000 major units, rounded to 500.
        let major = {
            let lo = 5_000f64.ln();
            let hi = 250_000f64.ln();
            let x = (lo + (hi - lo) * rng.unit()).exp();
            ((x / 500.0).round() as i64 * 500).clamp(5_000, 250_000)
        };
        let value_minor = major * 100 * spec.value_scale;
        let owner = if k % 12 == 11 {
            None
        } else {
            Some(TEAM[rng.below(TEAM.len())])
        };
        let age_days = rng.range(20, 150);
        let (close, last_activity_ago, closed_ago) = match stage {
            WON | LOST => {
                let closed_days = rng.range(1, 55).min(age_days - 1);
                let closed_ago = closed_days * MINUTES_PER_DAY + rng.range(0, 600);
                (
                    CloseWhen::Days(-closed_days + rng.range(-3, 3)),
                    closed_ago,
                    Some(closed_ago),
                )
            }
            _ => {
                // About a third of open deals have gone quiet for more than two weeks.
                let last_days = if rng.chance(33) {
                    rng.range(15, 45)
                } else {
                    rng.range(0, 12)
                };
                let last = (last_days * MINUTES_PER_DAY + rng.range(30, 600))
                    .min(age_days * MINUTES_PER_DAY);
                let close = match rng.below(10) {
                    0 | 1 => CloseWhen::Days(-rng.range(3, 30)),
                    2..=5 => CloseWhen::ThisMonth(rng.below(1000) as u32),
                    _ => CloseWhen::Days(rng.range(20, 120)),
                };
                (close, last, None)
            }
        };
        deals.push(DealPlan {
            name,
            company,
            contact,
            stage,
            value_minor,
            owner,
            close,
            last_activity_ago,
            closed_ago,
            age_days,
        });
    }
    deals
}

fn plan_tasks(
    rng: &mut Rng,
    locale: Locale,
    companies: &[CompanyPlan],
    contacts: &[ContactPlan],
    deals: &[DealPlan],
) -> Vec<TaskPlan> {
    let buckets = |rng: &mut Rng| -> Vec<TaskDue> {
        let hm = |rng: &mut Rng| {
            (
                rng.range(8, 16) as u32,
                *rng.pick(&[0u32, 0, 15, 30, 30, 45]),
            )
        };
        let mut v = Vec::new();
        for _ in 0..2 {
            let (hour, minute) = hm(rng);
            v.push(TaskDue::Overdue {
                days: rng.range(1, 9),
                hour,
                minute,
            });
        }
        for _ in 0..2 {
            let (hour, minute) = hm(rng);
            v.push(TaskDue::Today { hour, minute });
        }
        for _ in 0..3 {
            let (hour, minute) = hm(rng);
            v.push(TaskDue::Later {
                days: rng.range(1, 21),
                hour,
                minute,
            });
        }
        for _ in 0..2 {
            let days = rng.range(2, 30);
            v.push(TaskDue::Done {
                days,
                done_ago: (days - 1).max(0) * MINUTES_PER_DAY + rng.range(60, 900),
            });
        }
        v
    };
    let mut titles = HashSet::new();
    let mut tasks = Vec::new();
    let owners: Vec<Option<usize>> = TEAM.iter().map(|&u| Some(u)).chain([None]).collect();
    for owner in owners {
        let dues = if owner.is_some_and(|u| TEAM.contains(&u)) {
            buckets(rng)
        } else {
            // A couple of unassigned tasks for the team to pick up.
            vec![
                TaskDue::Later {
                    days: rng.range(2, 10),
                    hour: 10,
                    minute: 0,
                },
                TaskDue::Overdue {
                    days: 3,
                    hour: 9,
                    minute: 0,
                },
            ]
        };
        let open_deals: Vec<usize> = (0..deals.len())
            .filter(|&d| deals[d].stage < WON && (owner.is_none() || deals[d].owner == owner))
            .collect();
        let own_contacts: Vec<usize> = (0..contacts.len())
            .filter(|&c| {
                contacts[c].anonymised_ago.is_none()
                    && (owner.is_none() || contacts[c].owner == owner)
            })
            .collect();
        for due in dues {
            for _attempt in 0..50 {
                let use_deal = !open_deals.is_empty() && rng.chance(60);
                let t = if use_deal {
                    let d = *rng.pick(&open_deals);
                    let deal = &deals[d];
                    let who = deal.contact.map(|c| contacts[c].full_name());
                    let co = companies[deal.company].short_name(locale).to_string();
                    // What needs doing depends on where the deal is.
                    let mut options: Vec<(String, Option<String>)> = Vec::new();
                    if let Some(w) = &who {
                        options.push((
                            format!("Call {w} about {}", deal.name),
                            Some("Check the timeline and who else signs off.".into()),
                        ));
                    }
                    match deal.stage {
                        0 | 1 => {
                            options.push((
                                format!("Prepare demo for {co}"),
                                Some("Focus on reporting and the mobile app.".into()),
                            ));
                            options.push((
                                format!("Confirm budget for {}", deal.name),
                                Some("Ask whether procurement needs a security review.".into()),
                            ));
                        }
                        2 => {
                            if let Some(w) = &who {
                                options.push((
                                    format!("Send revised proposal to {w}"),
                                    Some(format!("Include the discount we discussed for {co}.")),
                                ));
                            }
                            options.push((
                                format!("Answer the security questionnaire from {co}"),
                                None,
                            ));
                        }
                        _ => {
                            options.push((
                                format!("Follow up on contract redlines – {}", deal.name),
                                None,
                            ));
                            if let Some(w) = &who {
                                options.push((
                                    format!("Send final pricing to {w}"),
                                    Some("Three-year option with the agreed discount.".into()),
                                ));
                            }
                        }
                    }
                    if matches!(deal.close, CloseWhen::Days(n) if n < 0) {
                        options.push((
                            format!("Update close date on {}", deal.name),
                            Some("The expected close date has passed.".into()),
                        ));
                    }
                    let (title, notes) = options.swap_remove(rng.below(options.len()));
                    TaskPlan {
                        title,
                        notes,
                        owner,
                        due,
                        contact: deal.contact,
                        company: Some(deal.company),
                        deal: Some(d),
                    }
                } else if !own_contacts.is_empty() {
                    let c = *rng.pick(&own_contacts);
                    let w = contacts[c].full_name();
                    let co = companies[contacts[c].company]
                        .short_name(locale)
                        .to_string();
                    let (title, notes) = match rng.below(5) {
                        0 => (
                            format!("Send case study to {w}"),
                            Some("The logistics one, if it fits.".to_string()),
                        ),
                        1 => (format!("Check in with {w} after onboarding"), None),
                        2 => (
                            format!("Book QBR with {co}"),
                            Some(
                                "Quarterly business review: usage, renewals, roadmap.".to_string(),
                            ),
                        ),
                        3 => (format!("Intro call with {w}"), None),
                        _ => (format!("Reply to {w} about pricing"), None),
                    };
                    TaskPlan {
                        title,
                        notes,
                        owner,
                        due,
                        contact: Some(c),
                        company: Some(contacts[c].company),
                        deal: None,
                    }
                } else {
                    break;
                };
                if titles.insert(t.title.to_lowercase()) {
                    tasks.push(t);
                    break;
                }
            }
        }
    }
    tasks
}

struct Ctx<'a> {
    first: &'a str,
    full: String,
    /// " (Job Title)" or nothing.
    title: String,
    company: &'a str,
    city: &'a str,
    deal: &'a str,
    value: String,
    competitor: &'a str,
}

fn fill(template: &str, c: &Ctx<'_>) -> String {
    template
        .replace("{first}", c.first)
        .replace("{full}", &c.full)
        .replace("{title}", &c.title)
        .replace("{company}", c.company)
        .replace("{city}", c.city)
        .replace("{deal}", c.deal)
        .replace("{value}", &c.value)
        .replace("{competitor}", c.competitor)
}

/// Interactions on a deal: the stage from which they make sense (0 = Lead), kind, subject, body.
const DEAL_TOUCHES: &[(usize, &str, &str, &str)] = &[
    (
        0,
        "call",
        "Discovery call with {first}",
        "Walked {first} through how {company} runs sales today. Main pain: reporting is done by hand in spreadsheets every Monday. Next step: technical deep-dive with their IT lead.",
    ),
    (
        0,
        "note",
        "Buying committee",
        "Champion is {full}{title}. Final sign-off sits with the CFO; legal review usually takes about two weeks at {company}.",
    ),
    (
        0,
        "email",
        "Intro and agenda",
        "Sent {first} a short intro and an agenda for the first call.",
    ),
    (
        1,
        "meeting",
        "Demo for the {company} team",
        "Demoed pipeline views and reporting to {first} and two colleagues. Good questions about SSO and exporting data; they want to see the mobile app next time.",
    ),
    (
        1,
        "call",
        "Follow-up call",
        "{first} confirmed the budget is approved. Procurement wants a quote with a three-year option.",
    ),
    (
        1,
        "note",
        "Competition",
        "{competitor} is also in the running. {first} says our reporting is stronger but their price is lower.",
    ),
    (
        2,
        "email",
        "Proposal sent",
        "Sent the proposal for {deal} ({value}) to {full}. Asked for feedback by the end of next week.",
    ),
    (
        2,
        "meeting",
        "Pricing review with {first}",
        "Went through the proposal line by line. {first} pushed for a multi-year discount; I said we can look at it if they sign this quarter.",
    ),
    (
        2,
        "email",
        "Security questionnaire",
        "Sent the completed security questionnaire and our data processing agreement to {full}.",
    ),
    (
        3,
        "email",
        "Re: contract redlines",
        "{full} returned redlines on the liability cap and payment terms (net 45). Forwarded to legal.",
    ),
    (
        3,
        "call",
        "Call with {first} and their legal team",
        "Agreed the liability cap; payment terms still open. {first} expects to sign within two weeks.",
    ),
];

/// Interactions with a contact outside any deal.
const CONTACT_TOUCHES: &[(&str, &str, &str)] = &[
    (
        "call",
        "Intro call",
        "Intro call with {full}{title}. Happy with their current setup for now; open to a conversation after the summer.",
    ),
    (
        "call",
        "Left voicemail",
        "Tried {first}, left a voicemail and followed up by email.",
    ),
    (
        "email",
        "Case study",
        "Sent {first} the case study from a similar company in {city}.",
    ),
    (
        "meeting",
        "Coffee in {city}",
        "Met {first} for coffee. {company} is hiring and expects to double the sales team next year.",
    ),
    (
        "note",
        "Met at conference",
        "Met {full} at the regional sales conference. Interested in automating follow-ups.",
    ),
    (
        "email",
        "Newsletter reply",
        "{first} replied to the newsletter asking about pricing for small teams.",
    ),
];

const COMPANY_NOTES: &[(&str, &str)] = &[
    (
        "Account overview",
        "{company} runs three sales teams out of {city}. Their current CRM contract ends next spring.",
    ),
    (
        "Org change",
        "New head of sales started at {company} last month; worth an introduction.",
    ),
    (
        "Expansion",
        "{company} is opening a second office and will be adding seats.",
    ),
    (
        "Renewal risk",
        "Usage dropped at {company} after their admin left. Offer a training session.",
    ),
];

fn plan_activities(
    spec: &TenantSpec,
    rng: &mut Rng,
    companies: &[CompanyPlan],
    contacts: &[ContactPlan],
    deals: &[DealPlan],
) -> Vec<ActivityPlan> {
    let v = vocab(spec.locale);
    let currency = heimdell_tools::domain::Currency::parse(spec.currency).ok();
    let window = 60 * MINUTES_PER_DAY - 120;
    let mut out = Vec::new();

    for (d, deal) in deals.iter().enumerate() {
        let co = &companies[deal.company];
        let person = deal.contact.map(|c| &contacts[c]);
        let ctx = Ctx {
            first: person.map_or("the buyer", |p| p.first_name.as_str()),
            full: person.map_or_else(|| "the buyer".to_string(), ContactPlan::full_name),
            title: person
                .and_then(|p| p.title.as_deref())
                .map(|t| format!(" ({t})"))
                .unwrap_or_default(),
            company: co.short_name(spec.locale),
            city: v.cities[co.city].name,
            deal: &deal.name,
            value: currency.map_or_else(
                || deal.value_minor.to_string(),
                |c| c.format_minor(deal.value_minor),
            ),
            competitor: rng.pick::<&str>(COMPETITORS),
        };
        // The furthest open stage the deal reached, and the move that closed it, if any.
        let (top, closing) = match deal.stage {
            WON => (3, Some(WON)),
            LOST => (rng.range(0, 3) as usize, Some(LOST)),
            s => (s, None),
        };
        // A few touches from the stages it went through, at least one from the last of them.
        let mut eligible: Vec<usize> = (0..DEAL_TOUCHES.len())
            .filter(|&t| DEAL_TOUCHES[t].0 <= top)
            .collect();
        rng.shuffle(&mut eligible);
        eligible.truncate(rng.range(2, 3) as usize + top);
        if !eligible.iter().any(|&t| DEAL_TOUCHES[t].0 == top) {
            let last: Vec<usize> = (0..DEAL_TOUCHES.len())
                .filter(|&t| DEAL_TOUCHES[t].0 == top)
                .collect();
            eligible.push(*rng.pick(&last));
        }
        eligible.sort_unstable();
        // Events, oldest first: each stage's touches, then the move out of it.
        enum Event {
            Touch(usize),
            Move(usize, usize),
        }
        let mut events = Vec::new();
        for stage in 0..=top {
            events.extend(
                eligible
                    .iter()
                    .filter(|&&t| DEAL_TOUCHES[t].0 == stage)
                    .map(|&t| Event::Touch(t)),
            );
            if stage < top {
                events.push(Event::Move(stage, stage + 1));
            } else if let Some(to) = closing {
                events.push(Event::Move(stage, to));
            }
        }
        let start = (deal.age_days * MINUTES_PER_DAY)
            .min(window)
            .max(deal.last_activity_ago + 60);
        let end = deal.last_activity_ago;
        let n = events.len() as i64;
        let actor = deal.owner.or(Some(1));
        for (k, e) in events.iter().enumerate() {
            // Evenly spread with a little jitter; the last event is the deal's last activity.
            let ago = if k as i64 == n - 1 {
                end
            } else {
                (start - (start - end) * k as i64 / n - rng.range(0, 90)).max(end + 1)
            };
            match *e {
                Event::Touch(t) => {
                    let (_, kind, subject, body) = DEAL_TOUCHES[t];
                    out.push(ActivityPlan {
                        kind,
                        subject: Some(fill(subject, &ctx)),
                        body: Some(fill(body, &ctx)),
                        contact: deal.contact,
                        company: Some(deal.company),
                        deal: Some(d),
                        actor,
                        ago,
                    });
                }
                Event::Move(from, to) => {
                    let body = (to == LOST).then(|| fill(rng.pick::<&str>(LOST_REASONS), &ctx));
                    out.push(ActivityPlan {
                        kind: "system",
                        subject: Some(format!("Stage: {} → {}", STAGES[from].0, STAGES[to].0)),
                        body,
                        contact: None,
                        company: None,
                        deal: Some(d),
                        actor,
                        ago,
                    });
                }
            }
        }
    }

    for (i, c) in contacts.iter().enumerate() {
        if c.anonymised_ago.is_some() {
            continue;
        }
        let co = &companies[c.company];
        let ctx = Ctx {
            first: &c.first_name,
            full: c.full_name(),
            title: c
                .title
                .as_deref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default(),
            company: co.short_name(spec.locale),
            city: v.cities[co.city].name,
            deal: "",
            value: String::new(),
            competitor: "",
        };
        if rng.chance(35) {
            let mut picks: Vec<usize> = (0..CONTACT_TOUCHES.len()).collect();
            rng.shuffle(&mut picks);
            for &p in picks.iter().take(rng.range(1, 2) as usize) {
                let (kind, subject, body) = CONTACT_TOUCHES[p];
                out.push(ActivityPlan {
                    kind,
                    subject: Some(fill(subject, &ctx)),
                    body: Some(fill(body, &ctx)),
                    contact: Some(i),
                    company: Some(c.company),
                    deal: None,
                    actor: c.owner.or(Some(1)),
                    ago: rng.range(60, window),
                });
            }
        }
        if let Some(ago) = c.email_opt_out_ago.filter(|&a| a < window) {
            out.push(ActivityPlan {
                kind: "system",
                subject: Some("Consent: email opt-out recorded".into()),
                body: Some(format!("{} unsubscribed from email.", c.full_name())),
                contact: Some(i),
                company: None,
                deal: None,
                actor: None,
                ago,
            });
        }
    }

    for (i, co) in companies.iter().enumerate() {
        if !rng.chance(40) {
            continue;
        }
        let ctx = Ctx {
            first: "",
            full: String::new(),
            title: String::new(),
            company: co.short_name(spec.locale),
            city: v.cities[co.city].name,
            deal: "",
            value: String::new(),
            competitor: "",
        };
        let &(subject, body) = rng.pick(COMPANY_NOTES);
        out.push(ActivityPlan {
            kind: "note",
            subject: Some(fill(subject, &ctx)),
            body: Some(fill(body, &ctx)),
            contact: None,
            company: Some(i),
            deal: None,
            actor: co.owner.or(Some(0)),
            ago: rng.range(60, window),
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Bench contacts

/// Contacts beyond the demo set, for load and search tests. Contact `i` is the same on every run
/// and for every `n > i`, so topping up to a larger count only adds.
pub struct ExtraContacts<'a> {
    spec: &'a TenantSpec,
    companies: &'a [CompanyPlan],
    domain: String,
    rng: Rng,
    taken: HashMap<String, u32>,
}

impl<'a> ExtraContacts<'a> {
    pub fn new(spec: &'a TenantSpec, companies: &'a [CompanyPlan]) -> ExtraContacts<'a> {
        ExtraContacts {
            spec,
            companies,
            domain: bench_domain(spec),
            rng: Rng::new(spec.seed ^ 0xBE7C_4000_0000_0000),
            taken: HashMap::new(),
        }
    }
}

/// Bench contacts' emails end in `@bench.<tenant email domain>`, which is how they are counted.
pub fn bench_domain(spec: &TenantSpec) -> String {
    format!("bench.{}", spec.email_domain)
}

impl Iterator for ExtraContacts<'_> {
    type Item = ContactPlan;

    fn next(&mut self) -> Option<ContactPlan> {
        let v = vocab(self.spec.locale);
        let rng = &mut self.rng;
        let company = rng.below(self.companies.len());
        let co = &self.companies[company];
        let first = rng.pick_skewed(v.first).to_string();
        let last = rng.pick_skewed(v.last).to_string();
        let style = EmailStyle::pick(rng);
        let email = email_for(style, &first, &last, &self.domain, &mut self.taken);
        let city = &v.cities[co.city];
        let phone = rng
            .chance(85)
            .then(|| phone(rng, self.spec.locale, city, false));
        let mut c = ContactPlan {
            company,
            first_name: first,
            last_name: last,
            email: Some(email),
            phone,
            title: rng.chance(90).then(|| rng.pick(v.titles).to_string()),
            owner: owner_near(rng, co.owner),
            timezone: rng.chance(70).then_some(city.timezone),
            age_days: rng.range(1, 730),
            ..ContactPlan::default()
        };
        consent(rng, &mut c);
        Some(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heimdell_tools::domain::{Country, Email, Phone};

    fn plans() -> Vec<(&'static TenantSpec, Plan)> {
        TENANTS.iter().map(|s| (s, plan(s))).collect()
    }

    #[test]
    fn generation_is_deterministic() {
        for spec in TENANTS {
            let (a, b) = (plan(spec), plan(spec));
            let names = |p: &Plan| {
                p.contacts
                    .iter()
                    .map(|c| (c.full_name(), c.email.clone(), c.phone.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(names(&a), names(&b));
            assert_eq!(
                a.companies.iter().map(|c| &c.domain).collect::<Vec<_>>(),
                b.companies.iter().map(|c| &c.domain).collect::<Vec<_>>()
            );
            assert_eq!(
                a.deals.iter().map(|d| &d.name).collect::<Vec<_>>(),
                b.deals.iter().map(|d| &d.name).collect::<Vec<_>>()
            );
            assert_eq!(
                a.tasks.iter().map(|t| &t.title).collect::<Vec<_>>(),
                b.tasks.iter().map(|t| &t.title).collect::<Vec<_>>()
            );
            assert_eq!(a.activities.len(), b.activities.len());
        }
        // And pinned, so a change to the generator (which would break idempotency against an
        // already-seeded database) is noticed.
        assert_eq!(Rng::new(1).next_u64(), 0x910a_2dec_8902_5cc1);
        let acme = plan(&TENANTS[0]);
        assert_eq!(acme.companies[0].domain, "hawthornelabs.example");
        assert_eq!(
            acme.contacts[0].email.as_deref(),
            Some("melissa.brown@hawthornelabs.example")
        );
        assert_eq!(
            acme.deals[0].name,
            "Meridian Capital – Data migration project"
        );
        assert_eq!(
            acme.tasks[0].title,
            "Check in with Kayla Smith after onboarding"
        );
        let bench: Vec<_> = ExtraContacts::new(&TENANTS[0], &acme.companies)
            .take(2)
            .filter_map(|c| c.email)
            .collect();
        assert_eq!(
            bench,
            [
                "james.hudson@bench.acme.example",
                "jessica.choi@bench.acme.example"
            ]
        );
        let nordlys = plan(&TENANTS[1]);
        assert_eq!(
            nordlys.contacts[0].email.as_deref(),
            Some("ragnhild.tran@fyrlyktmat.example")
        );
    }

    #[test]
    fn sizes_meet_the_brief() {
        for (_, p) in plans() {
            assert!(p.companies.len() >= 60);
            assert!(p.contacts.len() >= 200);
            assert!(p.deals.len() >= 30);
            for s in 0..STAGES.len() {
                assert!(p.deals.iter().any(|d| d.stage == s), "no deal in stage {s}");
            }
            assert!(p.activities.len() >= 150, "{}", p.activities.len());
            for &u in TEAM {
                let mine = |f: fn(&TaskDue) -> bool| {
                    p.tasks
                        .iter()
                        .filter(|t| t.owner == Some(u) && f(&t.due))
                        .count()
                };
                assert!(mine(|d| matches!(d, TaskDue::Overdue { .. })) >= 1);
                assert!(mine(|d| matches!(d, TaskDue::Today { .. })) >= 1);
                assert!(mine(|d| matches!(d, TaskDue::Later { .. })) >= 1);
                assert!(mine(|d| matches!(d, TaskDue::Done { .. })) >= 1);
            }
        }
    }

    #[test]
    fn phones_are_valid_e164_for_the_country() {
        for spec in TENANTS {
            let country = Country::parse(spec.country).unwrap();
            let p = plan(spec);
            let all = p
                .companies
                .iter()
                .map(|c| c.phone.clone())
                .chain(p.contacts.iter().filter_map(|c| c.phone.clone()));
            let all = all.chain(
                ExtraContacts::new(spec, &p.companies)
                    .take(3000)
                    .filter_map(|c| c.phone),
            );
            let all = all.chain(spec.users.iter().map(|u| u.phone.to_string()));
            for phone in all {
                let parsed =
                    Phone::parse(&phone, country).unwrap_or_else(|e| panic!("{phone}: {e}"));
                assert_eq!(parsed.as_str(), phone, "not in E.164");
            }
        }
        let mut rng = Rng::new(7);
        for city in US_CITIES {
            for _ in 0..500 {
                let p = phone(&mut rng, Locale::Us, city, false);
                assert!(
                    Phone::parse(&p, Country::parse("US").unwrap()).is_ok(),
                    "{p}"
                );
            }
        }
        for city in NO_CITIES {
            for landline in [true, false] {
                for _ in 0..500 {
                    let p = phone(&mut rng, Locale::No, city, landline);
                    assert!(
                        Phone::parse(&p, Country::parse("NO").unwrap()).is_ok(),
                        "{p}"
                    );
                }
            }
        }
    }

    #[test]
    fn emails_parse_and_are_unique() {
        for (spec, p) in plans() {
            let mut seen = HashSet::new();
            let extras = ExtraContacts::new(spec, &p.companies)
                .take(20_000)
                .map(|c| c.email);
            for e in p
                .contacts
                .iter()
                .map(|c| c.email.clone())
                .chain(extras)
                .flatten()
            {
                let parsed = Email::parse(&e).unwrap_or_else(|err| panic!("{e}: {err}"));
                assert_eq!(parsed.as_str(), e);
                assert!(e.is_ascii() && e == e.to_lowercase(), "{e}");
                assert!(seen.insert(e.clone()), "duplicate {e}");
            }
            for c in &p.companies {
                assert!(
                    Email::parse(&format!("info@{}", c.domain)).is_ok(),
                    "{}",
                    c.domain
                );
            }
            for u in spec.users {
                assert!(Email::parse(u.email).is_ok());
            }
        }
    }

    #[test]
    fn natural_keys_are_unique() {
        for (_, p) in plans() {
            let uniq = |xs: Vec<String>| {
                let n = xs.len();
                xs.into_iter()
                    .map(|s| s.to_lowercase())
                    .collect::<HashSet<_>>()
                    .len()
                    == n
            };
            assert!(uniq(p.companies.iter().map(|c| c.domain.clone()).collect()));
            assert!(uniq(p.companies.iter().map(|c| c.name.clone()).collect()));
            assert!(uniq(p.deals.iter().map(|d| d.name.clone()).collect()));
            assert!(uniq(p.tasks.iter().map(|t| t.title.clone()).collect()));
            let keys: Vec<String> = p
                .activities
                .iter()
                .map(|a| {
                    format!(
                        "{}|{:?}|{:?}|{:?}|{:?}|{:?}",
                        a.kind, a.subject, a.body, a.contact, a.company, a.deal
                    )
                })
                .collect();
            assert!(uniq(keys));
        }
    }

    #[test]
    fn extra_contacts_are_a_stable_prefix() {
        let spec = &TENANTS[0];
        let p = plan(spec);
        let a: Vec<_> = ExtraContacts::new(spec, &p.companies)
            .take(500)
            .map(|c| c.email)
            .collect();
        let b: Vec<_> = ExtraContacts::new(spec, &p.companies)
            .take(1500)
            .map(|c| c.email)
            .collect();
        assert_eq!(a[..], b[..500]);
        assert!(
            a.iter()
                .flatten()
                .all(|e| e.ends_with("@bench.acme.example"))
        );
        // Names vary: no single first name dominates, and many distinct names appear.
        let firsts: Vec<String> = ExtraContacts::new(spec, &p.companies)
            .take(10_000)
            .map(|c| c.first_name)
            .collect();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for f in &firsts {
            *counts.entry(f).or_default() += 1;
        }
        assert!(counts.len() > 120, "{}", counts.len());
        assert!(
            counts.values().all(|&n| n < 10_000 / 20),
            "{:?}",
            counts.values().max()
        );
    }

    #[test]
    fn consent_states_are_varied() {
        for (_, p) in plans() {
            let c = &p.contacts;
            assert!(c.iter().any(|c| c.sms_opt_out_ago.is_some()));
            assert!(c.iter().any(|c| c.do_not_call_ago.is_some()));
            assert!(
                c.iter()
                    .any(|c| c.email_opt_out_ago.is_some() && c.anonymised_ago.is_none())
            );
            assert!(c.iter().any(|c| c.marketing_consent_ago.is_some()));
            assert_eq!(c.iter().filter(|c| c.anonymised_ago.is_some()).count(), 1);
            assert!(c.iter().filter(|c| c.lawful_basis.is_some()).count() * 10 > c.len() * 7);
            assert!(c.iter().filter(|c| c.owner.is_none()).count() > 0);
            for u in TEAM {
                assert!(c.iter().any(|c| c.owner == Some(*u)));
            }
        }
    }

    #[test]
    fn deals_look_like_a_pipeline() {
        for (spec, p) in plans() {
            for d in &p.deals {
                let major = d.value_minor / 100 / spec.value_scale;
                assert!((5_000..=250_000).contains(&major), "{}", d.value_minor);
                assert_eq!(d.closed_ago.is_some(), d.stage >= WON);
                assert!(d.last_activity_ago <= d.age_days * MINUTES_PER_DAY);
            }
            let open: Vec<_> = p.deals.iter().filter(|d| d.stage < WON).collect();
            assert!(
                open.iter()
                    .any(|d| d.last_activity_ago > 14 * MINUTES_PER_DAY)
            );
            assert!(
                open.iter()
                    .any(|d| d.last_activity_ago < 14 * MINUTES_PER_DAY)
            );
            assert!(
                open.iter()
                    .any(|d| matches!(d.close, CloseWhen::ThisMonth(_)))
            );
            assert!(
                open.iter()
                    .any(|d| matches!(d.close, CloseWhen::Days(n) if n < 0))
            );
            assert!(
                open.iter()
                    .any(|d| matches!(d.close, CloseWhen::Days(n) if n > 0))
            );
            assert!(p.deals.iter().any(|d| d.owner.is_none()));
            // Every activity is within the last 60 days, and a deal's latest one is its last_activity.
            for a in &p.activities {
                assert!(a.ago > 0 && a.ago <= 60 * MINUTES_PER_DAY, "{a:?}");
            }
            for (i, d) in p.deals.iter().enumerate() {
                let latest = p
                    .activities
                    .iter()
                    .filter(|a| a.deal == Some(i))
                    .map(|a| a.ago)
                    .min();
                assert_eq!(latest, Some(d.last_activity_ago), "{}", d.name);
            }
            // Stage moves of a won deal walk the pipeline in order.
            let won = p.deals.iter().position(|d| d.stage == WON).unwrap();
            let mut moves: Vec<_> = p
                .activities
                .iter()
                .filter(|a| a.deal == Some(won) && a.kind == "system")
                .collect();
            moves.sort_by_key(|a| -a.ago);
            let subjects: Vec<_> = moves.iter().map(|a| a.subject.clone().unwrap()).collect();
            assert_eq!(
                subjects,
                [
                    "Stage: Lead → Qualified",
                    "Stage: Qualified → Proposal",
                    "Stage: Proposal → Negotiation",
                    "Stage: Negotiation → Won"
                ]
            );
        }
    }

    #[test]
    fn task_buckets_land_on_the_right_local_days() {
        for tz in [
            chrono_tz::America::New_York,
            chrono_tz::Europe::Oslo,
            chrono_tz::Pacific::Kiritimati,
        ] {
            for today in [
                NaiveDate::from_ymd_opt(2026, 3, 8).unwrap(),
                NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(),
                NaiveDate::from_ymd_opt(2026, 7, 1).unwrap(),
            ] {
                let start = local_instant(tz, today, 0, 0);
                let end = local_instant(tz, today.succ_opt().unwrap(), 0, 0);
                for (_, p) in plans() {
                    for t in &p.tasks {
                        let due = t.due.due_at(tz, today);
                        match t.due {
                            TaskDue::Overdue { .. } | TaskDue::Done { .. } => assert!(due < start),
                            TaskDue::Today { .. } => assert!(start <= due && due < end),
                            TaskDue::Later { .. } => assert!(due >= end),
                        }
                    }
                }
            }
        }
        let today = NaiveDate::from_ymd_opt(2026, 2, 14).unwrap();
        assert_eq!(CloseWhen::ThisMonth(0).date(today), today);
        assert_eq!(
            CloseWhen::ThisMonth(999).date(today),
            NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()
        );
        let last = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        assert_eq!(CloseWhen::ThisMonth(999).date(last), last);
    }

    #[test]
    fn slugs_are_plain_ascii() {
        assert_eq!(ascii_slug("Bjørke Rådgivning"), "bjorkeradgivning");
        assert_eq!(ascii_slug("Sæther"), "saether");
        assert_eq!(ascii_slug("O'Brien"), "obrien");
        assert_eq!(ascii_slug("Min-jun"), "min-jun");
    }
}
