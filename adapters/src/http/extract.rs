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
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .is_some_and(|v| v == "application/json" || v.ends_with("+json"));
        if !json {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "malformed_body",
                "Send the body as JSON with Content-Type: application/json.",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| {
                if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large()
                } else {
                    ApiError::new(r.status(), "bad_request", r.body_text())
                }
            })?;
        typed_bytes(&bytes).map(Body)
    }
}

/// Parses a JSON body straight into its type (no intermediate tree: a megabyte of `[0,0,…]`
/// must not become tens of megabytes of values). JSON can carry U+0000 only as the escape
/// `\u0000`, so only a body holding that text is walked to find and name the field.
fn typed_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.windows(6).any(|w| w == b"\\u0000") {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "malformed_body",
                format!("The body is not valid JSON: {e}"),
            )
        })?;
        if let Some(field) = heimdell_tools::domain::nul_path(&value) {
            return Err(nul_error(&field));
        }
    }
    axum::Json::<T>::from_bytes(bytes)
        .map(|axum::Json(v)| v)
        .map_err(malformed)
}

fn nul_error(field: &str) -> ApiError {
    ApiError::invalid(vec![FieldError::new(
        field,
        "must not contain the NUL character (U+0000)",
    )])
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
    typed_bytes(bytes).map(Some)
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

/// The client's address: the peer the listener saw, or, when that peer is a trusted reverse
/// proxy (`HEIMDELL_TRUSTED_PROXIES`), the last `X-Forwarded-For` entry that is not itself a
/// trusted proxy. Unspecified when the router is served without the server loop.
pub struct ClientAddr(pub std::net::IpAddr);

impl FromRequestParts<super::state::ApiState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &super::state::ApiState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |c| {
                c.0.ip()
            });
        Ok(ClientAddr(client_behind_proxies(
            peer,
            &parts.headers,
            &state.limits.trusted_proxies,
        )))
    }
}

/// The client a chain of trusted proxies forwarded for; `peer` when it is not one of them.
pub fn client_behind_proxies(
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|h| h.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|h| !trusted.contains(h))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn only_trusted_proxies_may_say_who_the_client_is() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 10.0.0.2".parse().unwrap());
        let client = |peer: &str, trusted: &[&str]| {
            let trusted: Vec<IpAddr> = trusted.iter().map(|t| t.parse().unwrap()).collect();
            client_behind_proxies(peer.parse().unwrap(), &headers, &trusted).to_string()
        };
        // Not behind a trusted proxy: the header is the client's own words, ignored.
        assert_eq!(client("198.51.100.1", &[]), "198.51.100.1");
        assert_eq!(client("127.0.0.1", &[]), "127.0.0.1");
        // Behind one: the nearest hop it did not add itself.
        assert_eq!(client("127.0.0.1", &["127.0.0.1"]), "10.0.0.2");
        assert_eq!(
            client("127.0.0.1", &["127.0.0.1", "10.0.0.2"]),
            "203.0.113.9"
        );
        // A proxy that sent no header: the proxy itself.
        let bare = axum::http::HeaderMap::new();
        assert_eq!(
            client_behind_proxies(proxy, &bare, &[proxy]).to_string(),
            "127.0.0.1"
        );
    }
}
