//! Authentication as an extractor: a bearer API token or a session cookie becomes an
//! [`AuthUser`] (tenant, user, role). Cookie-authenticated writes must also carry the session's
//! CSRF token in `X-CSRF-Token`, compared in constant time.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum_extra::extract::CookieJar;
use heimdell_agent::actions::Caller;
use heimdell_tools::domain::Role;
use heimdell_tools::identity::secret_hash;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::error::ApiError;
use super::state::ApiState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "heimdell_session";
/// The header carrying the CSRF token on cookie-authenticated writes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A signed-in member of a tenant.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub role: Role,
}

impl AuthUser {
    pub fn caller(&self) -> Caller {
        Caller {
            tenant_id: self.tenant_id,
            user_id: self.user_id,
        }
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<ApiState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        if let Some(token) = bearer(parts) {
            let row: Option<(Uuid, Uuid, String)> =
                sqlx::query_as("SELECT tenant_id, user_id, role FROM auth_token($1)")
                    .bind(secret_hash(token))
                    .fetch_optional(&state.pool)
                    .await?;
            let (tenant_id, user_id, role) = row.ok_or_else(ApiError::unauthorized)?;
            let role = Role::parse(&role).map_err(|_| ApiError::unauthorized())?;
            return Ok(AuthUser {
                tenant_id,
                user_id,
                role,
            });
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(cookie) = jar.get(SESSION_COOKIE) else {
            return Err(ApiError::unauthorized());
        };
        let row: Option<(Uuid, Uuid, String, Vec<u8>)> =
            sqlx::query_as("SELECT tenant_id, user_id, role, csrf_hash FROM auth_session($1)")
                .bind(secret_hash(cookie.value()))
                .fetch_optional(&state.pool)
                .await?;
        let (tenant_id, user_id, role, csrf_hash) = row.ok_or_else(ApiError::unauthorized)?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let ok: bool = secret_hash(sent).ct_eq(&csrf_hash).into();
            if sent.is_empty() || !ok {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf_failed",
                    "This change needs the X-CSRF-Token header from your sign-in.",
                ));
            }
        }
        let role = Role::parse(&role).map_err(|_| ApiError::unauthorized())?;
        Ok(AuthUser {
            tenant_id,
            user_id,
            role,
        })
    }
}
