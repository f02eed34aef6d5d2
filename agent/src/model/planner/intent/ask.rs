//! Questions about one value of one record: "what is Jane Cooper's phone number?", "what's the
//! budget for the Acme deal?", "who is the decision maker at Acme?", "how much is the Globex deal
//! worth?". Fields Heimdell does not keep (budget, decision maker, revenue, ...) are recognised
//! too, so the answer can say plainly that the value is not known instead of guessing.

use super::{Intent, at, lead};
use crate::model::EntityKind;
use crate::model::planner::dates::Clock;
use crate::model::planner::names::{self, ANY, COMPANY, CONTACT, DEAL, Subject};
use crate::model::planner::text::Sentence;

/// A field asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Email,
    Phone,
    Title,
    Company,
    Owner,
    Timezone,
    Value,
    Stage,
    CloseDate,
    Domain,
    Industry,
    /// Something Heimdell keeps no field for, in the user's words' canonical form.
    NotKept(&'static str),
}

impl Field {
    /// The kinds of record that have this field.
    pub fn kinds(self) -> &'static [EntityKind] {
        match self {
            Field::Email | Field::Title | Field::Timezone => CONTACT,
            Field::Phone => &[EntityKind::Contact, EntityKind::Company],
            Field::Company => &[EntityKind::Contact, EntityKind::Deal],
            Field::Value | Field::Stage | Field::CloseDate => DEAL,
            Field::Domain | Field::Industry => COMPANY,
            Field::Owner | Field::NotKept(_) => ANY,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Field::Email => "email address",
            Field::Phone => "phone number",
            Field::Title => "job title",
            Field::Company => "company",
            Field::Owner => "owner",
            Field::Timezone => "time zone",
            Field::Value => "value",
            Field::Stage => "stage",
            Field::CloseDate => "expected close date",
            Field::Domain => "website domain",
            Field::Industry => "industry",
            Field::NotKept(label) => label,
        }
    }
}

/// A question about one field of one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub subject: Subject,
    pub field: Field,
}

/// Field names as people say them, longest first where one starts another.
const FIELDS: &[(&[&str], Field)] = &[
    (&["phone", "number"], Field::Phone),
    (&["mobile", "number"], Field::Phone),
    (&["cell", "number"], Field::Phone),
    (&["telephone", "number"], Field::Phone),
    (&["phone"], Field::Phone),
    (&["mobile"], Field::Phone),
    (&["number"], Field::Phone),
    (&["email", "address"], Field::Email),
    (&["e-mail", "address"], Field::Email),
    (&["email"], Field::Email),
    (&["e-mail"], Field::Email),
    (&["job", "title"], Field::Title),
    (&["title"], Field::Title),
    (&["position"], Field::Title),
    (&["employer"], Field::Company),
    (&["company"], Field::Company),
    (&["account", "owner"], Field::Owner),
    (&["owner"], Field::Owner),
    (&["time", "zone"], Field::Timezone),
    (&["timezone"], Field::Timezone),
    (&["deal", "value"], Field::Value),
    (&["deal", "size"], Field::Value),
    (&["value"], Field::Value),
    (&["amount"], Field::Value),
    (&["stage"], Field::Stage),
    (&["expected", "close", "date"], Field::CloseDate),
    (&["close", "date"], Field::CloseDate),
    (&["closing", "date"], Field::CloseDate),
    (&["domain"], Field::Domain),
    (&["website"], Field::Domain),
    (&["industry"], Field::Industry),
    (&["sector"], Field::Industry),
    (&["budget"], Field::NotKept("budget")),
    (&["decision", "makers"], Field::NotKept("decision maker")),
    (&["decision", "maker"], Field::NotKept("decision maker")),
    (&["decision-maker"], Field::NotKept("decision maker")),
    (&["economic", "buyer"], Field::NotKept("economic buyer")),
    (&["champion"], Field::NotKept("champion")),
    (&["annual", "revenue"], Field::NotKept("revenue")),
    (&["revenue"], Field::NotKept("revenue")),
    (&["headcount"], Field::NotKept("headcount")),
    (&["number", "of", "employees"], Field::NotKept("headcount")),
    (&["birthday"], Field::NotKept("birthday")),
    (&["date", "of", "birth"], Field::NotKept("birthday")),
    (&["home", "address"], Field::NotKept("address")),
    (&["address"], Field::NotKept("address")),
    (&["linkedin"], Field::NotKept("LinkedIn profile")),
    (&["competitors"], Field::NotKept("competitor")),
    (&["competitor"], Field::NotKept("competitor")),
    (&["salary"], Field::NotKept("salary")),
    (&["pain", "points"], Field::NotKept("pain points")),
];

const QUESTION_STARTS: &[&[&str]] = &[
    &["what", "is"],
    &["what's"],
    &["whats"],
    &["what", "are"],
    &["what", "was"],
    &["who", "is"],
    &["who's"],
    &["who", "are"],
    &["do", "you", "know"],
    &["do", "we", "know"],
    &["do", "we", "have"],
    &["tell", "me"],
    &["give", "me"],
];

const ARTICLES: &[&str] = &["the", "a", "an", "their", "his", "her", "its"];
const LINKS: &[&str] = &["of", "for", "at", "on", "with", "in"];

/// The field named at `i`, and where it ends.
fn field_at(s: &Sentence, i: usize) -> Option<(Field, usize)> {
    FIELDS
        .iter()
        .filter(|(words, _)| at(s, i, words))
        .max_by_key(|(words, _)| words.len())
        .map(|(words, f)| (*f, i + words.len()))
}

/// The end of the question (before a closing "?" or ".").
fn end_of(s: &Sentence) -> usize {
    let mut end = s.len();
    while end > 0 && matches!(s.low(end - 1), "?" | "." | "!") {
        end -= 1;
    }
    end
}

/// The record a name in `from..to` means, or what the conversation is about when it is empty.
fn subject(s: &Sentence, from: usize, to: usize, kinds: &[EntityKind]) -> Option<Subject> {
    if from >= to {
        return Some(Subject::Referent(None));
    }
    names::subject(s, from, to, kinds)
}

pub(super) fn ask(s: &Sentence, i: usize, _: Clock) -> Option<Intent> {
    let end = end_of(s);
    // "how much is the Globex deal worth?"
    if let Some(p) = lead(s, i, &[&["how", "much", "is"], &["how", "big", "is"]]) {
        let stop = if s.low(end.saturating_sub(1)) == "worth" {
            end - 1
        } else {
            end
        };
        return Some(Intent::Ask(Question {
            subject: subject(s, p, stop, DEAL)?,
            field: Field::Value,
        }));
    }
    // "what stage is the Acme deal in?"
    if let Some(p) = lead(s, i, &[&["what", "stage", "is"], &["which", "stage", "is"]]) {
        let stop = if matches!(s.low(end.saturating_sub(1)), "in" | "at") {
            end - 1
        } else {
            end
        };
        return Some(Intent::Ask(Question {
            subject: subject(s, p, stop, DEAL)?,
            field: Field::Stage,
        }));
    }
    // "when does the Acme deal close?"
    if let Some(p) = lead(
        s,
        i,
        &[&["when", "does"], &["when", "will"], &["when", "is"]],
    ) && matches!(s.low(end.saturating_sub(1)), "close" | "closing")
    {
        let mut stop = end - 1;
        if matches!(s.low(stop.saturating_sub(1)), "expected" | "due" | "going") {
            stop -= 1;
        }
        if s.low(stop.saturating_sub(1)) == "to" {
            stop -= 1;
        }
        return Some(Intent::Ask(Question {
            subject: subject(s, p, stop, DEAL)?,
            field: Field::CloseDate,
        }));
    }
    let p = lead(s, i, QUESTION_STARTS)?;
    let mut q = p;
    while ARTICLES.contains(&s.low(q)) {
        q += 1;
    }
    // Field first: "what's the budget for the Acme deal?", "what is the email of Jane?".
    if let Some((field, after)) = field_at(s, q) {
        if after >= end {
            return Some(Intent::Ask(Question {
                subject: Subject::Referent(None),
                field,
            }));
        }
        if LINKS.contains(&s.low(after)) {
            return Some(Intent::Ask(Question {
                subject: subject(s, after + 1, end, field.kinds())?,
                field,
            }));
        }
        return None;
    }
    // Possessive: "what is Jane Cooper's phone number?".
    let k = (p..end).find(|&k| {
        let w = s.low(k);
        w.ends_with("'s") || w.ends_with("’s")
    })?;
    let (field, after) = field_at(s, k + 1)?;
    if after != end {
        return None;
    }
    let owner = s.raw(p, k + 1);
    let owner = owner
        .strip_suffix("'s")
        .or_else(|| owner.strip_suffix("’s"))
        .unwrap_or(owner);
    let named = Sentence::new(owner);
    Some(Intent::Ask(Question {
        subject: subject(&named, 0, named.len(), field.kinds())?,
        field,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::planner::names::Name;

    fn parse(text: &str) -> Option<(String, Field)> {
        let s = Sentence::new(text);
        let clock = crate::model::planner::dates::Clock::new(chrono::Utc::now(), chrono_tz::UTC);
        match ask(&s, 0, clock)? {
            Intent::Ask(Question {
                subject: Subject::Named(Name { query, .. }),
                field,
            }) => Some((query, field)),
            Intent::Ask(Question {
                subject: Subject::Referent(_),
                field,
            }) => Some((String::new(), field)),
            _ => None,
        }
    }

    #[test]
    fn field_questions_name_the_record_and_the_field() {
        for (text, query, field) in [
            (
                "what is Jane Cooper's phone number?",
                "Jane Cooper",
                Field::Phone,
            ),
            (
                "what's the email of Jane Cooper?",
                "Jane Cooper",
                Field::Email,
            ),
            (
                "what is the budget for the Acme renewal deal?",
                "Acme renewal",
                Field::NotKept("budget"),
            ),
            (
                "who is the decision maker at Acme Corp?",
                "Acme Corp",
                Field::NotKept("decision maker"),
            ),
            (
                "how much is the Acme renewal deal worth?",
                "Acme renewal",
                Field::Value,
            ),
            (
                "what stage is the Acme renewal deal in?",
                "Acme renewal",
                Field::Stage,
            ),
            (
                "when does the Acme renewal deal close?",
                "Acme renewal",
                Field::CloseDate,
            ),
            (
                "what is Jane Cooper's job title?",
                "Jane Cooper",
                Field::Title,
            ),
            ("what's the budget?", "", Field::NotKept("budget")),
        ] {
            assert_eq!(parse(text), Some((query.to_string(), field)), "{text}");
        }
    }

    #[test]
    fn other_questions_are_not_field_questions() {
        for text in [
            "what's on my plate today?",
            "who is Jane Cooper?",
            "what's overdue?",
            "what's pending my approval?",
            "what should I do today?",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
