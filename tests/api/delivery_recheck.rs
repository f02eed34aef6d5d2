//! The outbox worker checks a text or call again when it is about to go out, against the
//! contact as they are then: a number changed since approval means the saved one may be someone
//! else's, so nothing is sent to it.

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::fake_twilio::FakeTwilio;
use crate::harness::{Member, Tenant, TestApp};
use crate::outreach::{SID, TOKEN, connect, contact, count, set_user_phone};

const JANE: &str = "+14155552671";
const JANE_NEW: &str = "+14155550142";

/// Proposes `tool` with `args` as the rep and approves it; the approval must run.
async fn approve_now(app: &TestApp, rep: &Member, tool: &str, args: serde_json::Value) {
    let (status, p) = app.propose(rep, tool, args).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let (status, done) = app.approve(rep, p["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{done}");
}

fn text(jane: Uuid) -> serde_json::Value {
    json!({"contact_id": jane, "body": "Hi {first_name}"})
}

async fn renumber(app: &TestApp, t: &Tenant, jane: Uuid) {
    app.run(
        &t.rep,
        "update_contact",
        json!({"contact_id": jane, "phone": JANE_NEW}),
    )
    .await;
}

#[tokio::test]
async fn a_text_is_not_sent_to_a_number_the_contact_no_longer_has() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let app = TestApp::spawn_twilio(&fake.base_url).await;
    let t = app.tenant("Acme").await;
    connect(&app, &t, json!({})).await;
    let jane = contact(&app, &t.rep, "Jane", JANE, "America/Chicago").await;

    approve_now(&app, &t.rep, "send_sms", text(jane)).await;
    renumber(&app, &t, jane).await;
    let report = app.deliver().await;
    assert_eq!((report.sent, report.canceled), (0, 1), "{report:?}");
    assert!(fake.requests().is_empty());
    let why = count(
        &app,
        &t,
        "SELECT count(*) FROM outbox_jobs WHERE status = 'canceled' AND reason = 'number_changed'",
    )
    .await;
    assert_eq!(why, 1);

    // A text approved after the change goes to the new number.
    approve_now(&app, &t.rep, "send_sms", text(jane)).await;
    assert_eq!(app.deliver().await.sent, 1);
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].field("To"), Some(JANE_NEW));
}

#[tokio::test]
async fn a_call_is_not_placed_to_a_number_the_contact_no_longer_has() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let app = TestApp::spawn_twilio(&fake.base_url).await;
    let t = app.tenant("Acme").await;
    connect(&app, &t, json!({})).await;
    set_user_phone(&app, &t, t.rep.id, "+14155559999").await;
    let jane = contact(&app, &t.rep, "Jane", JANE, "America/Chicago").await;

    approve_now(&app, &t.rep, "start_call", json!({"contact_id": jane})).await;
    renumber(&app, &t, jane).await;
    let report = app.deliver().await;
    assert_eq!((report.sent, report.canceled), (0, 1), "{report:?}");
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn an_opt_out_being_recorded_while_the_worker_checks_the_text_wins() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let app = TestApp::spawn_twilio(&fake.base_url).await;
    let t = app.tenant("Acme").await;
    connect(&app, &t, json!({})).await;
    let jane = contact(&app, &t.rep, "Jane", JANE, "America/Chicago").await;
    approve_now(&app, &t.rep, "send_sms", text(jane)).await;

    // A STOP is being recorded: the contact row is changed but not yet committed.
    let mut stop = app.tenant_conn(t.id).await;
    sqlx::query("UPDATE contacts SET sms_opt_out = true, sms_opt_out_at = now() WHERE id = $1")
        .bind(jane)
        .execute(&mut *stop)
        .await
        .unwrap();
    let worker = app.worker.clone();
    let delivery = tokio::spawn(async move { worker.drain().await });

    // The worker must wait for that change rather than decide on the contact as it was.
    let mut owner = app.owner().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FOR SHARE%'",
        )
        .fetch_one(&mut owner)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(
            !delivery.is_finished(),
            "the worker decided without waiting for the opt-out being recorded"
        );
        assert!(std::time::Instant::now() < deadline, "the worker never ran");
        tokio::task::yield_now().await;
    }
    stop.commit().await.unwrap();
    let report = delivery.await.unwrap().unwrap();
    assert_eq!((report.sent, report.canceled), (0, 1), "{report:?}");
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn withdrawing_consent_cancels_what_is_still_waiting_whoever_records_it() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let app = TestApp::spawn_twilio(&fake.base_url).await;
    let t = app.tenant("Acme").await;
    connect(&app, &t, json!({})).await;
    set_user_phone(&app, &t, t.rep.id, "+14155559999").await;
    let jane = contact(&app, &t.rep, "Jane", JANE, "America/Chicago").await;
    approve_now(&app, &t.rep, "send_sms", text(jane)).await;
    approve_now(&app, &t.rep, "start_call", json!({"contact_id": jane})).await;

    // A rep records that Jane asked not to be texted: the text is canceled at once, the call
    // (another channel) still waits.
    app.run(
        &t.rep,
        "record_consent",
        json!({"contact_id": jane, "channel": "sms", "status": "withdrawn", "source": "phone call"}),
    )
    .await;
    let jobs = |sql: &'static str| count(&app, &t, sql);
    assert_eq!(
        jobs("SELECT count(*) FROM outbox_jobs WHERE kind = 'sms' AND status = 'canceled' AND reason = 'opted_out'").await,
        1
    );
    assert_eq!(
        jobs("SELECT count(*) FROM messages WHERE status = 'blocked'").await,
        1
    );
    assert_eq!(
        jobs("SELECT count(*) FROM outbox_jobs WHERE kind = 'call' AND status = 'pending'").await,
        1
    );
    // Do-not-call through a plain contact edit cancels the call the same way.
    app.run(
        &t.rep,
        "update_contact",
        json!({"contact_id": jane, "do_not_call": true}),
    )
    .await;
    assert_eq!(
        jobs("SELECT count(*) FROM outbox_jobs WHERE kind = 'call' AND status = 'canceled' AND reason = 'do_not_call'").await,
        1
    );
    assert_eq!(app.deliver().await.claimed, 0);
    assert!(fake.requests().is_empty());
}
