//! Tenant isolation lives in the database: row-level security hides other tenants' rows even
//! from a query with no tenant filter, and the app role cannot rewrite history.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{TestApp, error_code};

#[tokio::test]
async fn other_tenants_rows_are_invisible_even_without_a_filter() {
    let app = TestApp::spawn().await;
    let a = app.tenant("Acme").await;
    let b = app.tenant("Globex").await;
    app.run(
        &a.rep,
        "create_contact",
        json!({"first_name": "Alice", "last_name": "Acme"}),
    )
    .await;
    let bob = app
        .run(
            &b.rep,
            "create_contact",
            json!({"first_name": "Bob", "last_name": "Globex"}),
        )
        .await;
    let bob_id = bob["contact"]["id"].as_str().unwrap();

    let mut tx = app.tenant_conn(a.id).await;
    let names: Vec<String> = sqlx::query_scalar("SELECT first_name FROM contacts")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(names, vec!["Alice"]);
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(users, 4);
    // Writing a row for another tenant is refused by the policy's WITH CHECK.
    let err = sqlx::query("INSERT INTO contacts (tenant_id, first_name) VALUES ($1, 'Mallory')")
        .bind(b.id)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    drop(tx);

    // With no tenant set at all, nothing is visible.
    let mut conn = app.pool.acquire().await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(n, 0);

    // Through the API: another tenant's id is simply not found, never forbidden.
    let (status, v) = app.get(&a.rep, &format!("/api/v1/contacts/{bob_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(error_code(&v), "not_found");
    let (status, v) = app
        .propose(&a.rep, "get_contact", json!({"contact_id": bob_id}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    let (status, v) = app
        .propose(
            &a.manager,
            "update_contact",
            json!({"contact_id": bob_id, "title": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    let (_, found) = app.propose(&a.rep, "search", json!({"query": "bob"})).await;
    assert_eq!(found["result"]["results"], json!([]));

    // And an action id of another tenant is not found either.
    let (_, p) = app
        .propose(&b.rep, "create_task", json!({"title": "Globex only"}))
        .await;
    let (status, _) = app.approve(&a.admin, p["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_app_role_cannot_rewrite_audit_or_history_and_has_no_bypass() {
    let app = TestApp::spawn().await;
    let a = app.tenant("Acme").await;
    app.run(&a.rep, "create_task", json!({"title": "audited"}))
        .await;
    let mut tx = app.tenant_conn(a.id).await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert!(n >= 3);
    for sql in [
        "UPDATE audit_log SET reason = 'edited'",
        "DELETE FROM audit_log",
        "UPDATE field_history SET note = 'x'",
        "DELETE FROM field_history",
    ] {
        let mut sp = sqlx::Connection::begin(&mut *tx).await.unwrap();
        let err = sqlx::query(sql).execute(&mut *sp).await.unwrap_err();
        assert!(
            err.to_string().contains("permission denied"),
            "{sql}: {err}"
        );
        sp.rollback().await.unwrap();
    }
    let (bypass, superuser): (bool, bool) =
        sqlx::query_as("SELECT rolbypassrls, rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert!(!bypass && !superuser);
}
