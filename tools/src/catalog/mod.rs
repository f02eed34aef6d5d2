//! The tools, one module per area of the CRM, and [`standard`], the registry of all of them.

mod activities;
mod calls;
pub(crate) mod common;
mod companies;
mod consent;
mod contacts;
mod deals;
mod focus;
mod lookup;
mod search;
mod sms;
mod tasks;
mod twilio;

pub use activities::LogActivity;
pub use calls::{Disposition, SetCallDisposition, StartCall};
pub use companies::CreateCompany;
pub use consent::RecordConsent;
pub use contacts::{CreateContact, UpdateContact};
pub use deals::{CreateDeal, MoveDealStage};
pub use focus::DailyFocus;
pub use lookup::{GetCompany, GetContact, GetDeal};
pub use search::Search;
pub use sms::{CreateSmsTemplate, DraftSms, ListSmsTemplates, SendSms};
pub use tasks::{CompleteTask, CreateTask, ListTasks};
pub use twilio::ConnectTwilio;

use crate::registry::Registry;

/// Every tool Heimdell offers, in the order they are listed to callers.
pub fn standard() -> Registry {
    let mut r = Registry::new();
    r.register::<Search>()
        .register::<GetContact>()
        .register::<GetCompany>()
        .register::<GetDeal>()
        .register::<ListTasks>()
        .register::<DailyFocus>()
        .register::<CreateContact>()
        .register::<UpdateContact>()
        .register::<CreateCompany>()
        .register::<CreateDeal>()
        .register::<CreateTask>()
        .register::<CompleteTask>()
        .register::<LogActivity>()
        .register::<MoveDealStage>()
        .register::<DraftSms>()
        .register::<ListSmsTemplates>()
        .register::<SendSms>()
        .register::<StartCall>()
        .register::<SetCallDisposition>()
        .register::<RecordConsent>()
        .register::<CreateSmsTemplate>()
        .register::<ConnectTwilio>();
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::ToolKind;

    #[test]
    fn every_schema_is_closed_and_described() {
        let r = standard();
        assert_eq!(r.iter().count(), 22);
        for t in r.iter() {
            let s = t.schema();
            assert_eq!(s["type"], "object", "{}", t.name());
            assert_eq!(
                s["additionalProperties"],
                false,
                "{} must refuse extra properties",
                t.name()
            );
            assert!(!t.description().is_empty());
        }
        assert_eq!(r.get("search").unwrap().kind(), ToolKind::Read);
        assert_eq!(r.get("move_deal_stage").unwrap().kind(), ToolKind::Write);
        assert!(r.get("drop_database").is_err());
        for (name, kind) in [
            ("draft_sms", ToolKind::Read),
            ("list_sms_templates", ToolKind::Read),
            ("send_sms", ToolKind::Contact),
            ("start_call", ToolKind::Contact),
            ("set_call_disposition", ToolKind::Write),
            ("record_consent", ToolKind::Write),
            ("create_sms_template", ToolKind::Write),
            ("connect_twilio", ToolKind::Write),
        ] {
            assert_eq!(r.get(name).unwrap().kind(), kind, "{name}");
        }
        // Only connect_twilio carries a secret, and only its auth token.
        for t in r.iter() {
            let expected: &[&str] = if t.name() == "connect_twilio" {
                &["auth_token"]
            } else {
                &[]
            };
            assert_eq!(t.secret_fields(), expected, "{}", t.name());
        }
    }

    #[test]
    fn sms_and_twilio_arguments_are_checked() {
        let r = standard();
        let send = r.get("send_sms").unwrap();
        let id = "0190c0de-0000-7000-8000-000000000001";
        assert!(
            send.validate(&serde_json::json!({"contact_id": id, "body": "Hi"}))
                .is_ok()
        );
        let err = send
            .validate(&serde_json::json!({"contact_id": "nope", "body": 5, "to": "+1"}))
            .unwrap_err();
        let crate::ToolError::InvalidArguments(fields) = err else {
            panic!("wrong error")
        };
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert!(
            names.contains(&"contact_id") && names.contains(&"body") && names.contains(&"to"),
            "{names:?}"
        );
        let connect = r.get("connect_twilio").unwrap();
        let s = connect.schema();
        assert_eq!(s["properties"]["numbers"]["minItems"], 1, "{s}");
        assert!(
            connect
                .validate(
                    &serde_json::json!({"account_sid": "AC1", "auth_token": "t", "numbers": []})
                )
                .is_err()
        );
        let disp = r.get("set_call_disposition").unwrap();
        assert!(
            disp.validate(&serde_json::json!({"call_id": id, "disposition": "left_voicemail"}))
                .is_ok()
        );
        assert!(
            disp.validate(&serde_json::json!({"call_id": id, "disposition": "ghosted"}))
                .is_err()
        );
    }

    #[test]
    fn validation_names_each_bad_field_and_checks_formats() {
        let r = standard();
        let t = r.get("create_task").unwrap();
        let err = t
            .validate(&serde_json::json!({"due_at": "next tuesday", "colour": "red"}))
            .unwrap_err();
        let crate::ToolError::InvalidArguments(fields) = err else {
            panic!("wrong error")
        };
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert!(names.contains(&"title"), "{names:?}");
        assert!(names.contains(&"due_at"), "{names:?}");
        assert!(names.contains(&"colour"), "{names:?}");
        assert!(
            t.validate(&serde_json::json!({"title": "Call", "due_at": "2026-11-21T10:00:00Z"}))
                .is_ok()
        );
        let c = r.get("create_contact").unwrap();
        assert!(
            c.validate(&serde_json::json!({"first_name": "Jane", "email": 42}))
                .is_err()
        );
    }

    #[test]
    fn nul_in_arguments_is_refused_before_anything_else() {
        let r = standard();
        let only = |tool: &str, args: serde_json::Value| match r
            .get(tool)
            .unwrap()
            .validate(&args)
            .unwrap_err()
        {
            crate::ToolError::InvalidArguments(fields) => fields
                .into_iter()
                .map(|f| (f.field, f.message))
                .collect::<Vec<_>>(),
            e => panic!("{tool}: unexpected error {e}"),
        };
        let nul = |field: &str| {
            vec![(
                field.to_string(),
                "must not contain the NUL character (U+0000)".to_string(),
            )]
        };
        // Alone, even when the schema would also refuse the call (missing title, unknown field):
        // nothing past this check sees the arguments.
        assert_eq!(
            only(
                "create_task",
                serde_json::json!({"notes": "a\u{0}b", "colour": "red"})
            ),
            nul("notes")
        );
        assert_eq!(
            only(
                "create_task",
                serde_json::json!({"title": "Call", "due_at": "2026-11-21T10:00:00Z", "notes": "x\u{0}"})
            ),
            nul("notes")
        );
        assert_eq!(
            only(
                "connect_twilio",
                serde_json::json!({"account_sid": "AC1", "auth_token": "t", "numbers": ["+15550100\u{0}"]})
            ),
            nul("numbers[0]")
        );
        // An unknown key is refused for its NUL, spelled out, not reported as unknown.
        assert_eq!(
            only(
                "create_task",
                serde_json::json!({"title": "Call", "no\u{0}tes": "x"})
            ),
            nul("no\\u0000tes")
        );
        // Other control characters are left to the schema and the domain types.
        assert!(
            r.get("create_task")
                .unwrap()
                .validate(&serde_json::json!({"title": "Call", "notes": "one\ntwo"}))
                .is_ok()
        );
    }

    fn ctx() -> crate::registry::Ctx {
        crate::registry::Ctx {
            actor: crate::registry::Actor {
                tenant_id: uuid::Uuid::now_v7(),
                user_id: uuid::Uuid::now_v7(),
                role: crate::domain::Role::Rep,
            },
            now: chrono::Utc::now(),
            tz: chrono_tz::UTC,
            country: crate::domain::Country::parse("US").unwrap(),
            action_id: None,
        }
    }

    /// The field errors `T::parse` answers `args` with (none when it accepts them).
    fn parse_errors<T: crate::registry::Tool>(args: serde_json::Value) -> Vec<(String, String)> {
        let wire: T::Args = serde_json::from_value(args).expect("args fit the wire type");
        match T::parse(&ctx(), wire) {
            Ok(_) => Vec::new(),
            Err(crate::ToolError::InvalidArguments(fields)) => {
                fields.into_iter().map(|f| (f.field, f.message)).collect()
            }
            Err(e) => panic!("{}: unexpected error {e}", T::NAME),
        }
    }

    fn invisible(field: &str, c: &str) -> Vec<(String, String)> {
        vec![(
            field.to_string(),
            format!("must not contain control or invisible formatting characters ({c})"),
        )]
    }

    #[test]
    fn names_refuse_line_breaks_bidi_overrides_and_zero_width_characters_in_every_tool() {
        use serde_json::json;
        let id = "0190c0de-0000-7000-8000-000000000001";
        assert_eq!(
            parse_errors::<CreateContact>(json!({"first_name": "Jane\u{202E}eoD"})),
            invisible("first_name", "U+202E")
        );
        assert_eq!(
            parse_errors::<CreateContact>(
                json!({"first_name": "Jane", "last_name": "Doe\nJohn Smith"})
            ),
            invisible("last_name", "U+000A")
        );
        assert_eq!(
            parse_errors::<CreateContact>(json!({"first_name": "Jane", "title": "C\u{200B}EO"})),
            invisible("title", "U+200B")
        );
        assert_eq!(
            parse_errors::<UpdateContact>(json!({"contact_id": id, "first_name": "Ja\rne"})),
            invisible("first_name", "U+000D")
        );
        assert_eq!(
            parse_errors::<UpdateContact>(json!({"contact_id": id, "last_name": "\u{2066}Doe"})),
            invisible("last_name", "U+2066")
        );
        assert_eq!(
            parse_errors::<UpdateContact>(json!({"contact_id": id, "title": "V\u{0}P"})),
            invisible("title", "U+0000")
        );
        // An empty last name still clears it; an ordinary one is still taken.
        assert!(
            parse_errors::<UpdateContact>(json!({"contact_id": id, "last_name": ""})).is_empty()
        );
        assert!(
            parse_errors::<UpdateContact>(json!({"contact_id": id, "last_name": "Ñúñez-O'Brien"}))
                .is_empty()
        );
        assert_eq!(
            parse_errors::<CreateCompany>(json!({"name": "Acme\u{FEFF}Corp"})),
            invisible("name", "U+FEFF")
        );
        assert_eq!(
            parse_errors::<CreateCompany>(json!({"name": "Acme", "industry": "Saa\tS"})),
            invisible("industry", "U+0009")
        );
        assert_eq!(
            parse_errors::<CreateDeal>(json!({"name": "Big\u{202B} deal"})),
            invisible("name", "U+202B")
        );
        assert_eq!(
            parse_errors::<CreateDeal>(json!({"name": "Big deal", "stage": "Lead\u{0}"})),
            invisible("stage", "U+0000")
        );
        assert_eq!(
            parse_errors::<MoveDealStage>(json!({"deal_id": id, "stage": "Won\u{200E}"})),
            invisible("stage", "U+200E")
        );
        assert_eq!(
            parse_errors::<CreateTask>(json!({"title": "Call Jane\nCall Bob"})),
            invisible("title", "U+000A")
        );
        assert_eq!(
            parse_errors::<LogActivity>(
                json!({"kind": "note", "body": "ok", "subject": "Hi\u{202D}", "contact_id": id})
            ),
            invisible("subject", "U+202D")
        );
        assert_eq!(
            parse_errors::<CreateSmsTemplate>(json!({"name": "Late\u{2060}", "body": "Hi"})),
            invisible("name", "U+2060")
        );
        assert_eq!(
            parse_errors::<RecordConsent>(json!({"contact_id": id, "channel": "sms",
                "status": "granted", "source": "web\u{061C}form"})),
            invisible("source", "U+061C")
        );
    }

    #[test]
    fn free_text_keeps_line_breaks_and_tabs_but_refuses_nul() {
        use serde_json::json;
        let id = "0190c0de-0000-7000-8000-000000000001";
        let nul = |field: &str| {
            vec![(
                field.to_string(),
                "must not contain control characters (U+0000)".to_string(),
            )]
        };
        assert!(
            parse_errors::<LogActivity>(
                json!({"kind": "note", "body": "Wants pricing:\r\n\t- 50 seats\n\t- SSO", "contact_id": id})
            )
            .is_empty()
        );
        assert_eq!(
            parse_errors::<LogActivity>(
                json!({"kind": "note", "body": "a\u{0}b", "contact_id": id})
            ),
            nul("body")
        );
        assert_eq!(
            parse_errors::<CreateTask>(json!({"title": "Call", "notes": "x\u{0}"})),
            nul("notes")
        );
        assert_eq!(
            parse_errors::<SendSms>(json!({"contact_id": id, "body": "Hi\u{0}"})),
            nul("body")
        );
        assert_eq!(
            parse_errors::<MoveDealStage>(json!({"deal_id": id, "stage": "Won", "note": "\u{0}x"})),
            nul("note")
        );
        assert_eq!(
            parse_errors::<SetCallDisposition>(
                json!({"call_id": id, "disposition": "busy", "note": "x\u{0}"})
            ),
            nul("note")
        );
        assert_eq!(
            parse_errors::<RecordConsent>(json!({"contact_id": id, "channel": "sms",
                "status": "granted", "source": "web form", "note": "\u{0}"})),
            nul("note")
        );
    }
}
