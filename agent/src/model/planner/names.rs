//! Records named inside a message: "Jane Cooper", "the Acme deal", "Jane at Acme", "her", "it".

use super::text::{Sentence, tidy};
use crate::model::EntityKind;

/// Contacts, companies and deals: what a bare name may be.
pub const ANY: &[EntityKind] = &[EntityKind::Contact, EntityKind::Company, EntityKind::Deal];
pub const CONTACT: &[EntityKind] = &[EntityKind::Contact];
pub const DEAL: &[EntityKind] = &[EntityKind::Deal];
pub const COMPANY: &[EntityKind] = &[EntityKind::Company];

/// A name to look up with `search`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub query: String,
    /// The kinds of record it may be.
    pub kinds: Vec<EntityKind>,
    /// "Jane at Acme": only contacts whose company matches.
    pub at_company: Option<String>,
}

impl Name {
    pub fn new(query: &str, kinds: &[EntityKind]) -> Name {
        Name {
            query: query.to_string(),
            kinds: kinds.to_vec(),
            at_company: None,
        }
    }
}

/// What a request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// "it", "this deal", "her": the record the conversation is about (or the chat is open on),
    /// of this kind if one is implied.
    Referent(Option<EntityKind>),
    /// A record to find by name.
    Named(Name),
}

/// Words that never start or continue a person's name.
const STOP: &[&str] = &[
    "the",
    "a",
    "an",
    "about",
    "re",
    "regarding",
    "on",
    "at",
    "for",
    "to",
    "and",
    "or",
    "but",
    "back",
    "again",
    "with",
    "from",
    "in",
    "of",
    "that",
    "this",
    "it",
    "them",
    "him",
    "her",
    "me",
    "my",
    "our",
    "their",
    "his",
    "its",
    "is",
    "are",
    "was",
    "be",
    "by",
    "asap",
    "please",
    "now",
    "so",
    "who",
    "which",
    "because",
    "if",
    "when",
    "then",
    "up",
    "out",
    "some",
    "any",
    "all",
    "everyone",
    "team",
    "deal",
    "deals",
    "company",
    "quickly",
    "first",
    "later",
    "soon",
    "regularly",
    "abt",
];

const COMPANY_WORDS: &[&str] = &["company", "account", "organisation", "organization", "org"];
const DEAL_WORDS: &[&str] = &["deal", "deals", "opportunity", "opp"];
const CONTACT_WORDS: &[&str] = &["contact", "person", "lead"];

fn pronoun(words: &[&str]) -> Option<Option<EntityKind>> {
    Some(match words {
        ["it"] | ["this"] | ["that"] | ["this", "one"] | ["that", "one"] | ["this", "record"] => {
            None
        }
        ["her"] | ["him"] | ["them"] | ["this" | "that" | "the", "contact" | "person"] => {
            Some(EntityKind::Contact)
        }
        ["this" | "that" | "the", "deal" | "opportunity"] => Some(EntityKind::Deal),
        ["this" | "that" | "the", "company" | "account"] => Some(EntityKind::Company),
        _ => return None,
    })
}

/// Strips a possessive: "Jane's" → "Jane".
fn unpossess(s: &str) -> &str {
    s.strip_suffix("'s")
        .or_else(|| s.strip_suffix("’s"))
        .unwrap_or(s)
}

/// The subject written over tokens `from..to`: "the Acme deal", "company Acme", "Jane at Acme",
/// "her". `default` are the kinds a plain name may be.
pub fn subject(s: &Sentence, from: usize, to: usize, default: &[EntityKind]) -> Option<Subject> {
    let idx: Vec<usize> = (from..to.min(s.len()))
        .filter(|&i| s.toks[i].is_word())
        .collect();
    let lows: Vec<&str> = idx.iter().map(|&i| s.low(i)).collect();
    if idx.is_empty() {
        return None;
    }
    if let Some(kind) = pronoun(&lows) {
        return Some(Subject::Referent(kind));
    }
    let mut a = 0;
    let mut b = idx.len();
    while a < b && matches!(lows[a], "the" | "a" | "an" | "our" | "my") {
        a += 1;
    }
    let mut kinds = default.to_vec();
    if a < b && DEAL_WORDS.contains(&lows[b - 1]) {
        kinds = DEAL.to_vec();
        b -= 1;
    } else if a < b && DEAL_WORDS.contains(&lows[a]) {
        kinds = DEAL.to_vec();
        a += 1;
    } else if a < b && COMPANY_WORDS.contains(&lows[a]) {
        kinds = COMPANY.to_vec();
        a += 1;
    } else if a < b && COMPANY_WORDS.contains(&lows[b - 1]) && b - a > 1 {
        kinds = COMPANY.to_vec();
        b -= 1;
    } else if a < b && CONTACT_WORDS.contains(&lows[a]) {
        kinds = CONTACT.to_vec();
        a += 1;
    }
    while a < b && matches!(lows[a], "named" | "called" | "the") {
        a += 1;
    }
    if a >= b {
        return None;
    }
    // "Jane at Acme" / "Jane from Acme": a contact of that company.
    let mut at_company = None;
    if kinds.contains(&EntityKind::Contact)
        && let Some(k) = (a + 1..b.saturating_sub(1)).find(|&k| matches!(lows[k], "at" | "from"))
    {
        at_company = Some(tidy(s.raw(idx[k + 1], idx[b - 1] + 1)));
        kinds = CONTACT.to_vec();
        b = k;
    }
    let query = tidy(unpossess(s.raw(idx[a], idx[b - 1] + 1)));
    if query.is_empty() {
        return None;
    }
    Some(Subject::Named(Name {
        query,
        kinds,
        at_company,
    }))
}

/// The person named right at token `i` (after a verb such as "call" or "meet with"): a run of
/// name words, capitalised ones if the user capitalised, at most two lower-case ones otherwise,
/// optionally followed by "at <Company>". Returns the subject and the index after it.
pub fn person_at(s: &Sentence, i: usize, to: usize) -> Option<(Subject, usize)> {
    let to = to.min(s.len());
    let first = s.toks.get(i).filter(|_| i < to)?;
    if !first.is_word() {
        return None;
    }
    match first.low.as_str() {
        "her" | "him" | "them" => {
            return Some((Subject::Referent(Some(EntityKind::Contact)), i + 1));
        }
        w if STOP.contains(&w) => return None,
        _ => {}
    }
    let capitals = first.is_capitalised();
    let limit = if capitals { 4 } else { 2 };
    let mut j = i;
    while j < to && j - i < limit {
        let t = &s.toks[j];
        let name_like = t.is_word()
            && !STOP.contains(&t.low.as_str())
            && t.raw
                .chars()
                .all(|c| c.is_alphabetic() || "-'’.".contains(c))
            && (!capitals || t.is_capitalised());
        if !name_like {
            break;
        }
        j += 1;
        if t.low.ends_with("'s") || t.low.ends_with("’s") {
            break;
        }
    }
    if j == i {
        return None;
    }
    let mut name = Name::new(&tidy(unpossess(s.raw(i, j))), CONTACT);
    let mut end = j;
    if j + 1 < to && matches!(s.low(j), "at" | "from") {
        let c0 = j + 1;
        let mut c1 = c0;
        while c1 < to
            && s.toks[c1].is_word()
            && !STOP.contains(&s.low(c1))
            && (c1 == c0 || s.toks[c1].is_capitalised())
        {
            c1 += 1;
        }
        if c1 > c0 {
            name.at_company = Some(tidy(s.raw(c0, c1)));
            end = c1;
        }
    }
    Some((Subject::Named(name), end))
}

/// Verbs after which a person's name follows: "call Jane", "follow up with Jane".
const PERSON_VERBS: &[&[&str]] = &[
    &["follow", "up", "with"],
    &["follow-up", "with"],
    &["followup", "with"],
    &["check", "in", "with"],
    &["catch", "up", "with"],
    &["reach", "out", "to"],
    &["get", "back", "to"],
    &["talk", "to"],
    &["talk", "with"],
    &["speak", "to"],
    &["speak", "with"],
    &["meet", "with"],
    &["meeting", "with"],
    &["call", "with"],
    &["demo", "for"],
    &["demo", "with"],
    &["lunch", "with"],
    &["call", "back"],
    &["ring", "back"],
    &["call"],
    &["ring"],
    &["phone"],
    &["email"],
    &["e-mail"],
    &["text"],
    &["message"],
    &["ping"],
    &["meet"],
    &["visit"],
    &["thank"],
    &["nudge"],
    &["chase"],
];

/// The person a task or note is about, from its verb phrase: "call Jane Cooper about pricing"
/// → Jane Cooper; "send the proposal to Jane" → Jane. Returns the token range of the name.
pub fn person_in(s: &Sentence) -> Option<(Subject, usize, usize)> {
    for i in 0..s.len() {
        for verb in PERSON_VERBS {
            if verb.iter().enumerate().all(|(k, w)| s.low(i + k) == *w)
                && let Some((subj, end)) = person_at(s, i + verb.len(), s.len())
            {
                return Some((subj, i + verb.len(), end));
            }
        }
    }
    // "send/forward/share … to Jane"
    let sends = (0..s.len()).find(|&i| {
        matches!(
            s.low(i),
            "send" | "forward" | "share" | "mail" | "give" | "introduce"
        )
    })?;
    let to = s.find(sends + 1, "to")?;
    person_at(s, to + 1, s.len()).map(|(subj, end)| (subj, to + 1, end))
}

/// The deal a phrase mentions: "the Acme deal", "the Acme renewal deal", "this deal".
pub fn deal_in(s: &Sentence) -> Option<Subject> {
    let k = (0..s.len()).find(|&i| DEAL_WORDS.contains(&s.low(i)))?;
    let mut a = k;
    while a > 0 && k - a < 4 {
        let t = &s.toks[a - 1];
        if !t.is_word() || matches!(t.low.as_str(), "the" | "this" | "that" | "our" | "my") {
            break;
        }
        if STOP.contains(&t.low.as_str()) {
            break;
        }
        a -= 1;
    }
    if a == k {
        let before = if k > 0 { s.low(k - 1) } else { "" };
        return matches!(before, "the" | "this" | "that")
            .then_some(Subject::Referent(Some(EntityKind::Deal)));
    }
    let query = tidy(unpossess(s.raw(a, k)));
    (!query.is_empty()).then(|| Subject::Named(Name::new(&query, DEAL)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subj(text: &str) -> Option<Subject> {
        let s = Sentence::new(text);
        subject(&s, 0, s.len(), ANY)
    }

    fn named(q: &str, kinds: &[EntityKind], at: Option<&str>) -> Option<Subject> {
        Some(Subject::Named(Name {
            query: q.into(),
            kinds: kinds.to_vec(),
            at_company: at.map(str::to_string),
        }))
    }

    #[test]
    fn subjects() {
        assert_eq!(subj("the Acme deal"), named("Acme", DEAL, None));
        assert_eq!(subj("deal Acme renewal"), named("Acme renewal", DEAL, None));
        assert_eq!(subj("company Acme"), named("Acme", COMPANY, None));
        assert_eq!(subj("Jane at Acme"), named("Jane", CONTACT, Some("Acme")));
        assert_eq!(subj("Jane Cooper's"), named("Jane Cooper", ANY, None));
        assert_eq!(subj("it"), Some(Subject::Referent(None)));
        assert_eq!(
            subj("this deal"),
            Some(Subject::Referent(Some(EntityKind::Deal)))
        );
        assert_eq!(
            subj("her"),
            Some(Subject::Referent(Some(EntityKind::Contact)))
        );
    }

    #[test]
    fn people_after_verbs() {
        let p = |t: &str| person_in(&Sentence::new(t)).map(|(s, _, _)| s);
        assert_eq!(
            p("call Jane Cooper about pricing"),
            named("Jane Cooper", CONTACT, None)
        );
        assert_eq!(
            p("call jane cooper re pricing"),
            named("jane cooper", CONTACT, None)
        );
        assert_eq!(
            p("follow up with Jane at Acme"),
            named("Jane", CONTACT, Some("Acme"))
        );
        assert_eq!(p("send the proposal to Jane"), named("Jane", CONTACT, None));
        assert_eq!(
            p("call her back"),
            Some(Subject::Referent(Some(EntityKind::Contact)))
        );
        assert_eq!(p("send the proposal"), None);
        assert_eq!(p("review the numbers"), None);
        let d = |t: &str| deal_in(&Sentence::new(t));
        assert_eq!(
            d("send contract for the Acme deal"),
            named("Acme", DEAL, None)
        );
        assert_eq!(
            d("update this deal"),
            Some(Subject::Referent(Some(EntityKind::Deal)))
        );
    }
}
