//! Sign-in for people: `POST /api/v1/session` (email + password) sets an HttpOnly, SameSite
//! session cookie and returns the CSRF token for cookie-authenticated writes.
//!
//! What a flood of guesses meets, cheapest first: a per-address rate limit (429
//! `rate_limited`), the per-email lockout (five attempts without a success lock the email for
//! 15 minutes; counted before the password is checked, for unknown emails too, so a locked
//! account and an unknown email answer alike), and the bounded password checker (one argon2
//! check per core, in reused memory; 429 `rate_limited` when none comes free in time). Every
//! 429 carries `Retry-After`.

use std::time::Instant;

use std::net::IpAddr;

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use heimdell_tools::FieldError;
use heimdell_tools::db::begin_tenant;
use heimdell_tools::identity::{new_secret, secret_hash};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::auth::{AuthUser, SESSION_COOKIE};
use super::error::ApiError;
use super::extract::{Body, ClientAddr};
use super::state::ApiState;

pub const MAX_FAILED_LOGINS: i32 = 5;
pub const LOCKOUT_MINUTES: i64 = 15;
pub const SESSION_HOURS: i64 = 12;
/// Longer passwords are refused before any hashing.
const MAX_PASSWORD_CHARS: usize = 1024;
/// RFC 5321's limit on an address.
const MAX_EMAIL_CHARS: usize = 320;

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

fn rate_limited(message: &str, wait: std::time::Duration) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message).retry_after(wait)
}

pub async fn sign_in(
    State(state): State<ApiState>,
    ClientAddr(ip): ClientAddr,
    request: Request,
) -> Result<Response, ApiError> {
    // Before the body is read: a refused address costs nothing more.
    if let Err(wait) = state.sign_in_rate.check(&rate_key(ip), Instant::now()) {
        return Err(rate_limited(
            "Too many sign-in attempts from this address. Try again later.",
            wait,
        ));
    }
    let Body(req) = Body::<SignIn>::from_request(request, &state).await?;
    let email = req.email.trim();
    let mut errors = Vec::new();
    if email.is_empty() || email.chars().count() > MAX_EMAIL_CHARS {
        errors.push(FieldError::new(
            "email",
            format!("must be 1 to {MAX_EMAIL_CHARS} characters"),
        ));
    }
    if req.password.chars().count() > MAX_PASSWORD_CHARS {
        errors.push(FieldError::new(
            "password",
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }

    // A slot for the password check first: an attempt refused as busy does not count towards
    // the lockout.
    let slot = state.passwords.slot().await.map_err(|_| {
        rate_limited(
            "Too many sign-ins at once. Try again in a moment.",
            state.passwords.retry_after(),
        )
    })?;
    // Count the attempt (known and unknown emails alike); a locked email is answered at once,
    // the same way whether or not it has an account.
    let locked: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("SELECT sign_in_attempt($1, $2, make_interval(mins => $3))")
            .bind(email)
            .bind(MAX_FAILED_LOGINS)
            .bind(LOCKOUT_MINUTES as i32)
            .fetch_one(&state.pool)
            .await?;
    if let Some(until) = locked {
        let wait = (until - Utc::now()).to_std().unwrap_or_default();
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "locked_out",
            format!(
                "Too many failed sign-ins. Try again after {} UTC.",
                until.format("%H:%M")
            ),
        )
        .retry_after(wait));
    }

    // One query whether or not the email has an account.
    let matches: Vec<Account> = sqlx::query_as(
        "SELECT tenant_id, user_id, password_hash, email, name, role FROM auth_sign_in($1)",
    )
    .bind(email)
    .fetch_all(&state.pool)
    .await?;
    let chosen = match (matches.as_slice(), req.tenant_id) {
        ([], _) => None,
        ([one], None) => Some(one),
        (_, Some(t)) => matches.iter().find(|a| a.tenant_id == t),
        (_, None) => {
            return Err(ApiError::invalid(vec![FieldError::new(
                "tenant_id",
                "this email belongs to several workspaces; say which one",
            )]));
        }
    };
    // Unknown emails and members without a password (token only) are checked against the
    // dummy hash: the same work, never a match.
    let stored = chosen.and_then(|a| a.password_hash.clone());
    let ok = slot.verify(req.password, stored.clone()).await;
    let Some(account) = chosen.filter(|_| ok) else {
        return Err(bad_credentials());
    };
    sqlx::query("SELECT sign_in_succeeded($1)")
        .bind(&account.email)
        .execute(&state.pool)
        .await?;
    let now = Utc::now();
    let secret = new_secret("hms_");
    let csrf = new_secret("");
    let mut tx = begin_tenant(&state.pool, account.tenant_id).await?;
    // Only while the password that was checked is still the member's and they are active: a
    // change committed during the check has already ended their sessions, this one included.
    let created = sqlx::query(
        "INSERT INTO sessions (tenant_id, user_id, token_hash, csrf_hash, expires_at)
         SELECT app_tenant(), $1, $2, $3, $4
          WHERE EXISTS (SELECT 1 FROM users WHERE id = $1 AND active AND password_hash = $5)",
    )
    .bind(account.user_id)
    .bind(secret_hash(&secret))
    .bind(secret_hash(&csrf))
    .bind(now + Duration::hours(SESSION_HOURS))
    .bind(&stored)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if created.rows_affected() == 0 {
        return Err(bad_credentials());
    }

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
        "user": { "id": account.user_id, "tenant_id": account.tenant_id, "email": account.email,
                  "name": account.name, "role": account.role },
        "csrf_token": csrf,
    });
    Ok((StatusCode::OK, headers, axum::Json(body)).into_response())
}

/// What sign-in reads about an email's account.
#[derive(sqlx::FromRow)]
struct Account {
    tenant_id: Uuid,
    user_id: Uuid,
    password_hash: Option<String>,
    email: String,
    name: String,
    role: String,
}

/// The rate limit's key for an address: IPv6 clients by their /64 (one subscriber's block),
/// so rotating addresses inside it gains nothing.
fn rate_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        IpAddr::V6(v6) => IpAddr::V4(
            v6.to_ipv4_mapped()
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
        ),
        v4 => v4,
    }
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
