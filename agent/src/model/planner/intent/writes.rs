//! Rules for requests that change data: tasks and reminders, logged activities, deal stages,
//! new contacts and companies.

use super::{
    CompanyDraft, ContactDraft, Intent, LogDraft, StageMove, TaskDraft, TextDraft, Unsupported, at,
    lead, looks_like_email, skip, stage_name,
};
use crate::model::EntityKind;
use crate::model::planner::dates::{self, Clock};
use crate::model::planner::names::{self, ANY, CONTACT, DEAL, Name, Subject};
use crate::model::planner::text::{Sentence, capitalise, tidy};

/// Words that make a "change … to …" about a person's details rather than a deal's stage.
const FIELD_WORDS: &[&str] = &[
    "email", "e-mail", "phone", "mobile", "title", "name", "owner", "address", "number",
    "timezone", "company", "task", "meeting", "call", "reminder",
];

/// Separators between a subject and a body: "with Jane: she wants pricing".
fn separator(s: &Sentence, from: usize) -> Option<usize> {
    (from..s.len()).find(|&k| matches!(s.low(k), ":" | "-" | "—" | "–" | ","))
}

fn body_from(s: &Sentence, k: usize) -> String {
    let mut k = k;
    while k < s.len() && matches!(s.low(k), ":" | "-" | "—" | "–" | "," | "that" | "saying") {
        k += 1;
    }
    capitalise(&tidy(s.raw_from(k)))
}

fn activity_kind(s: &Sentence, i: usize) -> Option<(&'static str, usize)> {
    let two = [
        (&["phone", "call"][..], "call"),
        (&["text", "message"][..], "sms"),
        (&["sms", "message"][..], "sms"),
        (&["video", "call"][..], "call"),
    ];
    for (words, kind) in two {
        if at(s, i, words) {
            return Some((kind, i + 2));
        }
    }
    let kind = match s.low(i) {
        "call" | "phone" => "call",
        "note" | "comment" => "note",
        "meeting" | "demo" | "visit" => "meeting",
        "email" | "e-mail" | "mail" => "email",
        "sms" | "text" => "sms",
        _ => return None,
    };
    Some((kind, i + 1))
}

/// "log a call with Jane: she wants pricing", "note on the Acme deal: budget approved",
/// "I just called Jane, she wants pricing".
pub(super) fn log(s: &Sentence, i: usize, _: Clock) -> Option<Intent> {
    // The subject runs from `from` to the separator (or, without one, over a name).
    let (kind, from) = if let Some(k) = lead(
        s,
        i,
        &[
            &["log"],
            &["record"],
            &["add"],
            &["save"],
            &["write"],
            &["create"],
            &["write", "down"],
        ],
    ) {
        let k = skip(s, k, &["a", "an", "the", "new", "quick"]);
        let (kind, after) = activity_kind(s, k)?;
        let after = skip(s, after, &["note", "log"]);
        (kind, after)
    } else if at(s, i, &["note"]) && matches!(s.low(i + 1), "on" | "for" | "about" | "to" | ":") {
        ("note", i + 1)
    } else {
        let k = skip(s, i, &["i", "we", "just", "have", "'ve", "i've", "we've"]);
        let (kind, after) = match s.low(k) {
            "called" | "phoned" | "rang" => ("call", k + 1),
            "spoke" | "talked" => ("call", skip(s, k + 1, &["to", "with"])),
            "met" => ("meeting", skip(s, k + 1, &["with"])),
            "emailed" | "mailed" => ("email", k + 1),
            "texted" => ("sms", k + 1),
            "had" => {
                let a = skip(s, k + 1, &["a", "an", "the", "quick", "good"]);
                let (kind, after) = activity_kind(s, a)?;
                (kind, skip(s, after, &["with", "to"]))
            }
            _ => return None,
        };
        let (subject, end) = names::person_at(s, after, s.len())?;
        return Some(Intent::Log(LogDraft {
            kind,
            about: Some(subject),
            body: body_from(s, end),
        }));
    };
    // "with Jane", "to Jane" name a person; "on/for/about X" any record.
    let (default, from) = match s.low(from) {
        "with" => (CONTACT, from + 1),
        "to" if kind != "note" => (CONTACT, from + 1),
        "to" => (ANY, from + 1),
        "on" | "for" | "about" | "re" | "regarding" | "against" => (ANY, from + 1),
        _ => (ANY, from),
    };
    let (about, body) = match separator(s, from) {
        Some(sep) => (names::subject(s, from, sep, default), body_from(s, sep)),
        None if from < s.len() => match names::person_at(s, from, s.len()) {
            Some((subj, end)) if default == CONTACT => (Some(subj), body_from(s, end)),
            _ => (names::subject(s, from, s.len(), default), String::new()),
        },
        None => (None, String::new()),
    };
    Some(Intent::Log(LogDraft { kind, about, body }))
}

/// Where the words of a task start, and whether it is a reminder.
fn task_start(s: &Sentence, i: usize) -> Option<(usize, bool, Option<&'static str>)> {
    if let Some(k) = lead(
        s,
        i,
        &[
            &["remind", "me"],
            &["set", "a", "reminder"],
            &["set", "reminder"],
            &["reminder"],
        ],
    ) {
        return Some((k, true, None));
    }
    if let Some(k) = lead(
        s,
        i,
        &[
            &["create"],
            &["add"],
            &["make"],
            &["new"],
            &["set", "up"],
            &["open"],
            &["put", "in"],
            &["schedule"],
            &["plan"],
            &["book"],
        ],
    ) {
        let k = skip(s, k, &["a", "an", "the", "new", "me", "quick"]);
        let keyword = lead(
            s,
            k,
            &[
                &["task"],
                &["todo"],
                &["to-do"],
                &["to", "do"],
                &["reminder"],
                &["follow-up"],
                &["followup"],
                &["follow", "up"],
            ],
        );
        if let Some(after) = keyword {
            let reminder = s.low(k) == "reminder";
            let prefix =
                matches!(s.low(k), "follow-up" | "followup" | "follow").then_some("Follow up");
            return Some((after, reminder, prefix));
        }
        // "schedule a call with Jane tomorrow"
        if matches!(s.low(i), "schedule" | "plan" | "book")
            && matches!(s.low(k), "call" | "meeting" | "demo" | "lunch" | "visit")
        {
            return Some((k, false, None));
        }
        return None;
    }
    if matches!(s.low(i), "todo" | "task" | "to-do") && s.low(i + 1) == ":" {
        return Some((i + 2, false, None));
    }
    if lead(s, i, &[&["follow", "up"], &["follow-up"], &["followup"]]).is_some() {
        return Some((i, false, None));
    }
    None
}

/// "create a task to call Jane Cooper tomorrow at 10", "remind me next Friday to send the
/// proposal", "add a task for the Acme deal: send contract by Friday".
pub(super) fn task(s: &Sentence, i: usize, clock: Clock) -> Option<Intent> {
    let (start, reminder, prefix) = match task_start(s, i) {
        Some(found) => found,
        None => {
            // "I need to call Jane tomorrow": a task only when it has a date.
            let k = lead(
                s,
                i,
                &[
                    &["i", "need", "to"],
                    &["i", "have", "to"],
                    &["i", "must"],
                    &["i", "should"],
                    &["don't", "let", "me", "forget", "to"],
                    &["dont", "let", "me", "forget", "to"],
                ],
            )?;
            let rest = Sentence::new(s.raw_from(k));
            dates::find(&rest, clock)?;
            (k, false, None)
        }
    };
    let rest = Sentence::new(s.raw_from(start));
    let found = dates::find(&rest, clock);
    let in_date = |k: usize| {
        found
            .as_ref()
            .is_some_and(|f| f.spans.iter().any(|(a, b)| (*a..*b).contains(&k)))
    };
    // With a colon, what comes before it is about the task, what follows is the task.
    let colon = (0..rest.len()).find(|&k| rest.low(k) == ":" && !in_date(k));
    let title_from = colon.map(|c| c + 1).unwrap_or(0);
    let mut title = String::new();
    let mut k = title_from;
    while k < rest.len() {
        if in_date(k) {
            k += 1;
            continue;
        }
        let mut e = k;
        while e < rest.len() && !in_date(e) {
            e += 1;
        }
        let piece = rest.raw(k, e);
        let punctuation = !piece.chars().any(char::is_alphanumeric);
        if !title.is_empty() && !punctuation {
            title.push(' ');
        }
        title.push_str(piece);
        k = e;
    }
    let mut title = tidy(title.trim_end_matches(['?', ' ', '.', '!']));
    for p in [
        "that i need to ",
        "that i have to ",
        "that i should ",
        "i need to ",
        "for me to ",
        "me to ",
        "to ",
        "that ",
        "about ",
        "of ",
        "for ",
    ] {
        if title.to_lowercase().starts_with(p) {
            title = title.get(p.len()..).unwrap_or_default().to_string();
            break;
        }
    }
    if let Some(p) = prefix {
        title = if title.is_empty() {
            p.to_string()
        } else {
            format!("{p} {title}")
        };
    }
    let title = capitalise(&tidy(&title));
    let words = Sentence::new(&title);
    let deal = names::deal_in(&rest);
    // "create a task for Jane Cooper: send pricing": the person named before the colon.
    let meta_person = colon.and_then(|c| {
        let from = skip(&rest, 0, &["for", "with", "about", "on", "re", "regarding"]);
        let to = (from..c).find(|&k| in_date(k)).unwrap_or(c);
        if deal.is_some() || from == 0 {
            return None;
        }
        names::subject(&rest, from, to, CONTACT)
    });
    let contact = meta_person.or_else(|| names::person_in(&words).map(|(subj, _, _)| subj));
    Some(Intent::CreateTask(TaskDraft {
        title,
        when: found.map(|f| f.result),
        contact,
        deal,
        reminder,
    }))
}

fn note_after(s: &Sentence, k: usize) -> Option<String> {
    let k = skip(
        s,
        k,
        &[":", "-", "—", ",", "because", "since", "as", "reason", "of"],
    );
    let note = capitalise(&tidy(s.raw_from(k)));
    (!note.is_empty()).then_some(note)
}

/// "move the Acme deal to Proposal", "mark it won", "we lost the Acme deal", "close it as lost".
pub(super) fn move_deal(s: &Sentence, i: usize, clock: Clock) -> Option<Intent> {
    let deal_subject = |a: usize, b: usize| {
        let a = lead(s, a, &[&["the", "stage", "of"], &["stage", "of"]]).unwrap_or(a);
        let mut b = b;
        while b > a && matches!(s.low(b - 1), "stage" | "'s" | "’s") {
            b -= 1;
        }
        // "change Jane's email to …" is about a contact's details, not a deal.
        if (a..b).any(|k| FIELD_WORDS.contains(&s.low(k))) {
            return None;
        }
        // "mark as won", "move to proposal": the deal of the conversation.
        if (a..b).all(|k| !s.toks[k].is_word()) {
            return Some(Subject::Referent(Some(EntityKind::Deal)));
        }
        names::subject(s, a, b, DEAL).map(|subj| match subj {
            Subject::Named(n) => Subject::Named(Name::new(&n.query, DEAL)),
            Subject::Referent(_) => Subject::Referent(Some(EntityKind::Deal)),
        })
    };
    let won_lost = |k: usize| -> Option<(String, usize)> {
        let k = skip(s, k, &["as", "to", "closed", "closed-"]);
        matches!(
            s.low(k),
            "won" | "closed-won" | "win" | "lost" | "closed-lost"
        )
        .then(|| (stage_name(s.low(k)), k + 1))
    };
    // mark/close <deal> [as] won|lost
    if matches!(s.low(i), "mark" | "close" | "flag" | "set") {
        let end = (i + 1..s.len()).find(|&k| {
            won_lost(k).is_some()
                && matches!(
                    s.low(k),
                    "as" | "won" | "lost" | "closed" | "closed-won" | "closed-lost" | "win" | "to"
                )
        });
        match end {
            Some(k) => {
                let (stage, after) = won_lost(k)?;
                let deal = deal_subject(i + 1, k)?;
                let note = note_after(s, after);
                return Some(Intent::MoveDeal(StageMove { deal, stage, note }));
            }
            None if s.low(i) == "close" => {
                let deal = deal_subject(i + 1, s.len())?;
                return Some(Intent::MoveDeal(StageMove {
                    deal,
                    stage: String::new(),
                    note: None,
                }));
            }
            None if s.low(i) == "mark" || s.low(i) == "set" => {}
            None => return None,
        }
    }
    // we won/lost <deal>
    let k = skip(s, i, &["we", "we've", "we", "just", "have"]);
    if matches!(s.low(k), "won" | "lost") && k > i {
        let end = separator(s, k + 1).unwrap_or(s.len());
        let deal = deal_subject(k + 1, end)?;
        return Some(Intent::MoveDeal(StageMove {
            deal,
            stage: stage_name(s.low(k)),
            note: note_after(s, end),
        }));
    }
    // <deal> is won/lost, it's won
    if let Some(k) = (i..s.len()).find(|&k| matches!(s.low(k), "is" | "it's" | "its" | "was"))
        && let Some((stage, after)) = won_lost(k + 1)
        && (after >= s.len() || matches!(s.low(after), ":" | "-" | "," | "." | "!" | "because"))
    {
        let deal = if matches!(s.low(k), "it's" | "its") {
            Some(Subject::Referent(Some(EntityKind::Deal)))
        } else {
            deal_subject(i, k)
        };
        if let Some(deal) = deal {
            return Some(Intent::MoveDeal(StageMove {
                deal,
                stage,
                note: note_after(s, after),
            }));
        }
    }
    // move/set/change <deal> to <stage>
    let verb = lead(
        s,
        i,
        &[
            &["move"],
            &["put"],
            &["push"],
            &["advance"],
            &["bump"],
            &["shift"],
            &["change"],
            &["set"],
            &["update"],
            &["progress"],
            &["mark"],
        ],
    )?;
    let Some(to) = (verb..s.len()).find(|&k| matches!(s.low(k), "to" | "into" | "as" | "in"))
    else {
        // "move the Acme deal": which stage is asked.
        if matches!(s.low(i), "move" | "advance" | "progress") && s.has_any(&["deal"]) {
            let deal = deal_subject(verb, s.len())?;
            return Some(Intent::MoveDeal(StageMove {
                deal,
                stage: String::new(),
                note: None,
            }));
        }
        return None;
    };
    let end = (to + 1..s.len())
        .find(|&k| matches!(s.low(k), ":" | "—" | "-" | "," | "because" | "since" | "."))
        .unwrap_or(s.len());
    let stage_text = s.raw(to + 1, end);
    if stage_text.is_empty() {
        return None;
    }
    // "move the call with Jane to Friday" is about a task, not a deal.
    if dates::parse(stage_text, clock).is_some() {
        return Some(Intent::Unsupported(Unsupported::Rescheduling));
    }
    let deal = deal_subject(verb, to)?;
    Some(Intent::MoveDeal(StageMove {
        deal,
        stage: stage_name(stage_text),
        note: note_after(s, end),
    }))
}

fn looks_like_domain(w: &str) -> bool {
    let host = w
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_start_matches("www.");
    host.contains('.')
        && !host.contains('@')
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || "-./".contains(c))
        && host.chars().any(char::is_alphabetic)
}

/// A run of phone-number tokens starting at `k`: "+47 912 34 567".
fn phone_at(s: &Sentence, k: usize) -> Option<(String, usize)> {
    let mut e = k;
    let mut digits = 0;
    while e < s.len() {
        let w = s.low(e);
        if w.is_empty() || !w.chars().all(|c| c.is_ascii_digit() || "+-().".contains(c)) {
            break;
        }
        digits += w.chars().filter(char::is_ascii_digit).count();
        e += 1;
    }
    (digits >= 7).then(|| (s.raw(k, e).to_string(), e))
}

/// "add a contact Jane Cooper jane@acme.com", "new contact: Ola Nordmann, CTO at Acme",
/// "add Jane Cooper as a contact".
pub(super) fn create_contact(s: &Sentence, i: usize, _: Clock) -> Option<Intent> {
    let verb = lead(
        s,
        i,
        &[&["add"], &["create"], &["new"], &["save"], &["make"]],
    )?;
    let k = skip(s, verb, &["a", "an", "new"]);
    // "add Jane Cooper as a contact, …": the words "as a contact" are skipped.
    let (from, skipped) = if matches!(s.low(k), "contact" | "person" | "lead") {
        (skip(s, k + 1, &[":", ",", "named", "called", "-"]), None)
    } else {
        let phrase = (k..s.len()).find_map(|x| {
            lead(
                s,
                x,
                &[
                    &["as", "a", "contact"],
                    &["as", "a", "new", "contact"],
                    &["as", "contact"],
                ],
            )
            .map(|end| (x, end))
        })?;
        (k, Some(phrase))
    };
    let to = s.len();
    let mut c = ContactDraft::default();
    let mut name_words: Vec<String> = Vec::new();
    let mut x = from;
    let mut after_name = false;
    while x < to {
        if let Some((_, p1)) = skipped.filter(|(p0, _)| x == *p0) {
            x = p1;
            after_name = true;
            continue;
        }
        let t = &s.toks[x];
        let w = t.low.as_str();
        if looks_like_email(w) {
            c.email = Some(t.raw.clone());
            after_name = true;
            x += 1;
            continue;
        }
        if let Some((phone, e)) = phone_at(s, x) {
            c.phone = Some(phone);
            after_name = true;
            x = e;
            continue;
        }
        if matches!(w, "at" | "from") {
            let mut e = x + 1;
            while e < to
                && s.toks[e].is_word()
                && !looks_like_email(s.low(e))
                && phone_at(s, e).is_none()
                && !matches!(s.low(e), "email" | "phone" | "mobile" | "tel")
            {
                e += 1;
            }
            if e > x + 1 {
                c.company = Some(tidy(s.raw(x + 1, e)));
            }
            after_name = true;
            x = e;
            continue;
        }
        if matches!(
            w,
            "," | "email"
                | "e-mail"
                | "phone"
                | "mobile"
                | "tel"
                | "cell"
                | "number"
                | "who"
                | "is"
                | "with"
                | "and"
                | ":"
                | "-"
        ) {
            if !name_words.is_empty() {
                after_name = true;
            }
            x += 1;
            continue;
        }
        if !after_name
            && t.is_word()
            && t.raw
                .chars()
                .all(|ch| ch.is_alphabetic() || "-'’.".contains(ch))
            && name_words.len() < 4
        {
            name_words.push(t.raw.clone());
            x += 1;
            continue;
        }
        if after_name && t.is_word() {
            // "CTO at Acme": a job title before "at".
            let mut e = x;
            while e < to
                && s.toks[e].is_word()
                && !matches!(s.low(e), "at" | "from")
                && !looks_like_email(s.low(e))
                && phone_at(s, e).is_none()
            {
                e += 1;
            }
            let words = tidy(s.raw(x, e));
            let words = words
                .trim_start_matches("works as ")
                .trim_start_matches("a ")
                .trim_start_matches("an ")
                .to_string();
            if !words.is_empty() && !matches!(words.to_lowercase().as_str(), "works" | "title") {
                c.title = Some(words);
            }
            x = e.max(x + 1);
            continue;
        }
        x += 1;
    }
    if let Some((first, rest)) = name_words.split_first() {
        c.first_name = first.clone();
        if !rest.is_empty() {
            c.last_name = Some(rest.join(" "));
        }
    }
    Some(Intent::CreateContact(c))
}

/// "add a company Acme acme.com", "create an account called Globex".
pub(super) fn create_company(s: &Sentence, i: usize, _: Clock) -> Option<Intent> {
    let verb = lead(s, i, &[&["add"], &["create"], &["new"], &["save"]])?;
    let k = skip(s, verb, &["a", "an", "new"]);
    if !matches!(
        s.low(k),
        "company" | "account" | "organisation" | "organization" | "org"
    ) {
        return None;
    }
    let from = skip(s, k + 1, &[":", ",", "named", "called", "-"]);
    let mut c = CompanyDraft::default();
    let mut name_end = from;
    for x in from..s.len() {
        let w = s.low(x);
        if looks_like_domain(w) {
            c.domain = Some(s.toks[x].raw.clone());
            break;
        }
        if matches!(w, "," | "with" | "domain" | "website" | "site" | "(" | "at") {
            if let Some(d) = (x + 1..s.len()).find(|&y| looks_like_domain(s.low(y))) {
                c.domain = Some(s.toks[d].raw.clone());
            }
            break;
        }
        name_end = x + 1;
    }
    c.name = tidy(s.raw(from, name_end));
    Some(Intent::CreateCompany(c))
}

/// Words for a text message after "send … a".
const TEXT_WORDS: &[&str] = &["text", "sms", "message", "txt"];

/// The text after the person: "that …", "saying …", ": …", "to say …", "and say …".
fn text_body(s: &Sentence, k: usize) -> String {
    let mut k = k;
    loop {
        let before = k;
        k = skip(
            s,
            k,
            &[
                ":", "-", "—", "–", ",", "that", "saying", "and", "to", "say", "tell", "telling",
                "them", "her", "him",
            ],
        );
        if k == before {
            break;
        }
    }
    capitalise(&tidy(s.raw_from(k)))
}

/// Texting and calling someone now: "text Jane that I'm running late", "sms Jane: …",
/// "message Jane saying …", "send Jane a text: …", "send a text to Jane saying …"; "call Jane",
/// "ring Jane now". A call with more after the name ("call Jane tomorrow at 10") is not a call
/// now, so it is left to the other rules.
pub(super) fn reach(s: &Sentence, i: usize, _: Clock) -> Option<Intent> {
    match s.low(i) {
        "text" | "sms" | "txt" | "message" => {
            let k = skip(s, i + 1, &["message"]);
            let (to, end) = names::person_at(s, k, s.len())?;
            Some(Intent::Text(TextDraft {
                to,
                body: text_body(s, end),
            }))
        }
        "send" => {
            let k = skip(s, i + 1, &["a", "an", "quick", "short"]);
            if TEXT_WORDS.contains(&s.low(k)) {
                // "send a text to Jane saying …"
                let k = skip(s, k + 1, &["message"]);
                if s.low(k) != "to" {
                    return None;
                }
                let (to, end) = names::person_at(s, k + 1, s.len())?;
                return Some(Intent::Text(TextDraft {
                    to,
                    body: text_body(s, end),
                }));
            }
            // "send Jane a text: …"
            let (to, end) = names::person_at(s, i + 1, s.len())?;
            let k = skip(s, end, &["a", "an", "quick", "short"]);
            if !TEXT_WORDS.contains(&s.low(k)) {
                return None;
            }
            let k = skip(s, k + 1, &["message"]);
            Some(Intent::Text(TextDraft {
                to,
                body: text_body(s, k),
            }))
        }
        "call" | "ring" | "phone" | "dial" => {
            let (to, end) = names::person_at(s, i + 1, s.len())?;
            let rest = skip(
                s,
                end,
                &["now", "please", "right", "away", "back", "up", ".", "!"],
            );
            (rest >= s.len()).then_some(Intent::Call(to))
        }
        _ => None,
    }
}
