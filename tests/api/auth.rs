//! Sign-in for people: session cookie, CSRF on cookie writes, lockout after failed attempts.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{TestApp, body, error_code};

#[tokio::test]
async fn session_cookie_works_and_writes_need_the_csrf_token() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = client
        .post(app.url("/api/v1/session"))
        .json(&json!({"email": t.admin.email, "password": "password-acme"}))
        .send()
        .await
        .unwrap();
    let set_cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    let (status, v) = body(r).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let csrf = v["csrf_token"].as_str().unwrap().to_string();
    assert_eq!(v["user"]["role"], "admin");

    let (status, me) = body(client.get(app.url("/api/v1/session")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user"]["email"], t.admin.email);

    let task = json!({"tool": "create_task", "args": {"title": "From the panel"}});
    let (status, v) = body(
        client
            .post(app.url("/api/v1/actions"))
            .json(&task)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(error_code(&v), "csrf_failed");
    let (status, v) = body(
        client
            .post(app.url("/api/v1/actions"))
            .header("X-CSRF-Token", "wrong")
            .json(&task)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    let (status, v) = body(
        client
            .post(app.url("/api/v1/actions"))
            .header("X-CSRF-Token", &csrf)
            .json(&task)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");

    let r = client
        .delete(app.url("/api/v1/session"))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = client.get(app.url("/api/v1/session")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn five_failed_sign_ins_lock_the_account() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let attempt = |password: &'static str| {
        app.client
            .post(app.url("/api/v1/session"))
            .json(&json!({"email": t.admin.email, "password": password}))
            .send()
    };
    for _ in 0..5 {
        let (status, v) = body(attempt("wrong").await.unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
        assert_eq!(error_code(&v), "invalid_credentials");
    }
    let (status, v) = body(attempt("password-acme").await.unwrap()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(error_code(&v), "locked_out");

    // After the lock passes, the right password works again.
    let mut owner = app.owner().await;
    sqlx::query(
        "UPDATE sign_in_throttle SET locked_until = now() - interval '1 second'
         WHERE email_key = sign_in_key($1)",
    )
    .bind(&t.admin.email)
    .execute(&mut owner)
    .await
    .unwrap();
    let (status, v) = body(attempt("password-acme").await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{v}");

    // Unknown emails get the same answer as wrong passwords.
    let r = app
        .client
        .post(app.url("/api/v1/session"))
        .json(&json!({"email": "nobody@acme.test", "password": "x"}))
        .send()
        .await
        .unwrap();
    let (status, v) = body(r).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&v), "invalid_credentials");
}
