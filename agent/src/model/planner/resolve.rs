//! Picking the record a name means from `search` results: one clear match, several to ask
//! about, or none. Never a guess between plausible matches.

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
    One(Candidate),
    Several(Vec<Candidate>),
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

/// Whether every word of the query starts a word of the title ("jane coo" ~ "Jane Cooper"),
/// or the query appears in the subtitle (an email or phone number).
fn plausible(c: &Candidate, query: &str) -> bool {
    let q = norm(query);
    let title = norm(&c.title);
    let words: Vec<&str> = title.split(' ').collect();
    let by_name = !q.is_empty() && q.split(' ').all(|w| words.iter().any(|t| t.starts_with(w)));
    let by_detail = c
        .subtitle
        .as_deref()
        .is_some_and(|s| q.len() >= 4 && norm(s).contains(&q));
    by_name || by_detail
}

/// The record a query means, from its candidates. `pinned` is a record the user already picked
/// from a list; it wins when it is among the candidates.
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
    let good: Vec<Candidate> = cands
        .iter()
        .filter(|c| plausible(c, query))
        .cloned()
        .collect();
    let pool = if good.is_empty() { cands } else { good };
    match pool.len() {
        0 => Choice::Nothing,
        1 => Choice::One(pool[0].clone()),
        _ => {
            let mut pool = pool;
            pool.sort_by(|a, b| b.score.total_cmp(&a.score));
            Choice::Several(pool)
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
}
