//! The built-in planner: the default model when none is configured. Offline and deterministic.
//!
//! It reads the user's last message with a small intent grammar ([`intent`]) and a real date
//! parser ([`dates`]), resolves people, companies and deals through the `search` tool
//! ([`resolve`]), asks a question when a name matches several records or a date is unclear,
//! proposes writes as tool calls (which the runtime turns into actions awaiting approval), and
//! answers only from this turn's tool results ([`reply`]).
//!
//! It keeps no state: every [`ChatModel::complete`] call rebuilds where the turn is from the
//! messages ([`turn`]) and replays the intent's flow ([`flows`]) up to its next step.
//!
//! Follow-ups: when its previous reply was a question, an answer that is not a request of its
//! own ("the second one", "tomorrow at 9", "she wants pricing") completes the earlier request.

pub mod dates;
mod flows;
pub mod intent;
pub mod names;
pub mod reply;
pub mod resolve;
pub mod text;
pub mod turn;

#[cfg(test)]
mod tests;

use futures_util::future::BoxFuture;

use self::intent::Intent;
use self::turn::{Halt, Turn};
use super::{ChatModel, EntityKind, EntityRef, ModelError, ModelReply, ModelRequest, Usage};
use crate::grounding::citations;

/// The most tool calls one turn may make before the planner gives up (a safety net: every
/// flow needs far fewer).
const MAX_CALLS: usize = 12;

/// The built-in planner.
#[derive(Debug, Clone, Copy, Default)]
pub struct Planner;

impl Planner {
    pub fn new() -> Planner {
        Planner
    }

    /// The next reply for a request: tool calls, or the final text.
    pub fn respond(&self, req: &ModelRequest) -> ModelReply {
        // The planner's answers come only from tool results; when the runtime still finds
        // something it cannot verify, the planner has nothing better to say, and an empty
        // answer lets the runtime keep the verified part of the first one.
        if let Some(crate::model::Message::User { content }) = req.messages.last()
            && content.starts_with(crate::copilot::GROUNDING_CHECK_PREFIX)
        {
            return text_reply(String::new());
        }
        let mut turn = Turn::new(req);
        if turn.calls_made() >= MAX_CALLS {
            return text_reply("I couldn't finish that in a reasonable number of steps, so I stopped. Could you rephrase it?".into());
        }
        let intent = understand(&mut turn);
        match flows::run(&turn, intent) {
            Ok(text) | Err(Halt::Say(text)) => text_reply(text),
            Err(Halt::Call(calls)) => ModelReply {
                content: None,
                tool_calls: turn.tool_calls(calls),
                usage: Usage::default(),
            },
        }
    }
}

fn text_reply(text: String) -> ModelReply {
    ModelReply {
        content: Some(text),
        tool_calls: Vec::new(),
        usage: Usage::default(),
    }
}

/// The request of this turn, completed by the previous one when it answers a question; a
/// message that is only a name is a search for it.
fn understand(turn: &mut Turn) -> Intent {
    match follow_up(turn) {
        Intent::Unknown => intent::bare_name(&turn.request).unwrap_or(Intent::Unknown),
        other => other,
    }
}

fn follow_up(turn: &mut Turn) -> Intent {
    let now = intent::parse(&turn.request, turn.clock);
    let Some((asked, answered)) = turn.previous_exchange() else {
        return now;
    };
    if !answered.trim_end().ends_with('?') && !answered.contains("? ") && !answered.contains("?\n")
    {
        return now;
    }
    let before = intent::parse(asked, turn.clock);
    if matches!(before, Intent::Decide { .. }) {
        return now;
    }
    // Asked what a text or note should say: the answer is the words, whatever they look like
    // ("running late" is not a question about overdue tasks), unless it cancels, decides, or
    // is a new request to change something.
    if before.missing() == Some(intent::Missing::Body)
        && !matches!(
            now,
            Intent::Cancel
                | Intent::Decide { .. }
                | Intent::Thanks
                | Intent::Help
                | Intent::Text(_)
                | Intent::Call(_)
                | Intent::CreateTask(_)
                | Intent::Log(_)
                | Intent::MoveDeal(_)
                | Intent::CreateContact(_)
                | Intent::CreateCompany(_)
        )
        && let Some(filled) = before.clone().fill(&turn.request, turn.clock)
    {
        return filled;
    }
    match now {
        Intent::Unknown | Intent::Search(_) if before.missing().is_none() => {
            // A name instead of a number: the listed line that has every word of it.
            match picked_by_name(answered, &turn.request) {
                Some(r) => {
                    turn.pinned = Some(r);
                    before
                }
                // Or the name of the record asked about ("Which deal do you mean?").
                None => before.fill_subject(&turn.request).unwrap_or(now),
            }
        }
        Intent::Pick(n) => {
            let listed: Vec<_> = citations(answered)
                .0
                .into_iter()
                .filter(|r| r.kind != EntityKind::Action)
                .collect();
            match listed.get(n - 1) {
                Some(r) => {
                    turn.pinned = Some(*r);
                    before
                }
                None => now,
            }
        }
        Intent::Unknown => before
            .fill(&turn.request, turn.clock)
            .unwrap_or(Intent::Unknown),
        other => other,
    }
}

/// The record of a listed question ("1. Jane Cooper [[contact:…]] — Acme") whose line holds
/// every word of the answer ("Jane Doe", "the one at Globex"); None unless exactly one does.
fn picked_by_name(listed: &str, answer: &str) -> Option<EntityRef> {
    const FILLER: &[&str] = &[
        "the", "one", "at", "from", "with", "in", "please", "i", "mean", "meant",
    ];
    let words: Vec<String> = answer
        .split(|c: char| !c.is_alphanumeric() && c != '@' && c != '.')
        .map(|w| w.trim_matches('.').to_lowercase())
        .filter(|w| !w.is_empty() && !FILLER.contains(&w.as_str()))
        .collect();
    if words.is_empty() {
        return None;
    }
    let hits: Vec<EntityRef> = listed
        .lines()
        .filter_map(|line| {
            let (cited, _) = citations(line);
            let [one] = cited.as_slice() else {
                return None;
            };
            let plain = line.to_lowercase();
            (one.kind != EntityKind::Action && words.iter().all(|w| plain.contains(w.as_str())))
                .then_some(*one)
        })
        .collect();
    match hits.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

impl ChatModel for Planner {
    fn name(&self) -> &str {
        "heimdell-planner"
    }

    fn complete<'a>(
        &'a self,
        req: &'a ModelRequest,
    ) -> BoxFuture<'a, Result<ModelReply, ModelError>> {
        Box::pin(async move { Ok(self.respond(req)) })
    }
}
