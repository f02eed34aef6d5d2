//! Request extractors whose rejections use the API's error shape: a malformed JSON body is a
//! 422, a bad query parameter or path id a 400 naming the field.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use heimdell_tools::FieldError;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON body; anything that is not the expected JSON is a 422 `malformed_body`.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(malformed(rejection)),
        }
    }
}

fn malformed(r: JsonRejection) -> ApiError {
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

/// Optional JSON body: empty means `None`; otherwise it must parse.
pub fn optional_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<Option<T>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(bytes).map(Some).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed_body",
            format!("The body is not the expected JSON: {e}"),
        )
    })
}

/// Query parameters; a bad one is a 400 naming it.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
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
