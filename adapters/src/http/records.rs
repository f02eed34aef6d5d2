//! `GET /api/v1/{contacts,companies,deals,tasks}` (cursor pagination, `q` filter) and one
//! record by id. An id from another tenant is simply not found: row-level security hides it.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use heimdell_tools::db::begin_tenant;
use heimdell_tools::records::{self, ListQuery};
use heimdell_tools::{FieldError, ToolError};
use serde::Deserialize;
use uuid::Uuid;

use super::auth::AuthUser;
use super::error::ApiError;
use super::extract::{Path, Query};
use super::state::ApiState;

#[derive(Deserialize)]
pub struct ListParams {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    cursor: Option<String>,
}

impl ListParams {
    fn parse(self) -> Result<ListQuery, ApiError> {
        let mut errors = Vec::new();
        if let Some(l) = self.limit
            && !(1..=100).contains(&l)
        {
            errors.push(FieldError::new("limit", "must be between 1 and 100"));
        }
        if self.q.as_ref().is_some_and(|q| q.chars().count() > 200) {
            errors.push(FieldError::new("q", "must be at most 200 characters"));
        }
        let after = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => match Uuid::parse_str(c) {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.push(FieldError::new(
                        "cursor",
                        "is not a cursor this API returned",
                    ));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(ApiError::invalid(errors));
        }
        Ok(ListQuery {
            q: self.q,
            limit: self.limit,
            after,
        })
    }
}

macro_rules! list_and_get {
    ($list:ident, $get:ident, $list_fn:path, $get_fn:path) => {
        pub async fn $list(
            State(state): State<ApiState>,
            user: AuthUser,
            Query(p): Query<ListParams>,
        ) -> Result<Response, ApiError> {
            let q = p.parse()?;
            let mut tx = begin_tenant(&state.pool, user.tenant_id).await?;
            let page = $list_fn(&mut tx, &q).await?;
            tx.commit().await?;
            // Serialised straight from the records, not through a `serde_json::Value`: a page
            // of 100 contacts would otherwise be built twice.
            Ok(axum::Json(page).into_response())
        }

        pub async fn $get(
            State(state): State<ApiState>,
            user: AuthUser,
            Path(id): Path<Uuid>,
        ) -> Result<Response, ApiError> {
            let mut tx = begin_tenant(&state.pool, user.tenant_id).await?;
            let record = $get_fn(&mut tx, id).await;
            tx.commit().await?;
            let record: Result<_, ToolError> = record;
            Ok(axum::Json(record?).into_response())
        }
    };
}

list_and_get!(
    list_contacts,
    get_contact,
    records::list_contacts,
    records::get_contact
);
list_and_get!(
    list_companies,
    get_company,
    records::list_companies,
    records::get_company
);
list_and_get!(list_deals, get_deal, records::list_deals, records::get_deal);
list_and_get!(
    list_tasks,
    get_task,
    records::list_tasks_page,
    records::get_task
);
