//! Texting and calling tools through the actions pipeline: connect_twilio (admin-only, token
//! sealed), consent facts denied at proposal and at approval, templates, quiet hours, calls,
//! dispositions and consent history. Delivery itself (outbox, fake Twilio, webhooks) is in
//! `twilio.rs`.

use chrono::{Timelike, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{Member, Tenant, TestApp, error_code, error_fields};

pub const SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "test-auth-token-0123456789";
pub const OUR_NUMBER: &str = "+14155552000";

/// Connects Twilio for the tenant as its admin, with quiet hours switched off (equal start and
/// end) unless `extra` says otherwise, so tests do not depend on the time of day.
pub async fn connect(app: &TestApp, t: &Tenant, extra: Value) -> Value {
    let mut args = json!({
        "account_sid": SID,
        "auth_token": TOKEN,
        "numbers": [OUR_NUMBER],
        "quiet_hours_start": "00:00",
        "quiet_hours_end": "00:00",
    });
    if let (Some(a), Some(e)) = (args.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            a.insert(k.clone(), v.clone());
        }
    }
    app.run(&t.admin, "connect_twilio", args).await
}

/// A contact owned by `owner` with a phone number and time zone.
pub async fn contact(app: &TestApp, owner: &Member, first: &str, phone: &str, tz: &str) -> Uuid {
    let r = app
        .run(
            owner,
            "create_contact",
            json!({"first_name": first, "last_name": "Cooper", "phone": phone, "timezone": tz}),
        )
        .await;
    r["contact"]["id"].as_str().unwrap().parse().unwrap()
}

/// Sets a user's own phone (the number a bridged call rings first).
pub async fn set_user_phone(app: &TestApp, t: &Tenant, user: Uuid, phone: &str) {
    let mut tx = app.tenant_conn(t.id).await;
    sqlx::query("UPDATE users SET phone = $2 WHERE id = $1")
        .bind(user)
        .bind(phone)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

pub async fn count(app: &TestApp, t: &Tenant, sql: &str) -> i64 {
    let mut tx = app.tenant_conn(t.id).await;
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&mut *tx)
        .await
        .unwrap()
}

#[tokio::test]
async fn connect_twilio_is_admin_only_and_the_token_is_never_stored_or_shown_in_clear() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;

    for who in [&t.rep, &t.manager] {
        let (status, v) = app
            .propose(
                who,
                "connect_twilio",
                json!({"account_sid": SID, "auth_token": TOKEN, "numbers": [OUR_NUMBER]}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
        assert_eq!(error_code(&v), "policy_denied");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Only an admin"),
            "{v}"
        );
    }
    // Reps do not even see it offered.
    let (_, tools) = app.get(&t.rep, "/api/v1/tools").await;
    assert!(!tools.to_string().contains("connect_twilio"));
    let (_, tools) = app.get(&t.admin, "/api/v1/tools").await;
    assert!(tools.to_string().contains("connect_twilio"));

    // Bad numbers are named.
    let (status, v) = app
        .propose(
            &t.admin,
            "connect_twilio",
            json!({"account_sid": SID, "auth_token": TOKEN, "numbers": ["555-1234", OUR_NUMBER]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_fields(&v), ["numbers.0"]);

    // Proposed (pending): the stored action shows the token redacted.
    let (status, pending) = app
        .propose(
            &t.admin,
            "connect_twilio",
            json!({"account_sid": SID, "auth_token": TOKEN, "numbers": [OUR_NUMBER],
                   "recording_enabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{pending}");
    assert_eq!(pending["approver_role"], "admin");
    assert_eq!(pending["args"]["auth_token"], "[encrypted]");
    assert!(!pending.to_string().contains(TOKEN));
    let id = pending["id"].as_str().unwrap();
    let (status, done) = app.approve(&t.admin, id).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["result"]["connected"], true);
    assert_eq!(done["result"]["recording_enabled"], true);
    assert_eq!(
        done["result"]["quiet_hours"],
        json!({"start": "21:00", "end": "08:00"})
    );
    assert!(!done.to_string().contains(TOKEN), "{done}");
    let (_, got) = app.get(&t.admin, &format!("/api/v1/actions/{id}")).await;
    assert_eq!(got["args"]["auth_token"], "[encrypted]");

    // Nowhere in the database is the token in clear: not the account, the action or the audit.
    let mut owner = app.owner().await;
    let leaks: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM twilio_accounts WHERE auth_token_sealed LIKE '%' || $1 || '%')
              + (SELECT count(*) FROM proposed_actions WHERE args::text LIKE '%' || $1 || '%'
                                                        OR coalesce(result::text, '') LIKE '%' || $1 || '%')
              + (SELECT count(*) FROM audit_log WHERE coalesce(args::text, '') LIKE '%' || $1 || '%'
                                                 OR coalesce(result::text, '') LIKE '%' || $1 || '%')",
    )
    .bind(TOKEN)
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert_eq!(leaks, 0);
    let sealed: String = sqlx::query_scalar("SELECT auth_token_sealed FROM twilio_accounts")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert!(sealed.starts_with("sealed:v1:"), "{sealed}");

    // An approver who edits other arguments and leaves the token as shown keeps the stored
    // one; a sealed value that is not the stored one is refused.
    let (_, pending) = app
        .propose(
            &t.admin,
            "connect_twilio",
            json!({"account_sid": SID, "auth_token": TOKEN, "numbers": [OUR_NUMBER]}),
        )
        .await;
    let id = pending["id"].as_str().unwrap();
    let stored: String =
        sqlx::query_scalar("SELECT args->>'auth_token' FROM proposed_actions WHERE id = $1::uuid")
            .bind(id)
            .fetch_one(&mut owner)
            .await
            .unwrap();
    let path = format!("/api/v1/actions/{id}/approve");
    let approve = |args: serde_json::Value| app.post(&t.admin, &path, json!({ "args": args }));
    let (status, v) = approve(json!({"account_sid": SID, "auth_token": "sealed:v1:forged",
                                     "numbers": [OUR_NUMBER]}))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_fields(&v), ["auth_token"]);
    let (status, v) = approve(json!({"account_sid": SID, "auth_token": "[encrypted]",
                                     "numbers": [OUR_NUMBER], "recording_enabled": false}))
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["result"]["recording_enabled"], false);
    let sealed: String = sqlx::query_scalar("SELECT auth_token_sealed FROM twilio_accounts")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert_eq!(sealed, stored);

    // Reconnecting keeps settings not given again.
    let again = connect(&app, &t, json!({})).await;
    assert_eq!(again["recording_enabled"], false);
    assert_eq!(
        again["quiet_hours"],
        json!({"start": "00:00", "end": "00:00"})
    );
}

#[tokio::test]
async fn texts_are_refused_for_opted_out_anonymised_or_numberless_contacts() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let jane = contact(&app, &t.rep, "Jane", "+14155552671", "America/Chicago").await;

    // Not connected yet: a clear conflict.
    let (status, v) = app
        .propose(
            &t.rep,
            "send_sms",
            json!({"contact_id": jane, "body": "Hi"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("connect_twilio")
    );

    connect(&app, &t, json!({})).await;
    let (status, v) = app
        .propose(
            &t.rep,
            "send_sms",
            json!({"contact_id": jane, "body": "Hi {first_name}"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["approver_role"], "self");
    assert!(v["preview"].as_str().unwrap().contains("Hi Jane"), "{v}");

    // Opted out (recorded as consent history), anonymised, no valid number: each refused with
    // the policy's own words, and nothing is stored but the audit entry.
    let cases: [(&str, &str); 3] = [
        (
            "UPDATE contacts SET sms_opt_out = true WHERE id = $1",
            "opted out of text messages",
        ),
        (
            "UPDATE contacts SET sms_opt_out = false, anonymised = true WHERE id = $1",
            "anonymised",
        ),
        (
            "UPDATE contacts SET anonymised = false, phone = '555-0100' WHERE id = $1",
            "E.164",
        ),
    ];
    for (sql, reason) in cases {
        let mut tx = app.tenant_conn(t.id).await;
        sqlx::query(sql).bind(jane).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        let before = count(&app, &t, "SELECT count(*) FROM proposed_actions").await;
        let (status, v) = app
            .propose(
                &t.rep,
                "send_sms",
                json!({"contact_id": jane, "body": "Hi"}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{reason}: {v}");
        assert_eq!(error_code(&v), "policy_denied");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(reason),
            "{v}"
        );
        assert_eq!(
            count(&app, &t, "SELECT count(*) FROM proposed_actions").await,
            before
        );
    }
    let denied = count(
        &app,
        &t,
        "SELECT count(*) FROM audit_log WHERE event = 'denied' AND tool = 'send_sms'",
    )
    .await;
    assert_eq!(denied, 3);

    // A rep may not text someone else's contact.
    let bob = contact(&app, &t.rep2, "Bob", "+14155552672", "America/Chicago").await;
    let (status, v) = app
        .propose(&t.rep, "send_sms", json!({"contact_id": bob, "body": "Hi"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
}

#[tokio::test]
async fn an_opt_out_between_proposal_and_approval_blocks_the_send() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    connect(&app, &t, json!({})).await;
    let jane = contact(&app, &t.rep, "Jane", "+14155552671", "America/Chicago").await;
    let (status, pending) = app
        .propose(
            &t.rep,
            "send_sms",
            json!({"contact_id": jane, "body": "Running late"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{pending}");

    // She tells the rep on the phone: no more texts.
    app.run(
        &t.rep,
        "record_consent",
        json!({"contact_id": jane, "channel": "sms", "status": "withdrawn", "source": "phone call"}),
    )
    .await;

    let (status, v) = app.approve(&t.rep, pending["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("opted out"),
        "{v}"
    );
    assert_eq!(count(&app, &t, "SELECT count(*) FROM outbox_jobs").await, 0);
    assert_eq!(count(&app, &t, "SELECT count(*) FROM messages").await, 0);
    let (_, a) = app
        .get(
            &t.rep,
            &format!("/api/v1/actions/{}", pending["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        a["status"], "pending",
        "the denied approval leaves it pending: {a}"
    );
}

#[tokio::test]
async fn an_approved_text_goes_to_the_outbox_with_its_message_and_timeline_entry() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    connect(&app, &t, json!({})).await;
    let jane = contact(&app, &t.rep, "Jane", "+14155552671", "America/Chicago").await;
    let (_, pending) = app
        .propose(
            &t.rep,
            "send_sms",
            json!({"contact_id": jane, "body": "Hi {first_name}, running late"}),
        )
        .await;
    let id = pending["id"].as_str().unwrap();
    let (status, done) = app.approve(&t.rep, id).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let r = &done["result"];
    assert_eq!(r["status"], "queued", "{r}");
    assert_eq!(r["body"], "Hi Jane, running late");
    assert_eq!(r["to"], "+14155552671");
    assert_eq!(r["from"], OUR_NUMBER);
    assert!(r["wait_reason"].is_null());

    let mut tx = app.tenant_conn(t.id).await;
    let (kind, key, status, message_status, activity): (String, String, String, String, String) =
        sqlx::query_as(
            "SELECT j.kind, j.idempotency_key, j.status, m.status, a.subject
             FROM outbox_jobs j JOIN messages m ON m.id = j.message_id
             JOIN activities a ON a.id = m.activity_id",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        (kind.as_str(), status.as_str(), message_status.as_str()),
        ("sms", "pending", "pending")
    );
    assert_eq!(key, format!("sms:{id}"));
    assert_eq!(activity, "Text to Jane Cooper — queued");
}

#[tokio::test]
async fn templates_fill_fields_from_the_record_and_unknown_fields_are_errors() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    connect(&app, &t, json!({})).await;
    let jane = contact(&app, &t.rep, "Jane", "+14155552671", "America/Chicago").await;

    let (status, v) = app
        .propose(
            &t.rep,
            "create_sms_template",
            json!({"name": "Late", "body": "Hi {nickname}"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_fields(&v), ["body"]);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("{nickname}"),
        "{v}"
    );

    let created = app
        .run(
            &t.rep,
            "create_sms_template",
            json!({"name": "Late", "body": "Hi {first_name}, {sender_name} here: running late."}),
        )
        .await;
    let template = created["template"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        created["template"]["fields"],
        json!(["first_name", "sender_name"])
    );
    let (status, v) = app
        .propose(
            &t.rep,
            "create_sms_template",
            json!({"name": "late", "body": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_fields(&v), ["name"]);

    let (status, listed) = app.propose(&t.rep, "list_sms_templates", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["result"]["templates"][0]["name"], "Late");

    let (status, draft) = app
        .propose(
            &t.rep,
            "draft_sms",
            json!({"contact_id": jane, "template_id": template}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{draft}");
    assert_eq!(
        draft["result"]["body"],
        "Hi Jane, rep1 Acme here: running late."
    );
    assert_eq!(draft["result"]["segments"], 1);
    assert_eq!(draft["result"]["can_send"], true);

    // A field the record has no value for is an error, not a blank.
    let (status, v) = app
        .propose(
            &t.rep,
            "send_sms",
            json!({"contact_id": jane, "body": "Hi {company} team"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_fields(&v), ["body"]);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no company"),
        "{v}"
    );
    let (status, v) = app
        .propose(
            &t.rep,
            "send_sms",
            json!({"contact_id": jane, "template_id": Uuid::now_v7()}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_fields(&v), ["template_id"]);
    let (status, v) = app
        .propose(&t.rep, "send_sms", json!({"contact_id": jane}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");

    let (_, pending) = app
        .propose(
            &t.rep,
            "send_sms",
            json!({"contact_id": jane, "template_id": template}),
        )
        .await;
    let (status, done) = app.approve(&t.rep, pending["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        done["result"]["body"],
        "Hi Jane, rep1 Acme here: running late."
    );
}

/// Hour `h` today as `HH:00`, wrapping around midnight.
fn hour(h: i64) -> String {
    format!("{:02}:00", h.rem_euclid(24))
}

#[tokio::test]
async fn a_text_approved_in_quiet_hours_is_scheduled_for_the_next_allowed_time() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    // Quiet hours around the current hour (contact in UTC), whatever time the test runs.
    let now = Utc::now();
    let h = i64::from(now.hour());
    connect(
        &app,
        &t,
        json!({"quiet_hours_start": hour(h - 1), "quiet_hours_end": hour(h + 2)}),
    )
    .await;
    let jane = contact(&app, &t.rep, "Jane", "+14155552671", "UTC").await;
    let (_, pending) = app
        .propose(
            &t.rep,
            "send_sms",
            json!({"contact_id": jane, "body": "Good morning"}),
        )
        .await;
    assert!(
        pending["preview"].as_str().unwrap().contains("quiet hours"),
        "{pending}"
    );
    let (status, done) = app.approve(&t.rep, pending["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let r = &done["result"];
    assert_eq!(r["status"], "scheduled", "{r}");
    assert_eq!(r["wait_reason"], "quiet_hours");
    let send_at: chrono::DateTime<Utc> = r["send_at"].as_str().unwrap().parse().unwrap();
    let mut expected = now
        .date_naive()
        .and_hms_opt(((h + 2).rem_euclid(24)) as u32, 0, 0)
        .unwrap()
        .and_utc();
    if expected <= now {
        expected += chrono::Duration::days(1);
    }
    assert_eq!(send_at, expected, "{r}");
    assert!(r["note"].as_str().unwrap().contains("quiet hours"), "{r}");
    let mut tx = app.tenant_conn(t.id).await;
    let (not_before, reason): (chrono::DateTime<Utc>, Option<String>) =
        sqlx::query_as("SELECT not_before, reason FROM outbox_jobs")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(not_before, expected);
    assert_eq!(reason.as_deref(), Some("quiet_hours"));

    // Calls are not scheduled: one in quiet hours is refused with the reason.
    set_user_phone(&app, &t, t.rep.id, "+14155559999").await;
    let (status, v) = app
        .propose(&t.rep, "start_call", json!({"contact_id": jane}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("quiet hours"),
        "{v}"
    );
}

#[tokio::test]
async fn calls_need_the_reps_phone_respect_do_not_call_and_take_a_disposition() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    connect(&app, &t, json!({})).await;
    let jane = contact(&app, &t.rep, "Jane", "+14155552671", "America/Chicago").await;

    let (status, v) = app
        .propose(&t.rep, "start_call", json!({"contact_id": jane}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("phone"),
        "{v}"
    );

    set_user_phone(&app, &t, t.rep.id, "+14155559999").await;
    let (status, pending) = app
        .propose(&t.rep, "start_call", json!({"contact_id": jane}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{pending}");
    assert!(
        pending["preview"]
            .as_str()
            .unwrap()
            .contains("+14155559999"),
        "{pending}"
    );
    let (status, done) = app.approve(&t.rep, pending["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let call_id = done["result"]["call_id"].as_str().unwrap().to_string();
    assert_eq!(done["result"]["status"], "queued");
    assert_eq!(
        count(
            &app,
            &t,
            "SELECT count(*) FROM outbox_jobs WHERE kind = 'call'"
        )
        .await,
        1
    );

    // The rep records how it went; the timeline shows it.
    let r = app
        .run(
            &t.rep,
            "set_call_disposition",
            json!({"call_id": call_id, "disposition": "left_voicemail", "note": "Call back Monday"}),
        )
        .await;
    assert_eq!(r["disposition"], "left_voicemail");
    let mut tx = app.tenant_conn(t.id).await;
    let (subject, body): (String, Option<String>) =
        sqlx::query_as("SELECT subject, body FROM activities WHERE kind = 'call'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert!(subject.ends_with("— left voicemail"), "{subject}");
    assert_eq!(
        body.as_deref(),
        Some("Outcome: left voicemail. Call back Monday")
    );
    drop(tx);
    // Another rep may not set the outcome of this rep's call.
    let (status, _) = app
        .propose(
            &t.rep2,
            "set_call_disposition",
            json!({"call_id": call_id, "disposition": "busy"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Do not call: refused.
    app.run(
        &t.rep,
        "record_consent",
        json!({"contact_id": jane, "channel": "call", "status": "withdrawn", "source": "email"}),
    )
    .await;
    let (status, v) = app
        .propose(&t.rep, "start_call", json!({"contact_id": jane}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("asked not to be called"),
        "{v}"
    );
}

#[tokio::test]
async fn consent_is_kept_as_history_and_the_latest_record_wins() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let jane = contact(&app, &t.rep, "Jane", "+14155552671", "America/Chicago").await;
    let r = app
        .run(
            &t.rep,
            "record_consent",
            json!({"contact_id": jane, "channel": "sms", "status": "withdrawn",
                   "source": "phone call", "lawful_basis": "consent", "note": "asked for email instead"}),
        )
        .await;
    assert_eq!(r["contact"]["sms_opt_out"], true);
    assert_eq!(r["changed"], true);
    let r = app
        .run(
            &t.rep,
            "record_consent",
            json!({"contact_id": jane, "channel": "sms", "status": "granted", "source": "web form"}),
        )
        .await;
    assert_eq!(r["contact"]["sms_opt_out"], false);
    let history: Vec<Value> = r["history"].as_array().unwrap().clone();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["status"], "granted");
    assert_eq!(history[1]["status"], "withdrawn");
    assert_eq!(history[1]["lawful_basis"], "consent");
    let (status, v) = app
        .propose(
            &t.rep,
            "record_consent",
            json!({"contact_id": jane, "channel": "fax", "status": "granted", "source": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_fields(&v), ["channel"]);
    // Another rep may record a withdrawal for Jane (it protects her), not a grant.
    let (status, _) = app
        .propose(
            &t.rep2,
            "record_consent",
            json!({"contact_id": jane, "channel": "call", "status": "withdrawn", "source": "email"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .propose(
            &t.rep2,
            "record_consent",
            json!({"contact_id": jane, "channel": "call", "status": "granted", "source": "email"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The history is append-only for the app role.
    let mut tx = app.tenant_conn(t.id).await;
    let err = sqlx::query("DELETE FROM consent_events")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
}
