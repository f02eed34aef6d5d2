//! The tools, one module per area of the CRM, and [`standard`], the registry of all of them.

mod activities;
mod common;
mod companies;
mod contacts;
mod deals;
mod focus;
mod lookup;
mod search;
mod tasks;

pub use activities::LogActivity;
pub use companies::CreateCompany;
pub use contacts::{CreateContact, UpdateContact};
pub use deals::{CreateDeal, MoveDealStage};
pub use focus::DailyFocus;
pub use lookup::{GetCompany, GetContact, GetDeal};
pub use search::Search;
pub use tasks::{CompleteTask, CreateTask, ListTasks};

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
        .register::<MoveDealStage>();
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::ToolKind;

    #[test]
    fn every_schema_is_closed_and_described() {
        let r = standard();
        assert_eq!(r.iter().count(), 14);
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
