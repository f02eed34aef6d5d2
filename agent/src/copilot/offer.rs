//! Which tools a turn offers the model. Every schema offered is read by the model on every
//! step, so a turn offers a small core that every member may call (the same bytes for everyone:
//! prefix caches reuse it), then `find_tools`, then the capabilities the user's words point at
//! and this member may use. The model asks `find_tools` for anything else; the tools it returns
//! are offered for the rest of the turn. Whatever is offered, the pipeline's policy decides what
//! runs: offering a tool grants nothing.

use serde_json::{Value, json};

use crate::actions::Pipeline;
use crate::model::ToolSpec;
use heimdell_policies::ApprovalRequirement;

use super::runtime_tools;

/// The runtime tool that offers more tools.
pub const FIND_TOOLS: &str = "find_tools";

/// Offered on every turn, in this order: what most requests need, callable by every role.
pub const CORE: &[&str] = &[
    "search",
    "get_contact",
    "daily_focus",
    "list_tasks",
    "create_task",
    runtime_tools::LIST_PENDING,
    runtime_tools::DECIDE,
];

/// A group of tools the model can ask for, and the everyday words that point at it.
pub struct Capability {
    pub name: &'static str,
    pub about: &'static str,
    pub words: &'static [&'static str],
    pub tools: &'static [&'static str],
}

pub const CAPABILITIES: &[Capability] = &[
    Capability {
        name: "records",
        about: "read companies; create or edit contacts and companies (names, emails, phones, titles, owners)",
        // Nouns only: "create a task" or "update me" must not offer the contact tools.
        words: &[
            "rename", "email", "phone", "number", "title", "owner", "company", "contact", "lead",
            "person", "details", "address", "account",
        ],
        tools: &[
            "get_company",
            "create_contact",
            "update_contact",
            "create_company",
        ],
    },
    Capability {
        name: "deals",
        about: "read deals, create them and move them between stages (won, lost)",
        words: &[
            "deal",
            "deals",
            "stage",
            "won",
            "win",
            "lost",
            "lose",
            "pipeline",
            "proposal",
            "negotiation",
            "opportunity",
            "close",
            "closed",
            "move",
        ],
        tools: &["get_deal", "create_deal", "move_deal_stage"],
    },
    Capability {
        name: "notes",
        about: "log a note, call, meeting, email or text on a record's timeline",
        words: &[
            "log", "note", "notes", "meeting", "met", "spoke", "talked", "emailed", "logged",
        ],
        tools: &["log_activity"],
    },
    Capability {
        name: "tasks",
        about: "mark tasks done",
        words: &[
            "done",
            "complete",
            "completed",
            "finish",
            "finished",
            "tick",
        ],
        tools: &["complete_task"],
    },
    Capability {
        name: "texting",
        about: "draft and send text messages (SMS), and their templates",
        words: &[
            "text",
            "texts",
            "sms",
            "message",
            "msg",
            "template",
            "templates",
            "send",
        ],
        tools: &[
            "draft_sms",
            "send_sms",
            "list_sms_templates",
            "create_sms_template",
        ],
    },
    Capability {
        name: "calls",
        about: "start calls and record how they went",
        words: &[
            "call",
            "ring",
            "dial",
            "phone",
            "disposition",
            "voicemail",
            "answered",
        ],
        tools: &["start_call", "set_call_disposition"],
    },
    Capability {
        name: "consent",
        about: "record a person's consent or opt-out for texts, calls, email or marketing",
        words: &[
            "consent",
            "opt",
            "optout",
            "opted",
            "unsubscribe",
            "stop",
            "permission",
            "agreed",
            "gdpr",
            "dnc",
        ],
        tools: &["record_consent"],
    },
];

/// The `find_tools` schema: a capability by name.
pub fn find_tools_spec() -> ToolSpec {
    let names: Vec<&str> = CAPABILITIES.iter().map(|c| c.name).collect();
    let about: Vec<String> = CAPABILITIES
        .iter()
        .map(|c| format!("{}: {}", c.name, c.about))
        .collect();
    ToolSpec {
        name: FIND_TOOLS.into(),
        description: format!(
            "Offer more tools for this turn. Capabilities: {}.",
            about.join("; ")
        ),
        parameters: json!({
            "type": "object",
            "properties": {"capability": {"type": "string", "enum": names}},
            "required": ["capability"],
            "additionalProperties": false
        }),
    }
}

/// What one turn offers, and what it may still add.
pub struct Offer {
    /// The specs of every tool the model may be offered (this member's, chat-safe), by name.
    available: Vec<ToolSpec>,
    offered: Vec<String>,
}

impl Offer {
    /// `available`: every chat-safe tool's spec (the registry's and the runtime's); kept are
    /// the ones this member may call. The first offer is the core, `find_tools`, and the
    /// capabilities `message` points at.
    pub fn new(
        pipeline: &Pipeline,
        caller: crate::actions::Caller,
        role: heimdell_tools::domain::Role,
        available: Vec<ToolSpec>,
        message: &str,
    ) -> Offer {
        let allowed = |name: &str| match pipeline.registry().get(name) {
            Ok(entry) => !matches!(
                pipeline.everyday_requirement(caller.tenant_id, caller.user_id, role, entry),
                ApprovalRequirement::Forbidden { .. }
            ),
            // The runtime's own tools.
            Err(_) => true,
        };
        let available: Vec<ToolSpec> = available.into_iter().filter(|s| allowed(&s.name)).collect();
        let mut offer = Offer {
            available,
            offered: Vec::new(),
        };
        for name in CORE {
            offer.add(name);
        }
        offer.offered.push(FIND_TOOLS.into());
        for capability in pointed_at(message) {
            for tool in capability.tools {
                offer.add(tool);
            }
        }
        offer
    }

    fn add(&mut self, name: &str) -> bool {
        let known = self.available.iter().any(|s| s.name == name);
        if known && !self.offered.iter().any(|o| o == name) {
            self.offered.push(name.to_string());
            return true;
        }
        false
    }

    /// The specs to send, core first (fixed order), then `find_tools`, then the rest.
    pub fn specs(&self) -> Vec<ToolSpec> {
        self.offered
            .iter()
            .filter_map(|name| {
                if name == FIND_TOOLS {
                    Some(find_tools_spec())
                } else {
                    self.available.iter().find(|s| &s.name == name).cloned()
                }
            })
            .collect()
    }

    /// Answers a `find_tools` call: adds the capability's tools this member may call and says
    /// which they are.
    pub fn find(&mut self, args: &Value) -> Value {
        let wanted = args.get("capability").and_then(Value::as_str).unwrap_or("");
        let Some(capability) = CAPABILITIES.iter().find(|c| c.name == wanted) else {
            let names: Vec<&str> = CAPABILITIES.iter().map(|c| c.name).collect();
            return json!({"error": {"code": "invalid_arguments",
                "message": format!("capability must be one of: {}", names.join(", "))}});
        };
        let mut tools = Vec::new();
        for tool in capability.tools {
            self.add(tool);
            if let Some(spec) = self.available.iter().find(|s| s.name == *tool) {
                tools.push(json!({"name": spec.name, "description": spec.description}));
            }
        }
        json!({
            "capability": capability.name,
            "tools": tools,
            "note": if tools.is_empty() {
                "None of these tools is open to this member."
            } else {
                "These tools are now offered for the rest of this turn."
            },
        })
    }
}

/// The capability a tool belongs to, if it is not in the core.
pub fn capability_of(tool: &str) -> Option<&'static str> {
    CAPABILITIES
        .iter()
        .find(|c| c.tools.contains(&tool))
        .map(|c| c.name)
}

/// The capabilities the user's words point at ("text jane" → texting).
pub fn pointed_at(message: &str) -> Vec<&'static Capability> {
    let lower = message.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    CAPABILITIES
        .iter()
        .filter(|c| words.iter().any(|w| c.words.contains(w)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everyday_words_point_at_their_capabilities() {
        let names = |m: &str| -> Vec<&str> { pointed_at(m).iter().map(|c| c.name).collect() };
        assert_eq!(names("text jane that I'm late"), vec!["texting"]);
        assert_eq!(names("mark the Acme deal won"), vec!["deals"]);
        assert_eq!(names("what should I do today?"), Vec::<&str>::new());
        assert_eq!(names("Jane opted out, she said STOP"), vec!["consent"]);
        assert!(names("call Jane").contains(&"calls"));
    }

    #[test]
    fn every_capability_and_core_tool_exists() {
        let registry = heimdell_tools::catalog::standard();
        let runtime: Vec<String> = runtime_tools::specs().into_iter().map(|s| s.name).collect();
        let exists = |t: &str| registry.get(t).is_ok() || runtime.iter().any(|r| r == t);
        for t in CORE {
            assert!(exists(t), "{t}");
        }
        for c in CAPABILITIES {
            for t in c.tools {
                assert!(exists(t), "{t}");
            }
        }
        // Every chat-safe tool is reachable: in the core or in a capability.
        for entry in registry.iter() {
            if !entry.secret_fields().is_empty() {
                continue;
            }
            let name = entry.name();
            assert!(
                CORE.contains(&name) || CAPABILITIES.iter().any(|c| c.tools.contains(&name)),
                "{name} can never be offered in chat"
            );
        }
    }
}
