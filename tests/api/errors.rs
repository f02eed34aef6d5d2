//! Every error class has the one shape, the right status, and names the bad field.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{TestApp, body, error_code, error_fields};

#[tokio::test]
async fn invalid_arguments_name_each_field() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let (status, v) = app
        .propose(
            &t.rep,
            "create_task",
            json!({"due_at": "next tuesday", "colour": "red"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_code(&v), "invalid_arguments");
    let mut fields = error_fields(&v);
    fields.sort();
    assert_eq!(fields, vec!["colour", "due_at", "title"]);

    let (status, v) = app
        .propose(
            &t.rep,
            "create_contact",
            json!({"first_name": "Jane", "email": "jane@@acme", "phone": "call me"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let fields = error_fields(&v);
    assert!(
        fields.contains(&"email".to_string()) && fields.contains(&"phone".to_string()),
        "{v}"
    );

    let (status, v) = app.propose(&t.rep, "drop_everything", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_fields(&v), vec!["tool"]);

    let (status, v) = app
        .propose(
            &t.rep,
            "move_deal_stage",
            json!({"deal_id": "not-a-uuid", "stage": "Won"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_fields(&v), vec!["deal_id"]);
}

#[tokio::test]
async fn unauthenticated_requests_get_401() {
    let app = TestApp::spawn().await;
    let _ = app.tenant("Acme").await;
    let r = app
        .client
        .get(app.url("/api/v1/contacts"))
        .send()
        .await
        .unwrap();
    let (status, v) = body(r).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&v), "unauthorized");
    let r = app
        .client
        .get(app.url("/api/v1/contacts"))
        .bearer_auth("hmd_forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn malformed_bodies_get_422_and_unknown_routes_404() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let r = app
        .client
        .post(app.url("/api/v1/actions"))
        .bearer_auth(&t.rep.token)
        .header("content-type", "application/json")
        .body("{\"tool\": ")
        .send()
        .await
        .unwrap();
    let (status, v) = body(r).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(error_code(&v), "malformed_body");
    let (status, v) = app
        .post(&t.rep, "/api/v1/actions", json!({"tool": 5}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (status, v) = app.get(&t.rep, "/api/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&v), "not_found");
    let (status, v) = app.get(&t.rep, "/api/v1/contacts?limit=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, v) = app.get(&t.rep, "/api/v1/contacts?cursor=zzz").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_fields(&v), vec!["cursor"]);
}

#[tokio::test]
async fn version_conflicts_get_409() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let c = app
        .run(&t.rep, "create_contact", json!({"first_name": "Jane"}))
        .await;
    let id = c["contact"]["id"].as_str().unwrap();
    assert_eq!(c["contact"]["version"], 1);
    let ok = app
        .run(
            &t.rep,
            "update_contact",
            json!({"contact_id": id, "title": "CEO", "expected_version": 1}),
        )
        .await;
    assert_eq!(ok["contact"]["version"], 2);
    // One edit is one version step, however many fields (a consent flag included) it changes,
    // and each field keeps its own history line.
    let ok = app
        .run(
            &t.rep,
            "update_contact",
            json!({"contact_id": id, "title": "Founder", "last_name": "Doe", "email": "jane@doe.example",
                   "sms_opt_out": true, "expected_version": 2}),
        )
        .await;
    assert_eq!(ok["contact"]["version"], 3, "{ok}");
    assert_eq!(ok["contact"]["sms_opt_out"], true);
    assert_eq!(ok["contact"]["last_name"], "Doe");
    let mut tx = app.tenant_conn(t.id).await;
    let fields: Vec<String> = sqlx::query_scalar(
        "SELECT field FROM field_history WHERE entity_id = $1::uuid AND changed_at = (SELECT max(changed_at) FROM field_history) ORDER BY field",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(fields, ["email", "last_name", "sms_opt_out", "title"]);
    drop(tx);
    let ok = app
        .run(
            &t.rep,
            "update_contact",
            json!({"contact_id": id, "title": "CEO", "expected_version": 3}),
        )
        .await;
    assert_eq!(ok["contact"]["version"], 4);
    let (status, v) = app
        .post(&t.rep, "/api/v1/actions", json!({"tool": "update_contact", "args": {"contact_id": id, "title": "CFO", "expected_version": 3}, "approve": true}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(error_code(&v), "conflict");
    // Nothing half-applied: the title is still CEO and no pending action was left behind.
    let (_, c) = app.get(&t.rep, &format!("/api/v1/contacts/{id}")).await;
    assert_eq!(c["title"], "CEO");
    let (_, pending) = app.get(&t.rep, "/api/v1/actions?status=pending").await;
    assert_eq!(pending["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn health_and_metrics() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.url("/health")).send().await.unwrap();
    let (status, v) = body(r).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["database"], "ok");
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("heimdell_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/health\""), "{text}");
}
