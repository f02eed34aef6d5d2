//! A table of everyday phrasings and the first thing the planner does with each: the tool it
//! calls with its key arguments, or the words of its answer when it calls nothing.

use serde_json::{Value, json};

use super::{Chat, final_text, only_call};

/// What the first reply should be.
enum Expect {
    /// This tool with exactly these arguments.
    Exactly(&'static str, Value),
    /// A final text containing this.
    Says(&'static str),
}

use Expect::{Exactly, Says};

fn table() -> Vec<(&'static str, Expect)> {
    vec![
        // Focus
        ("what should I do today?", Exactly("daily_focus", json!({}))),
        (
            "What's on my plate today?",
            Exactly("daily_focus", json!({})),
        ),
        ("show my focus list", Exactly("daily_focus", json!({}))),
        (
            "show my team's focus",
            Exactly("daily_focus", json!({"scope": "team"})),
        ),
        (
            "what should my team focus on this week?",
            Exactly("daily_focus", json!({"scope": "team"})),
        ),
        ("daily focus", Exactly("daily_focus", json!({}))),
        (
            "what needs my attention?",
            Exactly("daily_focus", json!({})),
        ),
        // Search
        (
            "find Jane at Acme",
            Exactly("search", json!({"query": "Jane", "types": ["contact"]})),
        ),
        (
            "find Jane Cooper",
            Exactly("search", json!({"query": "Jane Cooper"})),
        ),
        (
            "search for acme",
            Exactly("search", json!({"query": "acme"})),
        ),
        (
            "look up jane@acme.com",
            Exactly("search", json!({"query": "jane@acme.com"})),
        ),
        (
            "find the company Acme",
            Exactly("search", json!({"query": "Acme", "types": ["company"]})),
        ),
        (
            "any contacts named Jane?",
            Exactly("search", json!({"query": "Jane", "types": ["contact"]})),
        ),
        (
            "do we have a deal for Globex?",
            Exactly("search", json!({"query": "Globex", "types": ["deal"]})),
        ),
        (
            "please could you find Globex",
            Exactly("search", json!({"query": "Globex"})),
        ),
        // Show / summarise
        (
            "who is Jane Cooper?",
            Exactly(
                "search",
                json!({"query": "Jane Cooper", "types": ["contact"]}),
            ),
        ),
        (
            "summarise the Acme deal",
            Exactly("search", json!({"query": "Acme", "types": ["deal"]})),
        ),
        (
            "Summarize the Acme deal",
            Exactly("search", json!({"query": "Acme", "types": ["deal"]})),
        ),
        (
            "tell me about Acme",
            Exactly("search", json!({"query": "Acme"})),
        ),
        (
            "how is the Globex deal going?",
            Exactly("search", json!({"query": "Globex", "types": ["deal"]})),
        ),
        (
            "show me Jane Cooper",
            Exactly("search", json!({"query": "Jane Cooper"})),
        ),
        (
            "what's the status of the Acme renewal deal?",
            Exactly(
                "search",
                json!({"query": "Acme renewal", "types": ["deal"]}),
            ),
        ),
        (
            "find contacts at Initech",
            Exactly("search", json!({"query": "Initech", "types": ["company"]})),
        ),
        // Task lists
        ("show my tasks", Exactly("list_tasks", json!({}))),
        (
            "what's overdue?",
            Exactly("list_tasks", json!({"due": "overdue"})),
        ),
        (
            "show my overdue tasks",
            Exactly("list_tasks", json!({"due": "overdue"})),
        ),
        (
            "what's due today?",
            Exactly("list_tasks", json!({"due": "today"})),
        ),
        (
            "list my tasks for today",
            Exactly("list_tasks", json!({"due": "today"})),
        ),
        (
            "upcoming tasks",
            Exactly("list_tasks", json!({"due": "upcoming"})),
        ),
        (
            "show the team's overdue tasks",
            Exactly("list_tasks", json!({"scope": "team", "due": "overdue"})),
        ),
        (
            "which tasks have I completed?",
            Exactly("list_tasks", json!({"status": "done"})),
        ),
        (
            "open tasks for the Acme deal",
            Exactly("search", json!({"query": "Acme", "types": ["deal"]})),
        ),
        // Creating tasks
        (
            "create a task to call Jane Cooper tomorrow at 10",
            Exactly(
                "search",
                json!({"query": "Jane Cooper", "types": ["contact"]}),
            ),
        ),
        (
            "remind me next Friday to send the proposal",
            Exactly(
                "create_task",
                json!({"title": "Send the proposal", "due_at": "2026-11-27T08:00:00Z"}),
            ),
        ),
        (
            "remind me tomorrow to review the pricing sheet",
            Exactly(
                "create_task",
                json!({"title": "Review the pricing sheet", "due_at": "2026-11-22T08:00:00Z"}),
            ),
        ),
        (
            "add a task: review Q4 forecast on Monday at 14:00",
            Exactly(
                "create_task",
                json!({"title": "Review Q4 forecast", "due_at": "2026-11-23T13:00:00Z"}),
            ),
        ),
        (
            "create a task to prepare the board deck by end of month",
            Exactly(
                "create_task",
                json!({"title": "Prepare the board deck", "due_at": "2026-11-30T08:00:00Z"}),
            ),
        ),
        (
            "remind me in 2 hours to check the contract",
            Exactly(
                "create_task",
                json!({"title": "Check the contract", "due_at": "2026-11-21T16:00:00Z"}),
            ),
        ),
        (
            "todo: update the pipeline report in 3 days",
            Exactly(
                "create_task",
                json!({"title": "Update the pipeline report", "due_at": "2026-11-24T08:00:00Z"}),
            ),
        ),
        (
            "set a reminder for December 3 at 3pm to renew the licence",
            Exactly(
                "create_task",
                json!({"title": "Renew the licence", "due_at": "2026-12-03T14:00:00Z"}),
            ),
        ),
        (
            "create a task to call the bank tomorrow",
            Exactly(
                "create_task",
                json!({"title": "Call the bank", "due_at": "2026-11-22T08:00:00Z"}),
            ),
        ),
        (
            "create a task to tidy the CRM",
            Exactly("create_task", json!({"title": "Tidy the CRM"})),
        ),
        (
            "remind me tomorrow to call Jane at 10",
            Exactly("search", json!({"query": "Jane", "types": ["contact"]})),
        ),
        (
            "create a task to send the contract for the Acme deal by Friday",
            Exactly("search", json!({"query": "Acme", "types": ["deal"]})),
        ),
        (
            "follow up with Jane next week",
            Exactly("search", json!({"query": "Jane", "types": ["contact"]})),
        ),
        (
            "schedule a call with Jane Cooper tomorrow at 2pm",
            Exactly(
                "search",
                json!({"query": "Jane Cooper", "types": ["contact"]}),
            ),
        ),
        (
            "I need to call Jane tomorrow at 9",
            Exactly("search", json!({"query": "Jane", "types": ["contact"]})),
        ),
        (
            "remind me to send the proposal",
            Says("When should I remind you?"),
        ),
        ("remind me on 3/4 to call the bank", Says("day/month")),
        (
            "create a task to call the bank next month",
            Says("Which day next month?"),
        ),
        (
            "remind me yesterday to call the bank",
            Says("already passed"),
        ),
        // Logging
        (
            "log a call with Jane: she wants pricing",
            Exactly("search", json!({"query": "Jane", "types": ["contact"]})),
        ),
        (
            "log a note on the Acme deal: budget approved",
            Exactly("search", json!({"query": "Acme", "types": ["deal"]})),
        ),
        (
            "I just called Jane Cooper, she wants a demo",
            Exactly(
                "search",
                json!({"query": "Jane Cooper", "types": ["contact"]}),
            ),
        ),
        (
            "log a meeting with Jane Cooper - demo went well",
            Exactly(
                "search",
                json!({"query": "Jane Cooper", "types": ["contact"]}),
            ),
        ),
        (
            "add a note to Globex: they are expanding to Oslo",
            Exactly("search", json!({"query": "Globex"})),
        ),
        ("log a call with Jane", Says("What should the call say?")),
        (
            "log a call: she wants pricing",
            Says("Who or what should I log the call on?"),
        ),
        // Deal stages
        (
            "move the Acme deal to Proposal",
            Exactly("search", json!({"query": "Acme", "types": ["deal"]})),
        ),
        (
            "move Globex to negotiation",
            Exactly("search", json!({"query": "Globex", "types": ["deal"]})),
        ),
        (
            "mark the Acme deal as lost: went with a competitor",
            Exactly("search", json!({"query": "Acme", "types": ["deal"]})),
        ),
        (
            "we won the Globex deal!",
            Exactly("search", json!({"query": "Globex", "types": ["deal"]})),
        ),
        (
            "set the stage of the Acme deal to Qualified",
            Exactly("search", json!({"query": "Acme", "types": ["deal"]})),
        ),
        ("mark it won", Says("Which deal do you mean?")),
        (
            "close the Acme deal",
            Says("Which stage should it move to?"),
        ),
        (
            "move the call with Jane to Friday",
            Says("can't reschedule"),
        ),
        // Creating records
        (
            "add a contact Jane Cooper jane@acme.com",
            Exactly(
                "create_contact",
                json!({"first_name": "Jane", "last_name": "Cooper", "email": "jane@acme.com"}),
            ),
        ),
        (
            "add Ola Nordmann as a contact, phone +47 912 34 567",
            Exactly(
                "create_contact",
                json!({"first_name": "Ola", "last_name": "Nordmann", "phone": "+47 912 34 567"}),
            ),
        ),
        (
            "new contact: Kari Hansen, CTO at Acme, kari@acme.no",
            Exactly("search", json!({"query": "Acme", "types": ["company"]})),
        ),
        (
            "add a company Initech initech.com",
            Exactly(
                "create_company",
                json!({"name": "Initech", "domain": "initech.com"}),
            ),
        ),
        ("create a deal for Acme", Says("can't create deals")),
        // Approvals
        (
            "what's pending my approval?",
            Exactly("list_pending_actions", json!({})),
        ),
        (
            "show pending approvals",
            Exactly("list_pending_actions", json!({})),
        ),
        (
            "anything waiting for me to approve?",
            Exactly("list_pending_actions", json!({})),
        ),
        (
            "approve 2",
            Exactly("decide_action", json!({"number": 2, "decision": "approve"})),
        ),
        (
            "reject 1",
            Exactly("decide_action", json!({"number": 1, "decision": "reject"})),
        ),
        (
            "yes, approve #3",
            Exactly("decide_action", json!({"number": 3, "decision": "approve"})),
        ),
        ("approve it", Exactly("list_pending_actions", json!({}))),
        ("approve all", Says("one at a time")),
        // Help, limits, and everything else
        ("what can you do?", Says("Log a call with Jane")),
        ("help", Says("drafted for approval")),
        // Texting and calling: find the person first.
        (
            "text Jane that I'm running late",
            Exactly("search", json!({"query": "Jane", "types": ["contact"]})),
        ),
        (
            "please text Jane Cooper: running 10 minutes late",
            Exactly(
                "search",
                json!({"query": "Jane Cooper", "types": ["contact"]}),
            ),
        ),
        (
            "send Jane a text saying the deck is ready",
            Exactly("search", json!({"query": "Jane", "types": ["contact"]})),
        ),
        (
            "send a text to Jane Cooper that I'm outside",
            Exactly(
                "search",
                json!({"query": "Jane Cooper", "types": ["contact"]}),
            ),
        ),
        (
            "message Jane saying see you at 3",
            Exactly("search", json!({"query": "Jane", "types": ["contact"]})),
        ),
        ("text Jane", Says("What should the text say?")),
        (
            "call Jane now",
            Exactly("search", json!({"query": "Jane", "types": ["contact"]})),
        ),
        (
            "ring Jane Cooper",
            Exactly(
                "search",
                json!({"query": "Jane Cooper", "types": ["contact"]}),
            ),
        ),
        (
            "call Jane tomorrow at 10",
            Says("only place a call right now"),
        ),
        ("whatsapp Jane", Says("only by SMS")),
        ("email the proposal to Jane", Says("can't send emails")),
        ("import contacts from my CSV", Says("can't import")),
        ("delete Jane Cooper", Says("can't delete")),
        ("merge duplicates", Says("can't find or merge duplicates")),
        (
            "change Jane's email to jane@globex.com",
            Says("can't change a record's details"),
        ),
        ("what's the weather in Oslo?", Says("I can't do that yet")),
        ("never mind", Says("OK")),
    ]
}

#[test]
fn everyday_phrasings_start_with_the_right_step() {
    let table = table();
    assert!(table.len() >= 60, "the table has {} rows", table.len());
    let mut failures = Vec::new();
    for (text, expect) in table {
        let reply = Chat::new(text).next();
        let ok = match &expect {
            Says(words) => {
                reply.tool_calls.is_empty()
                    && reply.content.as_deref().is_some_and(|c| c.contains(words))
            }
            Exactly(name, args) => match reply.tool_calls.as_slice() {
                [call] if call.name == *name => {
                    serde_json::from_str::<Value>(&call.arguments).ok().as_ref() == Some(args)
                }
                _ => false,
            },
        };
        if !ok {
            failures.push(format!(
                "{text:?} → {:?} / {:?}",
                reply.tool_calls, reply.content
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} phrasing(s) went wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn new_york_user_gets_new_york_dates() {
    let mut chat = Chat::new("remind me tomorrow at 9am to call the bank");
    chat.facts.tz = chrono_tz::America::New_York;
    let (name, args) = only_call(&chat.next());
    assert_eq!(name, "create_task");
    // Saturday 09:00 in New York; tomorrow 09:00 EST is 14:00 UTC.
    assert_eq!(
        args,
        json!({"title": "Call the bank", "due_at": "2026-11-22T14:00:00Z"})
    );
}

#[test]
fn first_calls_use_the_call_id_scheme_and_compact_json() {
    let reply = Chat::new("find Jane Cooper").next();
    assert_eq!(reply.tool_calls[0].id, "call_1");
    assert_eq!(reply.tool_calls[0].arguments, r#"{"query":"Jane Cooper"}"#);
    let text = final_text(&Chat::new("what can you do?").next());
    assert!(text.contains("approval"));
}
