//! What an outside probe found (issue 10), each pinned by a test that failed before its fix:
//! sign-in floods, NUL characters, slow clients, sessions that outlived their credentials, a
//! refused chat that left a thread behind, and errors outside the documented shape.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{TestApp, body, error_code, error_fields};

/// Reads what the server sends until it closes the connection (or 10 s pass: a failure).
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("the server closes the connection in time")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// The status and JSON body of a raw HTTP/1.1 response.
fn parse_raw(response: &str) -> (u16, Value, String) {
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("a whole response: {response:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head}"));
    let v = serde_json::from_str(body).unwrap_or_else(|_| panic!("a JSON body: {body:?}"));
    (status, v, head.to_ascii_lowercase())
}

fn host(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_string()
}

#[tokio::test]
async fn a_locked_account_and_an_unknown_email_answer_alike() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let attempt = |email: String, password: &'static str| {
        let req = app
            .client
            .post(app.url("/api/v1/session"))
            .json(&json!({"email": email, "password": password}));
        async move { req.send().await.unwrap() }
    };
    for email in [t.admin.email.clone(), "nobody@acme.test".to_string()] {
        for _ in 0..5 {
            let (status, v) = body(attempt(email.clone(), "wrong").await).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{email}: {v}");
        }
        let r = attempt(email.clone(), "password-acme").await;
        let retry = r.headers().get("retry-after").cloned();
        let (status, v) = body(r).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{email}: {v}");
        assert_eq!(error_code(&v), "locked_out", "{email}");
        let secs: u64 = retry.unwrap().to_str().unwrap().parse().unwrap();
        assert!((14 * 60..=15 * 60).contains(&secs), "{secs}");
    }
    // An email is the same email whatever its case and spaces.
    let (status, _) = body(attempt(format!(" {} ", t.admin.email.to_uppercase()), "x").await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn sign_ins_from_one_address_are_rate_limited() {
    let app = TestApp::spawn_configured(None, |c| c.http.sign_ins_per_minute = 3).await;
    let t = app.tenant("Acme").await;
    for i in 0..3 {
        let r = app
            .client
            .post(app.url("/api/v1/session"))
            .json(&json!({"email": format!("guess{i}@acme.test"), "password": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // The right password does not get through either: the address has used its attempts.
    let r = app
        .client
        .post(app.url("/api/v1/session"))
        .json(&json!({"email": t.admin.email, "password": "password-acme"}))
        .send()
        .await
        .unwrap();
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    let (status, v) = body(r).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(error_code(&v), "rate_limited");
}

/// A server with one password slot, a 1 ms queue and no per-address limit.
async fn one_password_slot() -> TestApp {
    TestApp::spawn_configured(None, |c| {
        c.http.sign_ins_per_minute = 0;
        c.http.password_slots = 1;
        c.http.password_queue = Duration::from_millis(1);
    })
    .await
}

/// `n` sign-ins sent at once, the i-th for `email(i)`.
async fn sign_ins_at_once(
    app: &TestApp,
    n: usize,
    email: impl Fn(usize) -> String,
    password: &str,
) -> Vec<reqwest::Response> {
    let attempts = (0..n).map(|i| {
        app.client
            .post(app.url("/api/v1/session"))
            .json(&json!({"email": email(i), "password": password}))
            .send()
    });
    futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn password_checks_beyond_the_cores_wait_briefly_then_get_429() {
    let app = one_password_slot().await;
    let _ = app.tenant("Acme").await;
    let mut statuses = Vec::new();
    for r in sign_ins_at_once(&app, 12, |i| format!("flood{i}@acme.test"), "x").await {
        let retry = r.headers().get("retry-after").is_some();
        let (status, v) = body(r).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(error_code(&v), "rate_limited");
            assert!(retry, "a 429 says when to retry");
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
        }
        statuses.push(status);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "12 checks at once on a bounded checker: some are refused ({statuses:?})"
    );
    assert!(statuses.contains(&StatusCode::UNAUTHORIZED), "{statuses:?}");
}

#[tokio::test]
async fn sign_ins_refused_as_busy_do_not_count_towards_the_lockout() {
    let app = one_password_slot().await;
    let t = app.tenant("Acme").await;
    let mut checked = 0;
    let mut busy = 0;
    for r in sign_ins_at_once(&app, 10, |_| t.admin.email.clone(), "wrong").await {
        match r.status() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => busy += 1,
            other => panic!("{other}"),
        }
    }
    assert!(busy > 0, "ten checks at once on one slot: some are refused");
    assert!(checked < 5, "{checked} checked");
    // Only the checked attempts counted: the right password still gets in.
    let (status, v) = body(
        app.client
            .post(app.url("/api/v1/session"))
            .json(&json!({"email": t.admin.email, "password": "password-acme"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_counts() {
    let app = TestApp::spawn_configured(None, |c| {
        c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.http.sign_ins_per_minute = 1;
    })
    .await;
    let _ = app.tenant("Acme").await;
    let metrics = |forwarded: Option<&'static str>| {
        let mut req = app.client.get(app.url("/metrics"));
        if let Some(f) = forwarded {
            req = req.header("x-forwarded-for", f);
        }
        req.send()
    };
    // A client on the internet, forwarded by the local proxy, is not a loopback client.
    let (status, v) = body(metrics(Some("203.0.113.5")).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(error_code(&v), "unauthorized");
    // The proxy's own request (or a scraper on the host) is.
    assert_eq!(metrics(None).await.unwrap().status(), StatusCode::OK);
    // Each forwarded client has its own sign-in allowance.
    let sign_in = |forwarded: &'static str| {
        app.client
            .post(app.url("/api/v1/session"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"email": "nobody@acme.test", "password": "x"}))
            .send()
    };
    assert_eq!(
        sign_in("203.0.113.5").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in("203.0.113.5").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        sign_in("198.51.100.7").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

/// Signs in with a cookie-keeping client; returns it and its CSRF token.
async fn signed_in(app: &TestApp, email: &str, password: &str) -> (reqwest::Client, String) {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let (status, v) = body(
        client
            .post(app.url("/api/v1/session"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    (client, v["csrf_token"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn sessions_end_when_the_password_changes_or_the_member_is_deactivated() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let whoami = |c: &reqwest::Client| c.get(app.url("/api/v1/session")).send();

    let (old, csrf) = signed_in(&app, &t.admin.email, "password-acme").await;
    assert_eq!(whoami(&old).await.unwrap().status(), StatusCode::OK);
    let mut owner = app.owner().await;
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(t.admin.id)
        .bind(heimdell_tools::identity::hash_password("a new one"))
        .execute(&mut owner)
        .await
        .unwrap();
    assert_eq!(
        whoami(&old).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // Writes too.
    let r = old
        .post(app.url("/api/v1/actions"))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"tool": "create_task", "args": {"title": "After the change"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The new password signs in.
    let (fresh, _) = signed_in(&app, &t.admin.email, "a new one").await;
    assert_eq!(whoami(&fresh).await.unwrap().status(), StatusCode::OK);

    // Another member's session is untouched by that; deactivating them ends it, and their token.
    let (rep_session, _) = {
        sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(t.rep.id)
            .bind(heimdell_tools::identity::hash_password("rep password"))
            .execute(&mut owner)
            .await
            .unwrap();
        signed_in(&app, &t.rep.email, "rep password").await
    };
    assert_eq!(whoami(&rep_session).await.unwrap().status(), StatusCode::OK);
    assert_eq!(whoami(&fresh).await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.get(&t.rep, "/api/v1/session").await.0, StatusCode::OK);
    sqlx::query("UPDATE users SET active = false WHERE id = $1")
        .bind(t.rep.id)
        .execute(&mut owner)
        .await
        .unwrap();
    assert_eq!(
        whoami(&rep_session).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get(&t.rep, "/api/v1/session").await.0,
        StatusCode::UNAUTHORIZED
    );
    // And they cannot sign in again.
    let (status, _) = body(
        app.client
            .post(app.url("/api/v1/session"))
            .json(&json!({"email": t.rep.email, "password": "rep password"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&fresh).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn nul_characters_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    for path in [
        "/api/v1/contacts?q=%00",
        "/api/v1/companies?q=a%00b",
        "/api/v1/deals?q=%00",
        "/api/v1/tasks?q=%00",
    ] {
        let (status, v) = app.get(&t.rep, path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert_eq!(error_code(&v), "invalid_arguments");
        assert_eq!(error_fields(&v), vec!["q"], "{path}");
    }
    let (status, v) = app
        .post(
            &t.rep,
            "/api/v1/chat",
            json!({"message": "hello\u{0}there"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_fields(&v), vec!["message"]);
    let (status, v) = app
        .propose(&t.rep, "create_task", json!({"title": "Call\u{0}Jane"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_fields(&v), vec!["args.title"]);
    let (status, v) = body(
        app.client
            .post(app.url("/api/v1/session"))
            .json(&json!({"email": "a\u{0}@acme.test", "password": "x"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_fields(&v), vec!["email"]);

    let (status, v) = app
        .propose(&t.rep, "create_task", json!({"title": "Call Jane"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let r = app
        .client
        .post(app.url(&format!("/api/v1/actions/{id}/reject")))
        .bearer_auth(&t.manager.token)
        .header("content-type", "application/json")
        .body(r#"{"reason": "no\u0000way"}"#)
        .send()
        .await
        .unwrap();
    let (status, v) = body(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_fields(&v), vec!["reason"]);
    // Nothing was decided.
    let (_, v) = app.get(&t.rep, &format!("/api/v1/actions/{id}")).await;
    assert_eq!(v["status"], "pending", "{v}");
}

#[tokio::test]
async fn a_chat_on_a_record_that_does_not_exist_leaves_no_thread() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let (status, v) = app
        .post(
            &t.rep,
            "/api/v1/chat",
            json!({"message": "what's new?", "context": {"contact_id": uuid::Uuid::now_v7()}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_fields(&v), vec!["context"]);
    let (_, threads) = app.get(&t.rep, "/api/v1/threads").await;
    assert_eq!(threads["items"], json!([]), "{threads}");
    // The next chat works.
    let (status, v) = app
        .post(
            &t.rep,
            "/api/v1/chat",
            json!({"message": "what should I do today?"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn slow_clients_are_answered_and_let_go() {
    let app = TestApp::spawn_configured(None, |c| {
        c.http.header_timeout = Duration::from_secs(1);
        c.http.body_timeout = Duration::from_secs(1);
    })
    .await;
    let addr = host(&app);

    // Half a header.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Ty")
        .await
        .unwrap();
    let (status, v, _) = parse_raw(&read_to_close(&mut s).await);
    assert_eq!(status, 408);
    assert_eq!(error_code(&v), "request_timeout");

    // A body shorter than its Content-Length.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(
        b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
    )
    .await
    .unwrap();
    let (status, v, head) = parse_raw(&read_to_close(&mut s).await);
    assert_eq!(status, 408, "{v}");
    assert_eq!(error_code(&v), "request_timeout");
    assert!(head.contains("connection: close"), "{head}");

    // A connection that says nothing is closed without an answer.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    assert_eq!(read_to_close(&mut s).await, "");

    // After a whole request, an idle keep-alive connection is closed too.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let all = read_to_close(&mut s).await;
    assert!(all.starts_with("HTTP/1.1 200"), "{all}");
    assert_eq!(all.matches("HTTP/1.1").count(), 1, "{all}");
}

#[tokio::test]
async fn connections_over_the_cap_get_503_in_the_error_shape() {
    let app = TestApp::spawn_configured(None, |c| c.http.max_connections = 2).await;
    let addr = host(&app);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        // A whole request and its answer: the server has accepted this connection.
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 200");
        held.push(s);
    }
    let mut third = TcpStream::connect(&addr).await.unwrap();
    let (status, v, head) = parse_raw(&read_to_close(&mut third).await);
    assert_eq!(status, 503);
    assert_eq!(error_code(&v), "overloaded");
    assert!(head.contains("retry-after: 1"), "{head}");
    // Once one closes, a new connection is served.
    drop(held.pop());
    let mut ok = None;
    for _ in 0..50 {
        let r = app.client.get(app.url("/health")).send().await.unwrap();
        if r.status() == StatusCode::OK {
            ok = Some(r);
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(ok.is_some(), "a freed slot is used again");
}

#[tokio::test]
async fn every_layer_answers_in_the_error_shape() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    // A body over the limit, with and without a Content-Length up front.
    let big = format!(r#"{{"message": "{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let r = app
        .client
        .post(app.url("/api/v1/chat"))
        .bearer_auth(&t.rep.token)
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let (status, v) = body(r).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&v), "payload_too_large");
    // Chunked, so no Content-Length warns the server up front.
    let mut s = TcpStream::connect(host(&app)).await.unwrap();
    let head = format!(
        "POST /api/v1/chat HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        t.rep.token
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for chunk in big.as_bytes().chunks(64 * 1024) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if s.write_all(&framed).await.is_err() {
            break; // the server answered and stopped reading
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let first = text
        .split("HTTP/1.1 ")
        .nth(1)
        .map(|r| format!("HTTP/1.1 {r}"))
        .unwrap_or_else(|| panic!("an answer: {text:?}"));
    let (status, v, _) = parse_raw(&first);
    assert_eq!(status, 413, "{v}");
    assert_eq!(error_code(&v), "payload_too_large");

    // A webhook with a repeated query parameter: the signature is checked first (none here).
    let r = app
        .client
        .post(app.url(&format!("/webhooks/twilio/{}/voice?call=a&call=b", t.id)))
        .form(&[("CallSid", "CA1")])
        .send()
        .await
        .unwrap();
    let (status, v) = body(r).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(error_code(&v), "invalid_signature");

    // A form body where JSON is expected, a bad query, an unknown route, a wrong method.
    let r = app
        .client
        .post(app.url("/api/v1/actions"))
        .bearer_auth(&t.rep.token)
        .form(&[("tool", "search")])
        .send()
        .await
        .unwrap();
    let (status, v) = body(r).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&v), "malformed_body");
    let (status, v) = app.get(&t.rep, "/api/v1/contacts?limit=many").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&v), "invalid_arguments");
    let (status, v) = app.get(&t.rep, "/api/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&v), "not_found");
    let r = app
        .client
        .delete(app.url("/api/v1/tools"))
        .bearer_auth(&t.rep.token)
        .send()
        .await
        .unwrap();
    let (status, v) = body(r).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(&v), "method_not_allowed");
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_configured() {
    let app = TestApp::spawn_configured(None, |c| {
        c.http.metrics_token = Some("scrape-secret".to_string().into());
    })
    .await;
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    let (status, v) = body(r).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&v), "unauthorized");
    let r = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("not-it")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("heimdell_process_resident_memory_bytes"),
        "{text}"
    );
}
