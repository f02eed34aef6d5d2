//! Request extractors whose rejections use the API's error shape: a malformed JSON body is a
//! 422, a bad query parameter or path id a 400 naming the field. Every string that enters
//! through them is checked once here for U+0000, which Postgres text cannot hold: a person's
//! request holding one is a 400 naming the field, never a database error.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use heimdell_tools::FieldError;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;

/// A JSON body; anything that is not the expected JSON is a 422 `malformed_body`, one over the
/// size limit a 413, and a string holding U+0000 (which Postgres text cannot hold) a 400 naming
/// its field.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let value = match axum::Json::<Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            Err(rejection) => return Err(malformed(rejection)),
        };
        typed(value).map(Body)
    }
}

/// Checks a parsed body for NUL characters, then gives it its type.
fn typed<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    if let Some(field) = nul_in(&value, "") {
        return Err(nul_error(&field));
    }
    serde_json::from_value(value).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed_body",
            format!("The body does not have the expected shape: {e}"),
        )
    })
}

fn nul_error(field: &str) -> ApiError {
    ApiError::invalid(vec![FieldError::new(
        field,
        "must not contain the NUL character (U+0000)",
    )])
}

/// The path of the first key or string value holding U+0000 (`args.notes`, `tags[2]`).
fn nul_in(value: &Value, at: &str) -> Option<String> {
    match value {
        Value::String(s) => s.contains('\0').then(|| at.to_string()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_in(v, &format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let path = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            if k.contains('\0') {
                Some(path.replace('\0', "\\u0000"))
            } else {
                nul_in(v, &path)
            }
        }),
        _ => None,
    }
}

fn malformed(r: JsonRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    let message = match &r {
        JsonRejection::MissingJsonContentType(_) => {
            "Send the body as JSON with Content-Type: application/json.".to_string()
        }
        JsonRejection::JsonSyntaxError(_) => {
            format!("The body is not valid JSON: {}", r.body_text())
        }
        JsonRejection::JsonDataError(_) => format!(
            "The body does not have the expected shape: {}",
            r.body_text()
        ),
        _ => r.body_text(),
    };
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "malformed_body", message)
}

/// The answer to a body over the size limit.
pub fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "The body is larger than this endpoint accepts ({} KiB).",
            super::MAX_BODY / 1024
        ),
    )
}

/// Optional JSON body: empty means `None`; otherwise it must parse.
pub fn optional_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<Option<T>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed_body",
            format!("The body is not the expected JSON: {e}"),
        )
    })?;
    typed(value).map(Some)
}

/// Query parameters; a bad one is a 400 naming it.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        if let Some((key, _)) = form_urlencoded::parse(query.as_bytes())
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(nul_error(&key.replace('\0', "\\u0000")));
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|r: QueryRejection| {
                ApiError::invalid(vec![FieldError::new("query", r.body_text())])
            })
    }
}

/// Path parameters; an id that is not a UUID is a 404 (no such record can exist).
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|_: PathRejection| ApiError::not_found("record"))
    }
}

/// The client's address as the listener saw it (the server loop records it on every request);
/// unspecified when the router is served without one.
pub struct ClientAddr(pub std::net::IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |c| {
                    c.0.ip()
                }),
        ))
    }
}
