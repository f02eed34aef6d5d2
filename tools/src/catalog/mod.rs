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
}
