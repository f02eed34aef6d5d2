//! What the tools do to real data: search, timelines, tasks, stages, focus lists.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{Member, TestApp, error_code, error_fields};

#[tokio::test]
async fn contacts_are_validated_normalised_and_found_fuzzily() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let co = app
        .run(
            &t.rep,
            "create_company",
            json!({"name": "Acme Corporation", "domain": "acme.com"}),
        )
        .await;
    let co_id = co["company"]["id"].as_str().unwrap();
    let c = app
        .run(&t.rep, "create_contact", json!({"first_name": "Jane", "last_name": "Cooper", "email": " Jane.Cooper@ACME.com ", "phone": "(415) 555-2671", "company_id": co_id}))
        .await;
    assert_eq!(c["contact"]["email"], "Jane.Cooper@acme.com");
    assert_eq!(c["contact"]["phone"], "+14155552671");
    assert_eq!(c["contact"]["company_name"], "Acme Corporation");
    assert_eq!(c["contact"]["owner_id"], json!(t.rep.id));

    let (status, v) = app
        .propose(
            &t.rep,
            "create_contact",
            json!({"first_name": "Dup", "email": "jane.cooper@acme.com"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "proposal is fine; the duplicate is found when it runs: {v}"
    );
    let (status, v) = app.approve(&t.rep, v["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_fields(&v), vec!["email"]);

    for (query, expect) in [
        ("jane", "Jane Cooper"),
        ("Jane Coopr", "Jane Cooper"),
        ("415-555-2671", "Jane Cooper"),
        ("acme.com", "Acme Corporation"),
    ] {
        let (status, v) = app.propose(&t.rep, "search", json!({"query": query})).await;
        assert_eq!(status, StatusCode::OK);
        let titles: Vec<&str> = v["result"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["title"].as_str().unwrap())
            .collect();
        assert!(
            titles.contains(&expect),
            "{query:?} should find {expect}: {titles:?}"
        );
    }
}

#[tokio::test]
async fn activities_tasks_and_stage_moves_show_on_the_records() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let c = app
        .run(
            &t.rep,
            "create_contact",
            json!({"first_name": "Jane", "last_name": "Cooper"}),
        )
        .await;
    let cid = c["contact"]["id"].as_str().unwrap();
    let d = app
        .run(
            &t.rep,
            "create_deal",
            json!({"name": "Acme renewal", "contact_id": cid, "value_minor": 1250000}),
        )
        .await;
    let did = d["deal"]["id"].as_str().unwrap();
    app.run(
        &t.rep,
        "log_activity",
        json!({"kind": "call", "body": "She wants pricing", "contact_id": cid}),
    )
    .await;
    let k = app
        .run(
            &t.rep,
            "create_task",
            json!({"title": "Send pricing", "contact_id": cid, "deal_id": did}),
        )
        .await;
    let moved = app
        .run(
            &t.rep,
            "move_deal_stage",
            json!({"deal_id": did, "stage": "proposal", "note": "sent deck"}),
        )
        .await;
    assert_eq!(moved["from_stage"], "Lead");
    assert_eq!(moved["deal"]["stage_name"], "Proposal");
    assert_eq!(moved["deal"]["version"], 2);

    let (_, v) = app
        .propose(&t.rep, "get_contact", json!({"contact_id": cid}))
        .await;
    let r = &v["result"];
    assert_eq!(r["timeline"][0]["body"], "She wants pricing");
    assert_eq!(r["open_tasks"][0]["title"], "Send pricing");
    assert_eq!(r["deals"][0]["name"], "Acme renewal");

    let (_, v) = app
        .propose(&t.rep, "get_deal", json!({"deal_id": did}))
        .await;
    let r = &v["result"];
    assert_eq!(r["history"][0]["new_value"]["name"], "Proposal");
    assert_eq!(r["stages"].as_array().unwrap().len(), 6);
    assert!(
        r["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["subject"] == "Stage: Lead → Proposal")
    );

    let (status, v) = app
        .propose(
            &t.rep,
            "move_deal_stage",
            json!({"deal_id": did, "stage": "Signed"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Lead, Qualified"),
        "{v}"
    );

    let tid = k["task"]["id"].as_str().unwrap();
    let done = app
        .run(&t.rep, "complete_task", json!({"task_id": tid}))
        .await;
    assert_eq!(done["task"]["status"], "done");
    let (status, _) = app
        .propose(&t.rep, "complete_task", json!({"task_id": tid}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn daily_focus_lists_what_matters_today_with_reasons() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let now = Utc::now();
    app.run(
        &t.rep,
        "create_task",
        json!({"title": "Overdue call", "due_at": now - Duration::days(3)}),
    )
    .await;
    app.run(
        &t.rep,
        "create_task",
        json!({"title": "Later task", "due_at": now + Duration::days(10)}),
    )
    .await;
    app.run(
        &t.rep2,
        "create_task",
        json!({"title": "Someone else's", "due_at": now - Duration::days(1)}),
    )
    .await;
    let d = app
        .run(&t.rep, "create_deal", json!({"name": "Quiet deal"}))
        .await;
    let mut owner = app.owner().await;
    sqlx::query("UPDATE deals SET last_activity_at = now() - interval '30 days', created_at = now() - interval '40 days' WHERE id = $1::uuid")
        .bind(d["deal"]["id"].as_str().unwrap())
        .execute(&mut owner)
        .await
        .unwrap();

    let (status, v) = app.propose(&t.rep, "daily_focus", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let items = v["result"]["items"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> = items
        .iter()
        .map(|i| (i["kind"].as_str().unwrap(), i["title"].as_str().unwrap()))
        .collect();
    assert!(
        kinds.contains(&("task_overdue", "Overdue call")),
        "{kinds:?}"
    );
    assert!(kinds.contains(&("deal_stale", "Quiet deal")), "{kinds:?}");
    assert!(
        !kinds
            .iter()
            .any(|(_, t)| *t == "Later task" || *t == "Someone else's"),
        "{kinds:?}"
    );
    assert!(items.iter().all(|i| !i["why"].as_str().unwrap().is_empty()));

    let (_, team) = app
        .propose(&t.manager, "daily_focus", json!({"scope": "team"}))
        .await;
    let titles: Vec<&str> = team["result"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert!(
        titles.contains(&"Someone else's") && titles.contains(&"Overdue call"),
        "{titles:?}"
    );
}

#[tokio::test]
async fn won_and_lost_find_the_pipelines_own_closing_stages_and_still_need_a_manager() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let mut owner = app.owner().await;
    sqlx::query(
        "UPDATE stages SET name = CASE WHEN is_won THEN 'Closed Won' ELSE 'Closed Lost' END
         WHERE tenant_id = $1 AND (is_won OR is_lost)",
    )
    .bind(t.id)
    .execute(&mut owner)
    .await
    .unwrap();
    let d = app
        .run(&t.rep, "create_deal", json!({"name": "Acme renewal"}))
        .await;
    let did = d["deal"]["id"].as_str().unwrap();

    let (status, p) = app
        .propose(
            &t.rep,
            "move_deal_stage",
            json!({"deal_id": did, "stage": "won"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    assert_eq!(p["approver_role"], "manager", "{p}");
    assert_eq!(
        p["preview"],
        "Move deal “Acme renewal” from Lead to Closed Won"
    );
    let id = p["id"].as_str().unwrap();
    let (status, v) = app.approve(&t.rep, id).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a rep cannot close a deal: {v}"
    );
    let (status, v) = app.approve(&t.manager, id).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["result"]["to_stage"], "Closed Won");
    assert_eq!(v["result"]["deal"]["stage_name"], "Closed Won");
    assert!(!v["result"]["deal"]["closed_at"].is_null(), "{v}");

    let (status, p) = app
        .propose(
            &t.rep,
            "move_deal_stage",
            json!({"deal_id": did, "stage": "Lost"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    assert_eq!(p["approver_role"], "manager", "{p}");
    assert_eq!(
        p["preview"],
        "Move deal “Acme renewal” from Closed Won to Closed Lost"
    );
}

/// Proposes `args` and expects a 400 `invalid_arguments`; returns the error body.
async fn refused(app: &TestApp, who: &Member, tool: &str, args: Value) -> Value {
    let (status, v) = app.propose(who, tool, args.clone()).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{tool} {args} must be refused at proposal: {v}"
    );
    assert_eq!(error_code(&v), "invalid_arguments", "{v}");
    v
}

/// The (field, message) pairs of an error's details.
fn details(v: &Value) -> Vec<(String, String)> {
    v["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["field"].as_str().unwrap().to_string(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn pending_actions(app: &TestApp, tenant: Uuid) -> i64 {
    let mut tx = app.tenant_conn(tenant).await;
    sqlx::query_scalar("SELECT count(*) FROM proposed_actions WHERE status = 'pending'")
        .fetch_one(&mut *tx)
        .await
        .unwrap()
}

#[tokio::test]
async fn references_to_another_workspace_or_to_nothing_are_refused_at_proposal_alike() {
    let app = TestApp::spawn().await;
    let a = app.tenant("Acme").await;
    let b = app.tenant("Globex").await;
    let jane = app
        .run(&a.rep, "create_contact", json!({"first_name": "Jane"}))
        .await;
    let jane = jane["contact"]["id"].as_str().unwrap().to_string();
    let globex_co = app
        .run(&b.rep, "create_company", json!({"name": "Globex Corp"}))
        .await;
    let globex_co = globex_co["company"]["id"].as_str().unwrap().to_string();
    let globex_contact = app
        .run(&b.rep, "create_contact", json!({"first_name": "Hank"}))
        .await;
    let globex_contact = globex_contact["contact"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let globex_deal = app
        .run(&b.rep, "create_deal", json!({"name": "Globex deal"}))
        .await;
    let globex_deal = globex_deal["deal"]["id"].as_str().unwrap().to_string();
    let globex_rep = b.rep.id.to_string();
    let made_up = Uuid::now_v7().to_string();

    // (tool, the other arguments, the reference field, what it names, another workspace's id)
    let cases = [
        (
            "update_contact",
            json!({"contact_id": jane}),
            "company_id",
            "company",
            &globex_co,
        ),
        (
            "update_contact",
            json!({"contact_id": jane}),
            "owner_id",
            "user",
            &globex_rep,
        ),
        (
            "create_contact",
            json!({"first_name": "Ann"}),
            "company_id",
            "company",
            &globex_co,
        ),
        (
            "create_contact",
            json!({"first_name": "Ann"}),
            "owner_id",
            "user",
            &globex_rep,
        ),
        (
            "create_company",
            json!({"name": "Initech"}),
            "owner_id",
            "user",
            &globex_rep,
        ),
        (
            "create_deal",
            json!({"name": "Deal"}),
            "company_id",
            "company",
            &globex_co,
        ),
        (
            "create_deal",
            json!({"name": "Deal"}),
            "contact_id",
            "contact",
            &globex_contact,
        ),
        (
            "create_task",
            json!({"title": "Call"}),
            "deal_id",
            "deal",
            &globex_deal,
        ),
        (
            "log_activity",
            json!({"kind": "note", "body": "Hi"}),
            "company_id",
            "company",
            &globex_co,
        ),
    ];
    let with = |base: &Value, field: &str, id: &str| {
        let mut args = base.clone();
        args[field] = json!(id);
        args
    };
    for (tool, base, field, entity, foreign) in &cases {
        let theirs = refused(&app, &a.rep, tool, with(base, field, foreign)).await;
        assert_eq!(
            details(&theirs),
            vec![(field.to_string(), format!("no {entity} with that id"))],
            "{tool}: {theirs}"
        );
        assert!(
            !theirs.to_string().contains(foreign.as_str()),
            "{tool}: the answer must not repeat the id: {theirs}"
        );
        // Another workspace's id and a made-up one get the very same answer.
        let nobodys = refused(&app, &a.rep, tool, with(base, field, &made_up)).await;
        assert_eq!(theirs, nobodys, "{tool} {field}");
    }
    assert_eq!(pending_actions(&app, a.id).await, 0, "nothing was proposed");

    // A reference that exists is still fine.
    let acme_co = app
        .run(&a.rep, "create_company", json!({"name": "Acme Corp"}))
        .await;
    let acme_co = acme_co["company"]["id"].as_str().unwrap();
    let (status, p) = app
        .propose(
            &a.rep,
            "update_contact",
            json!({"contact_id": jane, "company_id": acme_co}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
}

#[tokio::test]
async fn a_deactivated_member_cannot_be_made_an_owner_or_assignee() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let jane = app
        .run(&t.rep, "create_contact", json!({"first_name": "Jane"}))
        .await;
    let jane = jane["contact"]["id"].as_str().unwrap().to_string();
    let rep2 = t.rep2.id.to_string();
    // Proposed while rep2 is still a member; approved after they are gone.
    let (status, waiting) = app
        .propose(
            &t.manager,
            "create_task",
            json!({"title": "Call Jane", "owner_id": rep2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{waiting}");
    let waiting = waiting["id"].as_str().unwrap().to_string();

    let mut owner = app.owner().await;
    sqlx::query("UPDATE users SET active = false WHERE id = $1")
        .bind(t.rep2.id)
        .execute(&mut owner)
        .await
        .unwrap();

    let made_up = Uuid::now_v7().to_string();
    let cases = [
        ("create_task", json!({"title": "Call"})),
        ("create_contact", json!({"first_name": "Ann"})),
        ("create_company", json!({"name": "Initech"})),
        ("create_deal", json!({"name": "Deal"})),
        ("update_contact", json!({"contact_id": jane})),
    ];
    for (tool, base) in &cases {
        let with = |id: &str| {
            let mut args = base.clone();
            args["owner_id"] = json!(id);
            args
        };
        let gone = refused(&app, &t.manager, tool, with(&rep2)).await;
        assert_eq!(
            details(&gone),
            vec![("owner_id".to_string(), "no user with that id".to_string())],
            "{tool}: {gone}"
        );
        // Exactly the answer an id nobody has gets.
        let nobodys = refused(&app, &t.manager, tool, with(&made_up)).await;
        assert_eq!(gone, nobodys, "{tool}");
    }
    assert_eq!(
        pending_actions(&app, t.id).await,
        1,
        "only the earlier proposal waits"
    );

    // The data is read again at approval: the earlier proposal now fails the same way.
    let (status, v) = app.approve(&t.manager, &waiting).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_code(&v), "invalid_arguments", "{v}");
    assert_eq!(
        details(&v),
        vec![("owner_id".to_string(), "no user with that id".to_string())],
        "{v}"
    );
    let mut tx = app.tenant_conn(t.id).await;
    let tasks: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(tasks, 0, "nothing was assigned to the deactivated member");
    drop(tx);

    // An active member is still fine.
    let (status, p) = app
        .propose(
            &t.manager,
            "create_task",
            json!({"title": "Call", "owner_id": t.rep.id}),
        )
        .await;
    assert!(
        status == StatusCode::CREATED || status == StatusCode::OK,
        "{status} {p}"
    );
}

#[tokio::test]
async fn names_that_could_pass_for_another_record_are_refused_with_the_field_and_reason() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let jane = app
        .run(
            &t.rep,
            "create_contact",
            json!({"first_name": "Jane", "last_name": "Cooper"}),
        )
        .await;
    let jane = jane["contact"]["id"].as_str().unwrap().to_string();
    let why =
        |c: &str| format!("must not contain control or invisible formatting characters ({c})");
    let cases = [
        (
            "create_contact",
            json!({"first_name": "Jane\u{202E}repooC", "last_name": "x"}),
            "first_name",
            "U+202E",
        ),
        (
            "create_contact",
            json!({"first_name": "Jane", "last_name": "Cooper\r\nJane Cooper (CEO)"}),
            "last_name",
            "U+000D",
        ),
        (
            "update_contact",
            json!({"contact_id": jane, "last_name": "Coo\u{200B}per"}),
            "last_name",
            "U+200B",
        ),
        (
            "update_contact",
            json!({"contact_id": jane, "first_name": "Ja\tne"}),
            "first_name",
            "U+0009",
        ),
        (
            "create_company",
            json!({"name": "\u{2067}Acme\u{2069}"}),
            "name",
            "U+2067",
        ),
        (
            "create_deal",
            json!({"name": "Acme\u{FEFF} renewal"}),
            "name",
            "U+FEFF",
        ),
        (
            "create_task",
            json!({"title": "Call Jane\nCall Bob"}),
            "title",
            "U+000A",
        ),
    ];
    for (tool, args, field, code) in cases {
        let v = refused(&app, &t.rep, tool, args).await;
        assert_eq!(details(&v), vec![(field.to_string(), why(code))], "{tool}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("{field}: {}", why(code))),
            "{tool}: {message}"
        );
    }
    // Free text keeps its line breaks but never a NUL, which Postgres could not store: a 400
    // naming the field (whichever layer sees it first), not a 500.
    for (tool, args, field) in [
        (
            "log_activity",
            json!({"kind": "note", "body": "Wants\u{0} pricing", "contact_id": jane}),
            "body",
        ),
        ("create_task", json!({"title": "Call\u{0} Jane"}), "title"),
    ] {
        let v = refused(&app, &t.rep, tool, args).await;
        let named = details(&v);
        assert!(
            named.len() == 1 && named[0].0.ends_with(field) && named[0].1.contains("U+0000"),
            "{tool}: {v}"
        );
    }
    let logged = app
        .run(
            &t.rep,
            "log_activity",
            json!({"kind": "note", "body": "Wants pricing:\n\t- 50 seats", "contact_id": jane}),
        )
        .await;
    assert!(logged["activity_id"].is_string(), "{logged}");
    assert_eq!(pending_actions(&app, t.id).await, 0);
    // Ordinary names of any script still go through.
    let c = app
        .run(
            &t.rep,
            "create_contact",
            json!({"first_name": "Zoë", "last_name": "Ñúñez-O'Brien 李"}),
        )
        .await;
    assert_eq!(c["contact"]["last_name"], "Ñúñez-O'Brien 李", "{c}");
}
