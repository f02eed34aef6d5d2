//! Rules for requests that read or decide: approvals, help, focus, task lists, summaries,
//! searches, answers to "which one?", and what the chat cannot do.

use super::{Intent, TaskQuery, Unsupported, Which, at, lead, skip};
use crate::decisions::{self, Decision};
use crate::model::planner::dates::{self, Clock};
use crate::model::planner::names::{self, ANY, CONTACT, DEAL, Name, Subject};
use crate::model::planner::text::{Sentence, tidy};

/// "approve 2", "approve #1 and #3", "yes, approve it", "reject the second one".
pub(super) fn decide(s: &Sentence, i: usize, _: Clock) -> Option<Intent> {
    // The same words the runtime checks the message with before anything is decided.
    let mut i = i;
    while i < s.len() && (s.low(i) == "," || decisions::LEAD_IN.contains(&s.low(i))) {
        i += 1;
    }
    let approve = decisions::decision_word(s.low(i))? == Decision::Approve;
    let mut numbers = Vec::new();
    let mut all = false;
    for k in i + 1..s.len() {
        let t = &s.toks[k];
        match t.low.as_str() {
            "it" | "this" | "that" | "them" => {}
            "all" | "everything" | "both" => all = true,
            "and" | "," | "number" | "no" | "no." | "#" | "action" | "the" | "one" | "ones"
            | "of" | "please" | "." | "!" | "too" | "also" | "now" | "item" => {}
            w => match t
                .number()
                .or_else(|| decisions::ordinal(w).map(|n| n as u32))
            {
                Some(n) => numbers.push(n),
                None => return None,
            },
        }
    }
    let which = if all {
        Which::All
    } else if !numbers.is_empty() {
        Which::Numbers(numbers)
    } else {
        Which::It
    };
    Some(Intent::Decide { which, approve })
}

pub(super) fn cancel(s: &Sentence, i: usize, _: Clock) -> Option<Intent> {
    let words: Vec<&str> = (i..s.len())
        .filter(|&k| s.toks[k].is_word())
        .map(|k| s.low(k))
        .collect();
    matches!(
        words.as_slice(),
        ["never", "mind"]
            | ["nevermind"]
            | ["cancel"]
            | ["cancel", "that"]
            | ["forget", "it"]
            | ["forget", "that"]
            | ["stop"]
            | ["no", "thanks"]
            | ["nothing"]
    )
    .then_some(Intent::Cancel)
}

pub(super) fn help(s: &Sentence, i: usize, _: Clock) -> Option<Intent> {
    let words: Vec<&str> = (i..s.len())
        .filter(|&k| s.toks[k].is_word())
        .map(|k| s.low(k))
        .collect();
    let yes = matches!(
        words.as_slice(),
        ["help"]
            | ["help", "me"]
            | ["help", "please"]
            | ["what", "can", "you", "do"]
            | ["what", "else", "can", "you", "do"]
            | ["what", "do", "you", "do"]
            | ["what", "can", "i", "ask"]
            | ["what", "can", "i", "ask", "you"]
            | ["what", "can", "i", "do"]
            | ["how", "do", "i", "use", "this"]
            | ["how", "does", "this", "work"]
            | ["who", "are", "you"]
            | ["what", "are", "you"]
            | ["commands"]
            | ["what", "are", "your", "commands"]
            | ["examples"]
            | ["hi"]
            | ["hello"]
            | ["hey"]
            | ["hi", "there"]
            | ["good", "morning"]
            | ["good", "afternoon"]
    );
    let thanks = matches!(
        words.as_slice(),
        ["thanks"]
            | ["thank", "you"]
            | ["thx"]
            | ["ty"]
            | ["great", "thanks"]
            | ["perfect", "thanks"]
            | ["cheers"]
    );
    if thanks {
        return Some(Intent::Thanks);
    }
    yes.then_some(Intent::Help)
}

/// Calling, texting, emailing, importing, deleting… asked for directly.
pub(super) fn unsupported(s: &Sentence, i: usize, _: Clock) -> Option<Intent> {
    use Unsupported::*;
    let w = s.low(i);
    let next = s.low(i + 1);
    let what = match w {
        "text" | "sms" | "whatsapp" => Texting,
        "message" if !matches!(next, "" | "?") => Texting,
        "call" | "ring" | "phone" | "dial" => Calling,
        "email" | "e-mail" | "mail" | "reply" => Emailing,
        "import" | "upload" => Importing,
        "delete" | "remove" | "erase" | "anonymise" | "anonymize" | "purge" => Deleting,
        "merge" | "dedupe" | "deduplicate" => Merging,
        "export" | "download" => Exporting,
        "send" => {
            if s.has_any(&["text", "sms", "message", "whatsapp", "texts", "messages"]) {
                Texting
            } else {
                Emailing
            }
        }
        "update" | "change" | "edit" | "fix" | "rename" | "assign" | "reassign" => Editing,
        "create" | "add" | "new" | "open" => {
            let k = skip(s, i + 1, &["a", "an", "new"]);
            if matches!(s.low(k), "deal" | "opportunity" | "opp") {
                CreatingDeals
            } else {
                return None;
            }
        }
        "find" | "show" | "list" if s.has_any(&["duplicates", "duplicate", "dupes"]) => Merging,
        _ => return None,
    };
    Some(Intent::Unsupported(what))
}

pub(super) fn pending(s: &Sentence, i: usize, _: Clock) -> Option<Intent> {
    let words = |ws: &[&str]| (i..s.len()).any(|k| ws.contains(&s.low(k)));
    let yes = words(&["pending", "approval", "approvals", "awaiting", "approve"])
        || (i..s.len()).any(|k| at(s, k, &["waiting", "for", "me"]));
    yes.then_some(Intent::Pending)
}

fn has_team(s: &Sentence, i: usize) -> bool {
    (i..s.len()).any(|k| {
        matches!(
            s.low(k),
            "team" | "team's" | "teams" | "everyone" | "everyone's" | "reps" | "reps'"
        )
    })
}

pub(super) fn focus(s: &Sentence, i: usize, _: Clock) -> Option<Intent> {
    let keyword = (i..s.len()).any(|k| {
        matches!(
            s.low(k),
            "focus"
                | "priorities"
                | "priority"
                | "prioritise"
                | "prioritize"
                | "plate"
                | "attention"
                | "agenda"
                | "stale"
                | "closing"
                | "slipping"
        )
    });
    let phrase = [
        &["what", "should", "i", "do"][..],
        &["what", "should", "i", "work", "on"],
        &["what", "should", "we", "do"],
        &["what", "do", "i", "do", "today"],
        &["where", "should", "i", "start"],
        &["what's", "next"],
        &["what", "is", "next"],
        &["start", "my", "day"],
        &["plan", "my", "day"],
        &["my", "day"],
        &["what's", "important"],
        &["what", "is", "important"],
        &["what", "to", "do", "today"],
        &["what's", "on", "today"],
        &["what's", "on", "for", "today"],
        &["who", "should", "i"],
        &["who", "do", "i", "need", "to"],
        &["at", "risk"],
    ]
    .iter()
    .any(|p| (i..s.len()).any(|k| at(s, k, p)));
    (keyword || phrase).then(|| Intent::Focus {
        team: has_team(s, i),
    })
}

pub(super) fn list_tasks(s: &Sentence, i: usize, clock: Clock) -> Option<Intent> {
    let has = |ws: &[&str]| (i..s.len()).any(|k| ws.contains(&s.low(k)));
    let tasks = has(&[
        "task",
        "tasks",
        "todo",
        "todos",
        "to-dos",
        "to-do",
        "reminders",
        "todo's",
    ]);
    let due_words =
        has(&["overdue", "due", "late"]) || (i..s.len()).any(|k| at(s, k, &["past", "due"]));
    if !tasks && !due_words {
        return None;
    }
    let mut q = TaskQuery {
        team: has_team(s, i),
        ..TaskQuery::default()
    };
    q.due = if has(&["overdue", "late", "missed"])
        || (i..s.len()).any(|k| at(s, k, &["past", "due"]))
    {
        Some("overdue")
    } else if has(&["today", "today's", "tonight"]) {
        Some("today")
    } else if has(&[
        "upcoming", "coming", "tomorrow", "future", "next", "later", "week",
    ]) {
        Some("upcoming")
    } else {
        None
    };
    if has(&["done", "completed", "finished", "closed", "complete"]) {
        q.status = Some("done");
    }
    // "tasks for the Acme deal", "open tasks on Jane Cooper".
    if let Some(k) = (i..s.len())
        .find(|&k| matches!(s.low(k), "for" | "on" | "about" | "with" | "regarding") && k > i)
    {
        let tail = Sentence::new(s.raw_from(k + 1));
        let is_date = dates::parse(s.raw_from(k + 1), clock).is_some()
            || tail.has_any(&["me", "my", "today", "team", "week", "tomorrow"]);
        if !is_date {
            let end = (k + 1..s.len())
                .find(|&e| matches!(s.low(e), "?" | "." | "!"))
                .unwrap_or(s.len());
            q.about = names::subject(s, k + 1, end, ANY);
        }
    }
    Some(Intent::ListTasks(q))
}

pub(super) fn show(s: &Sentence, i: usize, _: Clock) -> Option<Intent> {
    let leads: &[&[&str]] = &[
        &["summarise"],
        &["summarize"],
        &["summary", "of"],
        &["summary", "for"],
        &["summary", "on"],
        &["sum", "up"],
        &["give", "me", "a", "summary", "of"],
        &["give", "me", "an", "overview", "of"],
        &["give", "me", "a", "rundown", "on"],
        &["overview", "of"],
        &["tell", "me", "about"],
        &["what", "do", "we", "know", "about"],
        &["what", "do", "i", "know", "about"],
        &["what's", "the", "status", "of"],
        &["what's", "the", "latest", "on"],
        &["what's", "the", "latest", "with"],
        &["what", "is", "the", "status", "of"],
        &["what's", "happening", "with"],
        &["what's", "going", "on", "with"],
        &["status", "of"],
        &["status", "on"],
        &["update", "on"],
        &["show", "me"],
        &["show"],
        &["open"],
        &["pull", "up"],
        &["bring", "up"],
        &["look", "at"],
        &["details", "for"],
        &["details", "on"],
        &["details", "of"],
        &["info", "on"],
        &["info", "about"],
        &["brief", "me", "on"],
        &["recap"],
        &["how", "is"],
        &["how's"],
        &["how", "are", "things", "with"],
        &["where", "are", "we", "with"],
        &["where", "do", "we", "stand", "with"],
        &["who", "is"],
        &["who's"],
    ];
    let k = lead(s, i, leads)?;
    let who = matches!(s.low(i), "who" | "who's");
    let mut end = s.len();
    while end > k
        && (!s.toks[end - 1].is_word()
            || matches!(
                s.low(end - 1),
                "going"
                    | "doing"
                    | "looking"
                    | "please"
                    | "now"
                    | "again"
                    | "details"
                    | "info"
                    | "profile"
                    | "record"
                    | "page"
                    | "status"
                    | "summary"
            ))
    {
        end -= 1;
    }
    if end == k {
        return Some(Intent::Show(Subject::Referent(None)));
    }
    let words: Vec<&str> = (k..end)
        .map(|x| s.low(x))
        .filter(|w| !matches!(*w, "my" | "the" | "all" | "our" | "me" | "team's" | "whole"))
        .collect();
    if words.iter().all(|w| REPORT_WORDS.contains(w)) {
        return Some(Intent::Unsupported(Unsupported::Reporting));
    }
    let kinds = if who { CONTACT } else { ANY };
    names::subject(s, k, end, kinds).map(Intent::Show)
}

/// What a request for a whole pipeline or report is made of ("show my pipeline").
const REPORT_WORDS: &[&str] = &[
    "pipeline",
    "pipelines",
    "deals",
    "forecast",
    "dashboard",
    "report",
    "reports",
    "stats",
    "numbers",
    "revenue",
    "quota",
    "board",
    "contacts",
    "companies",
    "accounts",
    "leads",
];

pub(super) fn search(s: &Sentence, i: usize, _: Clock) -> Option<Intent> {
    let k = lead(
        s,
        i,
        &[
            &["find"],
            &["search", "for"],
            &["search"],
            &["look", "up"],
            &["lookup"],
            &["look", "for"],
            &["where", "is"],
            &["do", "we", "have"],
            &["is", "there"],
            &["are", "there"],
            &["any"],
        ],
    )?;
    let mut k = skip(s, k, &["the", "a", "an", "all", "any", "me"]);
    let kinds = match s.low(k) {
        "contact" | "contacts" | "person" | "people" | "someone" | "anyone" | "leads" | "lead" => {
            Some(CONTACT)
        }
        "company" | "companies" | "account" | "accounts" | "organisation" | "organization"
        | "org" | "orgs" => Some(names::COMPANY),
        "deal" | "deals" | "opportunity" | "opportunities" | "opps" => Some(DEAL),
        _ => None,
    };
    if kinds.is_some() {
        k = skip(
            s,
            k + 1,
            &[
                "named", "called", "for", "matching", "with", "about", "like",
            ],
        );
    }
    let mut end = s.len();
    while end > k && !s.toks[end - 1].is_word() {
        end -= 1;
    }
    // "contacts at Acme" (no name): the company's page lists them.
    if kinds == Some(CONTACT) && matches!(s.low(k), "at" | "from" | "in") {
        let company = tidy(s.raw(k + 1, end));
        return (!company.is_empty())
            .then(|| Intent::Show(Subject::Named(Name::new(&company, names::COMPANY))));
    }
    match names::subject(s, k, end, kinds.unwrap_or(ANY))? {
        Subject::Named(n) => Some(Intent::Search(n)),
        Subject::Referent(kind) => Some(Intent::Show(Subject::Referent(kind))),
    }
}

/// "2", "#2", "the second one", "number 3".
pub(super) fn pick(s: &Sentence, i: usize, _: Clock) -> Option<Intent> {
    let mut n = None;
    for k in i..s.len() {
        let t = &s.toks[k];
        match t.low.as_str() {
            "the" | "one" | "number" | "no" | "no." | "option" | "#" | "." | "please" | "it's"
            | "that" | "is" | "!" => {}
            w => match t
                .number()
                .or_else(|| decisions::ordinal(w).map(|n| n as u32))
            {
                Some(x) if n.is_none() => n = Some(x as usize),
                _ => return None,
            },
        }
    }
    n.filter(|&x| x >= 1).map(Intent::Pick)
}
