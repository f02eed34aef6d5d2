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

/// What the user's message asks to decide, if it is a decision at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

pub fn decision_in(user_message: &str) -> Option<Decision> {
    let lower = user_message.trim().to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let first = words
        .iter()
        .position(|w| !matches!(*w, "yes" | "ok" | "okay" | "please" | "go" | "ahead"))?;
    match words[first] {
        "approve" | "approved" | "confirm" => Some(Decision::Approve),
        "reject" | "decline" | "deny" => Some(Decision::Reject),
        _ => None,
    }
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

/// Which action a `decide_action` call names.
pub fn target(args: &Value, items: &[ActionView]) -> Result<Uuid, String> {
    if let Some(id) = args.get("action_id").and_then(Value::as_str) {
        return Uuid::parse_str(id).map_err(|_| "action_id is not an id".to_string());
    }
    match args.get("number").and_then(Value::as_u64) {
        Some(n) if n >= 1 && (n as usize) <= items.len() => Ok(items[n as usize - 1].id),
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
}
