//! Sign-in for people: `POST /api/v1/session` (email + password) sets an HttpOnly, SameSite
//! session cookie and returns the CSRF token for cookie-authenticated writes. Five failed
//! attempts lock the account for 15 minutes.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use heimdell_tools::db::begin_tenant;
use heimdell_tools::identity::{new_secret, secret_hash, verify_password};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::auth::{AuthUser, SESSION_COOKIE};
use super::error::ApiError;
use super::extract::Body;
use super::state::ApiState;

pub const MAX_FAILED_LOGINS: i32 = 5;
pub const LOCKOUT_MINUTES: i64 = 15;
pub const SESSION_HOURS: i64 = 12;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    email: String,
    password: String,
    /// Needed only when the same email is a member of several workspaces.
    #[serde(default)]
    tenant_id: Option<Uuid>,
}

fn bad_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "Wrong email or password.",
    )
}

pub async fn sign_in(
    State(state): State<ApiState>,
    Body(req): Body<SignIn>,
) -> Result<Response, ApiError> {
    let matches: Vec<(Uuid, Uuid)> =
        sqlx::query_as("SELECT tenant_id, user_id FROM auth_users_by_email($1)")
            .bind(req.email.trim())
            .fetch_all(&state.pool)
            .await?;
    let chosen = match (matches.as_slice(), req.tenant_id) {
        ([], _) => None,
        ([one], None) => Some(*one),
        (_, Some(t)) => matches.iter().copied().find(|(tenant, _)| *tenant == t),
        (_, None) => {
            return Err(ApiError::invalid(vec![heimdell_tools::FieldError::new(
                "tenant_id",
                "this email belongs to several workspaces; say which one",
            )]));
        }
    };
    let Some((tenant_id, user_id)) = chosen else {
        // Same work as a real check, so the answer's timing does not reveal unknown emails.
        check_password(req.password.clone(), state.dummy_hash.to_string()).await?;
        return Err(bad_credentials());
    };

    let mut tx = begin_tenant(&state.pool, tenant_id).await?;
    let (hash, locked_until, email, name, role): (
        Option<String>,
        Option<chrono::DateTime<Utc>>,
        String,
        String,
        String,
    ) = sqlx::query_as(
        "SELECT password_hash, locked_until, email, name, role FROM users WHERE id = $1 FOR UPDATE",
    )
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    let now = Utc::now();
    if let Some(until) = locked_until.filter(|u| *u > now) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "locked_out",
            format!(
                "Too many failed sign-ins. Try again after {} UTC.",
                until.format("%H:%M")
            ),
        ));
    }
    // The row stays locked while the hash is checked, so parallel guesses queue behind the
    // lockout count instead of all being tried before it moves. A member without a password
    // (token only) is checked against the dummy hash: same timing, never a match.
    let ok = match hash {
        Some(h) => check_password(req.password.clone(), h).await?,
        None => {
            check_password(req.password.clone(), state.dummy_hash.to_string()).await?;
            false
        }
    };
    if !ok {
        sqlx::query(
            "UPDATE users SET failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
                 locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END
             WHERE id = $1",
        )
        .bind(user_id)
        .bind(MAX_FAILED_LOGINS)
        .bind(now + Duration::minutes(LOCKOUT_MINUTES))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Err(bad_credentials());
    }
    sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let secret = new_secret("hms_");
    let csrf = new_secret("");
    sqlx::query(
        "INSERT INTO sessions (tenant_id, user_id, token_hash, csrf_hash, expires_at) VALUES (app_tenant(), $1, $2, $3, $4)",
    )
    .bind(user_id)
    .bind(secret_hash(&secret))
    .bind(secret_hash(&csrf))
    .bind(now + Duration::hours(SESSION_HOURS))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    let cookie = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        SESSION_HOURS * 3600,
        if state.cookie_secure { "; Secure" } else { "" }
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    let body = json!({
        "user": { "id": user_id, "tenant_id": tenant_id, "email": email, "name": name, "role": role },
        "csrf_token": csrf,
    });
    Ok((StatusCode::OK, headers, axum::Json(body)).into_response())
}

pub async fn whoami(
    State(state): State<ApiState>,
    user: AuthUser,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = begin_tenant(&state.pool, user.tenant_id).await?;
    let (email, name, timezone, tenant_name): (String, String, String, String) = sqlx::query_as(
        "SELECT u.email, u.name, u.timezone, t.name FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.id = $1",
    )
    .bind(user.user_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(axum::Json(json!({
        "user": { "id": user.user_id, "tenant_id": user.tenant_id, "email": email, "name": name,
                  "role": user.role.as_str(), "timezone": timezone },
        "tenant": { "id": user.tenant_id, "name": tenant_name },
    })))
}

pub async fn sign_out(
    State(state): State<ApiState>,
    headers: HeaderMap,
    user: AuthUser,
) -> Result<Response, ApiError> {
    let jar = axum_extra::extract::CookieJar::from_headers(&headers);
    if let Some(c) = jar.get(SESSION_COOKIE) {
        let mut tx = begin_tenant(&state.pool, user.tenant_id).await?;
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(secret_hash(c.value()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    let expire = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    let mut out = HeaderMap::new();
    out.insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&expire).map_err(ApiError::internal)?,
    );
    Ok((StatusCode::NO_CONTENT, out).into_response())
}

/// Argon2 costs tens of milliseconds of CPU and ~19 MiB: run it on the blocking pool, not on a
/// runtime thread every other request shares.
async fn check_password(password: String, stored: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || verify_password(&password, &stored))
        .await
        .map_err(ApiError::internal)
}
