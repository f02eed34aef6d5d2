//! propose → approve / reject / expire, exactly once, audited.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{TestApp, error_code};

#[tokio::test]
async fn reads_run_at_once_and_writes_wait_for_approval() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;

    let (status, read) = app.propose(&t.rep, "list_tasks", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["status"], "executed");
    assert_eq!(read["result"]["tasks"], json!([]));

    let (status, pending) = app
        .propose(
            &t.rep,
            "create_task",
            json!({"title": "Call Jane", "due_at": "2030-01-02T15:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{pending}");
    assert_eq!(pending["status"], "pending");
    assert_eq!(pending["approver_role"], "self");
    assert_eq!(
        pending["can_approve"], true,
        "the requester may approve their own self-tier action"
    );
    assert_eq!(pending["tool"], "create_task");
    assert!(
        pending["preview"].as_str().unwrap().contains("Call Jane"),
        "{pending}"
    );

    // Nothing was written yet.
    let mut tx = app.tenant_conn(t.id).await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 0);
    drop(tx);

    let (status, listed) = app.get(&t.rep, "/api/v1/actions?status=pending").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["can_approve"], true);

    let id = pending["id"].as_str().unwrap();
    let (status, done) = app.approve(&t.rep, id).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "executed");
    assert_eq!(done["result"]["task"]["title"], "Call Jane");

    let mut tx = app.tenant_conn(t.id).await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT event FROM audit_log WHERE action_id = $1::uuid ORDER BY at, event",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(events, vec!["proposed", "approved", "executed"]);
    let (requester, approver): (Option<uuid::Uuid>, Option<uuid::Uuid>) =
        sqlx::query_as("SELECT requester_id, approver_id FROM audit_log WHERE action_id = $1::uuid AND event = 'executed'")
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(requester, Some(t.rep.id));
    assert_eq!(approver, Some(t.rep.id));

    // A second approval cannot run it again.
    let (status, again) = app.approve(&t.rep, id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(error_code(&again), "conflict");
}

#[tokio::test]
async fn approve_true_executes_at_once_for_a_caller_who_may_approve() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let result = app
        .run(
            &t.rep,
            "create_contact",
            json!({"first_name": "Jane", "last_name": "Cooper", "email": "jane@acme.com"}),
        )
        .await;
    assert_eq!(result["contact"]["email"], "jane@acme.com");

    // A rep cannot approve a manager-tier action at once: it stays pending instead.
    let contact_id = result["contact"]["id"].as_str().unwrap().to_string();
    let deal = app
        .run(
            &t.rep,
            "create_deal",
            json!({"name": "Acme renewal", "contact_id": contact_id, "value_minor": 1_250_000}),
        )
        .await;
    let deal_id = deal["deal"]["id"].as_str().unwrap();
    let (status, v) = app
        .post(&t.rep, "/api/v1/actions", json!({"tool": "move_deal_stage", "args": {"deal_id": deal_id, "stage": "Won"}, "approve": true}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "pending");
    assert_eq!(v["approver_role"], "manager");
}

#[tokio::test]
async fn rejected_and_expired_actions_never_run() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let (_, a) = app
        .propose(&t.rep, "create_task", json!({"title": "Rejected task"}))
        .await;
    let (_, b) = app
        .propose(&t.rep, "create_task", json!({"title": "Expired task"}))
        .await;
    let a_id = a["id"].as_str().unwrap();
    let b_id = b["id"].as_str().unwrap();

    // Another rep may neither reject nor approve it.
    let (status, v) = app
        .post(
            &t.rep2,
            &format!("/api/v1/actions/{a_id}/reject"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    let (status, v) = app
        .post(
            &t.manager,
            &format!("/api/v1/actions/{a_id}/reject"),
            json!({"reason": "not now"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "rejected");
    assert_eq!(v["reason"], "not now");
    let (status, v) = app.approve(&t.rep, a_id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");

    let mut owner = app.owner().await;
    sqlx::query(
        "UPDATE proposed_actions SET expires_at = now() - interval '1 minute' WHERE id = $1::uuid",
    )
    .bind(b_id)
    .execute(&mut owner)
    .await
    .unwrap();
    let (status, v) = app.approve(&t.rep, b_id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(error_code(&v), "action_expired");
    let (_, v) = app.get(&t.rep, &format!("/api/v1/actions/{b_id}")).await;
    assert_eq!(v["status"], "expired");

    let mut tx = app.tenant_conn(t.id).await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 0, "neither task may exist");
    let events: Vec<String> =
        sqlx::query_scalar("SELECT event FROM audit_log WHERE tool = 'create_task' ORDER BY at")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert!(
        events.contains(&"rejected".to_string()) && events.contains(&"expired".to_string()),
        "{events:?}"
    );
}

#[tokio::test]
async fn racing_approvers_run_an_action_exactly_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    for round in 0..5 {
        let (_, p) = app
            .propose(
                &t.rep,
                "create_task",
                json!({"title": format!("Race {round}")}),
            )
            .await;
        let id = p["id"].as_str().unwrap().to_string();
        let (a, b, c) = tokio::join!(
            app.approve(&t.rep, &id),
            app.approve(&t.manager, &id),
            app.approve(&t.admin, &id)
        );
        let statuses = [a.0, b.0, c.0];
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == StatusCode::CONFLICT)
                .count(),
            2,
            "{statuses:?}"
        );
    }
    let mut tx = app.tenant_conn(t.id).await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 5);
    let executed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE event = 'executed'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(executed, 5);
}

#[tokio::test]
async fn edited_arguments_are_revalidated_and_used() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let (_, p) = app
        .propose(&t.rep, "create_task", json!({"title": "Draft title"}))
        .await;
    let id = p["id"].as_str().unwrap();
    let url = app.url(&format!("/api/v1/actions/{id}/approve"));
    let bad = app
        .client
        .post(&url)
        .bearer_auth(&t.rep.token)
        .json(&json!({"args": {"title": ""}}))
        .send()
        .await
        .unwrap();
    let (status, v) = crate::harness::body(bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(crate::harness::error_fields(&v), vec!["title"]);
    let good = app
        .client
        .post(&url)
        .bearer_auth(&t.rep.token)
        .json(&json!({"args": {"title": "Final title"}}))
        .send()
        .await
        .unwrap();
    let (status, v) = crate::harness::body(good).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["result"]["task"]["title"], "Final title");
    assert_eq!(v["action"]["args"]["title"], "Final title");
}

#[tokio::test]
async fn idempotency_key_returns_the_same_action() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let send = || {
        app.client
            .post(app.url("/api/v1/actions"))
            .bearer_auth(&t.rep.token)
            .header("Idempotency-Key", "retry-123")
            .json(&json!({"tool": "create_task", "args": {"title": "Once"}}))
            .send()
    };
    let (s1, a) = crate::harness::body(send().await.unwrap()).await;
    let (s2, b) = crate::harness::body(send().await.unwrap()).await;
    assert_eq!(s1, StatusCode::CREATED);
    assert!(s2 == StatusCode::CREATED || s2 == StatusCode::OK);
    assert_eq!(a["id"], b["id"]);
}
