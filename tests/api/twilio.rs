//! Twilio end to end against a fake Twilio on 127.0.0.1 that speaks Twilio's wire format:
//! delivery from the durable outbox (once, with the action's idempotency key, retried with
//! backoff, dead-lettered), status callbacks, inbound texts and STOP/START/HELP, the call
//! bridge's TwiML, signature checks, duplicate deliveries, limits, and a crash between approval
//! and delivery.
//!
//! No test sleeps blindly: they run the worker themselves ([`TestApp::deliver`]) or wait on
//! the fake's request log and the database with a deadline.

use std::time::{Duration, Instant};

use heimdell_adapters::twilio::{IDEMPOTENCY_HEADER, expected_signature};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fake_twilio::{FakeTwilio, Scripted};
use crate::harness::{Tenant, TestApp, WorkerMode, error_code};
use crate::outreach::{OUR_NUMBER, SID, TOKEN, connect, contact, count, set_user_phone};

const JANE: &str = "+14155552671";
const REP_PHONE: &str = "+14155559999";

/// Waits until `check` holds, polling every 10 ms; fails after `limit`.
async fn wait_until<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn form(params: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    let owned = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (s.finish(), owned)
}

/// Posts a webhook as Twilio would, signed with `token` over this server's public URL.
async fn webhook_signed(
    app: &TestApp,
    path_and_query: &str,
    params: &[(&str, &str)],
    token: Option<&str>,
) -> (StatusCode, String) {
    let (body, owned) = form(params);
    let url = app.url(path_and_query);
    let mut req = app
        .client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(token) = token {
        req = req.header(
            "X-Twilio-Signature",
            expected_signature(token, &url, &owned),
        );
    }
    let r = req.send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn webhook(
    app: &TestApp,
    t: &Tenant,
    kind: &str,
    params: &[(&str, &str)],
) -> (StatusCode, String) {
    webhook_signed(
        app,
        &format!("/webhooks/twilio/{}/{kind}", t.id),
        params,
        Some(TOKEN),
    )
    .await
}

async fn inbound(app: &TestApp, t: &Tenant, sid: &str, from: &str, body: &str) -> StatusCode {
    let (status, text) = webhook(
        app,
        t,
        "sms",
        &[
            ("MessageSid", sid),
            ("AccountSid", SID),
            ("From", from),
            ("To", OUR_NUMBER),
            ("Body", body),
        ],
    )
    .await;
    if status == StatusCode::OK {
        assert!(text.contains("<Response/>"), "{text}");
    }
    status
}

async fn sms_status(
    app: &TestApp,
    t: &Tenant,
    sid: &str,
    status: &str,
    error: Option<&str>,
) -> StatusCode {
    let mut params = vec![
        ("MessageSid", sid),
        ("AccountSid", SID),
        ("MessageStatus", status),
    ];
    if let Some(e) = error {
        params.push(("ErrorCode", e));
    }
    webhook(app, t, "sms-status", &params).await.0
}

/// Proposes and approves a text as the rep; returns the action id and the approval's result.
async fn send(app: &TestApp, t: &Tenant, contact_id: Uuid, body: &str) -> (String, Value) {
    let (status, p) = app
        .propose(
            &t.rep,
            "send_sms",
            json!({"contact_id": contact_id, "body": body}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let id = p["id"].as_str().unwrap().to_string();
    let (status, done) = app.approve(&t.rep, &id).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    (id, done["result"].clone())
}

async fn one<
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
>(
    app: &TestApp,
    t: &Tenant,
    sql: &str,
) -> T {
    let mut tx = app.tenant_conn(t.id).await;
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&mut *tx)
        .await
        .unwrap()
}

struct Setup {
    fake: FakeTwilio,
    app: TestApp,
    t: Tenant,
    jane: Uuid,
}

async fn setup(extra: Value) -> Setup {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let app = TestApp::spawn_twilio(&fake.base_url).await;
    let t = app.tenant("Acme").await;
    connect(&app, &t, extra).await;
    let jane = contact(&app, &t.rep, "Jane", JANE, "America/Chicago").await;
    Setup { fake, app, t, jane }
}

#[tokio::test]
async fn an_approved_text_is_sent_once_and_its_status_callbacks_land_on_the_timeline() {
    let Setup { fake, app, t, jane } = setup(json!({})).await;
    let (action, result) = send(&app, &t, jane, "Hi {first_name}, running late").await;
    assert_eq!(result["status"], "queued");
    assert!(
        fake.requests().is_empty(),
        "nothing goes out before the worker runs"
    );

    let report = app.deliver().await;
    assert_eq!(report.sent, 1, "{report:?}");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.path, format!("/2010-04-01/Accounts/{SID}/Messages.json"));
    assert_eq!(r.field("To"), Some(JANE));
    assert_eq!(r.field("From"), Some(OUR_NUMBER));
    assert_eq!(r.field("Body"), Some("Hi Jane, running late"));
    let callback = format!("{}/webhooks/twilio/{}/sms-status", app.base, t.id);
    assert_eq!(r.field("StatusCallback"), Some(callback.as_str()));
    assert_eq!(
        r.header(IDEMPOTENCY_HEADER),
        Some(format!("sms:{action}").as_str())
    );

    let sid: String = one(&app, &t, "SELECT provider_sid FROM messages").await;
    assert!(sid.starts_with("SM"), "{sid}");
    let status: String = one(&app, &t, "SELECT status FROM messages").await;
    assert_eq!(status, "queued");
    let job: String = one(&app, &t, "SELECT status FROM outbox_jobs").await;
    assert_eq!(job, "done");

    // queued → sent → delivered, each recorded on the message and shown on the timeline.
    assert_eq!(
        sms_status(&app, &t, &sid, "sent", None).await,
        StatusCode::NO_CONTENT
    );
    let subject: String = one(
        &app,
        &t,
        "SELECT subject FROM activities WHERE kind = 'sms'",
    )
    .await;
    assert_eq!(subject, "Text to Jane Cooper — sent");
    assert_eq!(
        sms_status(&app, &t, &sid, "delivered", None).await,
        StatusCode::NO_CONTENT
    );
    let subject: String = one(
        &app,
        &t,
        "SELECT subject FROM activities WHERE kind = 'sms'",
    )
    .await;
    assert_eq!(subject, "Text to Jane Cooper — delivered");
    let history: i64 = one(
        &app,
        &t,
        "SELECT jsonb_array_length(status_history)::int8 FROM messages",
    )
    .await;

    // Twilio retries a callback: the repeat changes nothing.
    assert_eq!(
        sms_status(&app, &t, &sid, "delivered", None).await,
        StatusCode::NO_CONTENT
    );
    let again: i64 = one(
        &app,
        &t,
        "SELECT jsonb_array_length(status_history)::int8 FROM messages",
    )
    .await;
    assert_eq!(again, history);

    // The worker never sends it again.
    let report = app.deliver().await;
    assert_eq!(report.claimed, 0);
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn failed_undelivered_and_late_callbacks_are_recorded_without_going_backwards() {
    let Setup { fake, app, t, jane } = setup(json!({})).await;
    for body in ["one", "two", "three"] {
        send(&app, &t, jane, body).await;
    }
    assert_eq!(app.deliver().await.sent, 3);
    assert_eq!(fake.requests().len(), 3);
    let mut tx = app.tenant_conn(t.id).await;
    let sids: Vec<String> = sqlx::query_scalar(
        "SELECT provider_sid FROM messages ORDER BY body = 'one' DESC, body = 'two' DESC",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    drop(tx);

    assert_eq!(
        sms_status(&app, &t, &sids[0], "sent", None).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        sms_status(&app, &t, &sids[0], "failed", Some("30003")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        sms_status(&app, &t, &sids[1], "delivered", None).await,
        StatusCode::NO_CONTENT
    );
    // A late "sent" after "delivered" is kept in the history but does not undo the delivery.
    assert_eq!(
        sms_status(&app, &t, &sids[1], "sent", None).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        sms_status(&app, &t, &sids[2], "undelivered", Some("30005")).await,
        StatusCode::NO_CONTENT
    );
    // A status for a message that is not ours is accepted and ignored.
    assert_eq!(
        sms_status(&app, &t, "SMnotours", "delivered", None).await,
        StatusCode::NO_CONTENT
    );

    let mut tx = app.tenant_conn(t.id).await;
    let rows: Vec<(String, String, Option<i32>, i32)> = sqlx::query_as(
        "SELECT body, status, error_code, jsonb_array_length(status_history) FROM messages ORDER BY body",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(
        rows,
        [
            ("one".into(), "failed".into(), Some(30003), 3),
            ("three".into(), "undelivered".into(), Some(30005), 2),
            ("two".into(), "delivered".into(), None, 3),
        ]
    );
    let subjects: Vec<String> =
        sqlx::query_scalar("SELECT subject FROM activities WHERE kind = 'sms' ORDER BY body")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(
        subjects,
        [
            "Text to Jane Cooper — failed",
            "Text to Jane Cooper — undelivered",
            "Text to Jane Cooper — delivered"
        ]
    );
}

#[tokio::test]
async fn inbound_texts_land_on_the_contacts_timeline_and_unknown_senders_are_kept_for_admins() {
    let Setup { app, t, jane, .. } = setup(json!({})).await;
    assert_eq!(
        inbound(&app, &t, "SMin1", JANE, "Running late too, see you at 3").await,
        StatusCode::OK
    );
    // Twilio delivers it again: still one message, one timeline entry.
    assert_eq!(
        inbound(&app, &t, "SMin1", JANE, "Running late too, see you at 3").await,
        StatusCode::OK
    );
    assert_eq!(count(&app, &t, "SELECT count(*) FROM messages").await, 1);
    let (_, c) = app
        .propose(&t.rep, "get_contact", json!({"contact_id": jane}))
        .await;
    let timeline = c["result"]["timeline"].to_string();
    assert!(timeline.contains("Text from Jane Cooper"), "{c}");
    assert!(timeline.contains("see you at 3"), "{c}");

    assert_eq!(
        inbound(&app, &t, "SMin2", "+14155550123", "Who is this?").await,
        StatusCode::OK
    );
    let (status, listed) = app
        .get(&t.admin, "/api/v1/integrations/twilio/inbound")
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["from"], "+14155550123");
    assert_eq!(items[0]["body"], "Who is this?");
    let (status, v) = app.get(&t.rep, "/api/v1/integrations/twilio/inbound").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
}

#[tokio::test]
async fn stop_opts_out_at_once_cancels_waiting_texts_and_start_opts_back_in() {
    let Setup { fake, app, t, jane } = setup(json!({})).await;
    send(&app, &t, jane, "See you soon").await; // approved, not yet delivered

    assert_eq!(
        inbound(&app, &t, "SMstop", JANE, " Stop. ").await,
        StatusCode::OK
    );
    let (_, c) = app.get(&t.rep, &format!("/api/v1/contacts/{jane}")).await;
    assert_eq!(c["sms_opt_out"], true, "{c}");
    let (source, recorded_by, status): (String, Option<Uuid>, String) = {
        let mut tx = app.tenant_conn(t.id).await;
        sqlx::query_as("SELECT source, recorded_by, status FROM consent_events")
            .fetch_one(&mut *tx)
            .await
            .unwrap()
    };
    assert_eq!(
        (source.as_str(), recorded_by, status.as_str()),
        ("inbound_sms", None, "withdrawn")
    );
    let job: String = one(&app, &t, "SELECT status FROM outbox_jobs").await;
    assert_eq!(job, "canceled");
    app.deliver().await;
    assert!(fake.requests().is_empty(), "the waiting text was not sent");
    let (status, v) = app
        .propose(
            &t.rep,
            "send_sms",
            json!({"contact_id": jane, "body": "Hello?"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");

    // HELP is logged, consent unchanged.
    assert_eq!(
        inbound(&app, &t, "SMhelp", JANE, "HELP").await,
        StatusCode::OK
    );
    let keyword: String = one(
        &app,
        &t,
        "SELECT keyword FROM messages WHERE provider_sid = 'SMhelp'",
    )
    .await;
    assert_eq!(keyword, "help");
    assert_eq!(
        count(&app, &t, "SELECT count(*) FROM consent_events").await,
        1
    );

    // "Stop please" is an ordinary message; UNSTOP opts back in.
    assert_eq!(
        inbound(&app, &t, "SMnot", JANE, "stop please, I mean wait").await,
        StatusCode::OK
    );
    assert_eq!(
        count(&app, &t, "SELECT count(*) FROM consent_events").await,
        1
    );
    assert_eq!(
        inbound(&app, &t, "SMstart", JANE, "unstop").await,
        StatusCode::OK
    );
    let (_, c) = app.get(&t.rep, &format!("/api/v1/contacts/{jane}")).await;
    assert_eq!(c["sms_opt_out"], false, "{c}");
    assert_eq!(
        count(&app, &t, "SELECT count(*) FROM consent_events").await,
        2
    );
    let (status, _) = app
        .propose(
            &t.rep,
            "send_sms",
            json!({"contact_id": jane, "body": "Welcome back"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_stop_between_proposal_and_approval_blocks_the_send() {
    let Setup { fake, app, t, jane } = setup(json!({})).await;
    let (_, p) = app
        .propose(
            &t.rep,
            "send_sms",
            json!({"contact_id": jane, "body": "Running late"}),
        )
        .await;
    assert_eq!(
        inbound(&app, &t, "SMstop", JANE, "STOP").await,
        StatusCode::OK
    );
    let (status, v) = app.approve(&t.rep, p["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(error_code(&v), "policy_denied");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("opted out"),
        "{v}"
    );
    app.deliver().await;
    assert!(fake.requests().is_empty());
    assert_eq!(count(&app, &t, "SELECT count(*) FROM outbox_jobs").await, 0);
}

#[tokio::test]
async fn forged_stale_or_missing_signatures_get_403_and_change_nothing() {
    let Setup { app, t, jane, .. } = setup(json!({})).await;
    let sms = [
        ("MessageSid", "SMx"),
        ("AccountSid", SID),
        ("From", JANE),
        ("To", OUR_NUMBER),
        ("Body", "STOP"),
    ];
    let path = format!("/webhooks/twilio/{}/sms", t.id);
    for kind in ["sms", "sms-status", "voice", "call-status"] {
        let p = format!("/webhooks/twilio/{}/{kind}", t.id);
        let (status, _) = webhook_signed(&app, &p, &sms, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{kind} without a signature");
        let (status, _) = webhook_signed(&app, &p, &sms, Some("not-the-token")).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{kind} signed with the wrong token"
        );
    }
    // Signed for one body, sent with another.
    let (_, owned) = form(&sms);
    let sig = expected_signature(TOKEN, &app.url(&path), &owned);
    let (tampered, _) = form(&[
        ("MessageSid", "SMx"),
        ("AccountSid", SID),
        ("From", JANE),
        ("To", OUR_NUMBER),
        ("Body", "START"),
    ]);
    let r = app
        .client
        .post(app.url(&path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", sig.clone())
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "tampered body");
    // Signed for another tenant's URL, or sent to a tenant that does not exist.
    let other = app.tenant("Globex").await;
    let (status, _) = webhook_signed(
        &app,
        &format!("/webhooks/twilio/{}/sms", other.id),
        &sms,
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a tenant without Twilio");
    let (status, _) = webhook_signed(
        &app,
        &format!("/webhooks/twilio/{}/sms", Uuid::now_v7()),
        &sms,
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "unknown tenant");
    let (status, _) =
        webhook_signed(&app, "/webhooks/twilio/not-a-uuid/sms", &sms, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no tenant at all");

    // Stale: after the token is rotated, a signature made with the old one is refused.
    connect(&app, &t, json!({"auth_token": "rotated-token-9876543210"})).await;
    let (status, _) = webhook_signed(&app, &path, &sms, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "old token after rotation");

    // None of it changed anything.
    assert_eq!(count(&app, &t, "SELECT count(*) FROM messages").await, 0);
    assert_eq!(
        count(&app, &t, "SELECT count(*) FROM webhook_deliveries").await,
        0
    );
    assert_eq!(
        count(&app, &t, "SELECT count(*) FROM consent_events").await,
        0
    );
    let (_, c) = app.get(&t.rep, &format!("/api/v1/contacts/{jane}")).await;
    assert_eq!(c["sms_opt_out"], false);

    // The same request signed with the current token goes through.
    let (status, _) = webhook_signed(&app, &path, &sms, Some("rotated-token-9876543210")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, c) = app.get(&t.rep, &format!("/api/v1/contacts/{jane}")).await;
    assert_eq!(c["sms_opt_out"], true);
}

/// A webhook correctly signed with this tenant's auth token but naming another Twilio account
/// (`AccountSid`) is refused: the signature alone does not make it this account's.
#[tokio::test]
async fn a_signed_webhook_for_another_account_gets_403_and_writes_nothing() {
    let Setup { app, t, .. } = setup(json!({})).await;
    // Something already on the timeline, so "unchanged" is not just "still empty".
    assert_eq!(
        inbound(&app, &t, "SMfirst", JANE, "Hello").await,
        StatusCode::OK
    );
    let messages = "SELECT count(*) FROM messages";
    let deliveries = "SELECT count(*) FROM webhook_deliveries";
    let (messages_before, deliveries_before) = (
        count(&app, &t, messages).await,
        count(&app, &t, deliveries).await,
    );
    assert_eq!(messages_before, 1);

    let other_account = "AC99999999999999999999999999999999";
    assert_ne!(other_account, SID);
    let sms = |account| {
        [
            ("MessageSid", "SMother"),
            ("AccountSid", account),
            ("From", JANE),
            ("To", OUR_NUMBER),
            ("Body", "Call me back"),
        ]
    };
    let (status, text) = webhook(&app, &t, "sms", &sms(other_account)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(error_code(&body), "invalid_signature", "{text}");
    assert_eq!(count(&app, &t, messages).await, messages_before);
    assert_eq!(count(&app, &t, deliveries).await, deliveries_before);

    // The same delivery naming this tenant's account is accepted and recorded.
    let (status, text) = webhook(&app, &t, "sms", &sms(SID)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(count(&app, &t, messages).await, messages_before + 1);
}

#[tokio::test]
async fn a_call_rings_the_rep_first_then_the_twiml_connects_the_contact() {
    let Setup { fake, app, t, jane } = setup(json!({})).await;
    set_user_phone(&app, &t, t.rep.id, REP_PHONE).await;
    let (status, p) = app
        .propose(&t.rep, "start_call", json!({"contact_id": jane}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let action = p["id"].as_str().unwrap().to_string();
    let (status, done) = app.approve(&t.rep, &action).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let call_id = done["result"]["call_id"].as_str().unwrap().to_string();

    assert_eq!(app.deliver().await.sent, 1);
    let requests = fake.requests();
    let r = &requests[0];
    assert_eq!(r.path, format!("/2010-04-01/Accounts/{SID}/Calls.json"));
    assert_eq!(r.field("To"), Some(REP_PHONE), "Twilio rings the rep first");
    assert_eq!(r.field("From"), Some(OUR_NUMBER));
    let voice = format!("{}/webhooks/twilio/{}/voice?call={call_id}", app.base, t.id);
    assert_eq!(r.field("Url"), Some(voice.as_str()));
    assert_eq!(r.field("Method"), Some("POST"));
    let callback = format!("{}/webhooks/twilio/{}/call-status", app.base, t.id);
    assert_eq!(r.field("StatusCallback"), Some(callback.as_str()));
    assert_eq!(
        r.fields("StatusCallbackEvent"),
        ["initiated", "ringing", "answered", "completed"]
    );
    assert_eq!(
        r.field("Record"),
        None,
        "recording is off unless the tenant enables it"
    );
    assert_eq!(
        r.header(IDEMPOTENCY_HEADER),
        Some(format!("call:{action}").as_str())
    );
    let call_sid: String = one(&app, &t, "SELECT provider_sid FROM calls").await;

    // The rep answers: the TwiML connects Jane, showing our number, with no recording.
    let query = format!("/webhooks/twilio/{}/voice?call={call_id}", t.id);
    let answered = [
        ("CallSid", call_sid.as_str()),
        ("AccountSid", SID),
        ("From", OUR_NUMBER),
        ("To", REP_PHONE),
        ("CallStatus", "in-progress"),
    ];
    let (status, xml) = webhook_signed(&app, &query, &answered, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    assert!(
        xml.contains(&format!(
            "<Dial callerId=\"{OUR_NUMBER}\"><Number>{JANE}</Number></Dial>"
        )),
        "{xml}"
    );
    assert!(!xml.contains("<Say>") && !xml.contains("record="), "{xml}");
    // The signature covers the query string: another call id is refused.
    let forged = format!("/webhooks/twilio/{}/voice?call={}", t.id, Uuid::now_v7());
    let (_, owned) = form(&answered);
    let r = app
        .client
        .post(app.url(&forged))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "X-Twilio-Signature",
            expected_signature(TOKEN, &app.url(&query), &owned),
        )
        .body(form(&answered).0)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Progress, out of order and repeated; the call ends completed after 125 seconds.
    for (status, seq, duration) in [
        ("ringing", "1", None),
        ("in-progress", "2", None),
        ("completed", "4", Some("125")),
        ("ringing", "1", None),
        ("in-progress", "3", None),
    ] {
        let mut params = vec![
            ("CallSid", call_sid.as_str()),
            ("AccountSid", SID),
            ("CallStatus", status),
            ("SequenceNumber", seq),
        ];
        if let Some(d) = duration {
            params.push(("CallDuration", d));
        }
        let (code, _) = webhook(&app, &t, "call-status", &params).await;
        assert_eq!(code, StatusCode::NO_CONTENT);
    }
    let (status, duration): (String, Option<i32>) = {
        let mut tx = app.tenant_conn(t.id).await;
        sqlx::query_as("SELECT status, duration_seconds FROM calls")
            .fetch_one(&mut *tx)
            .await
            .unwrap()
    };
    assert_eq!((status.as_str(), duration), ("completed", Some(125)));
    app.run(
        &t.rep,
        "set_call_disposition",
        json!({"call_id": call_id, "disposition": "meeting_booked"}),
    )
    .await;
    let subject: String = one(
        &app,
        &t,
        "SELECT subject FROM activities WHERE kind = 'call'",
    )
    .await;
    assert_eq!(
        subject,
        "Call with Jane Cooper — completed, 2m 05s — meeting booked"
    );

    // With recording on, the bridge says the consent notice first and records from the answer.
    connect(
        &app,
        &t,
        json!({"recording_enabled": true, "consent_notice": "This call is recorded."}),
    )
    .await;
    let (_, p) = app
        .propose(&t.rep, "start_call", json!({"contact_id": jane}))
        .await;
    let (_, done) = app.approve(&t.rep, p["id"].as_str().unwrap()).await;
    let second = done["result"]["call_id"].as_str().unwrap().to_string();
    let query = format!("/webhooks/twilio/{}/voice?call={second}", t.id);
    let (_, xml) = webhook_signed(&app, &query, &answered, Some(TOKEN)).await;
    assert!(
        xml.contains("<Say>This call is recorded.</Say><Dial callerId=\"+14155552000\" record=\"record-from-answer-dual\">"),
        "{xml}"
    );
    // Jane asks not to be called before the rep answers: she is not connected.
    app.run(
        &t.rep,
        "record_consent",
        json!({"contact_id": jane, "channel": "call", "status": "withdrawn", "source": "email"}),
    )
    .await;
    let (_, xml) = webhook_signed(&app, &query, &answered, Some(TOKEN)).await;
    assert!(xml.contains("<Hangup/>") && !xml.contains("<Dial"), "{xml}");
    // And the queued call was dropped when the withdrawal was recorded, never placed.
    let dropped: i64 = one(
        &app,
        &t,
        "SELECT count(*) FROM outbox_jobs WHERE kind = 'call' AND status = 'canceled' AND reason = 'do_not_call'",
    )
    .await;
    assert_eq!(dropped, 1);
    let report = app.deliver().await;
    assert_eq!(report.claimed, 0, "{report:?}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_5xx_from_twilio_is_retried_with_the_same_key_and_repeated_failures_are_dead_lettered() {
    let Setup { fake, app, t, jane } = setup(json!({})).await;
    fake.fail_next(1, 503);
    let (action, _) = send(&app, &t, jane, "First try fails").await;
    let report = app.deliver().await;
    assert_eq!(report.retried, 1, "{report:?}");
    let (status, attempts, error): (String, i32, Option<String>) = {
        let mut tx = app.tenant_conn(t.id).await;
        sqlx::query_as("SELECT status, attempts, last_error FROM outbox_jobs")
            .fetch_one(&mut *tx)
            .await
            .unwrap()
    };
    assert_eq!((status.as_str(), attempts), ("pending", 1));
    assert!(error.unwrap().contains("503"));
    // Backed off briefly, then sent.
    wait_until(Duration::from_secs(5), "the retry", || async {
        app.deliver().await;
        fake.requests().len() >= 2
    })
    .await;
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let key = format!("sms:{action}");
    assert!(
        requests
            .iter()
            .all(|r| r.header(IDEMPOTENCY_HEADER) == Some(key.as_str()))
    );
    let (status, attempts): (String, i32) = {
        let mut tx = app.tenant_conn(t.id).await;
        sqlx::query_as("SELECT status, attempts FROM outbox_jobs")
            .fetch_one(&mut *tx)
            .await
            .unwrap()
    };
    assert_eq!((status.as_str(), attempts), ("done", 2));

    // Three failures (the test limit): dead-lettered and shown to admins.
    fake.fail_next(3, 500);
    send(&app, &t, jane, "Never gets through").await;
    wait_until(Duration::from_secs(5), "the dead letter", || async {
        app.deliver().await;
        count(
            &app,
            &t,
            "SELECT count(*) FROM outbox_jobs WHERE status = 'dead'",
        )
        .await
            == 1
    })
    .await;
    assert_eq!(fake.requests().len(), 5);
    let (status, dead) = app
        .get(&t.admin, "/api/v1/integrations/twilio/outbox")
        .await;
    assert_eq!(status, StatusCode::OK, "{dead}");
    let items = dead["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{dead}");
    assert_eq!(items[0]["status"], "dead");
    assert_eq!(items[0]["reason"], "gave_up");
    assert_eq!(items[0]["attempts"], 3);
    assert!(
        items[0]["last_error"].as_str().unwrap().contains("500"),
        "{dead}"
    );
    let subject: String = one(
        &app,
        &t,
        "SELECT subject FROM activities WHERE body = 'Never gets through'",
    )
    .await;
    assert_eq!(subject, "Text to Jane Cooper — failed");
    let (status, _) = app.get(&t.rep, "/api/v1/integrations/twilio/outbox").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A refusal (4xx) is not retried.
    fake.script([Scripted::Fail(400)]);
    send(&app, &t, jane, "Refused").await;
    let report = app.deliver().await;
    assert_eq!(report.dead, 1, "{report:?}");
    assert_eq!(fake.requests().len(), 6);
    let reason: String = one(
        &app,
        &t,
        "SELECT reason FROM outbox_jobs WHERE status = 'dead' ORDER BY created_at DESC LIMIT 1",
    )
    .await;
    assert_eq!(reason, "refused");
}

#[tokio::test]
async fn a_crash_between_approval_and_delivery_sends_exactly_once_after_restart() {
    let Setup { fake, app, t, jane } = setup(json!({})).await;
    send(&app, &t, jane, "Approved just before the crash").await;
    let config = app.config.clone();
    drop(app); // the server stops with the worker never having run
    assert!(fake.requests().is_empty());

    // A new server on the same database, its worker running by itself.
    let app = TestApp::restart(config, WorkerMode::Background).await;
    wait_until(
        Duration::from_secs(10),
        "the text to be delivered",
        || async {
            count(
                &app,
                &t,
                "SELECT count(*) FROM outbox_jobs WHERE status = 'done'",
            )
            .await
                == 1
        },
    )
    .await;
    assert_eq!(fake.requests().len(), 1);
    // More passes find nothing to do.
    assert_eq!(app.deliver().await.claimed, 0);
    assert_eq!(fake.requests().len(), 1);
    // Callbacks now go to the new server.
    let callback = format!("{}/webhooks/twilio/{}/sms-status", app.base, t.id);
    assert_eq!(
        fake.requests()[0].field("StatusCallback"),
        Some(callback.as_str())
    );

    // A new approval is picked up by the background worker too (woken by NOTIFY).
    send(&app, &t, jane, "And another").await;
    wait_until(Duration::from_secs(10), "the second text", || async {
        fake.requests().len() == 2
    })
    .await;
}

#[tokio::test]
async fn a_worker_that_dies_mid_request_never_causes_a_second_send() {
    let Setup { fake, app, t, jane } = setup(json!({})).await;
    send(&app, &t, jane, "In flight when the worker died").await;
    send(&app, &t, jane, "Claimed when the worker died").await;
    // Simulate two dead workers: one mid-request (sending), one that only claimed; both leases
    // have run out.
    let mut owner = app.owner().await;
    sqlx::query(
        "UPDATE outbox_jobs j SET status = CASE WHEN m.body LIKE 'In flight%' THEN 'sending' ELSE 'claimed' END,
             claim_token = gen_random_uuid(), locked_until = now() - interval '1 second',
             attempts = CASE WHEN m.body LIKE 'In flight%' THEN 1 ELSE 0 END
         FROM messages m WHERE m.id = j.message_id",
    )
    .execute(&mut owner)
    .await
    .unwrap();
    let report = app.deliver().await;
    assert_eq!((report.sent, report.dead), (1, 1), "{report:?}");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].field("Body"),
        Some("Claimed when the worker died")
    );
    let (status, reason): (String, String) = {
        let mut tx = app.tenant_conn(t.id).await;
        sqlx::query_as(
            "SELECT j.status, j.reason FROM outbox_jobs j JOIN messages m ON m.id = j.message_id
             WHERE m.body LIKE 'In flight%'",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap()
    };
    assert_eq!((status.as_str(), reason.as_str()), ("dead", "uncertain"));
}

#[tokio::test]
async fn rate_limits_daily_caps_and_quiet_hours_hold_texts_back_with_the_reason() {
    let Setup { fake, app, t, jane } = setup(json!({"per_number_per_minute": 2})).await;
    send(&app, &t, jane, "one").await;
    send(&app, &t, jane, "two").await;
    let (_, third) = send(&app, &t, jane, "three").await;
    assert_eq!(third["wait_reason"], "rate_limit", "{third}");
    assert!(
        third["note"].as_str().unwrap().contains("2 texts a minute"),
        "{third}"
    );
    let report = app.deliver().await;
    assert_eq!((report.sent, report.deferred), (2, 1), "{report:?}");
    assert_eq!(fake.requests().len(), 2);
    // Which of the three waits depends on which worker got the number first; exactly one does.
    let (status, reason, later): (String, String, bool) = {
        let mut tx = app.tenant_conn(t.id).await;
        sqlx::query_as(
            "SELECT status, reason, not_before > now() + interval '30 seconds'
             FROM outbox_jobs WHERE status = 'pending'",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap()
    };
    assert_eq!(
        (status.as_str(), reason.as_str(), later),
        ("pending", "rate_limit", true)
    );
    let (_, waiting) = app
        .get(
            &t.admin,
            "/api/v1/integrations/twilio/outbox?status=pending",
        )
        .await;
    assert_eq!(waiting["items"][0]["reason"], "rate_limit", "{waiting}");

    // A daily cap of 2, both sent today: the next text waits for tomorrow.
    connect(
        &app,
        &t,
        json!({"daily_cap": 2, "per_number_per_minute": 100}),
    )
    .await;
    let (_, fourth) = send(&app, &t, jane, "four").await;
    assert_eq!(fourth["wait_reason"], "daily_cap", "{fourth}");
    let send_at: chrono::DateTime<chrono::Utc> =
        fourth["send_at"].as_str().unwrap().parse().unwrap();
    assert!(send_at > chrono::Utc::now(), "{fourth}");
    // Even if it came due early, the worker holds it back.
    let mut owner = app.owner().await;
    sqlx::query("UPDATE outbox_jobs SET not_before = now()")
        .execute(&mut owner)
        .await
        .unwrap();
    let report = app.deliver().await;
    assert_eq!((report.sent, report.deferred), (0, 2), "{report:?}");
    let reasons: String = one(
        &app,
        &t,
        "SELECT string_agg(DISTINCT reason, ',') FROM outbox_jobs WHERE status = 'pending'",
    )
    .await;
    assert_eq!(reasons, "daily_cap");
    assert_eq!(fake.requests().len(), 2);

    // Quiet hours around now in Jane's zone: the worker re-checks and waits.
    use chrono::Timelike as _;
    let h = i64::from(
        chrono::Utc::now()
            .with_timezone(&chrono_tz::America::Chicago)
            .hour(),
    );
    let hour = |h: i64| format!("{:02}:00", h.rem_euclid(24));
    connect(
        &app,
        &t,
        json!({"daily_cap": 100, "quiet_hours_start": hour(h - 1), "quiet_hours_end": hour(h + 2)}),
    )
    .await;
    sqlx::query("UPDATE outbox_jobs SET not_before = now() WHERE status = 'pending'")
        .execute(&mut owner)
        .await
        .unwrap();
    let report = app.deliver().await;
    assert_eq!((report.sent, report.deferred), (0, 2), "{report:?}");
    let reason: String = one(
        &app,
        &t,
        "SELECT string_agg(DISTINCT reason, ',') FROM outbox_jobs WHERE status = 'pending'",
    )
    .await;
    assert_eq!(reason, "quiet_hours");
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn the_integration_endpoint_connects_twilio_and_never_returns_the_token() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let app = TestApp::spawn_twilio(&fake.base_url).await;
    let t = app.tenant("Acme").await;

    let (status, v) = app
        .post(
            &t.rep,
            "/api/v1/integrations/twilio",
            json!({"account_sid": SID, "auth_token": TOKEN, "numbers": [OUR_NUMBER]}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(error_code(&v), "policy_denied");
    let (status, v) = app
        .post(
            &t.admin,
            "/api/v1/integrations/twilio",
            json!({"account_sid": SID, "numbers": [OUR_NUMBER]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(crate::harness::error_fields(&v), ["auth_token"]);

    let (status, v) = app
        .post(
            &t.admin,
            "/api/v1/integrations/twilio",
            json!({"account_sid": SID, "auth_token": TOKEN, "numbers": [OUR_NUMBER]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["connected"], true);
    assert_eq!(v["numbers"], json!([OUR_NUMBER]));
    assert_eq!(
        v["webhooks"]["sms"],
        format!("{}/webhooks/twilio/{}/sms", app.base, t.id)
    );
    assert!(!v.to_string().contains(TOKEN), "{v}");
    let (status, shown) = app.get(&t.admin, "/api/v1/integrations/twilio").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["connected"], true);
    assert_eq!(shown["account_sid"], SID);
    assert!(!shown.to_string().contains(TOKEN), "{shown}");
    let (status, _) = app.get(&t.manager, "/api/v1/integrations/twilio").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_copilot_turns_text_jane_into_an_approval_card_or_explains_an_opt_out() {
    // The built-in planner: "text Jane …" → search → send_sms, proposed for approval.
    let Setup { fake, app, t, jane } = setup(json!({})).await;
    let (status, v) = app
        .post(
            &t.rep,
            "/api/v1/chat",
            json!({"message": "text Jane that I'm running late"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let actions = v["reply"]["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{v}");
    assert_eq!(actions[0]["tool"], "send_sms");
    assert_eq!(actions[0]["status"], "pending");
    assert_eq!(
        actions[0]["args"],
        json!({"contact_id": jane, "body": "I'm running late"})
    );
    let text = v["reply"]["text"].as_str().unwrap();
    assert!(text.contains("drafted this for your approval"), "{text}");
    assert!(
        fake.requests().is_empty(),
        "nothing is sent before approval"
    );
    let (status, _) = app
        .approve(&t.rep, actions[0]["id"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    app.deliver().await;
    assert_eq!(fake.requests()[0].field("Body"), Some("I'm running late"));

    // Jane replies STOP: the Copilot says why and proposes nothing.
    assert_eq!(
        inbound(&app, &t, "SMstop", JANE, "STOP").await,
        StatusCode::OK
    );
    let before = count(&app, &t, "SELECT count(*) FROM proposed_actions").await;
    let (status, v) = app
        .post(
            &t.rep,
            "/api/v1/chat",
            json!({"message": "text Jane that I'm running late again"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["reply"]["actions"], json!([]), "{v}");
    let text = v["reply"]["text"].as_str().unwrap();
    assert!(text.contains("opted out of text messages"), "{text}");
    assert_eq!(
        count(&app, &t, "SELECT count(*) FROM proposed_actions").await,
        before
    );
}

#[tokio::test]
async fn an_inbound_text_marks_the_contacts_open_deal_as_active_so_it_is_no_longer_stale() {
    let Setup { app, t, jane, .. } = setup(json!({})).await;
    let d = app
        .run(
            &t.rep,
            "create_deal",
            json!({"name": "Jane's renewal", "contact_id": jane}),
        )
        .await;
    let deal: Uuid = d["deal"]["id"].as_str().unwrap().parse().unwrap();
    let mut owner = app.owner().await;
    sqlx::query(
        "UPDATE deals SET last_activity_at = now() - interval '30 days',
             created_at = now() - interval '40 days' WHERE id = $1",
    )
    .bind(deal)
    .execute(&mut owner)
    .await
    .unwrap();
    let stale = |v: &Value| {
        v["result"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "deal_stale" && i["id"] == deal.to_string())
    };
    let (status, before) = app.propose(&t.rep, "daily_focus", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert!(stale(&before), "{before}");

    assert_eq!(
        inbound(&app, &t, "SMreply", JANE, "Yes, let's talk Thursday").await,
        StatusCode::OK
    );
    // The deal's last activity is the moment the text came in, the time on its timeline entry.
    let (touched, received, occurred): (
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
    ) = {
        let mut tx = app.tenant_conn(t.id).await;
        sqlx::query_as(
            "SELECT d.last_activity_at, m.created_at, a.occurred_at
             FROM deals d, messages m JOIN activities a ON a.id = m.activity_id
             WHERE d.id = $1 AND m.provider_sid = 'SMreply'",
        )
        .bind(deal)
        .fetch_one(&mut *tx)
        .await
        .unwrap()
    };
    assert_eq!(touched, received);
    assert_eq!(touched, occurred);
    let (status, after) = app.propose(&t.rep, "daily_focus", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert!(!stale(&after), "{after}");
}

#[tokio::test]
async fn a_signed_text_carrying_nul_characters_is_recorded_without_them_not_retried_for_ever() {
    let Setup { app, t, jane, .. } = setup(json!({})).await;
    // The signature is over the raw values, NULs included; the record has them removed.
    let (status, text) = webhook(
        &app,
        &t,
        "sms",
        &[
            ("MessageSid", "SMnul\u{0}1"),
            ("AccountSid", SID),
            ("From", "+1415555\u{0}2671"),
            ("To", &format!("{OUR_NUMBER}\u{0}")),
            ("Body", "Running\u{0} late\u{0}"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (sid, from, to, body, contact): (String, String, String, String, Option<Uuid>) = {
        let mut tx = app.tenant_conn(t.id).await;
        sqlx::query_as(
            "SELECT provider_sid, from_number, to_number, body, contact_id FROM messages
             WHERE direction = 'inbound'",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap()
    };
    assert_eq!(
        (sid.as_str(), from.as_str(), to.as_str(), body.as_str()),
        ("SMnul1", JANE, OUR_NUMBER, "Running late")
    );
    assert_eq!(contact, Some(jane));
    let on_timeline: String = one(&app, &t, "SELECT body FROM activities WHERE kind = 'sms'").await;
    assert_eq!(on_timeline, "Running late");
    // Twilio delivers it again: the same message, recorded once.
    let (status, _) = webhook(
        &app,
        &t,
        "sms",
        &[
            ("MessageSid", "SMnul\u{0}1"),
            ("AccountSid", SID),
            ("From", "+1415555\u{0}2671"),
            ("To", OUR_NUMBER),
            ("Body", "Running\u{0} late\u{0}"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(count(&app, &t, "SELECT count(*) FROM messages").await, 1);
    // Status callbacks too: a NUL in the SID is dropped, not a 500.
    assert_eq!(
        sms_status(&app, &t, "SM\u{0}unknown", "delivered", None).await,
        StatusCode::NO_CONTENT
    );
    let keys = count(
        &app,
        &t,
        "SELECT count(*) FROM webhook_deliveries WHERE kind = 'sms-status' AND key = 'SMunknown:delivered'",
    )
    .await;
    assert_eq!(keys, 1);
}

#[tokio::test]
async fn an_inbound_text_longer_than_twilio_can_deliver_is_kept_cut_and_marked() {
    let Setup { app, t, jane, .. } = setup(json!({})).await;
    let long: String = "Lorem ipsum dolor sit amet. "
        .repeat(200)
        .chars()
        .take(5_000)
        .collect();
    assert_eq!(long.chars().count(), 5_000);
    assert_eq!(
        inbound(&app, &t, "SMlong", JANE, &long).await,
        StatusCode::OK
    );
    let exact = "x".repeat(1_600);
    assert_eq!(
        inbound(&app, &t, "SMexact", JANE, &exact).await,
        StatusCode::OK
    );
    let rows: Vec<(String, String, bool)> = {
        let mut tx = app.tenant_conn(t.id).await;
        sqlx::query_as(
            "SELECT provider_sid, body, body_truncated FROM messages ORDER BY provider_sid",
        )
        .fetch_all(&mut *tx)
        .await
        .unwrap()
    };
    assert_eq!(rows.len(), 2);
    let (sid, body, truncated) = &rows[1];
    assert_eq!(sid, "SMlong");
    assert_eq!(body.chars().count(), 1_600);
    assert_eq!(body.as_str(), &long[..1_600]);
    assert!(truncated, "the long text is marked truncated");
    let (sid, body, truncated) = &rows[0];
    assert_eq!(sid, "SMexact");
    assert_eq!(body, &exact);
    assert!(
        !truncated,
        "1,600 characters is what Twilio delivers: not cut"
    );

    // The timeline shows the kept part and says it was cut.
    let (subject, body): (String, String) = {
        let mut tx = app.tenant_conn(t.id).await;
        sqlx::query_as(
            "SELECT a.subject, a.body FROM activities a JOIN messages m ON m.activity_id = a.id
             WHERE m.provider_sid = 'SMlong'",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap()
    };
    assert_eq!(body.chars().count(), 1_600);
    assert_eq!(
        subject,
        "Text from Jane Cooper — cut to its first 1600 characters"
    );
    let (_, c) = app
        .propose(&t.rep, "get_contact", json!({"contact_id": jane}))
        .await;
    assert!(
        c["result"]["timeline"]
            .to_string()
            .contains("cut to its first 1600 characters"),
        "{c}"
    );

    // From an unknown number: the admins' list says so too.
    assert_eq!(
        inbound(&app, &t, "SMlong2", "+14155550123", &long).await,
        StatusCode::OK
    );
    let (status, listed) = app
        .get(&t.admin, "/api/v1/integrations/twilio/inbound")
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let item = &listed["items"][0];
    assert_eq!(item["message_sid"], "SMlong2", "{listed}");
    assert_eq!(item["body"].as_str().unwrap().chars().count(), 1_600);
    assert_eq!(item["body_truncated"], true, "{listed}");
}
