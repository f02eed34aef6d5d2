//! Twilio's webhooks and the admin endpoints of the Twilio integration.
//!
//! Webhooks (`POST /webhooks/twilio/{tenant_id}/…`): the tenant comes from the path and is set
//! on the transaction (row-level security then shows only its account); its auth token is
//! opened with `HEIMDELL_SECRET_KEY`, and `X-Twilio-Signature` is checked (constant time) over
//! `HEIMDELL_PUBLIC_URL` + the request's path and query and the sorted form fields. A bad or
//! missing signature, an unknown tenant, or a server that cannot check (no public URL or key)
//! gets 403 and changes nothing. Deliveries are idempotent (see `heimdell_tools::outreach::inbound`).
//!
//! Admin endpoints (`/api/v1/integrations/twilio…`): connect (through the `connect_twilio`
//! tool, so the same policy and audit apply), read the connection, the unmatched inbound
//! texts, and the outbox (dead letters by default).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use heimdell_agent::{ProposeOutcome, ProposeRequest};
use heimdell_tools::crypto::secret_aad;
use heimdell_tools::db::begin_tenant;
use heimdell_tools::domain::Role;
use heimdell_tools::outreach::inbound::{self, IncomingSms, VoiceAnswer};
use heimdell_tools::outreach::{self, TOKEN_PURPOSE, outbox, webhook};
use heimdell_tools::{FieldError, ToolError};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::auth::AuthUser;
use super::error::ApiError;
use super::extract::{Body, Query};
use super::state::ApiState;
use crate::twilio::{CallStatus, FormParams, InboundSms, SIGNATURE_HEADER, SmsStatus, twiml};

/// A request that passed the signature check, with its tenant's transaction still open.
struct Verified {
    tx: Transaction<'static, Postgres>,
    form: FormParams,
}

fn forbidden() -> Response {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "invalid_signature",
        "The request's X-Twilio-Signature does not check out.",
    )
    .into_response()
}

fn twiml_response(xml: String) -> Response {
    ([(header::CONTENT_TYPE, twiml::CONTENT_TYPE)], xml).into_response()
}

fn malformed(e: impl std::fmt::Display) -> Response {
    ApiError::invalid(vec![FieldError::new("form", e.to_string())]).into_response()
}

/// Checks the signature of a webhook for `tenant` (from the path).
async fn verify(
    state: &ApiState,
    tenant: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Verified, Response> {
    let Ok(tenant_id) = Uuid::parse_str(tenant) else {
        return Err(forbidden());
    };
    let (Some(public_url), Some(key)) = (state.public_url.as_deref(), state.secret_key.as_ref())
    else {
        tracing::warn!(
            "Twilio webhook refused: HEIMDELL_PUBLIC_URL and HEIMDELL_SECRET_KEY are both needed to check signatures"
        );
        return Err(forbidden());
    };
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    if signature.is_none_or(str::is_empty) {
        return Err(forbidden());
    }
    let mut tx = begin_tenant(&state.pool, tenant_id)
        .await
        .map_err(|e| ApiError::internal(e).into_response())?;
    let account = outreach::settings(&mut tx)
        .await
        .map_err(|e| ApiError::internal(e).into_response())?;
    let Some(account) = account else {
        return Err(forbidden());
    };
    let Ok(token) = key.open(
        &account.auth_token_sealed,
        &secret_aad(tenant_id, TOKEN_PURPOSE),
    ) else {
        tracing::error!(%tenant_id, "the tenant's Twilio auth token does not open with this server's key");
        return Err(forbidden());
    };
    let url = format!(
        "{public_url}{}",
        uri.path_and_query().map_or(uri.path(), |pq| pq.as_str())
    );
    let form = FormParams::parse(body);
    if !form.verify(token.expose_secret(), &url, signature) {
        return Err(forbidden());
    }
    // Signed by this account's token, but for another account: refuse as well.
    if form
        .get("AccountSid")
        .is_some_and(|sid| sid != account.account_sid)
    {
        return Err(forbidden());
    }
    Ok(Verified { tx, form })
}

async fn commit(tx: Transaction<'static, Postgres>) -> Result<(), Response> {
    tx.commit()
        .await
        .map_err(|e| ApiError::internal(e).into_response())
}

/// The end of every verified webhook: if recording it worked, commit and answer `ok`;
/// otherwise roll back (nothing half-recorded) and answer 500, so Twilio retries.
async fn finish<T, E: std::fmt::Display>(
    tx: Transaction<'static, Postgres>,
    recorded: Result<T, E>,
    ok: Response,
) -> Response {
    if let Err(e) = recorded {
        return ApiError::internal(e).into_response();
    }
    match commit(tx).await {
        Ok(()) => ok,
        Err(r) => r,
    }
}

/// `POST /webhooks/twilio/{tenant_id}/sms`: an inbound text.
pub async fn inbound_sms(
    State(state): State<ApiState>,
    axum::extract::Path(tenant): axum::extract::Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Verified { mut tx, form } = match verify(&state, &tenant, &uri, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let sms = match InboundSms::from_form(&form) {
        Ok(s) => s,
        Err(e) => return malformed(e),
    };
    let keyword = sms.keyword();
    let incoming = IncomingSms {
        message_sid: &sms.message_sid,
        from: &sms.from,
        to: &sms.to,
        body: &sms.body,
        keyword,
    };
    let recorded = inbound::receive_sms(&mut tx, &incoming, Utc::now()).await;
    finish(tx, recorded, twiml_response(twiml::empty_response())).await
}

/// `POST /webhooks/twilio/{tenant_id}/sms-status`: delivery progress of a text we sent.
pub async fn sms_status(
    State(state): State<ApiState>,
    axum::extract::Path(tenant): axum::extract::Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Verified { mut tx, form } = match verify(&state, &tenant, &uri, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let s = match SmsStatus::from_form(&form) {
        Ok(s) => s,
        Err(e) => return malformed(e),
    };
    let recorded = inbound::sms_status(
        &mut tx,
        &s.message_sid,
        s.status.as_str(),
        s.error_code,
        Utc::now(),
    )
    .await;
    finish(tx, recorded, StatusCode::NO_CONTENT.into_response()).await
}

/// `POST /webhooks/twilio/{tenant_id}/call-status`: progress of a call we started.
pub async fn call_status(
    State(state): State<ApiState>,
    axum::extract::Path(tenant): axum::extract::Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Verified { mut tx, form } = match verify(&state, &tenant, &uri, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let s = match CallStatus::from_form(&form) {
        Ok(s) => s,
        Err(e) => return malformed(e),
    };
    let recorded = inbound::call_status(
        &mut tx,
        &s.call_sid,
        s.status.as_str(),
        s.duration_seconds,
        s.sequence_number,
        Utc::now(),
    )
    .await;
    finish(tx, recorded, StatusCode::NO_CONTENT.into_response()).await
}

/// `POST /webhooks/twilio/{tenant_id}/voice?call={call_id}`: the rep answered; TwiML connects
/// the contact (after a consent notice when the call is recorded). The query is read only after
/// the signature checks out; a call id that is missing, repeated or not ours hangs up politely.
pub async fn voice(
    State(state): State<ApiState>,
    axum::extract::Path(tenant): axum::extract::Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Verified { mut tx, .. } = match verify(&state, &tenant, &uri, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let calls: Vec<String> = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "call")
        .map(|(_, v)| v.into_owned())
        .collect();
    let Some(call_id) = (match calls.as_slice() {
        [one] => Uuid::parse_str(one).ok(),
        _ => None,
    }) else {
        return twiml_response(twiml::say_and_hangup(
            "Sorry, this call cannot be connected. Goodbye.",
        ));
    };
    let answer = match inbound::voice(&mut tx, call_id).await {
        Ok(a) => a,
        Err(ToolError::Database(e)) => return ApiError::internal(e).into_response(),
        Err(_) => VoiceAnswer::Refuse("Sorry, this call cannot be connected. Goodbye.".into()),
    };
    if let Err(r) = commit(tx).await {
        return r;
    }
    twiml_response(match answer {
        VoiceAnswer::Bridge {
            contact_number,
            caller_id,
            record,
            notice,
        } => twiml::bridge_call(&contact_number, &caller_id, record, notice.as_deref()),
        VoiceAnswer::Refuse(text) => twiml::say_and_hangup(&text),
    })
}

fn require_admin(user: &AuthUser) -> Result<(), ApiError> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "policy_denied",
            "Only an admin may manage the Twilio integration.",
        ))
    }
}

/// The webhook URLs to paste into Twilio's console for this tenant.
fn webhooks(state: &ApiState, tenant_id: Uuid) -> Value {
    match state.public_url.as_deref() {
        Some(base) => {
            let url = |hook: &str| webhook::url(base, tenant_id, hook);
            json!({
                "sms": url(webhook::SMS),
                "sms_status": url(webhook::SMS_STATUS),
                "voice": url(webhook::VOICE),
                "call_status": url(webhook::CALL_STATUS),
            })
        }
        None => Value::Null,
    }
}

/// `POST /api/v1/integrations/twilio` `{"account_sid","auth_token","numbers":["+1…"], …}`:
/// connects Twilio through the `connect_twilio` tool, approved at once by the admin asking.
pub async fn connect(
    State(state): State<ApiState>,
    user: AuthUser,
    Body(args): Body<Value>,
) -> Result<Response, ApiError> {
    if !args.is_object() {
        return Err(ApiError::invalid(vec![FieldError::new(
            "",
            "send a JSON object with account_sid, auth_token and numbers",
        )]));
    }
    let req = ProposeRequest {
        tool: "connect_twilio".into(),
        args,
        approve: true,
        idempotency_key: None,
        source: "api",
    };
    Ok(match state.pipeline.propose(user.caller(), req).await? {
        ProposeOutcome::Executed { id, mut result } => {
            result["action_id"] = json!(id);
            result["webhooks"] = webhooks(&state, user.tenant_id);
            (StatusCode::OK, axum::Json(result)).into_response()
        }
        ProposeOutcome::Pending(view) => {
            (StatusCode::CREATED, axum::Json(json!(view))).into_response()
        }
        ProposeOutcome::Read { result } => (StatusCode::OK, axum::Json(result)).into_response(),
    })
}

/// `GET /api/v1/integrations/twilio`: whether Twilio is connected, with its settings (never
/// the token) and the webhook URLs.
pub async fn show(State(state): State<ApiState>, user: AuthUser) -> Result<Response, ApiError> {
    require_admin(&user)?;
    let mut tx = begin_tenant(&state.pool, user.tenant_id).await?;
    let s = outreach::settings(&mut tx).await?;
    tx.commit().await?;
    let body = match s {
        None => json!({"connected": false, "webhooks": webhooks(&state, user.tenant_id)}),
        Some(s) => json!({
            "connected": true,
            "account_sid": s.account_sid,
            "numbers": s.numbers,
            "recording_enabled": s.recording_enabled,
            "consent_notice": s.notice(),
            "quiet_hours": {"start": s.quiet.start.format("%H:%M").to_string(), "end": s.quiet.end.format("%H:%M").to_string()},
            "daily_cap": s.daily_cap,
            "per_number_per_minute": s.per_number_per_minute,
            "webhooks": webhooks(&state, user.tenant_id),
        }),
    };
    Ok(axum::Json(body).into_response())
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
}

/// `GET /api/v1/integrations/twilio/inbound`: texts from numbers no contact has (admins).
pub async fn unmatched(
    State(state): State<ApiState>,
    user: AuthUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    require_admin(&user)?;
    let mut tx = begin_tenant(&state.pool, user.tenant_id).await?;
    let items = inbound::unmatched(&mut tx, q.limit.unwrap_or(100)).await?;
    tx.commit().await?;
    Ok(axum::Json(json!({ "items": items })).into_response())
}

/// `GET /api/v1/integrations/twilio/outbox?status=dead|pending|done|canceled|all`: the outbox
/// (admins); dead letters by default.
pub async fn outbox_jobs(
    State(state): State<ApiState>,
    user: AuthUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    require_admin(&user)?;
    let status = match q.status.as_deref() {
        None | Some("") | Some("dead") => Some("dead"),
        Some("all") => None,
        Some(s @ ("pending" | "claimed" | "sending" | "done" | "canceled")) => Some(s),
        Some(_) => {
            return Err(ApiError::invalid(vec![FieldError::new(
                "status",
                "must be dead, pending, claimed, sending, done, canceled or all",
            )]));
        }
    };
    let mut tx = begin_tenant(&state.pool, user.tenant_id).await?;
    let items = outbox::list(&mut tx, status, q.limit.unwrap_or(100)).await?;
    tx.commit().await?;
    Ok(axum::Json(json!({ "items": items })).into_response())
}
