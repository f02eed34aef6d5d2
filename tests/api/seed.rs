//! `seed-demo`: realistic data, idempotent, sign-ins that work.

use heimdell::seed::{SeedOptions, seed_demo};
use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{TestApp, body};

async fn count(app: &TestApp, tenant: uuid::Uuid, sql: &'static str) -> i64 {
    let mut tx = app.tenant_conn(tenant).await;
    sqlx::query_scalar(sql).fetch_one(&mut *tx).await.unwrap()
}

#[tokio::test]
async fn seed_demo_is_idempotent_and_its_sign_ins_work() {
    let app = TestApp::spawn().await;
    let first = seed_demo(&app.pool, &SeedOptions { extra_contacts: 50 })
        .await
        .unwrap();
    let json: Value = serde_json::to_value(&first).unwrap();
    // Exactly the documented shape.
    let tenant_keys: Vec<&String> = json["tenants"][0].as_object().unwrap().keys().collect();
    assert_eq!(tenant_keys, vec!["id", "name", "users"]);
    let user_keys: Vec<&String> = json["tenants"][0]["users"][0]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(user_keys, vec!["email", "role", "password", "token"]);
    assert_eq!(first.tenants.len(), 2);

    let mut before = Vec::new();
    for t in &first.tenants {
        let roles: Vec<&str> = t.users.iter().map(|u| u.role.as_str()).collect();
        assert_eq!(roles.iter().filter(|r| **r == "admin").count(), 1);
        assert_eq!(roles.iter().filter(|r| **r == "manager").count(), 1);
        assert_eq!(roles.iter().filter(|r| **r == "rep").count(), 2);
        let companies = count(&app, t.id, "SELECT count(*) FROM companies").await;
        let contacts = count(&app, t.id, "SELECT count(*) FROM contacts").await;
        let deals = count(&app, t.id, "SELECT count(*) FROM deals").await;
        let stages = count(&app, t.id, "SELECT count(*) FROM stages").await;
        let overdue = count(
            &app,
            t.id,
            "SELECT count(*) FROM tasks WHERE status = 'open' AND due_at < now()",
        )
        .await;
        let later = count(&app, t.id, "SELECT count(*) FROM tasks WHERE status = 'open' AND due_at > now() + interval '1 day'").await;
        let activities = count(&app, t.id, "SELECT count(*) FROM activities").await;
        assert!(companies >= 60, "{companies} companies");
        assert!(contacts >= 200, "{contacts} contacts");
        assert!(deals >= 30, "{deals} deals");
        assert_eq!(stages, 6);
        assert!(overdue > 0 && later > 0 && activities > 0);
        before.push((companies, contacts, deals, activities));
    }
    let extra = count(
        &app,
        first.tenants[0].id,
        "SELECT count(*) FROM contacts WHERE email LIKE '%@bench.acme.example'",
    )
    .await;
    assert_eq!(extra, 50);

    // A session from the first run's password, with a write that works.
    let old_session = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let signed_in = &first.tenants[0].users[0];
    let (status, v) = body(
        old_session
            .post(app.url("/api/v1/session"))
            .json(&serde_json::json!({"email": signed_in.email, "password": signed_in.password}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let csrf = v["csrf_token"].as_str().unwrap().to_string();
    let write = |c: &reqwest::Client| {
        c.post(app.url("/api/v1/actions"))
            .header("X-CSRF-Token", &csrf)
            .json(&serde_json::json!({"tool": "create_task", "args": {"title": "From the old session"}}))
            .send()
    };
    assert_eq!(
        write(&old_session).await.unwrap().status(),
        StatusCode::CREATED
    );

    let second = seed_demo(&app.pool, &SeedOptions { extra_contacts: 50 })
        .await
        .unwrap();
    // Rotating the passwords ended that session, writes included.
    assert_eq!(
        write(&old_session).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    for (t, b) in second.tenants.iter().zip(&before) {
        let after = (
            count(&app, t.id, "SELECT count(*) FROM companies").await,
            count(&app, t.id, "SELECT count(*) FROM contacts").await,
            count(&app, t.id, "SELECT count(*) FROM deals").await,
            count(&app, t.id, "SELECT count(*) FROM activities").await,
        );
        assert_eq!(&after, b, "a second run adds nothing");
    }
    assert_eq!(first.tenants[0].id, second.tenants[0].id);

    // The old token was revoked; the new one and the new password work.
    let old = &first.tenants[0].users[0];
    let new = &second.tenants[0].users[0];
    let r = app
        .client
        .get(app.url("/api/v1/contacts?limit=1"))
        .bearer_auth(&old.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .client
        .get(app.url("/api/v1/contacts?limit=1"))
        .bearer_auth(&new.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .client
        .post(app.url("/api/v1/session"))
        .json(&serde_json::json!({"email": new.email, "password": new.password}))
        .send()
        .await
        .unwrap();
    let (status, v) = body(r).await;
    assert_eq!(status, StatusCode::OK, "{v}");
}
