//! Role × tool × outcome, through the real API with real data.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Member, Tenant, TestApp, error_code};

/// Data owned by the first rep, and a contact owned by nobody.
struct Fixture {
    rep_contact: String,
    unowned_contact: String,
    rep_deal: String,
    rep_task: String,
}

async fn fixture(app: &TestApp, t: &Tenant) -> Fixture {
    let c = app
        .run(
            &t.rep,
            "create_contact",
            json!({"first_name": "Owned", "last_name": "ByRep"}),
        )
        .await;
    let rep_contact = c["contact"]["id"].as_str().unwrap().to_string();
    let mut tx = app.tenant_conn(t.id).await;
    let unowned: uuid::Uuid =
        sqlx::query_scalar("INSERT INTO contacts (tenant_id, first_name, last_name) VALUES (app_tenant(), 'Nobody', 'Owns') RETURNING id")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    let d = app
        .run(
            &t.rep,
            "create_deal",
            json!({"name": "Rep deal", "contact_id": rep_contact}),
        )
        .await;
    let k = app
        .run(&t.rep, "create_task", json!({"title": "Rep task"}))
        .await;
    Fixture {
        rep_contact,
        unowned_contact: unowned.to_string(),
        rep_deal: d["deal"]["id"].as_str().unwrap().to_string(),
        rep_task: k["task"]["id"].as_str().unwrap().to_string(),
    }
}

/// Expected outcome of a proposal.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Read,
    Pending(&'static str),
    Denied,
}

async fn outcome(app: &TestApp, who: &Member, tool: &str, args: Value) -> Outcome {
    let (status, v) = app.propose(who, tool, args).await;
    match status {
        StatusCode::OK => Outcome::Read,
        StatusCode::CREATED => Outcome::Pending(match v["approver_role"].as_str().unwrap() {
            "self" => "self",
            "manager" => "manager",
            "admin" => "admin",
            other => panic!("unexpected approver {other}"),
        }),
        StatusCode::FORBIDDEN => {
            assert_eq!(error_code(&v), "policy_denied");
            assert!(!v["error"]["message"].as_str().unwrap().is_empty());
            Outcome::Denied
        }
        other => panic!("{tool} by {}: unexpected {other}: {v}", who.role),
    }
}

#[tokio::test]
async fn role_by_tool_matrix() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let f = fixture(&app, &t).await;
    use Outcome::*;
    // (tool, args, rep (owner), other rep, manager, admin)
    let table: Vec<(&str, Value, [Outcome; 4])> = vec![
        (
            "search",
            json!({"query": "owned"}),
            [Read, Read, Read, Read],
        ),
        (
            "get_contact",
            json!({"contact_id": f.rep_contact}),
            [Read, Read, Read, Read],
        ),
        (
            "list_tasks",
            json!({"scope": "me"}),
            [Read, Read, Read, Read],
        ),
        (
            "list_tasks",
            json!({"scope": "team"}),
            [Denied, Denied, Read, Read],
        ),
        (
            "daily_focus",
            json!({"scope": "team"}),
            [Denied, Denied, Read, Read],
        ),
        ("daily_focus", json!({}), [Read, Read, Read, Read]),
        ("create_task", json!({"title": "x"}), [Pending("self"); 4]),
        (
            "update_contact",
            json!({"contact_id": f.rep_contact, "title": "CTO"}),
            [Pending("self"), Denied, Pending("self"), Pending("self")],
        ),
        (
            "update_contact",
            json!({"contact_id": f.unowned_contact, "title": "CTO"}),
            [Pending("self"); 4],
        ),
        (
            "complete_task",
            json!({"task_id": f.rep_task}),
            [Pending("self"), Denied, Pending("self"), Pending("self")],
        ),
        (
            "move_deal_stage",
            json!({"deal_id": f.rep_deal, "stage": "Proposal"}),
            [Pending("self"), Denied, Pending("self"), Pending("self")],
        ),
        (
            "move_deal_stage",
            json!({"deal_id": f.rep_deal, "stage": "Won"}),
            [
                Pending("manager"),
                Denied,
                Pending("manager"),
                Pending("manager"),
            ],
        ),
        (
            "log_activity",
            json!({"kind": "note", "body": "hi", "contact_id": f.rep_contact}),
            [Pending("self"); 4],
        ),
    ];
    let members = [&t.rep, &t.rep2, &t.manager, &t.admin];
    for (tool, args, expected) in table {
        for (who, want) in members.iter().zip(expected) {
            let got = outcome(&app, who, tool, args.clone()).await;
            assert_eq!(got, want, "{tool} {args} by {} ({})", who.email, who.role);
        }
    }
}

#[tokio::test]
async fn won_needs_a_manager_and_the_reason_is_shown() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let f = fixture(&app, &t).await;
    let (_, p) = app
        .propose(
            &t.rep,
            "move_deal_stage",
            json!({"deal_id": f.rep_deal, "stage": "won", "reason_code": "budget_approved"}),
        )
        .await;
    let id = p["id"].as_str().unwrap();
    let (status, v) = app.approve(&t.rep, id).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("manager"),
        "{v}"
    );
    let (status, v) = app.approve(&t.manager, id).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["result"]["to_stage"], "Won");

    // The change is in the field history with its reason code.
    let mut tx = app.tenant_conn(t.id).await;
    let (reason, by): (Option<String>, uuid::Uuid) =
        sqlx::query_as("SELECT reason_code, changed_by FROM field_history WHERE entity_id = $1::uuid AND field = 'stage'")
            .bind(&f.rep_deal)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(reason.as_deref(), Some("budget_approved"));
    assert_eq!(by, t.rep.id, "history records the requester who asked");
}

#[tokio::test]
async fn policy_is_rechecked_at_approval_with_fresh_data() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let f = fixture(&app, &t).await;
    let (_, p) = app
        .propose(
            &t.rep,
            "update_contact",
            json!({"contact_id": f.unowned_contact, "title": "VP"}),
        )
        .await;
    assert_eq!(p["status"], "pending");
    // Meanwhile the contact is given to the other rep.
    app.run(
        &t.manager,
        "update_contact",
        json!({"contact_id": f.unowned_contact, "owner_id": t.rep2.id}),
    )
    .await;
    let (status, v) = app.approve(&t.rep, p["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(error_code(&v), "policy_denied");
}

#[tokio::test]
async fn tools_endpoint_lists_schemas_and_approval_tiers() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let (status, v) = app.get(&t.rep, "/api/v1/tools").await;
    assert_eq!(status, StatusCode::OK);
    let tools = v["tools"].as_array().unwrap();
    // Every tool but the admin-only connect_twilio.
    assert_eq!(tools.len(), 21);
    let (_, admin) = app.get(&t.admin, "/api/v1/tools").await;
    assert_eq!(admin["tools"].as_array().unwrap().len(), 22);
    let send = tools.iter().find(|x| x["name"] == "send_sms").unwrap();
    assert_eq!(send["kind"], "contact");
    assert_eq!(send["approval"], "self");
    let search = tools.iter().find(|x| x["name"] == "search").unwrap();
    assert_eq!(search["approval"], "none");
    assert_eq!(search["schema"]["additionalProperties"], false);
    let create = tools.iter().find(|x| x["name"] == "create_task").unwrap();
    assert_eq!(create["approval"], "self");
}
