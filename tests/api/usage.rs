//! Usage that counts money: tokens (cached ones apart) and an estimated cost per tenant, member
//! and month from a price table; cost limits that refuse a turn before the model is called; and
//! `GET /api/v1/usage`, which shows members their own and admins their team's.

use std::sync::Arc;

use chrono::{Datelike, Utc};
use heimdell::config::Config;
use heimdell_agent::copilot::usage::{CostConfig, PriceTable};
use heimdell_agent::model::openai::{OpenAiConfig, OpenAiModel};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fake_openai::{FakeOpenAi, Reply, completion, text_reply, text_reply_cached};
use crate::harness::{Member, TestApp, error_code};

/// $1.00 per million fresh prompt tokens, $0.50 per million cached ones, $2.00 per million
/// completion tokens: a token costs 100, 50 or 200 micro-cents per thousand.
const PRICES: &str = "fake-model=1.00/0.50/2.00";

/// A server whose Copilot calls the fake OpenAI server as `fake-model`.
async fn app_with(fake: &FakeOpenAi, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let model = OpenAiModel::new(OpenAiConfig::new(fake.base_url.clone(), "fake-model")).unwrap();
    TestApp::spawn_configured(Some(Arc::new(model)), adjust).await
}

fn priced(limits: (Option<i64>, Option<i64>)) -> impl FnOnce(&mut Config) {
    move |c| {
        c.cost = CostConfig {
            prices: PriceTable::parse(PRICES).unwrap(),
            member_limit_micro_cents: limits.0,
            tenant_limit_micro_cents: limits.1,
        }
    }
}

async fn chat(app: &TestApp, who: &Member, message: &str) -> (StatusCode, Value) {
    app.post(who, "/api/v1/chat", json!({ "message": message }))
        .await
}

fn this_month() -> String {
    Utc::now().format("%Y-%m").to_string()
}

async fn usage(app: &TestApp, who: &Member, query: &str) -> Value {
    let (status, v) = app.get(who, &format!("/api/v1/usage{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {v}");
    v
}

fn counts(v: &Value) -> (i64, i64, i64, i64, &str) {
    (
        v["requests"].as_i64().unwrap(),
        v["prompt_tokens"].as_i64().unwrap(),
        v["cached_prompt_tokens"].as_i64().unwrap(),
        v["completion_tokens"].as_i64().unwrap(),
        v["cost_usd"].as_str().unwrap(),
    )
}

#[tokio::test]
async fn tokens_and_cost_are_counted_per_member_tenant_and_month() {
    let fake = FakeOpenAi::start([
        // Acme's rep: 1000 prompt + 200 completion = $0.0010 + $0.0004.
        Reply::ok(text_reply("Noted.", 1000, 200)),
        // Acme's rep again, 1500 of 2000 prompt tokens from the cache:
        // 500 * $1 + 1500 * $0.50 + 100 * $2 per million = $0.00145.
        Reply::ok(text_reply_cached("Noted.", 2000, 1500, 100)),
        // Acme's second rep: 100 * $1 + 10 * $2 per million = $0.00012.
        Reply::ok(text_reply("Noted.", 100, 10)),
        // Globex's rep.
        Reply::ok(text_reply("Noted.", 5000, 5000)),
    ])
    .await;
    let app = app_with(&fake, priced((None, None))).await;
    let acme = app.tenant("Acme").await;
    let globex = app.tenant("Globex").await;
    for who in [&acme.rep, &acme.rep, &acme.rep2, &globex.rep] {
        let (status, v) = chat(&app, who, "what should I do today?").await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    assert_eq!(fake.requests().len(), 4);

    // A member reads their own month (this month by default, or named).
    let mine = usage(&app, &acme.rep, "").await;
    assert_eq!(mine["scope"], "self");
    assert_eq!(mine["month"], this_month());
    assert_eq!(mine["currency"], "USD");
    assert_eq!(mine["model"], json!({"name": "fake-model", "priced": true}));
    assert_eq!(
        counts(&mine["usage"]),
        (2, 3000, 1500, 300, "0.00285"),
        "{mine}"
    );
    assert_eq!(mine["usage"]["cost_micro_cents"], 285_000);
    assert_eq!(mine["usage"]["unpriced_tokens"], 0);
    assert!(mine.get("members").is_none(), "{mine}");
    let named = usage(&app, &acme.rep, &format!("?month={}", this_month())).await;
    assert_eq!(named["usage"], mine["usage"]);
    let theirs = usage(&app, &acme.rep2, "").await;
    assert_eq!(
        counts(&theirs["usage"]),
        (1, 100, 0, 10, "0.00012"),
        "{theirs}"
    );

    // The admin reads every member's and the tenant's total; Globex's usage is not in it.
    let team = usage(&app, &acme.admin, "?scope=team").await;
    assert_eq!(team["scope"], "team");
    let members = team["members"].as_array().unwrap();
    assert_eq!(members.len(), 2, "{team}");
    assert_eq!(members[0]["user_id"], json!(acme.rep.id));
    assert_eq!(members[0]["email"], acme.rep.email);
    assert_eq!(counts(&members[0]), (2, 3000, 1500, 300, "0.00285"));
    assert_eq!(members[1]["user_id"], json!(acme.rep2.id));
    assert_eq!(
        counts(&team["total"]),
        (3, 3100, 1500, 310, "0.00297"),
        "{team}"
    );
    let globex_team = usage(&app, &globex.admin, "?scope=team").await;
    let members = globex_team["members"].as_array().unwrap();
    assert_eq!(members.len(), 1, "{globex_team}");
    assert_eq!(members[0]["user_id"], json!(globex.rep.id));
    assert_eq!(counts(&globex_team["total"]), (1, 5000, 0, 5000, "0.015"));
    // A Globex member's own read holds nothing of Acme's either.
    let nothing = usage(&app, &globex.manager, "").await;
    assert_eq!(counts(&nothing["usage"]), (0, 0, 0, 0, "0.00"));

    // Months are apart: last month's counters are not this month's, and each reads on its own.
    let today = Utc::now().date_naive();
    let last = (today.with_day(1).unwrap() - chrono::Duration::days(1))
        .with_day(1)
        .unwrap();
    let mut tx = app.tenant_conn(acme.id).await;
    sqlx::query(
        "INSERT INTO usage_counters (tenant_id, user_id, month, requests, prompt_tokens, cost_micro_cents)
         VALUES ($1, $2, $3, 7, 70000, 123456789)",
    )
    .bind(acme.id)
    .bind(acme.rep.id)
    .bind(last)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let before = usage(&app, &acme.rep, &format!("?month={}", last.format("%Y-%m"))).await;
    assert_eq!(counts(&before["usage"]), (7, 70000, 0, 0, "1.23456789"));
    let now = usage(&app, &acme.admin, "?scope=team").await;
    assert_eq!(now["total"], team["total"]);
    let long_ago = usage(&app, &acme.admin, "?scope=team&month=2001-01").await;
    assert_eq!(long_ago["members"], json!([]));
    assert_eq!(counts(&long_ago["total"]), (0, 0, 0, 0, "0.00"));
}

#[tokio::test]
async fn cached_prompt_tokens_are_priced_at_the_cached_rate() {
    // A million prompt tokens, all from the cache, then a million with no cache report at all
    // (a server that leaves `prompt_tokens_details` out cached nothing we can bill lower).
    let mut uncached = completion(
        json!({"role": "assistant", "content": "Noted."}),
        "stop",
        1_000_000,
        0,
    );
    uncached["usage"]
        .as_object_mut()
        .unwrap()
        .remove("prompt_tokens_details");
    let fake = FakeOpenAi::start([
        Reply::ok(text_reply_cached("Noted.", 1_000_000, 1_000_000, 0)),
        Reply::ok(uncached),
    ])
    .await;
    let app = app_with(&fake, priced((None, None))).await;
    let t = app.tenant("Acme").await;
    assert_eq!(chat(&app, &t.rep, "hello").await.0, StatusCode::OK);
    let v = usage(&app, &t.rep, "").await;
    assert_eq!(counts(&v["usage"]), (1, 1_000_000, 1_000_000, 0, "0.50"));
    assert_eq!(chat(&app, &t.rep, "hello again").await.0, StatusCode::OK);
    let v = usage(&app, &t.rep, "").await;
    assert_eq!(counts(&v["usage"]), (2, 2_000_000, 1_000_000, 0, "1.50"));
}

#[tokio::test]
async fn over_the_member_cost_limit_the_chat_is_refused_before_the_model_is_called() {
    let fake = FakeOpenAi::start([
        // $0.0014: over the $0.001 limit after this turn.
        Reply::ok(text_reply("Noted.", 1000, 200)),
        Reply::ok(text_reply("Noted.", 10, 1)),
    ])
    .await;
    let app = app_with(&fake, priced((Some(100_000), None))).await;
    let t = app.tenant("Acme").await;
    let (status, v) = chat(&app, &t.rep, "hello").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, threads_before) = app.get(&t.rep, "/api/v1/threads").await;

    let (status, v) = chat(&app, &t.rep, "hello again").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(error_code(&v), "cost_limit");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("$0.001") && message.contains("$0.0014"),
        "{message}"
    );
    // The model was not called, and nothing else changed: no thread, no request counted.
    assert_eq!(fake.requests().len(), 1);
    let (_, threads_after) = app.get(&t.rep, "/api/v1/threads").await;
    assert_eq!(threads_after, threads_before);
    let mine = usage(&app, &t.rep, "").await;
    assert_eq!(counts(&mine["usage"]), (1, 1000, 0, 200, "0.0014"));
    assert_eq!(mine["limits"]["cost_per_member_usd"], "0.001");
    assert_eq!(mine["limits"]["cost_per_tenant_usd"], Value::Null);

    // The limit is each member's: a colleague still has theirs.
    let (status, v) = chat(&app, &t.rep2, "hello").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn over_the_tenant_cost_limit_every_member_is_refused_and_other_tenants_are_not() {
    let fake = FakeOpenAi::start([
        Reply::ok(text_reply("Noted.", 1000, 200)),
        Reply::ok(text_reply("Noted.", 1000, 200)),
        Reply::ok(text_reply("Noted.", 10, 1)),
    ])
    .await;
    // $0.0025 a month for the whole tenant; each turn costs $0.0014.
    let app = app_with(&fake, priced((None, Some(250_000)))).await;
    let acme = app.tenant("Acme").await;
    let globex = app.tenant("Globex").await;
    assert_eq!(chat(&app, &acme.rep, "hello").await.0, StatusCode::OK);
    assert_eq!(chat(&app, &acme.rep2, "hello").await.0, StatusCode::OK);
    let (status, v) = chat(&app, &acme.manager, "hello").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(error_code(&v), "tenant_cost_limit");
    assert_eq!(fake.requests().len(), 2);
    // The streamed chat refuses the same way.
    let (status, _) = app
        .post(
            &acme.admin,
            "/api/v1/chat/stream",
            json!({"message": "hello"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fake.requests().len(), 2);
    // Another tenant's budget is its own.
    let (status, v) = chat(&app, &globex.rep, "hello").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(fake.requests().len(), 3);
    let team = usage(&app, &acme.admin, "?scope=team").await;
    assert_eq!(counts(&team["total"]), (2, 2000, 0, 400, "0.0028"));
}

#[tokio::test]
async fn a_turn_that_fails_still_counts_what_its_model_calls_spent() {
    use crate::fake_openai::tool_reply;
    let fake = FakeOpenAi::start([
        // 120 prompt + 30 completion tokens, then the model service fails.
        Reply::ok(tool_reply(&[("call_1", "list_pending_actions", "{}")])),
        Reply::error(400, "invalid_request_error", "context too long"),
    ])
    .await;
    let app = app_with(&fake, priced((None, None))).await;
    let t = app.tenant("Acme").await;
    let (status, v) = chat(&app, &t.rep, "what is pending?").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    let v = usage(&app, &t.rep, "").await;
    assert_eq!(counts(&v["usage"]), (1, 120, 0, 30, "0.00018"));
}

#[tokio::test]
async fn a_model_without_a_price_costs_zero_and_the_usage_read_says_so() {
    let fake = FakeOpenAi::start([Reply::ok(text_reply("Noted.", 1000, 200))]).await;
    let app = app_with(&fake, |c| {
        c.cost.prices = PriceTable::parse("gpt-4o-mini=0.15/0.075/0.60").unwrap();
    })
    .await;
    let t = app.tenant("Acme").await;
    assert_eq!(chat(&app, &t.rep, "hello").await.0, StatusCode::OK);
    let v = usage(&app, &t.rep, "").await;
    assert_eq!(counts(&v["usage"]), (1, 1000, 0, 200, "0.00"));
    assert_eq!(v["usage"]["unpriced_tokens"], 1200);
    assert_eq!(v["usage"]["unpriced_models"], json!(["fake-model"]));
    assert_eq!(v["model"], json!({"name": "fake-model", "priced": false}));
    let notes = v["notes"].to_string();
    assert!(
        notes.contains("fake-model") && notes.contains("HEIMDELL_MODEL_PRICES"),
        "{notes}"
    );
}

#[tokio::test]
async fn the_built_in_planner_costs_nothing() {
    let app = TestApp::spawn_configured(None, priced((Some(1), Some(1)))).await;
    let t = app.tenant("Acme").await;
    for _ in 0..2 {
        // A limit of one micro-cent is never reached by a model that costs nothing.
        let (status, v) = chat(&app, &t.rep, "what should I do today?").await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    let v = usage(&app, &t.rep, "").await;
    assert_eq!(counts(&v["usage"]), (2, 0, 0, 0, "0.00"));
    assert_eq!(v["usage"]["unpriced_models"], json!([]));
    assert_eq!(v["model"]["priced"], true);
}

#[tokio::test]
async fn only_admins_read_the_team_and_bad_parameters_are_named() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    for who in [&t.rep, &t.manager] {
        let (status, v) = app.get(who, "/api/v1/usage?scope=team").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
        assert_eq!(error_code(&v), "policy_denied");
        assert!(v.get("members").is_none() && v.get("total").is_none());
    }
    let (status, v) = app.get(&t.rep, "/api/v1/usage?scope=self").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    for (query, field) in [
        ("?month=2026-13", "month"),
        ("?month=2026-5", "month"),
        ("?month=May", "month"),
        ("?month=", "month"),
        ("?scope=everyone", "scope"),
        ("?tenant_id=00000000-0000-0000-0000-000000000000", "query"),
    ] {
        let (status, v) = app.get(&t.admin, &format!("/api/v1/usage{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {v}");
        assert_eq!(error_code(&v), "invalid_arguments");
        assert_eq!(v["error"]["details"][0]["field"], field, "{query}: {v}");
    }
    let r = app
        .client
        .get(app.url("/api/v1/usage"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
