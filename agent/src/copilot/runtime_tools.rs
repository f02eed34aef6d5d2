//! Tools the runtime provides itself, beside the CRM tools: listing what waits for approval,
//! and deciding an action — honoured only when the user's own message says so, so a model that
//! follows injected instructions can never approve anything.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::actions::{ActionError, ActionStatus, ActionView, Caller, Pipeline};
use crate::model::ToolSpec;

pub const LIST_PENDING: &str = "list_pending_actions";
pub const DECIDE: &str = "decide_action";

pub fn specs() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: LIST_PENDING.into(),
            description: "List the proposals waiting for approval that the user can see, numbered from 1.".into(),
            parameters: json!({"type": "object", "properties": {}, "additionalProperties": false}),
        },
        ToolSpec {
            name: DECIDE.into(),
            description: "Approve or reject a waiting proposal by its number in list_pending_actions or its id. Only works when the user's own message asks for it (e.g. \"approve 2\").".into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "number": {"type": ["integer", "null"], "minimum": 1},
                    "action_id": {"type": ["string", "null"], "format": "uuid"},
                    "decision": {"type": "string", "enum": ["approve", "reject"]}
                },
                "required": ["decision"],
                "additionalProperties": false
            }),
        },
    ]
}

pub use crate::decisions::Decision;
use crate::decisions::{LEAD_IN, decision_word, ordinal};

/// What the user's message asks to decide, if it is a decision at all.
pub fn decision_in(user_message: &str) -> Option<Decision> {
    let lower = user_message.trim().to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let first = words.iter().position(|w| !LEAD_IN.contains(w))?;
    decision_word(words[first])
}

/// The numbered proposals the user was last shown: from the newest assistant message (given
/// newest first) that has lines like `2. Text Jane … [[action:<id>]]`, number → id. Numbers
/// then mean what the user saw, even after an earlier one was decided and the queue moved up.
pub fn last_listing<'a>(
    assistant_messages_newest_first: impl Iterator<Item = &'a str>,
) -> std::collections::BTreeMap<usize, Uuid> {
    for text in assistant_messages_newest_first {
        let mut listing = std::collections::BTreeMap::new();
        for line in text.lines() {
            let line = line.trim_start();
            let digits: String = line.chars().take_while(char::is_ascii_digit).collect();
            let Ok(n) = digits.parse::<usize>() else {
                continue;
            };
            if !line[digits.len()..].starts_with(['.', ')']) {
                continue;
            }
            let id = line
                .find("[[action:")
                .and_then(|at| line.get(at + 9..at + 45))
                .and_then(|id| Uuid::parse_str(id).ok());
            if let Some(id) = id {
                listing.insert(n, id);
            }
        }
        if !listing.is_empty() {
            return listing;
        }
    }
    std::collections::BTreeMap::new()
}

/// Whether the user's message asks to decide everything at once ("approve all").
pub fn asks_for_all(user_message: &str) -> bool {
    user_message
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| matches!(w, "all" | "everything" | "both" | "every"))
}

/// The proposal numbers the user's own message names ("approve 2", "approve #1 and #3",
/// "reject the second one"); empty when it names none ("approve it").
pub fn numbers_in(user_message: &str) -> Vec<usize> {
    user_message
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter_map(|w| w.parse::<usize>().ok().or_else(|| ordinal(w)))
        .collect()
}

/// The pending actions in the numbered order `list_pending_actions` shows them.
pub async fn pending(pipeline: &Pipeline, caller: Caller) -> Result<Vec<ActionView>, ActionError> {
    let mut items = pipeline
        .list(caller, Some(ActionStatus::Pending), 50)
        .await?;
    items.reverse(); // oldest first: numbers stay stable as new proposals arrive
    Ok(items)
}

pub fn numbered(items: &[ActionView]) -> Value {
    let list: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, a)| {
            json!({
                "type": "action",
                "number": i + 1,
                "id": a.id,
                "tool": a.tool,
                "preview": crate::fence::fence(&a.preview),
                "requester_name": a.requester_name,
                "approver_role": a.approver_role,
                "can_approve": a.can_approve,
            })
        })
        .collect();
    json!({ "items": list })
}

/// The action a proposal number means: the one on that line of the list the user was last
/// shown, else that place in the pending queue.
pub fn numbered_id(
    n: usize,
    listing: &std::collections::BTreeMap<usize, Uuid>,
    items: &[ActionView],
) -> Option<Uuid> {
    if !listing.is_empty() {
        return listing.get(&n).copied();
    }
    n.checked_sub(1).and_then(|i| items.get(i)).map(|a| a.id)
}

/// Which action a `decide_action` call names.
pub fn target(
    args: &Value,
    items: &[ActionView],
    listing: &std::collections::BTreeMap<usize, Uuid>,
) -> Result<Uuid, String> {
    if let Some(id) = args.get("action_id").and_then(Value::as_str) {
        return Uuid::parse_str(id).map_err(|_| "action_id is not an id".to_string());
    }
    match args.get("number").and_then(Value::as_u64) {
        Some(n) if let Some(id) = numbered_id(n as usize, listing, items) => Ok(id),
        Some(n) => Err(format!(
            "there is no proposal number {n}; {} are waiting",
            items.len()
        )),
        None if items.len() == 1 => Ok(items[0].id),
        None => Err("say which proposal: give its number".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_users_own_words_decide() {
        assert_eq!(decision_in("approve 2"), Some(Decision::Approve));
        assert_eq!(decision_in("Yes, approve it"), Some(Decision::Approve));
        assert_eq!(decision_in("reject 1 please"), Some(Decision::Reject));
        assert_eq!(
            decision_in("my manager already approved this, go ahead and send"),
            None
        );
        assert_eq!(decision_in("text everyone"), None);
        assert_eq!(decision_in("what's pending my approval?"), None);
    }

    /// Whatever the built-in planner reads as a decision of numbered proposals, the runtime's
    /// check of the user's own words reads the same way; otherwise the planner would propose
    /// `decide_action` and the runtime refuse it as something the user never asked for.
    #[test]
    fn the_planner_and_the_runtime_agree_on_decisions() {
        use crate::model::planner::dates::Clock;
        use crate::model::planner::intent::{Intent, Which, parse};
        let clock = Clock::new(chrono::Utc::now(), chrono_tz::UTC);
        for phrase in [
            "approve 2",
            "accept 2",
            "yeah, approve 2",
            "yep approve the 2nd one",
            "sure, confirm #1 and #3",
            "ok go ahead, approve number 2",
            "dismiss 1",
            "refuse the third one",
            "please reject 1",
        ] {
            let Intent::Decide { which, approve } = parse(phrase, clock) else {
                panic!("the planner does not read {phrase:?} as a decision");
            };
            let wanted = if approve {
                Decision::Approve
            } else {
                Decision::Reject
            };
            assert_eq!(decision_in(phrase), Some(wanted), "{phrase}");
            let Which::Numbers(numbers) = which else {
                panic!("{phrase:?} names numbers");
            };
            let numbers: Vec<usize> = numbers.into_iter().map(|n| n as usize).collect();
            assert_eq!(numbers_in(phrase), numbers, "{phrase}");
        }
    }
}
