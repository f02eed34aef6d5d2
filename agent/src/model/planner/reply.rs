//! The planner's words. Every sentence about a record is built from the tool results of this
//! turn (never invented), names the record with its citation marker, and says plainly when a
//! field is missing. Outside text (titles, notes, subjects) is shown as data, never obeyed.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use heimdell_tools::domain::Currency;
use serde_json::Value;
use uuid::Uuid;

use super::intent::{Field, TaskQuery, Unsupported};
use super::names::Name;
use super::resolve::Candidate;
use super::text::unfence;
use crate::model::{EntityKind, EntityRef};

/// " " and the citation marker of the record with this id in a tool result; nothing when the
/// id is missing or not an id.
fn cite_kind(kind: EntityKind, id: &Value) -> String {
    match id.as_str().and_then(|s| Uuid::parse_str(s).ok()) {
        Some(id) => format!(" {}", EntityRef { kind, id }.marker()),
        None => String::new(),
    }
}

/// A string field, unfenced and trimmed; None when missing or empty.
fn text<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key)
        .and_then(Value::as_str)
        .map(|s| unfence(s).trim())
        .filter(|s| !s.is_empty())
}

fn kinds_word(kinds: &[EntityKind]) -> String {
    match kinds {
        [one] => one.as_str().to_string(),
        [a, b] => format!("{} or {}", a.as_str(), b.as_str()),
        _ => "record".to_string(),
    }
}

fn plural(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Contact => "contacts",
        EntityKind::Company => "companies",
        EntityKind::Deal => "deals",
        EntityKind::Task => "tasks",
        EntityKind::Action => "actions",
    }
}

fn kinds_plural(kinds: &[EntityKind]) -> String {
    match kinds {
        [one] => plural(*one).to_string(),
        [a, b] => format!("{} or {}", plural(*a), plural(*b)),
        _ => "records".to_string(),
    }
}

/// A calendar date: `15 Dec 2026`.
fn day(d: NaiveDate) -> String {
    d.format("%-d %b %Y").to_string()
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A moment in the user's zone: `Fri 27 Nov 2026 09:00`.
pub fn moment(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%a %-d %b %Y %H:%M")
        .to_string()
}

/// The local date of a timestamp field, `20 Nov 2026`.
fn local_day(v: &Value, key: &str, tz: Tz) -> Option<String> {
    let t = parse_time(v.get(key)?.as_str()?)?;
    Some(day(t.with_timezone(&tz).date_naive()))
}

pub fn help() -> String {
    "I'm Heimdell's built-in assistant. I work offline and understand everyday requests, for example:\n\
     - “What should I do today?” or “Show my team's focus”\n\
     - “Find Jane at Acme”, “Summarise the Acme deal”, “Tell me about Jane Cooper”\n\
     - “What's overdue?”, “Show my tasks for today”\n\
     - “Create a task to call Jane Cooper tomorrow at 10”, “Remind me next Friday to send the proposal”\n\
     - “Log a call with Jane: she wants pricing”\n\
     - “Text Jane that I'm running late”, “Call Jane”\n\
     - “Move the Acme deal to Proposal”, “Mark it won”\n\
     - “Add a contact Jane Cooper jane@acme.com”\n\
     - “What's pending my approval?”, “Approve 2”\n\
     Anything that changes data is drafted for approval first; nothing changes until someone approves it."
        .to_string()
}

const EXAMPLES: &str = "For example: “what should I do today?”, “find Jane at Acme”, “create a task to call Jane tomorrow at 10”, “log a call with Jane: she wants pricing”, “move the Acme deal to Proposal”, or “what's pending my approval?”. Say “help” for more.";

pub fn unknown() -> String {
    format!(
        "I can't do that yet — I'm the built-in assistant and understand a fixed set of requests. {EXAMPLES}"
    )
}

pub fn unsupported(what: Unsupported) -> String {
    use Unsupported::*;
    let (cant, instead) = match what {
        Texting => (
            "I can text one person at a time, and only by SMS.",
            Some(
                "Say who and what, e.g. “text Jane that I'm running late”; for later, create a task (“create a task to text Jane tomorrow”).",
            ),
        ),
        Calling => (
            "I can only place a call right now.",
            Some(
                "Say “call Jane” to call now, or create a task to call later (“create a task to call Jane tomorrow at 10”).",
            ),
        ),
        Emailing => (
            "I can't send emails yet.",
            Some(
                "I can create a task to send it (“remind me tomorrow to email Jane the proposal”) or log an email you sent (“log an email to Jane: …”).",
            ),
        ),
        Importing => ("I can't import files from chat yet.", None),
        Deleting => ("I can't delete records or data from chat.", None),
        Merging => ("I can't find or merge duplicates from chat yet.", None),
        Exporting => ("I can't export data from chat yet.", None),
        Editing => (
            "I can't change a record's details from chat yet.",
            Some(
                "I can move a deal to another stage (“move the Acme deal to Proposal”), create tasks and contacts, and log calls and notes.",
            ),
        ),
        Rescheduling => (
            "I can't reschedule tasks or meetings yet.",
            Some(
                "I can create a new task with the new time (“create a task to call Jane on Friday at 10”).",
            ),
        ),
        CreatingDeals => (
            "I can't create deals from chat yet.",
            Some(
                "I can move an existing deal to another stage (“move the Acme deal to Proposal”).",
            ),
        ),
        Reporting => (
            "I can't show whole pipelines, lists or reports in chat yet.",
            Some(
                "Ask about one record (“summarise the Acme deal”), search (“find deals for Acme”), or for your focus list (“what should I do today?”).",
            ),
        ),
    };
    match instead {
        Some(i) => format!("{cant} {i}"),
        None => format!("{cant} {EXAMPLES}"),
    }
}

pub fn tool_missing(tool: &str) -> String {
    format!("I can't do that here: the `{tool}` tool isn't available in this conversation.")
}

/// A tool error `{"error":{"message","details":[{"field","message"}]}}` in words.
pub fn error_words(result: &Value) -> Option<String> {
    let err = result.get("error")?;
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| err.as_str())
        .unwrap_or("an unknown error");
    let details: Vec<String> = err
        .get("details")
        .and_then(Value::as_array)
        .map(|ds| {
            ds.iter()
                .filter_map(|d| {
                    let m = d.get("message").and_then(Value::as_str)?;
                    Some(match d.get("field").and_then(Value::as_str) {
                        Some(f) if !f.is_empty() => format!("{f}: {m}"),
                        _ => m.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(if details.is_empty() {
        unfence(message).to_string()
    } else {
        details.join("; ")
    })
}

fn denied_words(result: &Value) -> Option<String> {
    (result.get("status").and_then(Value::as_str) == Some("denied")).then(|| {
        let reason = text(result, "reason").unwrap_or("the policy does not allow it");
        format!("I can't do that: {}.", reason.trim_end_matches('.'))
    })
}

/// The final text when a read tool failed or was refused; None when it answered.
pub fn read_problem(tool: &str, result: &Value) -> Option<String> {
    if let Some(words) = denied_words(result) {
        return Some(words);
    }
    if let Some(words) = error_words(result) {
        return Some(format!("I couldn't {}: {words}.", read_verb(tool)));
    }
    if !result.is_object() {
        return Some(format!(
            "I couldn't {}: the answer was not what I expected.",
            read_verb(tool)
        ));
    }
    None
}

fn read_verb(tool: &str) -> &'static str {
    match tool {
        "search" => "search",
        "get_contact" => "read that contact",
        "get_company" => "read that company",
        "get_deal" => "read that deal",
        "list_tasks" => "list the tasks",
        "daily_focus" => "build the focus list",
        "list_pending_actions" => "list the pending actions",
        _ => "read that",
    }
}

/// The final text after a write tool was called: drafted for approval, refused, or failed.
/// `about` are records this turn read that the write concerns, cited at the end.
pub fn write_outcome(result: &Value, about: &[(EntityRef, String)]) -> String {
    if let Some(words) = denied_words(result) {
        return words;
    }
    if let Some(words) = error_words(result) {
        return format!("That didn't go through: {}.", words.trim_end_matches('.'));
    }
    let preview = text(result, "preview").unwrap_or("the change");
    let linked: Vec<String> = about
        .iter()
        .map(|(r, title)| format!("{title} {}", r.marker()))
        .collect();
    let linked = if linked.is_empty() {
        String::new()
    } else {
        format!(" ({})", linked.join(", "))
    };
    match result.get("status").and_then(Value::as_str) {
        Some("pending") => {
            let action = cite_kind(EntityKind::Action, result.get("action_id").unwrap_or(&Value::Null));
            let who = match result.get("approver_role").and_then(Value::as_str) {
                Some("manager") => " A manager needs to approve it before it happens.",
                Some("admin") => " An admin needs to approve it before it happens.",
                _ => " Nothing changes until you approve it — say “approve it” when you're ready.",
            };
            format!(
                "I've drafted this for your approval: {}{linked}.{action}{who}",
                preview.trim_end_matches('.')
            )
        }
        Some("executed") | Some("done") => format!("Done: {}{linked}.", preview.trim_end_matches('.')),
        _ => "I asked for the change, but the answer was not what I expected, so I can't tell whether it was drafted.".to_string(),
    }
}

/// " at Acme" when the user named a company, else nothing.
fn at_company(name: &Name) -> String {
    name.at_company
        .as_deref()
        .map(|c| format!(" at {c}"))
        .unwrap_or_default()
}

/// Numbered, linked lines for candidates (at most [`super::resolve::LIST_AT_MOST`]): what a
/// number in the user's next message picks from.
fn numbered(kinds: &[EntityKind], cands: &[Candidate]) -> String {
    let mut out = String::new();
    for (k, c) in cands.iter().take(super::resolve::LIST_AT_MOST).enumerate() {
        out.push_str(&format!("{}. {} {}", k + 1, c.title, c.entity().marker()));
        if kinds.len() > 1 {
            out.push_str(&format!(" ({})", c.kind.as_str()));
        }
        if let Some(s) = c.subtitle.as_deref().filter(|s| !s.is_empty()) {
            out.push_str(&format!(" — {s}"));
        }
        out.push('\n');
    }
    out
}

/// A question listing the records a name could mean.
pub fn which_one(name: &Name, kinds: &[EntityKind], cands: &[Candidate]) -> String {
    format!(
        "Several {} match “{}”{}:\n{}Which one do you mean? Reply with its number.",
        kinds_plural(kinds),
        name.query,
        at_company(name),
        numbered(kinds, cands)
    )
}

pub fn no_match(name: &Name, kinds: &[EntityKind]) -> String {
    let at = at_company(name);
    format!(
        "I couldn't find a {} matching “{}”{at}, so I haven't done anything. Check the spelling, or try an email address or part of the name.",
        kinds_word(kinds),
        name.query
    )
}

/// Nothing the user's words name, but these came close: say so, and offer them as a question
/// (a number or a name picks one, as after [`which_one`]).
pub fn closest(name: &Name, kinds: &[EntityKind], cands: &[Candidate]) -> String {
    let at = at_company(name);
    let mut out = format!(
        "I couldn't find a {} matching “{}”{at}, so I haven't done anything. The closest I found:\n",
        kinds_word(kinds),
        name.query
    );
    out.push_str(&numbered(kinds, cands));
    if cands.len() == 1 {
        out.push_str("Did you mean that one? Reply “1” to use it, or give me the exact name.");
    } else {
        out.push_str(
            "Did you mean one of these? Reply with its number, or give me the exact name.",
        );
    }
    out
}

/// "Which deal do you mean?" when "it" could be several records of the conversation.
pub fn which_referent(kinds: &[EntityKind]) -> String {
    match kinds {
        [EntityKind::Deal] => "Which deal do you mean? Several came up; name it, for example “mark the Acme deal won”.".to_string(),
        _ => format!("Which {} do you mean? Several came up; name it, please.", kinds_word(kinds)),
    }
}

pub fn no_referent(kinds: &[EntityKind]) -> String {
    match kinds {
        [EntityKind::Deal] => {
            "Which deal do you mean? Name it, for example “mark the Acme deal won”.".to_string()
        }
        [EntityKind::Contact] => "Who do you mean? Give me their name.".to_string(),
        _ => format!("Which {} do you mean? Give me its name.", kinds_word(kinds)),
    }
}

/// Results of `search`.
pub fn search_results(name: &Name, kinds: &[EntityKind], cands: &[Candidate]) -> String {
    let at = name
        .at_company
        .as_deref()
        .map(|c| format!(" at {c}"))
        .unwrap_or_default();
    if cands.is_empty() {
        return format!(
            "Nothing matches “{}”{at}. Try part of the name, an email address or a phone number.",
            name.query
        );
    }
    let head = if cands.len() == 1 {
        format!("One {} matches “{}”{at}:", kinds_word(kinds), name.query)
    } else {
        format!("{} matches for “{}”{at}:", cands.len(), name.query)
    };
    let mut out = head;
    for c in cands.iter().take(10) {
        out.push_str(&format!(
            "\n- {} {} ({})",
            c.title,
            c.entity().marker(),
            c.kind.as_str()
        ));
        if let Some(s) = c.subtitle.as_deref().filter(|s| !s.is_empty()) {
            out.push_str(&format!(" — {s}"));
        }
    }
    if cands.len() > 10 {
        out.push_str(&format!("\n…and {} more.", cands.len() - 10));
    }
    out
}

/// The `daily_focus` list.
pub fn focus(result: &Value, team: bool) -> String {
    let items = result
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let whose = if team { "the team's" } else { "your" };
    let date = text(result, "date")
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map(|d| format!(" for {}", d.format("%a %-d %b %Y")))
        .unwrap_or_default();
    if items.is_empty() {
        return format!(
            "Nothing is on {whose} focus list{date}: no overdue or due-today tasks, no stale deals and no deals closing this month."
        );
    }
    let mut out = format!("Here's {whose} focus list{date}:");
    for (k, it) in items.iter().take(20).enumerate() {
        let kind = text(it, "entity_type")
            .and_then(EntityKind::parse)
            .unwrap_or(EntityKind::Task);
        let title = text(it, "title").unwrap_or("(untitled)");
        out.push_str(&format!(
            "\n{}. {title}{}",
            k + 1,
            cite_kind(kind, it.get("id").unwrap_or(&Value::Null))
        ));
        if let Some(why) = text(it, "why") {
            out.push_str(&format!(" — {why}"));
        }
        if let Some(v) = text(it, "value") {
            out.push_str(&format!(" · {v}"));
        }
        if team && let Some(o) = text(it, "owner_name") {
            out.push_str(&format!(" · {o}"));
        }
    }
    if items.len() > 20 {
        out.push_str(&format!("\n…and {} more.", items.len() - 20));
    }
    out
}

fn task_line(t: &Value, tz: Tz, team: bool, with_time: bool) -> String {
    let mut line = format!(
        "- {}{}",
        text(t, "title").unwrap_or("(untitled)"),
        cite_kind(EntityKind::Task, t.get("id").unwrap_or(&Value::Null))
    );
    match t.get("due_at").and_then(Value::as_str).and_then(parse_time) {
        Some(due) if with_time => line.push_str(&format!(" — due {}", moment(due, tz))),
        Some(due) => line.push_str(&format!(
            " — due {}",
            day(due.with_timezone(&tz).date_naive())
        )),
        None => line.push_str(" — no due date"),
    }
    if let Some(c) = text(t, "contact_name") {
        line.push_str(&format!(
            " · {c}{}",
            cite_kind(
                EntityKind::Contact,
                t.get("contact_id").unwrap_or(&Value::Null)
            )
        ));
    }
    if let Some(d) = text(t, "deal_name") {
        line.push_str(&format!(
            " · {d}{}",
            cite_kind(EntityKind::Deal, t.get("deal_id").unwrap_or(&Value::Null))
        ));
    }
    if team && let Some(o) = text(t, "owner_name") {
        line.push_str(&format!(" · {o}"));
    }
    line
}

/// The `list_tasks` answer. `about` names the record the list was filtered on.
pub fn tasks(result: &Value, q: &TaskQuery, about: Option<(EntityRef, String)>, tz: Tz) -> String {
    let list = result
        .get("tasks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let whose = if q.team { "the team's" } else { "your" };
    let which = match (q.status, q.due) {
        (Some("done"), _) => "completed ",
        (_, Some("overdue")) => "overdue ",
        (_, Some("today")) => "due-today ",
        (_, Some("upcoming")) => "upcoming ",
        _ => "open ",
    };
    let on = about
        .map(|(r, title)| format!(" for {title} {}", r.marker()))
        .unwrap_or_default();
    if list.is_empty() {
        return format!("There are no {which}tasks on {whose} list{on}.");
    }
    let mut out = format!("Here are {whose} {which}tasks{on}:");
    for t in list.iter().take(25) {
        out.push('\n');
        out.push_str(&task_line(t, tz, q.team, true));
    }
    if list.len() > 25 {
        out.push_str(&format!("\n…and {} more.", list.len() - 25));
    }
    out
}

fn open_tasks(out: &mut String, data: &Value, tz: Tz) {
    let list = data
        .get("open_tasks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if list.is_empty() {
        out.push_str("\nOpen tasks: none.");
    } else {
        out.push_str("\nOpen tasks:");
        for t in list.iter().take(5) {
            out.push('\n');
            out.push_str(&task_line(t, tz, false, false));
        }
    }
}

fn last_activity(out: &mut String, data: &Value, tz: Tz) {
    let first = data
        .get("timeline")
        .and_then(Value::as_array)
        .and_then(|t| t.first());
    match first {
        Some(a) => {
            let kind = text(a, "kind").unwrap_or("activity");
            let when = local_day(a, "occurred_at", tz)
                .map(|d| format!(" on {d}"))
                .unwrap_or_default();
            let subject = text(a, "subject")
                .map(|s| format!(": “{s}”"))
                .unwrap_or_default();
            out.push_str(&format!("\nLast activity: {kind}{when}{subject}."));
        }
        None => out.push_str("\nNo activity is recorded."),
    }
}

fn deal_line(d: &Value) -> String {
    let mut line = format!(
        "- {}{}",
        text(d, "name").unwrap_or("(unnamed)"),
        cite_kind(EntityKind::Deal, d.get("id").unwrap_or(&Value::Null))
    );
    if let Some(s) = text(d, "stage_name") {
        line.push_str(&format!(" — {s}"));
    }
    // A deal's value defaults to 0: that means nobody entered one, not that it is worth 0.
    if let (Some(v), Some(c)) = (
        d.get("value_minor")
            .and_then(Value::as_i64)
            .filter(|v| *v > 0),
        text(d, "currency"),
    ) {
        line.push_str(&format!(", {}", Currency::format_amount(v, c)));
    }
    line
}

fn deals(out: &mut String, data: &Value) {
    let list = data
        .get("deals")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if list.is_empty() {
        out.push_str("\nDeals: none.");
    } else {
        out.push_str("\nDeals:");
        for d in list.iter().take(8) {
            out.push('\n');
            out.push_str(&deal_line(d));
        }
    }
}

/// The answer to a question about one field (`get_contact` / `get_company` / `get_deal`):
/// the value as recorded, or plainly that it is not recorded. Never a guess.
pub fn field_answer(data: &Value, r: EntityRef, field: Field) -> String {
    let rec = data.get(r.kind.as_str()).unwrap_or(&Value::Null);
    let name = match r.kind {
        EntityKind::Contact => format!(
            "{} {}",
            text(rec, "first_name").unwrap_or(""),
            text(rec, "last_name").unwrap_or("")
        )
        .trim()
        .to_string(),
        _ => text(rec, "name").unwrap_or("this record").to_string(),
    };
    let who = format!("{name} {}", r.marker());
    let label = field.label();
    let value: Option<String> = match field {
        Field::Email => text(rec, "email").map(str::to_string),
        Field::Phone => text(rec, "phone").map(str::to_string),
        Field::Title => text(rec, "title").map(str::to_string),
        Field::Company => text(rec, "company_name").map(|c| {
            format!(
                "{c}{}",
                cite_kind(
                    EntityKind::Company,
                    rec.get("company_id").unwrap_or(&Value::Null)
                )
            )
        }),
        Field::Owner => text(rec, "owner_name").map(str::to_string),
        Field::Timezone => text(rec, "timezone").map(str::to_string),
        Field::Value => rec
            .get("value_minor")
            .and_then(Value::as_i64)
            .filter(|v| *v > 0)
            .map(|v| Currency::format_amount(v, text(rec, "currency").unwrap_or("USD"))),
        Field::Stage => text(rec, "stage_name").map(str::to_string),
        Field::CloseDate => text(rec, "expected_close").map(str::to_string),
        Field::Domain => text(rec, "domain").map(str::to_string),
        Field::Industry => text(rec, "industry").map(str::to_string),
        Field::NotKept(_) => {
            // No such field; a note on the record's timeline may still say it.
            let words: Vec<String> = label
                .to_lowercase()
                .split_whitespace()
                .map(str::to_string)
                .collect();
            let mentions = data
                .get("timeline")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|a| text(a, "body"))
                .find(|body| {
                    let b = body.to_lowercase().replace('-', " ");
                    words.iter().all(|w| b.contains(w.as_str()))
                });
            return match mentions {
                Some(body) => format!(
                    "Heimdell has no {label} field, so it is not recorded as such, but a note on {who} mentions it: “{body}”"
                ),
                None => format!(
                    "I don't know the {label} for {who}: Heimdell has no {label} field and no note I can read on {name} mentions it, so I won't guess. You could add it as a note once you know."
                ),
            };
        }
    };
    match value {
        Some(v) => format!("The {label} of {who} is {v}."),
        None => format!("The {label} of {who} is not recorded in Heimdell."),
    }
}

/// A summary of `get_contact`.
pub fn contact_summary(data: &Value, tz: Tz) -> String {
    let c = data.get("contact").unwrap_or(&Value::Null);
    let name = format!(
        "{} {}",
        text(c, "first_name").unwrap_or(""),
        text(c, "last_name").unwrap_or("")
    );
    let mut out = format!(
        "{}{}",
        name.trim(),
        cite_kind(EntityKind::Contact, c.get("id").unwrap_or(&Value::Null))
    );
    match (text(c, "title"), text(c, "company_name")) {
        (Some(t), Some(co)) => out.push_str(&format!(
            " — {t} at {co}{}.",
            cite_kind(
                EntityKind::Company,
                c.get("company_id").unwrap_or(&Value::Null)
            )
        )),
        (None, Some(co)) => out.push_str(&format!(
            " — at {co}{}.",
            cite_kind(
                EntityKind::Company,
                c.get("company_id").unwrap_or(&Value::Null)
            )
        )),
        (Some(t), None) => out.push_str(&format!(" — {t}; no company is recorded.")),
        (None, None) => out.push_str(" — no job title or company is recorded."),
    }
    if c.get("anonymised").and_then(Value::as_bool) == Some(true) {
        out.push_str("\nThis contact has been anonymised.");
    }
    out.push_str(&match text(c, "email") {
        Some(e) => format!("\nEmail: {e}."),
        None => "\nNo email address is recorded.".into(),
    });
    out.push_str(&match text(c, "phone") {
        Some(p) => format!("\nPhone: {p}."),
        None => "\nNo phone number is recorded.".into(),
    });
    let flags: Vec<&str> = [
        ("email_opt_out", "email"),
        ("sms_opt_out", "texts"),
        ("do_not_call", "calls"),
    ]
    .iter()
    .filter(|(k, _)| c.get(*k).and_then(Value::as_bool) == Some(true))
    .map(|(_, w)| *w)
    .collect();
    if !flags.is_empty() {
        out.push_str(&format!("\nOpted out of: {}.", flags.join(", ")));
    }
    out.push_str(&match text(c, "owner_name") {
        Some(o) => format!("\nOwner: {o}."),
        None => "\nNo owner is recorded.".into(),
    });
    deals(&mut out, data);
    open_tasks(&mut out, data, tz);
    last_activity(&mut out, data, tz);
    out
}

/// A summary of `get_company`.
pub fn company_summary(data: &Value, tz: Tz) -> String {
    let c = data.get("company").unwrap_or(&Value::Null);
    let mut out = format!(
        "{}{}",
        text(c, "name").unwrap_or("(unnamed)"),
        cite_kind(EntityKind::Company, c.get("id").unwrap_or(&Value::Null))
    );
    let mut facts = Vec::new();
    facts.push(match text(c, "domain") {
        Some(d) => d.to_string(),
        None => "no web domain recorded".into(),
    });
    if let Some(i) = text(c, "industry") {
        facts.push(i.to_string());
    }
    if let Some(p) = text(c, "phone") {
        facts.push(format!("phone {p}"));
    }
    out.push_str(&format!(" — {}.", facts.join(", ")));
    out.push_str(&match text(c, "owner_name") {
        Some(o) => format!("\nOwner: {o}."),
        None => "\nNo owner is recorded.".into(),
    });
    let people = data
        .get("contacts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if people.is_empty() {
        out.push_str("\nContacts: none.");
    } else {
        out.push_str("\nContacts:");
        for p in people.iter().take(8) {
            let name = format!(
                "{} {}",
                text(p, "first_name").unwrap_or(""),
                text(p, "last_name").unwrap_or("")
            );
            out.push_str(&format!(
                "\n- {}{}",
                name.trim(),
                cite_kind(EntityKind::Contact, p.get("id").unwrap_or(&Value::Null))
            ));
            if let Some(t) = text(p, "title") {
                out.push_str(&format!(" — {t}"));
            }
        }
        if people.len() > 8 {
            out.push_str(&format!("\n…and {} more.", people.len() - 8));
        }
    }
    deals(&mut out, data);
    open_tasks(&mut out, data, tz);
    last_activity(&mut out, data, tz);
    out
}

/// A summary of `get_deal`.
pub fn deal_summary(data: &Value, tz: Tz) -> String {
    let d = data.get("deal").unwrap_or(&Value::Null);
    let mut out = format!(
        "{}{}",
        text(d, "name").unwrap_or("(unnamed)"),
        cite_kind(EntityKind::Deal, d.get("id").unwrap_or(&Value::Null))
    );
    match text(d, "stage_name") {
        Some(s) => {
            out.push_str(&format!(" is in {s}"));
            if let Some(p) = d.get("stage_probability").and_then(Value::as_i64) {
                out.push_str(&format!(" ({p}% probability)"));
            }
        }
        None => out.push_str(" has no stage recorded"),
    }
    match (
        d.get("value_minor")
            .and_then(Value::as_i64)
            .filter(|v| *v > 0),
        text(d, "currency"),
    ) {
        (Some(v), Some(c)) => out.push_str(&format!(", worth {}.", Currency::format_amount(v, c))),
        _ => out.push_str("; no value is recorded."),
    }
    if d.get("stage_is_won").and_then(Value::as_bool) == Some(true) {
        out.push_str(" It is won.");
    } else if d.get("stage_is_lost").and_then(Value::as_bool) == Some(true) {
        out.push_str(" It is lost.");
    }
    out.push_str(&match text(d, "expected_close")
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
    {
        Some(close) => format!("\nExpected close: {}.", day(close)),
        None => "\nNo expected close date is recorded.".into(),
    });
    out.push_str(&match text(d, "owner_name") {
        Some(o) => format!("\nOwner: {o}."),
        None => "\nNo owner is recorded.".into(),
    });
    let company = text(d, "company_name").map(|n| {
        format!(
            "{n}{}",
            cite_kind(
                EntityKind::Company,
                d.get("company_id").unwrap_or(&Value::Null)
            )
        )
    });
    let contact = text(d, "contact_name").map(|n| {
        format!(
            "{n}{}",
            cite_kind(
                EntityKind::Contact,
                d.get("contact_id").unwrap_or(&Value::Null)
            )
        )
    });
    out.push_str(&match (company, contact) {
        (Some(co), Some(ct)) => format!("\nCompany: {co}; main contact: {ct}."),
        (Some(co), None) => format!("\nCompany: {co}; no main contact is recorded."),
        (None, Some(ct)) => format!("\nNo company is recorded; main contact: {ct}."),
        (None, None) => "\nNo company or main contact is recorded.".into(),
    });
    open_tasks(&mut out, data, tz);
    let change = data
        .get("history")
        .and_then(Value::as_array)
        .and_then(|h| h.iter().find(|c| text(c, "field") == Some("stage")));
    if let Some(c) = change {
        let from = c.get("old_value").and_then(|v| text(v, "name"));
        let to = c.get("new_value").and_then(|v| text(v, "name"));
        if let (Some(from), Some(to)) = (from, to) {
            let when = local_day(c, "changed_at", tz)
                .map(|d| format!(" on {d}"))
                .unwrap_or_default();
            out.push_str(&format!("\nLast stage change: {from} → {to}{when}."));
        }
    }
    match data
        .get("timeline")
        .and_then(Value::as_array)
        .and_then(|t| t.first())
    {
        Some(_) => last_activity(&mut out, data, tz),
        None => out.push_str(&match local_day(d, "last_activity_at", tz) {
            Some(when) => format!("\nLast activity: {when}."),
            None => "\nNo activity is recorded.".into(),
        }),
    }
    out
}

fn approver_words(role: Option<&str>) -> &'static str {
    match role {
        Some("manager") => "needs a manager",
        Some("admin") => "needs an admin",
        _ => "you can approve it",
    }
}

/// The `list_pending_actions` answer.
pub fn pending(result: &Value) -> String {
    let items = result
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if items.is_empty() {
        return "Nothing is waiting for approval.".to_string();
    }
    let mut out = String::from("Waiting for approval:");
    for (k, it) in items.iter().enumerate().take(20) {
        let n = it
            .get("number")
            .and_then(Value::as_u64)
            .unwrap_or(k as u64 + 1);
        out.push_str(&format!(
            "\n{n}. {}",
            text(it, "preview").unwrap_or("(no description)")
        ));
        let mut notes = Vec::new();
        if let Some(r) = text(it, "requester_name") {
            notes.push(format!("requested by {r}"));
        }
        notes.push(approver_words(text(it, "approver_role")).to_string());
        out.push_str(&format!(
            " — {}{}",
            notes.join("; "),
            cite_kind(EntityKind::Action, it.get("id").unwrap_or(&Value::Null))
        ));
    }
    out.push_str("\nSay “approve 1” or “reject 1” (any number from the list).");
    out
}

/// "Which one?" for "approve it" when several actions wait.
pub fn which_action(result: &Value, approve: bool) -> String {
    let verb = if approve { "approve" } else { "reject" };
    format!(
        "{}\nWhich one should I {verb}? Say “{verb} 2”, for example.",
        pending(result)
            .trim_end_matches("\nSay “approve 1” or “reject 1” (any number from the list).")
    )
}

/// The answer to one `decide_action` call.
pub fn decision(label: &str, result: &Value, approve: bool) -> String {
    let verb = if approve { "approve" } else { "reject" };
    if let Some(words) = denied_words(result) {
        return format!("{label}: {words}");
    }
    if let Some(words) = error_words(result) {
        return format!(
            "I couldn't {verb} {label}: {}.",
            words.trim_end_matches('.')
        );
    }
    let preview = text(result, "preview")
        .map(|p| format!(": {}", p.trim_end_matches('.')))
        .unwrap_or_default();
    // Cited only when the answer names it, so the id is in this turn's results.
    let marker = result
        .get("action_id")
        .or_else(|| result.get("id"))
        .map(|id| cite_kind(EntityKind::Action, id))
        .unwrap_or_default();
    match result.get("status").and_then(Value::as_str) {
        Some("executed") => format!("Approved and done{preview}.{marker}"),
        Some("rejected") => format!("Rejected{preview}.{marker}"),
        Some("approved") => format!("Approved{preview}.{marker}"),
        Some("pending") => format!("Still waiting for another approver{preview}.{marker}"),
        _ => format!("I sent the decision for {label}, but the answer was not what I expected."),
    }
}
