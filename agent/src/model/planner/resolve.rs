//! Picking the record a name means from `search` results: one clear match, several to ask
//! about, or none (with the closest ones to offer). Never a guess between plausible matches,
//! and never a record the user's words do not name.

use serde_json::Value;
use uuid::Uuid;

use super::text::unfence;
use crate::model::{EntityKind, EntityRef};

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub kind: EntityKind,
    pub id: Uuid,
    pub title: String,
    pub subtitle: Option<String>,
    pub score: f64,
}

impl Candidate {
    pub fn entity(&self) -> EntityRef {
        EntityRef {
            kind: self.kind,
            id: self.id,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    /// The one record the user's words name.
    One(Candidate),
    /// Records the user's words all name: ask which.
    Several(Vec<Candidate>),
    /// Nothing the user's words name, but these came close (best first): say nothing matched
    /// and offer them as a question, never act on one.
    Closest(Vec<Candidate>),
    /// Nothing came up at all.
    Nothing,
}

/// At most this many candidates are listed in a question.
pub const LIST_AT_MOST: usize = 6;

/// The results of a `search` call, of these kinds, optionally only contacts whose company
/// (shown in the subtitle) matches `at_company`.
pub fn candidates(
    result: &Value,
    kinds: &[EntityKind],
    at_company: Option<&str>,
) -> Vec<Candidate> {
    let rows = result
        .get("results")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    rows.iter()
        .filter_map(|r| {
            let kind = EntityKind::parse(r.get("type")?.as_str()?)?;
            let id = Uuid::parse_str(r.get("id")?.as_str()?).ok()?;
            Some(Candidate {
                kind,
                id,
                title: unfence(r.get("title")?.as_str()?).trim().to_string(),
                subtitle: r
                    .get("subtitle")
                    .and_then(Value::as_str)
                    .map(|s| unfence(s).to_string()),
                score: r.get("score").and_then(Value::as_f64).unwrap_or(0.0),
            })
        })
        .filter(|c| kinds.contains(&c.kind))
        .filter(|c| match at_company {
            Some(co) => c
                .subtitle
                .as_deref()
                .is_some_and(|s| norm(s).contains(&norm(co))),
            None => true,
        })
        .collect()
}

/// Lower case, letters and digits only, single spaces.
fn norm(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '@' || c == '.' {
                c
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Words of a text for matching: lower case, letters and digits only ("jane@acme.com" is
/// "jane", "acme", "com"; "Globex – Premium support" is "globex", "premium", "support").
fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Words of a query that say nothing about which record it is.
const FILLER: &[&str] = &[
    "the",
    "a",
    "an",
    "and",
    "of",
    "for",
    "deal",
    "deals",
    "opportunity",
    "opp",
];

/// Edit distance with adjacent transpositions, on characters.
fn distance(a: &[char], b: &[char]) -> usize {
    let mut d: Vec<Vec<usize>> = (0..=a.len())
        .map(|i| {
            if i == 0 {
                (0..=b.len()).collect()
            } else {
                let mut row = vec![0; b.len() + 1];
                row[0] = i;
                row
            }
        })
        .collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// Whether a word of the query names this word of a record: it starts it ("coo" ~ "cooper"),
/// or, from four letters on, is it or its start with one typo ("coopr" ~ "cooper").
fn word_names(q: &str, w: &str) -> bool {
    if w.starts_with(q) {
        return true;
    }
    let q: Vec<char> = q.chars().collect();
    let w: Vec<char> = w.chars().collect();
    if q.len() < 4 || w.len() < 4 {
        return false;
    }
    distance(&q, &w) <= 1 || (w.len() > q.len() && distance(&q, &w[..q.len()]) <= 1)
}

/// The digits of a phone-like query ("+1 212 555-0101"), None for anything else.
fn phone_digits(query: &str) -> Option<String> {
    let digits: String = query.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 4
        && query
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c)))
    .then_some(digits)
}

/// Whether the user's words plausibly name this candidate: every word of the query (fillers
/// aside) names a word of its title or of its subtitle (a contact's email, phone or company,
/// a deal's stage), and at least one names a word of the title ("jane coo" ~ "Jane Cooper",
/// "Jane Acme" ~ Jane Cooper of Acme); or the whole query is its email or phone number. A
/// candidate that shares only some of the words ("Acme Rockets Premium support contract" and
/// Globex's "Premium support contract") is not named by them: the other words contradict it.
fn plausible(c: &Candidate, query: &str) -> bool {
    let q = norm(query);
    let by_detail = c.subtitle.as_deref().is_some_and(|s| {
        (q.len() >= 4 && norm(s).contains(&q))
            || phone_digits(query).is_some_and(|d| {
                s.chars()
                    .filter(char::is_ascii_digit)
                    .collect::<String>()
                    .contains(&d)
            })
    });
    if by_detail {
        return true;
    }
    let title = words(&c.title);
    let detail = c.subtitle.as_deref().map(words).unwrap_or_default();
    let asked: Vec<String> = words(query)
        .into_iter()
        .filter(|w| !FILLER.contains(&w.as_str()))
        .collect();
    let in_title = |w: &String| title.iter().any(|t| word_names(w, t));
    !asked.is_empty()
        && asked.iter().any(in_title)
        && asked
            .iter()
            .all(|w| in_title(w) || detail.iter().any(|t| word_names(w, t)))
}

/// How many of the query's words name a word of the candidate's title or subtitle.
fn shared_words(c: &Candidate, query: &str) -> usize {
    let mine: Vec<String> = words(&c.title)
        .into_iter()
        .chain(c.subtitle.as_deref().map(words).unwrap_or_default())
        .collect();
    words(query)
        .iter()
        .filter(|w| !FILLER.contains(&w.as_str()))
        .filter(|w| mine.iter().any(|t| word_names(w, t)))
        .count()
}

/// Candidates the user's words do not name, closest first: those sharing the most words,
/// then the search's own score; at most [`LIST_AT_MOST`]. Empty when there are none.
pub fn closest(cands: Vec<Candidate>, query: &str) -> Vec<Candidate> {
    let mut ranked: Vec<(usize, Candidate)> = cands
        .into_iter()
        .map(|c| (shared_words(&c, query), c))
        .collect();
    ranked.sort_by(|(na, a), (nb, b)| nb.cmp(na).then(b.score.total_cmp(&a.score)));
    ranked
        .into_iter()
        .take(LIST_AT_MOST)
        .map(|(_, c)| c)
        .collect()
}

/// The record a query means, from its candidates. `pinned` is a record the user already picked
/// from a list; it wins when it is among the candidates. Only candidates the user's words
/// plausibly name are ever chosen or listed as matches; when the search found only others,
/// they come back as [`Choice::Closest`], to offer as a question, never to act on.
pub fn choose(cands: Vec<Candidate>, query: &str, pinned: Option<EntityRef>) -> Choice {
    if let Some(p) = pinned
        && let Some(c) = cands.iter().find(|c| c.entity() == p)
    {
        return Choice::One(c.clone());
    }
    let q = norm(query);
    let exact: Vec<Candidate> = cands
        .iter()
        .filter(|c| norm(&c.title) == q)
        .cloned()
        .collect();
    if exact.len() == 1 {
        return Choice::One(exact[0].clone());
    }
    if exact.len() > 1 {
        return Choice::Several(exact);
    }
    let mut good: Vec<Candidate> = cands
        .iter()
        .filter(|c| plausible(c, query))
        .cloned()
        .collect();
    match good.len() {
        0 if cands.is_empty() => Choice::Nothing,
        0 => Choice::Closest(closest(cands, query)),
        1 => Choice::One(good.remove(0)),
        _ => {
            good.sort_by(|a, b| b.score.total_cmp(&a.score));
            Choice::Several(good)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(rows: &[(&str, &str, &str)]) -> (Value, Vec<Uuid>) {
        let ids: Vec<Uuid> = rows.iter().map(|_| Uuid::new_v4()).collect();
        let rows: Vec<Value> = rows
            .iter()
            .zip(&ids)
            .map(|((t, title, sub), id)| {
                json!({"type": t, "id": id, "title": format!("<data>{title}</data>"), "subtitle": sub, "score": 0.9})
            })
            .collect();
        (json!({"query": "q", "results": rows}), ids)
    }

    #[test]
    fn one_exact_match_wins_over_partial_ones() {
        let (r, ids) = result(&[
            ("contact", "Jane Cooper", "jane@acme.com · Acme"),
            ("contact", "Jane Coopersmith", "jc@globex.com · Globex"),
        ]);
        let c = candidates(&r, &[EntityKind::Contact], None);
        assert_eq!(c[0].title, "Jane Cooper");
        match choose(c, "Jane Cooper", None) {
            Choice::One(c) => assert_eq!(c.id, ids[0]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn several_plausible_matches_are_a_question() {
        let (r, ids) = result(&[
            ("contact", "Jane Cooper", "jane@acme.com · Acme"),
            ("contact", "Jane Doe", "jane@globex.com · Globex"),
        ]);
        let c = candidates(&r, &[EntityKind::Contact], None);
        assert!(matches!(choose(c.clone(), "Jane", None), Choice::Several(v) if v.len() == 2));
        let pinned = EntityRef {
            kind: EntityKind::Contact,
            id: ids[1],
        };
        assert!(matches!(choose(c, "Jane", Some(pinned)), Choice::One(c) if c.id == ids[1]));
        let at_acme = candidates(&r, &[EntityKind::Contact], Some("Acme"));
        assert!(matches!(choose(at_acme, "Jane", None), Choice::One(c) if c.id == ids[0]));
        assert_eq!(choose(Vec::new(), "Jane", None), Choice::Nothing);
    }

    /// Issue 10: words that name another company are not ignored because the rest of the
    /// name fits; the deal that shares the rest is only offered.
    #[test]
    fn a_deal_of_another_company_is_only_close() {
        let (r, ids) = result(&[
            ("deal", "Premium support contract", "Negotiation"),
            ("deal", "Globex – Premium support contract", "Proposal"),
        ]);
        let c = candidates(&r, &[EntityKind::Deal], None);
        match choose(c.clone(), "Acme Rockets Premium support contract", None) {
            Choice::Closest(v) => {
                assert_eq!(v.len(), 2);
                assert!(v.iter().all(|c| ids.contains(&c.id)));
            }
            other => panic!("{other:?}"),
        }
        // One candidate is no reason to take it.
        match choose(
            c[..1].to_vec(),
            "Acme Rockets Premium support contract",
            None,
        ) {
            Choice::Closest(v) => assert_eq!(v[0].id, ids[0]),
            other => panic!("{other:?}"),
        }
        // Picked from the question, it is the one.
        let pinned = EntityRef {
            kind: EntityKind::Deal,
            id: ids[1],
        };
        assert!(matches!(
            choose(c.clone(), "Acme Rockets Premium support contract", Some(pinned)),
            Choice::One(c) if c.id == ids[1]
        ));
        // Words that do name it find it.
        assert!(matches!(
            choose(c, "Globex premium support", None),
            Choice::One(c) if c.id == ids[1]
        ));
    }

    /// Issue 10: "the Prairie Energy – Data migration project deal" is not someone else's data
    /// migration project; the one sharing most words is offered first.
    #[test]
    fn a_company_prefix_that_names_no_candidate_is_only_close() {
        let (r, ids) = result(&[
            ("deal", "Northwind – Data migration project", "Proposal"),
            (
                "deal",
                "Prairie Farms – Data migration project",
                "Qualified",
            ),
        ]);
        let c = candidates(&r, &[EntityKind::Deal], None);
        match choose(c, "Prairie Energy – Data migration project", None) {
            Choice::Closest(v) => {
                assert_eq!(v.iter().map(|c| c.id).collect::<Vec<_>>(), [ids[1], ids[0]]);
            }
            other => panic!("{other:?}"),
        }
    }

    /// What the user's words do name is still found at once: initials of words, a typo, an
    /// email, a phone number however it is written, a company in the subtitle.
    #[test]
    fn genuine_matches_are_still_one() {
        let (r, ids) = result(&[(
            "contact",
            "Jane Cooper",
            "jane@acme.com · +12125550101 · Acme Rockets",
        )]);
        let c = candidates(&r, &[EntityKind::Contact], None);
        for q in [
            "jane coo",
            "Jane Coopr",
            "Jnae Cooper",
            "jane@acme.com",
            "+1 212 555 0101",
            "Jane Acme Rockets",
        ] {
            assert!(
                matches!(choose(c.clone(), q, None), Choice::One(c) if c.id == ids[0]),
                "{q}"
            );
        }
        for q in ["Jane Globex", "Joan Smith"] {
            assert!(
                matches!(choose(c.clone(), q, None), Choice::Closest(_)),
                "{q}"
            );
        }
        let (r, ids) = result(&[("deal", "Acme — 50 seats", "Qualified")]);
        let c = candidates(&r, &[EntityKind::Deal], None);
        assert!(matches!(choose(c, "Acme", None), Choice::One(c) if c.id == ids[0]));
    }
}
