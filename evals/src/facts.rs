//! The eval's own fact check, independent of the runtime's grounding check: every email
//! address, phone number and money amount in a reply must exist in the tenant's data (or in
//! what the user typed). Deliberately simple scanners: they over-report rather than miss.

use std::collections::BTreeSet;

/// A fact found in a reply.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fact {
    Email(String),
    /// Digits only.
    Phone(String),
    /// Minor units (cents).
    Amount(i64),
}

impl std::fmt::Display for Fact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fact::Email(e) => write!(f, "email {e}"),
            Fact::Phone(p) => write!(f, "phone number {p}"),
            Fact::Amount(a) => write!(f, "amount {}.{:02}", a / 100, a % 100),
        }
    }
}

const CURRENCIES: &[&str] = &[
    "$", "€", "£", "usd", "eur", "gbp", "nok", "sek", "dkk", "chf", "cad", "aud", "kr",
];

fn trim_punct(t: &str) -> &str {
    t.trim_matches(|c: char| {
        matches!(
            c,
            '.' | ','
                | ';'
                | ':'
                | '!'
                | '?'
                | '('
                | ')'
                | '['
                | ']'
                | '"'
                | '\''
                | '<'
                | '>'
                | '*'
                | '`'
                | '“'
                | '”'
                | '‘'
                | '’'
        )
    })
}

/// Emails, phone numbers and amounts in `text`.
pub fn scan(text: &str) -> BTreeSet<Fact> {
    let mut out = BTreeSet::new();
    // Citation markers hold ids, not facts.
    let text = heimdell_agent::grounding::strip_markers(text);
    let tokens: Vec<&str> = text.split_whitespace().collect();
    for t in &tokens {
        let t = trim_punct(t);
        if let Some((local, domain)) = t.split_once('@')
            && !local.is_empty()
            && domain.contains('.')
        {
            out.insert(Fact::Email(t.to_lowercase()));
        }
    }
    // Phones: runs of digits and separators with 8 to 15 digits.
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut BTreeSet<Fact>| {
        let digits: String = run.chars().filter(char::is_ascii_digit).collect();
        let has_sep = run.contains(['-', ' ', '(', ')', '+']);
        if (8..=15).contains(&digits.len())
            && (has_sep || digits.len() >= 10)
            && !is_date(run.trim().trim_end_matches(['.', '-', ' ']))
        {
            out.insert(Fact::Phone(digits));
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit()
            || (!run.is_empty() && matches!(c, ' ' | '-' | '(' | ')' | '.'))
            || (run.is_empty() && matches!(c, '+' | '('))
        {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
        }
    }
    flush(&mut run, &mut out);
    // Amounts: a currency code or symbol next to a number.
    for (i, raw) in tokens.iter().enumerate() {
        let t = trim_punct(raw).to_lowercase();
        let glued = CURRENCIES
            .iter()
            .find_map(|c| t.strip_prefix(c).filter(|rest| starts_numeric(rest)))
            .or_else(|| {
                CURRENCIES
                    .iter()
                    .find_map(|c| t.strip_suffix(c).filter(|rest| starts_numeric(rest)))
            });
        let amount = if let Some(num) = glued {
            parse_amount(num)
        } else if CURRENCIES.contains(&t.as_str()) {
            tokens
                .get(i + 1)
                .and_then(|n| parse_amount(trim_punct(n)))
                .or_else(|| {
                    i.checked_sub(1)
                        .and_then(|p| parse_amount(trim_punct(tokens[p])))
                })
        } else {
            None
        };
        if let Some(a) = amount {
            out.insert(Fact::Amount(a));
        }
    }
    out
}

/// `2026-11-28`: a date, not a phone number.
fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 4
        && parts[1..].iter().all(|p| (1..=2).contains(&p.len()))
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
}

fn starts_numeric(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// `12,500.00` / `12500` / `12.5k` → minor units.
fn parse_amount(s: &str) -> Option<i64> {
    let (s, mult) = match s.strip_suffix(['k', 'K']) {
        Some(rest) => (rest, 1000.0),
        None => (s, 1.0),
    };
    if !starts_numeric(s) {
        return None;
    }
    let cleaned: String = s.chars().filter(|c| *c != ',').collect();
    let v: f64 = cleaned.parse().ok()?;
    Some((v * mult * 100.0).round() as i64)
}

/// What a tenant's data (and the user's own words) allow a reply to state.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub emails: BTreeSet<String>,
    /// Digits only.
    pub phones: BTreeSet<String>,
    pub amounts: BTreeSet<i64>,
}

impl Known {
    /// Adds everything `scan` finds in `text` (e.g. the user's messages) as known.
    pub fn add_text(&mut self, text: &str) {
        for f in scan(text) {
            match f {
                Fact::Email(e) => {
                    self.emails.insert(e);
                }
                Fact::Phone(p) => {
                    self.phones.insert(p);
                }
                Fact::Amount(a) => {
                    self.amounts.insert(a);
                }
            }
        }
    }

    pub fn add_phone(&mut self, p: &str) {
        self.phones
            .insert(p.chars().filter(char::is_ascii_digit).collect());
    }

    pub fn knows(&self, f: &Fact) -> bool {
        match f {
            Fact::Email(e) => self.emails.contains(e),
            // National and international forms of one number: one ends with the other.
            Fact::Phone(p) => self
                .phones
                .iter()
                .any(|k| k.len() >= 8 && (k.ends_with(p.as_str()) || p.ends_with(k.as_str()))),
            Fact::Amount(a) => *a == 0 || self.amounts.contains(a),
        }
    }

    /// The facts in `reply` nothing supports.
    pub fn unsupported(&self, reply: &str) -> Vec<Fact> {
        scan(reply).into_iter().filter(|f| !self.knows(f)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_emails_phones_and_amounts() {
        let found = scan(
            "Reach Jane at Jane@Acme.example or (212) 555-0101. The deal is worth USD 12,500.00, \
             the other one $3k. Contact [[contact:0190c0de-0000-7000-8000-000000000001]].",
        );
        assert!(found.contains(&Fact::Email("jane@acme.example".into())));
        assert!(found.contains(&Fact::Phone("2125550101".into())));
        assert!(found.contains(&Fact::Amount(1_250_000)));
        assert!(found.contains(&Fact::Amount(300_000)));
        assert_eq!(found.len(), 4, "{found:?}");
    }

    #[test]
    fn dates_times_and_counts_are_not_phones_or_amounts() {
        let found = scan(
            "You have 3 tasks due Fri 27 Nov 2026 09:00 and 2026-11-28. It closes 2027-03-31.",
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn curly_quotes_do_not_stick_to_emails() {
        let found = scan("Nothing matches “x@y.example”.");
        assert!(
            found.contains(&Fact::Email("x@y.example".into())),
            "{found:?}"
        );
    }

    #[test]
    fn known_facts_pass_and_invented_ones_do_not() {
        let mut k = Known::default();
        k.emails.insert("jane@acme.example".into());
        k.add_phone("+12125550101");
        k.amounts.insert(1_250_000);
        assert!(
            k.unsupported("Jane: jane@acme.example, 212-555-0101, USD 12,500.00")
                .is_empty()
        );
        let bad = k.unsupported("Her budget is $40,000; mobile +1 646 555 0199; jo@x.example");
        assert_eq!(bad.len(), 3, "{bad:?}");
    }
}
