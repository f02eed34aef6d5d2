//! What the user asks for: a small grammar from one message to an [`Intent`].
//!
//! The message is tokenized, courtesy words are skipped ("please", "can you"), and the rules
//! below are tried in order; the first that matches wins. Each rule reads a fixed shape
//! ("log a <kind> with <person>: <body>", "move <deal> to <stage>", …) and pulls its
//! arguments out of the user's own words, dates through [`super::dates`] and names through
//! [`super::names`].

use super::dates::{self, Clock, DateIssue, When};
use super::names::{self, ANY, DEAL, Name, Subject};
use super::text::{Sentence, capitalise, tidy, title_case};
use crate::model::EntityKind;

mod ask;
mod reads;
mod writes;

pub use ask::{Field, Question};

/// One request.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    Help,
    /// "What should I do today?"
    Focus {
        team: bool,
    },
    /// "Find Jane at Acme."
    Search(Name),
    /// "Summarise the Acme deal."
    Show(Subject),
    /// "What is Jane's phone number?", "what's the budget for the Acme deal?"
    Ask(Question),
    /// "What's overdue?"
    ListTasks(TaskQuery),
    /// "Create a task to call Jane tomorrow at 10", "remind me …".
    CreateTask(TaskDraft),
    /// "Log a call with Jane: she wants pricing."
    Log(LogDraft),
    /// "Move the Acme deal to Proposal", "mark it won".
    MoveDeal(StageMove),
    /// "Add a contact Jane Cooper jane@acme.com."
    CreateContact(ContactDraft),
    /// "Add a company Acme acme.com."
    CreateCompany(CompanyDraft),
    /// "Text Jane that I'm running late."
    Text(TextDraft),
    /// "Call Jane."
    Call(Subject),
    /// "What's pending my approval?"
    Pending,
    /// "Approve 2", "reject it".
    Decide {
        which: Which,
        approve: bool,
    },
    /// Something Heimdell's chat cannot do yet.
    Unsupported(Unsupported),
    /// "The second one": an answer to "which one?".
    Pick(usize),
    /// "Never mind."
    Cancel,
    /// "Thanks!"
    Thanks,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskQuery {
    pub team: bool,
    /// `overdue`, `today` or `upcoming`.
    pub due: Option<&'static str>,
    /// `done` or `all`.
    pub status: Option<&'static str>,
    pub about: Option<Subject>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskDraft {
    pub title: String,
    pub when: Option<Result<When, DateIssue>>,
    pub contact: Option<Subject>,
    pub deal: Option<Subject>,
    /// "Remind me …": a due time is required.
    pub reminder: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogDraft {
    /// note, call, meeting, email or sms.
    pub kind: &'static str,
    pub about: Option<Subject>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageMove {
    pub deal: Subject,
    /// Empty when the user did not say ("close the Acme deal").
    pub stage: String,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactDraft {
    pub first_name: String,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub title: Option<String>,
    pub company: Option<String>,
}

/// A text to a person, in the user's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextDraft {
    pub to: Subject,
    /// Empty when the user did not say what to write ("text Jane").
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompanyDraft {
    pub name: String,
    pub domain: Option<String>,
}

/// Which pending actions an approval command means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    Numbers(Vec<u32>),
    /// "approve it": the one just drafted, or the only one pending.
    It,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsupported {
    Texting,
    Calling,
    Emailing,
    Importing,
    Deleting,
    Merging,
    Exporting,
    Editing,
    Rescheduling,
    CreatingDeals,
    Reporting,
}

/// What a request still lacks when the planner had to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    When,
    Title,
    Body,
    Stage,
    Name,
}

impl Intent {
    /// What is missing, if this request cannot go ahead as written.
    pub fn missing(&self) -> Option<Missing> {
        match self {
            Intent::CreateTask(t) if t.title.is_empty() => Some(Missing::Title),
            Intent::CreateTask(t) if matches!(t.when, Some(Err(_))) => Some(Missing::When),
            Intent::CreateTask(t) if t.reminder && t.when.is_none() => Some(Missing::When),
            Intent::Log(l) if l.body.is_empty() => Some(Missing::Body),
            Intent::Text(d) if d.body.is_empty() => Some(Missing::Body),
            Intent::MoveDeal(m) if m.stage.is_empty() => Some(Missing::Stage),
            Intent::CreateContact(c) if c.first_name.is_empty() => Some(Missing::Name),
            Intent::CreateCompany(c) if c.name.is_empty() => Some(Missing::Name),
            _ => None,
        }
    }

    /// Completes a request whose record the planner had to ask about ("Which deal do you
    /// mean?") with the name the user answered.
    pub fn fill_subject(self, answer: &str) -> Option<Intent> {
        let s = Sentence::new(answer);
        let named = |kinds: &[EntityKind]| match names::subject(&s, 0, s.len(), kinds) {
            Some(n @ Subject::Named(_)) => Some(n),
            _ => None,
        };
        match self {
            Intent::MoveDeal(mut m) if matches!(m.deal, Subject::Referent(_)) => {
                m.deal = match named(DEAL)? {
                    Subject::Named(n) => Subject::Named(Name::new(&n.query, DEAL)),
                    other => other,
                };
                Some(Intent::MoveDeal(m))
            }
            Intent::Show(Subject::Referent(_)) => Some(Intent::Show(named(ANY)?)),
            Intent::Ask(mut q) if matches!(q.subject, Subject::Referent(_)) => {
                q.subject = named(q.field.kinds())?;
                Some(Intent::Ask(q))
            }
            Intent::Log(mut l) if !matches!(l.about, Some(Subject::Named(_))) => {
                l.about = Some(named(ANY)?);
                Some(Intent::Log(l))
            }
            Intent::Text(mut d) if !matches!(d.to, Subject::Named(_)) => {
                d.to = named(names::CONTACT)?;
                Some(Intent::Text(d))
            }
            Intent::Call(Subject::Referent(_)) => Some(Intent::Call(named(names::CONTACT)?)),
            _ => None,
        }
    }

    /// Completes this request with the user's answer to the planner's question.
    pub fn fill(self, answer: &str, clock: Clock) -> Option<Intent> {
        let text = tidy(answer);
        if text.is_empty() {
            return None;
        }
        match (self.missing()?, self) {
            (Missing::When, Intent::CreateTask(mut t)) => {
                t.when = Some(dates::parse(&text, clock)?);
                Some(Intent::CreateTask(t))
            }
            (Missing::Title, Intent::CreateTask(mut t)) => {
                t.title = capitalise(&text);
                Some(Intent::CreateTask(t))
            }
            (Missing::Body, Intent::Log(mut l)) => {
                l.body = capitalise(&text);
                Some(Intent::Log(l))
            }
            (Missing::Body, Intent::Text(mut d)) => {
                d.body = capitalise(&text);
                Some(Intent::Text(d))
            }
            (Missing::Stage, Intent::MoveDeal(mut m)) => {
                m.stage = stage_name(&text);
                Some(Intent::MoveDeal(m))
            }
            _ => None,
        }
    }
}

/// Courtesy words skipped at the start of a message.
const POLITE: &[&[&str]] = &[
    &["please"],
    &["pls"],
    &["plz"],
    &["kindly"],
    &["hey"],
    &["hi"],
    &["hello"],
    &["ok"],
    &["okay"],
    &["so"],
    &["now"],
    &["heimdell"],
    &["copilot"],
    &[","],
    &["can", "you"],
    &["could", "you"],
    &["would", "you"],
    &["will", "you"],
    &["can", "u"],
    &["i", "want", "you", "to"],
    &["i'd", "like", "you", "to"],
    &["i", "need", "you", "to"],
    &["i", "want", "to"],
    &["i'd", "like", "to"],
    &["i", "would", "like", "to"],
    &["go", "ahead", "and"],
    &["just"],
    &["quickly"],
    &["let's"],
    &["lets"],
];

fn at(s: &Sentence, i: usize, words: &[&str]) -> bool {
    words.iter().enumerate().all(|(k, w)| s.low(i + k) == *w)
}

/// The first of `phrases` found at `i`; returns the index after it.
fn lead(s: &Sentence, i: usize, phrases: &[&[&str]]) -> Option<usize> {
    phrases
        .iter()
        .filter(|p| at(s, i, p))
        .map(|p| i + p.len())
        .max()
}

fn skip(s: &Sentence, mut i: usize, words: &[&str]) -> usize {
    while i < s.len() && words.contains(&s.low(i)) {
        i += 1;
    }
    i
}

/// One rule of the grammar: the sentence, where the request starts, the clock.
type Rule = fn(&Sentence, usize, Clock) -> Option<Intent>;

/// Parses one message.
pub fn parse(text: &str, clock: Clock) -> Intent {
    let s = Sentence::new(text);
    let mut i = 0;
    while let Some(next) = lead(&s, i, POLITE).filter(|&n| n < s.len()) {
        i = next;
    }
    let rules: &[Rule] = &[
        reads::decide,
        reads::cancel,
        reads::help,
        writes::log,
        writes::task,
        writes::move_deal,
        writes::create_contact,
        writes::create_company,
        writes::reach,
        reads::unsupported,
        reads::pending,
        reads::focus,
        reads::list_tasks,
        ask::ask,
        reads::show,
        reads::search,
        reads::pick,
    ];
    rules
        .iter()
        .find_map(|rule| rule(&s, i, clock))
        .unwrap_or(Intent::Unknown)
}

/// The stage as the user wrote it, title-cased. "won" and "lost" stay words: `move_deal_stage`
/// finds the pipeline's won or lost stage, whatever it is called.
pub(super) fn stage_name(text: &str) -> String {
    let t = tidy(text).to_lowercase();
    let t = t
        .trim_start_matches("the ")
        .trim_end_matches(" stage")
        .trim_start_matches("stage ")
        .trim();
    title_case(t)
}

pub(super) fn looks_like_email(w: &str) -> bool {
    w.contains('@') && w.contains('.') && !w.starts_with('@')
}

/// A message that is only a name ("Jane Cooper", "jane@acme.com"): a search for it.
pub fn bare_name(text: &str) -> Option<Intent> {
    let s = Sentence::new(text);
    let words: Vec<&super::text::Token> = s.toks.iter().filter(|t| t.is_word()).collect();
    let email = words.len() == 1 && looks_like_email(&words[0].low);
    let names = !words.is_empty()
        && words.len() <= 4
        && words.iter().all(|t| {
            t.is_capitalised()
                && t.raw
                    .chars()
                    .all(|c| c.is_alphabetic() || "-'’.&".contains(c))
        });
    (email || names).then(|| Intent::Search(Name::new(&tidy(text.trim_end_matches('?')), ANY)))
}
