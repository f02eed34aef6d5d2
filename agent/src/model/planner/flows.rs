//! One flow per intent: which tools to call, in what order, and what to say at the end.
//! Each flow is replayed from the top on every `complete` call (see [`super::turn`]).

use serde_json::{Value, json};

use super::intent::{
    CompanyDraft, ContactDraft, Intent, LogDraft, Question, StageMove, TaskDraft, TaskQuery,
    TextDraft, Which,
};
use super::names::{ANY, COMPANY, CONTACT, DEAL, Name, Subject};
use super::reply;
use super::resolve::{self, Choice};
use super::turn::{Halt, Referent, Turn};
use crate::model::{EntityKind, EntityRef};

/// A record a flow settled on.
#[derive(Debug, Clone)]
struct Resolved {
    r: EntityRef,
    /// Its name, when this turn read it.
    title: Option<String>,
}

impl Resolved {
    /// For citing after a write: only records this turn actually read.
    fn cited(&self, t: &Turn) -> Option<(EntityRef, String)> {
        let title = self.title.clone()?;
        t.seen(&self.r).then_some((self.r, title))
    }
}

fn say(text: impl Into<String>) -> Halt {
    Halt::Say(text.into())
}

fn id_key(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Contact => "contact_id",
        EntityKind::Company => "company_id",
        EntityKind::Deal => "deal_id",
        EntityKind::Task => "task_id",
        EntityKind::Action => "action_id",
    }
}

/// Runs the flow of an intent to its next step.
pub fn run(t: &Turn, intent: Intent) -> Result<String, Halt> {
    match intent {
        Intent::Help => Ok(reply::help()),
        Intent::Unknown => Ok(reply::unknown()),
        Intent::Cancel => Ok("OK, I've left it.".to_string()),
        Intent::Thanks => Ok("You're welcome.".to_string()),
        Intent::Unsupported(u) => Ok(reply::unsupported(u)),
        Intent::Pick(_) => Ok("I'm not sure what that number refers to. To approve or reject a pending action, say “approve 2” or “reject 2”; to see them, ask “what's pending my approval?”.".to_string()),
        Intent::Focus { team } => {
            let args = if team { json!({"scope": "team"}) } else { json!({}) };
            let r = t.read("daily_focus", args)?;
            Ok(reply::focus(&r, team))
        }
        Intent::Search(name) => search(t, name),
        Intent::Show(subject) => show(t, subject),
        Intent::Ask(q) => ask(t, q),
        Intent::ListTasks(q) => list_tasks(t, q),
        Intent::CreateTask(d) => create_task(t, d),
        Intent::Log(l) => log(t, l),
        Intent::MoveDeal(m) => move_deal(t, m),
        Intent::CreateContact(c) => create_contact(t, c),
        Intent::CreateCompany(c) => create_company(t, c),
        Intent::Text(d) => text(t, d),
        Intent::Call(who) => call(t, who),
        Intent::Pending => {
            let r = t.read("list_pending_actions", json!({}))?;
            Ok(reply::pending(&r))
        }
        Intent::Decide { which, approve } => decide(t, which, approve),
    }
}

fn kind_names(kinds: &[EntityKind]) -> Value {
    Value::Array(kinds.iter().map(|k| json!(k.as_str())).collect())
}

fn search_args(query: &str, kinds: &[EntityKind]) -> Value {
    let mut args = json!({"query": query});
    if kinds.len() < ANY.len() {
        args["types"] = kind_names(kinds);
    }
    args
}

/// The record a subject means: from the conversation for "it", through `search` for a name.
fn resolve(t: &Turn, subject: &Subject, want: &[EntityKind]) -> Result<Resolved, Halt> {
    match subject {
        Subject::Referent(kind) => {
            let kinds: Vec<EntityKind> = match kind {
                Some(k) if want.contains(k) => vec![*k],
                Some(_) => return Err(say(reply::no_referent(want))),
                None => want.to_vec(),
            };
            if let Some(p) = t.pinned.filter(|p| kinds.contains(&p.kind)) {
                return Ok(Resolved { r: p, title: None });
            }
            match t.referent(&kinds) {
                Referent::One(r) => Ok(Resolved { r, title: None }),
                Referent::Several(_) => Err(say(reply::which_referent(&kinds))),
                Referent::Nothing => Err(say(reply::no_referent(&kinds))),
            }
        }
        Subject::Named(name) => {
            let mut kinds: Vec<EntityKind> = name
                .kinds
                .iter()
                .copied()
                .filter(|k| want.contains(k))
                .collect();
            if kinds.is_empty() {
                kinds = want.to_vec();
            }
            find(t, name, &kinds)?.map_err(|closest| say(not_found(name, &kinds, &closest)))
        }
    }
}

/// "Nothing matched", with the closest records offered as a question when there are any.
fn not_found(name: &Name, kinds: &[EntityKind], closest: &[resolve::Candidate]) -> String {
    if closest.is_empty() {
        reply::no_match(name, kinds)
    } else {
        reply::closest(name, kinds, closest)
    }
}

/// The one record of these kinds a name means; when nothing the user's words name came up,
/// the closest records that did (best first; empty when nothing came up at all).
fn find(
    t: &Turn,
    name: &Name,
    kinds: &[EntityKind],
) -> Result<Result<Resolved, Vec<resolve::Candidate>>, Halt> {
    let result = t.read("search", search_args(&name.query, kinds))?;
    let cands = resolve::candidates(&result, kinds, name.at_company.as_deref());
    if cands.is_empty() && name.at_company.is_some() {
        // "Jane at Acme Rockets" when no Jane works there: the Janes elsewhere are only close,
        // unless the user picked one of them when they were offered.
        let elsewhere = resolve::candidates(&result, kinds, None);
        if let Some(c) = elsewhere.iter().find(|c| Some(c.entity()) == t.pinned) {
            return Ok(Ok(Resolved {
                r: c.entity(),
                title: Some(c.title.clone()),
            }));
        }
        return Ok(Err(resolve::closest(elsewhere, &name.query)));
    }
    match resolve::choose(cands, &name.query, t.pinned) {
        Choice::One(c) => Ok(Ok(Resolved {
            r: c.entity(),
            title: Some(c.title),
        })),
        Choice::Several(list) => Err(say(reply::which_one(name, kinds, &list))),
        Choice::Closest(list) => Ok(Err(list)),
        Choice::Nothing => Ok(Err(Vec::new())),
    }
}

/// Whether a name could be a company's rather than a person's: one word ("Acme"), a legal
/// suffix ("Globex Corp"), digits or "&", or more than two words. "Jane Cooper" could not.
fn might_be_company(query: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        "inc",
        "corp",
        "corporation",
        "ltd",
        "llc",
        "gmbh",
        "as",
        "asa",
        "ab",
        "plc",
        "group",
        "co",
        "company",
        "bv",
        "sa",
        "ag",
        "oy",
        "labs",
        "systems",
        "solutions",
        "partners",
    ];
    let words: Vec<String> = query
        .split_whitespace()
        .map(|w| w.to_lowercase().trim_end_matches('.').to_string())
        .collect();
    words.len() != 2
        || words.iter().any(|w| SUFFIXES.contains(&w.as_str()))
        || query.chars().any(|c| c.is_ascii_digit() || c == '&')
}

/// Whom a task or note is with: a contact, or failing that a company of that name
/// ("follow up with Acme").
fn resolve_person(t: &Turn, subject: &Subject) -> Result<Resolved, Halt> {
    match subject {
        Subject::Named(name) if name.kinds == CONTACT && name.at_company.is_none() => {
            let people = match find(t, name, CONTACT)? {
                Ok(found) => return Ok(found),
                Err(closest) => closest,
            };
            if !might_be_company(&name.query) {
                return Err(say(not_found(name, CONTACT, &people)));
            }
            let company = Name::new(&name.query, COMPANY);
            let companies = match find(t, &company, COMPANY)? {
                Ok(found) => return Ok(found),
                Err(closest) => closest,
            };
            let both = [EntityKind::Contact, EntityKind::Company];
            let closest = resolve::closest([people, companies].concat(), &name.query);
            Err(say(not_found(name, &both, &closest)))
        }
        other => resolve(t, other, CONTACT),
    }
}

fn search(t: &Turn, name: Name) -> Result<String, Halt> {
    let result = t.read("search", search_args(&name.query, &name.kinds))?;
    let cands = resolve::candidates(&result, &name.kinds, name.at_company.as_deref());
    Ok(reply::search_results(&name, &name.kinds, &cands))
}

fn show(t: &Turn, subject: Subject) -> Result<String, Halt> {
    let found = resolve(t, &subject, ANY)?;
    let key = id_key(found.r.kind);
    let tz = t.facts.tz;
    match found.r.kind {
        EntityKind::Contact => Ok(reply::contact_summary(
            &t.read("get_contact", json!({key: found.r.id}))?,
            tz,
        )),
        EntityKind::Company => Ok(reply::company_summary(
            &t.read("get_company", json!({key: found.r.id}))?,
            tz,
        )),
        EntityKind::Deal => Ok(reply::deal_summary(
            &t.read("get_deal", json!({key: found.r.id}))?,
            tz,
        )),
        EntityKind::Task | EntityKind::Action => Ok(reply::unknown()),
    }
}

/// One field of one record: read the record, then say the value or that it is not recorded.
fn ask(t: &Turn, q: Question) -> Result<String, Halt> {
    let found = resolve(t, &q.subject, q.field.kinds())?;
    let tool = match found.r.kind {
        EntityKind::Contact => "get_contact",
        EntityKind::Company => "get_company",
        EntityKind::Deal => "get_deal",
        EntityKind::Task | EntityKind::Action => return Ok(reply::unknown()),
    };
    let data = t.read(tool, json!({id_key(found.r.kind): found.r.id}))?;
    Ok(reply::field_answer(&data, found.r, q.field))
}

fn list_tasks(t: &Turn, q: TaskQuery) -> Result<String, Halt> {
    let mut args = json!({});
    if q.team {
        args["scope"] = json!("team");
    }
    if let Some(s) = q.status {
        args["status"] = json!(s);
    }
    if let Some(d) = q.due {
        args["due"] = json!(d);
    }
    let mut about = None;
    if let Some(subject) = &q.about {
        let found = resolve(t, subject, ANY)?;
        args[id_key(found.r.kind)] = json!(found.r.id);
        let title = found
            .title
            .clone()
            .unwrap_or_else(|| format!("this {}", found.r.kind.as_str()));
        about = Some((found.r, title));
    }
    let result = t.read("list_tasks", args)?;
    // Cite the record only when this turn read it.
    let about = about.filter(|(r, _)| t.seen(r));
    Ok(reply::tasks(&result, &q, about, t.facts.tz))
}

fn create_task(t: &Turn, d: TaskDraft) -> Result<String, Halt> {
    if d.title.is_empty() {
        return Err(say(
            "What should the task say? For example “create a task to call Jane Cooper tomorrow at 10”.",
        ));
    }
    let when = match &d.when {
        Some(Ok(w)) => Some(*w),
        Some(Err(issue)) => return Err(say(issue.question())),
        None if d.reminder => {
            return Err(say(
                "When should I remind you? For example “tomorrow at 9” or “next Friday”.",
            ));
        }
        None => None,
    };
    let contact = d
        .contact
        .as_ref()
        .map(|c| resolve_person(t, c))
        .transpose()?;
    let deal = d.deal.as_ref().map(|c| resolve(t, c, DEAL)).transpose()?;
    let mut args = json!({"title": d.title});
    if let Some(w) = when {
        args["due_at"] = json!(w.rfc3339());
    }
    if let Some(c) = &contact {
        args[id_key(c.r.kind)] = json!(c.r.id);
    }
    if let Some(c) = &deal {
        args["deal_id"] = json!(c.r.id);
    }
    let result = t.call("create_task", args)?;
    let about: Vec<_> = [contact, deal]
        .iter()
        .flatten()
        .filter_map(|r| r.cited(t))
        .collect();
    Ok(reply::write_outcome(&result, &about))
}

fn log(t: &Turn, l: LogDraft) -> Result<String, Halt> {
    let what = match l.kind {
        "call" => "call",
        "meeting" => "meeting",
        "email" => "email",
        "sms" => "text",
        _ => "note",
    };
    if l.body.is_empty() {
        return Err(say(format!(
            "What should the {what} say? For example “log a {what} with Jane: she wants pricing”."
        )));
    }
    let about = match &l.about {
        Some(subject) => resolve_person(t, subject).or_else(|halt| match subject {
            Subject::Named(n) if n.kinds != CONTACT => resolve(t, subject, ANY),
            _ => Err(halt),
        })?,
        None => match t.facts.focus.filter(|f| ANY.contains(&f.kind)) {
            Some(f) => Resolved { r: f, title: None },
            None => {
                return Err(say(format!(
                    "Who or what should I log the {what} on? For example “log a {what} with Jane Cooper: …”."
                )));
            }
        },
    };
    let args = json!({"kind": l.kind, "body": l.body, id_key(about.r.kind): about.r.id});
    let result = t.call("log_activity", args)?;
    let cited: Vec<_> = about.cited(t).into_iter().collect();
    Ok(reply::write_outcome(&result, &cited))
}

fn move_deal(t: &Turn, m: StageMove) -> Result<String, Halt> {
    if m.stage.is_empty() {
        return Err(say(
            "Which stage should it move to? For example “Proposal”, “Won” or “Lost”.",
        ));
    }
    let deal = resolve(t, &m.deal, DEAL)?;
    let mut args = json!({"deal_id": deal.r.id, "stage": m.stage});
    if let Some(n) = &m.note {
        args["note"] = json!(n);
    }
    let result = t.call("move_deal_stage", args)?;
    let cited: Vec<_> = deal.cited(t).into_iter().collect();
    Ok(reply::write_outcome(&result, &cited))
}

fn create_contact(t: &Turn, c: ContactDraft) -> Result<String, Halt> {
    if c.first_name.is_empty() {
        return Err(say(
            "What's the new contact's name? For example “add a contact Jane Cooper jane@acme.com”.",
        ));
    }
    let company = match &c.company {
        Some(name) => Some(resolve(
            t,
            &Subject::Named(Name::new(name, COMPANY)),
            COMPANY,
        )?),
        None => None,
    };
    let mut args = json!({"first_name": c.first_name});
    for (key, value) in [
        ("last_name", &c.last_name),
        ("email", &c.email),
        ("phone", &c.phone),
        ("title", &c.title),
    ] {
        if let Some(v) = value {
            args[key] = json!(v);
        }
    }
    if let Some(co) = &company {
        args["company_id"] = json!(co.r.id);
    }
    let result = t.call("create_contact", args)?;
    let cited: Vec<_> = company.iter().filter_map(|r| r.cited(t)).collect();
    Ok(reply::write_outcome(&result, &cited))
}

fn create_company(t: &Turn, c: CompanyDraft) -> Result<String, Halt> {
    if c.name.is_empty() {
        return Err(say(
            "What's the company called? For example “add a company Acme acme.com”.",
        ));
    }
    let mut args = json!({"name": c.name});
    if let Some(d) = &c.domain {
        args["domain"] = json!(d);
    }
    let result = t.call("create_company", args)?;
    Ok(reply::write_outcome(&result, &[]))
}

/// The user's own words are sent as they are: braces would otherwise read as template fields.
fn literal(body: &str) -> String {
    body.replace('{', "{{").replace('}', "}}")
}

/// "Text Jane that I'm running late": find Jane, then propose `send_sms` (the pipeline checks
/// consent: an opted-out contact is refused with the policy's reason, and nothing is drafted).
fn text(t: &Turn, d: TextDraft) -> Result<String, Halt> {
    if d.body.is_empty() {
        return Err(say(
            "What should the text say? For example “text Jane that I'm running late”.",
        ));
    }
    let who = resolve(t, &d.to, CONTACT)?;
    let result = t.call(
        "send_sms",
        json!({"contact_id": who.r.id, "body": literal(&d.body)}),
    )?;
    let cited: Vec<_> = who.cited(t).into_iter().collect();
    Ok(reply::write_outcome(&result, &cited))
}

/// "Call Jane": find Jane, then propose `start_call` (Heimdell rings the rep first).
fn call(t: &Turn, who: Subject) -> Result<String, Halt> {
    let found = resolve(t, &who, CONTACT)?;
    let result = t.call("start_call", json!({"contact_id": found.r.id}))?;
    let cited: Vec<_> = found.cited(t).into_iter().collect();
    Ok(reply::write_outcome(&result, &cited))
}

fn decide(t: &Turn, which: Which, approve: bool) -> Result<String, Halt> {
    let decision = if approve { "approve" } else { "reject" };
    match which {
        Which::All => Ok(format!(
            "I {decision} actions one at a time, so each gets a look. Ask “what's pending my approval?” to see the list, then say “{decision} 1”, “{decision} 2”, …"
        )),
        Which::Numbers(numbers) => {
            let calls = numbers
                .iter()
                .map(|n| ("decide_action", json!({"number": n, "decision": decision})))
                .collect();
            let results = t.calls(calls)?;
            let lines: Vec<String> = numbers
                .iter()
                .zip(&results)
                .map(|(n, r)| reply::decision(&format!("#{n}"), r, approve))
                .collect();
            Ok(lines.join("\n"))
        }
        Which::It => {
            let known = t.pinned.filter(|p| p.kind == EntityKind::Action).or(
                match t.referent(&[EntityKind::Action]) {
                    Referent::One(r) => Some(r),
                    _ => None,
                },
            );
            if let Some(a) = known {
                let r = t.call(
                    "decide_action",
                    json!({"action_id": a.id, "decision": decision}),
                )?;
                return Ok(reply::decision("it", &r, approve));
            }
            let list = t.read("list_pending_actions", json!({}))?;
            let items = list
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            match items.as_slice() {
                [] => Ok("Nothing is waiting for approval.".to_string()),
                [one] => {
                    let id = one.get("id").cloned().unwrap_or(Value::Null);
                    let r = t.call(
                        "decide_action",
                        json!({"action_id": id, "decision": decision}),
                    )?;
                    Ok(reply::decision("it", &r, approve))
                }
                _ => Ok(reply::which_action(&list, approve)),
            }
        }
    }
}
