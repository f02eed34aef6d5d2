//! The grounding check: the model's words are checked against what this turn actually saw.
//!
//! - Citations (`[[deal:<uuid>]]`) must name ids that were in the context pack or in a tool
//!   result of this turn, with the right kind.
//! - Facts about people and companies — emails, phone numbers, money amounts, dates — must
//!   appear somewhere in those sources. Anything else is flagged as ungrounded.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::model::{EntityKind, EntityRef};

/// Everything this turn saw: the ids it may cite and the text facts may come from.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    known: BTreeSet<EntityRef>,
    text: String,
    /// The reader's time zone: timestamps are also recorded as their local date, since replies
    /// speak in local dates (a task due 23:30 UTC may be due "tomorrow" locally).
    tz: Option<chrono_tz::Tz>,
}

impl Sources {
    pub fn in_zone(tz: chrono_tz::Tz) -> Self {
        Sources {
            tz: Some(tz),
            ..Sources::default()
        }
    }

    pub fn add_entity(&mut self, e: EntityRef) {
        self.known.insert(e);
    }

    pub fn knows(&self, e: &EntityRef) -> bool {
        self.known.contains(e)
    }

    pub fn add_text(&mut self, text: &str) {
        self.text.push_str(text);
        self.text.push('\n');
    }

    /// Adds a tool result: its text, and every record id in it with the kind its position says.
    pub fn add_json(&mut self, value: &Value) {
        self.add_text(&value.to_string());
        collect_entities(value, None, &mut self.known);
        if let Some(tz) = self.tz {
            let mut local = String::new();
            local_dates(value, tz, &mut local);
            self.add_text(&local);
        }
    }
}

fn local_dates(value: &Value, tz: chrono_tz::Tz, out: &mut String) {
    match value {
        Value::String(s) => {
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
                out.push_str(&t.with_timezone(&tz).format(" %Y-%m-%d %H:%M").to_string());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| local_dates(v, tz, out)),
        Value::Object(map) => map.values().for_each(|v| local_dates(v, tz, out)),
        _ => {}
    }
}

fn kind_for_key(key: &str) -> Option<EntityKind> {
    match key {
        "contact" | "contacts" => Some(EntityKind::Contact),
        "company" | "companies" => Some(EntityKind::Company),
        "deal" | "deals" => Some(EntityKind::Deal),
        "task" | "tasks" | "open_tasks" => Some(EntityKind::Task),
        "action" | "actions" => Some(EntityKind::Action),
        _ => None,
    }
}

fn id_of(v: Option<&Value>) -> Option<Uuid> {
    v.and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
}

fn collect_entities(value: &Value, kind: Option<EntityKind>, out: &mut BTreeSet<EntityRef>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect_entities(v, kind, out)),
        Value::Object(map) => {
            // An explicit type wins over the position.
            let own = ["type", "entity_type"]
                .iter()
                .find_map(|k| {
                    map.get(*k)
                        .and_then(Value::as_str)
                        .and_then(EntityKind::parse)
                })
                .or(kind);
            if let (Some(k), Some(id)) = (own, id_of(map.get("id"))) {
                out.insert(EntityRef { kind: k, id });
            }
            for (key, v) in map {
                let ref_kind = key.strip_suffix("_id").and_then(kind_for_key);
                if let (Some(k), Some(id)) = (ref_kind, id_of(Some(v))) {
                    out.insert(EntityRef { kind: k, id });
                }
                if key == "action_id"
                    && let Some(id) = id_of(Some(v))
                {
                    out.insert(EntityRef {
                        kind: EntityKind::Action,
                        id,
                    });
                }
                if v.is_object() || v.is_array() {
                    collect_entities(v, kind_for_key(key), out);
                }
            }
        }
        _ => {}
    }
}

/// A citation marker found in a reply: the record it names.
pub type Citation = EntityRef;

/// Every `[[kind:uuid]]` marker (see [`EntityRef::marker`]) in the text, in order, without
/// repeats; malformed ones are returned separately, as written, so they can be removed.
pub fn citations(text: &str) -> (Vec<Citation>, Vec<String>) {
    let mut found = Vec::new();
    let mut malformed = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("[[") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("]]") else { break };
        let inner = &after[..end];
        let parsed = inner.split_once(':').and_then(|(k, id)| {
            Some(Citation {
                kind: EntityKind::parse(k.trim())?,
                id: Uuid::parse_str(id.trim()).ok()?,
            })
        });
        match parsed {
            Some(c) if !found.contains(&c) => found.push(c),
            Some(_) => {}
            None => malformed.push(rest[start..start + 2 + end + 2].to_string()),
        }
        rest = &after[end + 2..];
    }
    (found, malformed)
}

/// A problem found in a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// A cited id that this turn never saw (or saw as another kind).
    UnknownCitation { marker: String },
    /// A fact stated that appears in no source.
    UngroundedFact { fact: String },
    /// A claim that something was done (sent, called, created, approved) in a turn in which
    /// nothing ran.
    UnbackedClaim { claim: String },
}

impl Finding {
    pub fn describe(&self) -> String {
        match self {
            Finding::UnknownCitation { marker } => {
                format!("cited {marker}, which is not in the data I read")
            }
            Finding::UngroundedFact { fact } => {
                format!("“{fact}” does not appear in the data I read")
            }
            Finding::UnbackedClaim { claim } => {
                format!("says “{claim}”, but nothing was done in this conversation turn")
            }
        }
    }
}

/// Phrases that say an action happened.
const DONE_PHRASES: &[&str] = &[
    "i sent",
    "i've sent",
    "i have sent",
    "has been sent",
    "have been sent",
    "was sent",
    "were sent",
    "i texted",
    "i've texted",
    "i have texted",
    "texted everyone",
    "i called",
    "i've called",
    "i have called",
    "i created",
    "i've created",
    "i have created",
    "has been created",
    "i moved",
    "i've moved",
    "has been moved",
    "i approved",
    "i've approved",
    "has been approved",
    "i updated",
    "i've updated",
    "has been updated",
    "i deleted",
    "i've deleted",
    "has been deleted",
    "i scheduled",
    "i've scheduled",
];

/// Claims in `reply` that something was done, as written (for a turn in which nothing ran).
pub fn done_claims(reply: &str) -> Vec<Finding> {
    // ASCII lower-casing keeps byte offsets, so matches slice the original text.
    let lower = reply.to_ascii_lowercase().replace('’', "'");
    let original = reply.replace('’', "'");
    let mut out = Vec::new();
    // "Done: …" opening a reply; "nothing was done." elsewhere is no claim.
    if lower.trim_start().starts_with("done") {
        let at = original.len() - original.trim_start().len();
        out.push(Finding::UnbackedClaim {
            claim: original[at..at + 4].to_string(),
        });
    }
    for p in DONE_PHRASES {
        if let Some(at) = lower.find(p) {
            let claim = original[at..at + p.len()].to_string();
            if !out
                .iter()
                .any(|f| matches!(f, Finding::UnbackedClaim { claim: c } if *c == claim))
            {
                out.push(Finding::UnbackedClaim { claim });
            }
        }
    }
    out
}

/// Checks a reply against the sources.
pub fn check(reply: &str, sources: &Sources) -> Vec<Finding> {
    let mut findings = Vec::new();
    let (cites, malformed) = citations(reply);
    for c in cites {
        if !sources.knows(&c) {
            findings.push(Finding::UnknownCitation { marker: c.marker() });
        }
    }
    for m in malformed {
        findings.push(Finding::UnknownCitation { marker: m });
    }
    let plain = strip_markers(reply);
    let hay = sources.text.to_lowercase();
    let hay_digits: String = sources
        .text
        .chars()
        .filter(|c| c.is_ascii_digit() || c.is_whitespace() || *c == '"')
        .collect();
    for fact in facts(&plain) {
        let grounded = match &fact {
            Fact::Email(e) => hay.contains(&e.to_lowercase()),
            Fact::Phone(digits) => phone_grounded(digits, &hay_digits),
            Fact::Amount { text, value } => {
                amount_grounded(*value, &sources.text) || hay.contains(&text.to_lowercase())
            }
            Fact::Date { text, iso } => {
                iso.as_ref().is_some_and(|d| hay.contains(d)) || hay.contains(&text.to_lowercase())
            }
        };
        if !grounded {
            findings.push(Finding::UngroundedFact {
                fact: fact.text().to_string(),
            });
        }
    }
    findings
}

/// The reply without citation markers (for reading facts and for plain-text surfaces).
pub fn strip_markers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("[[") {
        out.push_str(&rest[..start]);
        match rest[start..].find("]]") {
            Some(end) => rest = &rest[start + end + 2..],
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Fact {
    Email(String),
    /// The digits of a phone number.
    Phone(String),
    Amount {
        text: String,
        value: f64,
    },
    Date {
        text: String,
        iso: Option<String>,
    },
}

impl Fact {
    fn text(&self) -> &str {
        match self {
            Fact::Email(t) | Fact::Phone(t) => t,
            Fact::Amount { text, .. } | Fact::Date { text, .. } => text,
        }
    }
}

const CURRENCY_WORDS: [&str; 12] = [
    "usd", "eur", "gbp", "nok", "sek", "dkk", "chf", "cad", "aud", "jpy", "inr", "brl",
];

/// Pulls the checkable facts out of plain text: emails, phone numbers, amounts, dates.
fn facts(text: &str) -> Vec<Fact> {
    // Line by line: a phone number at the end of one list line must not run into the next
    // line's "2." and become a longer, unknown number.
    text.lines().flat_map(facts_in_line).collect()
}

fn facts_in_line(text: &str) -> Vec<Fact> {
    let mut out = Vec::new();
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let trim = |t: &str| {
        t.trim_matches(|c: char| {
            matches!(
                c,
                ',' | '.' | ';' | ':' | '!' | '?' | '(' | ')' | '"' | '\'' | '“' | '”' | '<' | '>'
            )
        })
        .to_string()
    };
    let mut i = 0;
    while i < tokens.len() {
        let tok = trim(tokens[i]);
        if tok.contains('@') && tok.contains('.') {
            out.push(Fact::Email(tok));
            i += 1;
            continue;
        }
        // ISO dates.
        if tok.len() == 10
            && tok.as_bytes()[4] == b'-'
            && tok.as_bytes()[7] == b'-'
            && tok.chars().filter(char::is_ascii_digit).count() == 8
        {
            out.push(Fact::Date {
                text: tok.clone(),
                iso: Some(tok),
            });
            i += 1;
            continue;
        }
        // "28 Nov" / "Nov 28" (optionally with a year).
        let lower = tok.to_lowercase();
        // The month's name or its abbreviation, not any word starting like one ("Jane",
        // "Mario", "Decker").
        if let Some(m) = crate::model::planner::dates::month(&lower)
            .filter(|_| lower.chars().all(char::is_alphabetic))
            .map(|m| m as usize - 1)
        {
            let before = i.checked_sub(1).map(|j| trim(tokens[j]));
            let after = tokens.get(i + 1).map(|t| trim(t));
            let day = [before.clone(), after.clone()]
                .into_iter()
                .flatten()
                .find(|d| d.parse::<u32>().is_ok_and(|n| (1..=31).contains(&n)));
            if let Some(d) = day {
                let text = match (&before, &after) {
                    (Some(b), _) if *b == d => format!("{d} {tok}"),
                    _ => format!("{tok} {d}"),
                };
                let md = format!("-{:02}-{:02}", m + 1, d.parse::<u32>().unwrap_or(1));
                out.push(Fact::Date {
                    text,
                    iso: Some(md),
                });
            }
        }
        // Amounts: a currency symbol or code next to a number.
        let has_symbol = tok.starts_with(['$', '€', '£']);
        let prev_is_code =
            i > 0 && CURRENCY_WORDS.contains(&trim(tokens[i - 1]).to_lowercase().as_str());
        let next_is_code = tokens
            .get(i + 1)
            .is_some_and(|t| CURRENCY_WORDS.contains(&trim(t).to_lowercase().as_str()));
        if has_symbol || prev_is_code || next_is_code {
            let num: String = tok
                .trim_start_matches(['$', '€', '£'])
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            if let Ok(value) = num.parse::<f64>()
                && !num.is_empty()
            {
                out.push(Fact::Amount {
                    text: tok.clone(),
                    value,
                });
            }
        }
        // Phone numbers: a run of tokens made of digits and phone punctuation with 7+ digits.
        if tok.starts_with('+')
            || tok.starts_with('(')
            || tok.chars().next().is_some_and(|c| c.is_ascii_digit())
        {
            let mut j = i;
            let mut digits = String::new();
            let mut raw = Vec::new();
            while j < tokens.len() {
                let t = tokens[j].trim_end_matches([',', '.', ';']);
                if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit() || "+-().".contains(c)) {
                    break;
                }
                digits.extend(t.chars().filter(char::is_ascii_digit));
                raw.push(t);
                j += 1;
            }
            let looks_like_phone = digits.len() >= 7
                && (raw.len() > 1
                    || tokens[i].starts_with('+')
                    || raw[0].contains('-')
                    || raw[0].contains('('));
            if looks_like_phone
                && !(raw.len() == 1
                    && raw[0].len() == 10
                    && raw[0].as_bytes().get(4) == Some(&b'-'))
            {
                out.push(Fact::Phone(digits));
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out
}

fn phone_grounded(digits: &str, hay_digits: &str) -> bool {
    // Compare on the last 9 digits so "+1 415 555 2671" and "(415) 555-2671" agree.
    let tail = &digits[digits.len().saturating_sub(9)..];
    let compact: String = hay_digits.chars().filter(char::is_ascii_digit).collect();
    compact.contains(tail)
}

/// Whether a number equal to `value` (in major units) appears in the sources, either as a
/// minor-unit integer (`1250000` for 12,500.00) or as written.
fn amount_grounded(value: f64, sources: &str) -> bool {
    let minor = (value * 100.0).round() as i64;
    let mut current = String::new();
    for c in sources.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() || c == '.' {
            current.push(c);
            continue;
        }
        if c == ',' && !current.is_empty() {
            continue;
        }
        if !current.is_empty() {
            if let Ok(n) = current.parse::<f64>()
                && ((n - value).abs() < 0.005 || (n as i64 == minor && !current.contains('.')))
            {
                return true;
            }
            current.clear();
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sources() -> (Sources, Uuid, Uuid) {
        let deal = Uuid::now_v7();
        let contact = Uuid::now_v7();
        let mut s = Sources::default();
        s.add_json(&json!({"deal": {"id": deal, "name": "Acme renewal", "value_minor": 1250000, "currency": "USD",
            "expected_close": "2026-11-28", "contact_id": contact},
            "timeline": [{"id": Uuid::now_v7(), "body": "Call +1 415-555-2671 or jane@acme.com"}]}));
        (s, deal, contact)
    }

    #[test]
    fn citations_are_parsed_and_checked_by_kind() {
        let (s, deal, contact) = sources();
        let text = format!("The deal [[deal:{deal}]] is with Jane [[contact:{contact}]].");
        assert!(check(&text, &s).is_empty(), "{:?}", check(&text, &s));
        let wrong_kind = format!("See [[contact:{deal}]].");
        assert_eq!(
            check(&wrong_kind, &s),
            vec![Finding::UnknownCitation {
                marker: format!("[[contact:{deal}]]")
            }]
        );
        let unknown = Uuid::now_v7();
        let invented = format!("See [[deal:{unknown}]] and [[deal: nope ]].");
        assert_eq!(
            check(&invented, &s),
            vec![
                Finding::UnknownCitation {
                    marker: format!("[[deal:{unknown}]]")
                },
                Finding::UnknownCitation {
                    marker: "[[deal: nope ]]".into()
                },
            ]
        );
        assert_eq!(strip_markers(&text), "The deal  is with Jane .");
        // One format, written by `EntityRef::marker` and read back here, repeats dropped.
        let d = EntityRef {
            kind: EntityKind::Deal,
            id: deal,
        };
        let twice = format!("{} and {} [[oops]]", d.marker(), d.marker());
        assert_eq!(citations(&twice), (vec![d], vec!["[[oops]]".to_string()]));
    }

    #[test]
    fn a_phone_at_the_end_of_a_list_line_stays_one_number() {
        let (s, _, _) = sources();
        let phone = "+1 415 555 2671";
        let listed = format!("Several match:\n1. Jane {phone}\n2. Jane Doe\nWhich one?");
        let found = facts(&listed);
        assert!(
            found
                .iter()
                .all(|f| !matches!(f, Fact::Phone(d) if d.len() > 11)),
            "{found:?}"
        );
        assert!(check(&listed, &s).is_empty(), "{:?}", check(&listed, &s));
    }

    #[test]
    fn claims_of_work_done_are_found_and_denials_are_not() {
        let claims = |t: &str| -> Vec<String> {
            done_claims(t)
                .into_iter()
                .map(|f| match f {
                    Finding::UnbackedClaim { claim } => claim,
                    other => panic!("not a claim: {other:?}"),
                })
                .collect()
        };
        assert_eq!(
            claims("Done - I’ve sent Jane Cooper your text."),
            ["Done", "I've sent"]
        );
        assert_eq!(claims("The text has been sent."), ["has been sent"]);
        assert!(claims("Nothing was done. The contact opted out.").is_empty());
        assert!(claims("I've drafted this for your approval.").is_empty());
    }

    #[test]
    fn facts_must_come_from_the_sources() {
        let (s, _, _) = sources();
        for ok in [
            "It is worth USD 12,500.00 and closes on 2026-11-28.",
            "It is worth $12,500 and should close Nov 28.",
            "Reach Jane at jane@acme.com or (415) 555-2671.",
        ] {
            assert!(check(ok, &s).is_empty(), "{ok}: {:?}", check(ok, &s));
        }
        let bad = check(
            "Her mobile is +1 212 555 0199, budget $40,000, email jane.c@acme.io, decision by 2026-12-15.",
            &s,
        );
        let fact = |f: &str| Finding::UngroundedFact { fact: f.into() };
        assert_eq!(
            bad,
            vec![
                fact("12125550199"),
                fact("$40,000"),
                fact("jane.c@acme.io"),
                fact("2026-12-15"),
            ]
        );
    }

    #[test]
    fn entity_kinds_follow_keys_and_types() {
        let c = Uuid::now_v7();
        let t = Uuid::now_v7();
        let a = Uuid::now_v7();
        let mut s = Sources::default();
        s.add_json(&json!({"results": [{"type": "company", "id": c}], "open_tasks": [{"id": t}], "action_id": a}));
        assert!(s.knows(&EntityRef {
            kind: EntityKind::Company,
            id: c
        }));
        assert!(s.knows(&EntityRef {
            kind: EntityKind::Task,
            id: t
        }));
        assert!(s.knows(&EntityRef {
            kind: EntityKind::Action,
            id: a
        }));
        assert!(!s.knows(&EntityRef {
            kind: EntityKind::Deal,
            id: c
        }));
    }
}
