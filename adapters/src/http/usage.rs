//! `GET /api/v1/usage?month=YYYY-MM&scope=self|team`: what the Copilot used in a month and what
//! it cost (estimated from the configured price table). Anyone reads their own; an admin reads
//! every member's and the tenant's total with `scope=team`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{NaiveDate, Utc};
use heimdell_agent::copilot::store::{self, UsageCounts};
use heimdell_agent::copilot::usage::{BUILTIN_MODEL, usd};
use heimdell_tools::FieldError;
use heimdell_tools::db::begin_tenant;
use heimdell_tools::domain::Role;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::AuthUser;
use super::error::ApiError;
use super::extract::Query;
use super::state::ApiState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    #[serde(default)]
    month: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

/// `YYYY-MM` as the first day of that month.
fn parse_month(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    let shaped =
        b.len() == 7 && b[4] == b'-' && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit);
    if !shaped {
        return None;
    }
    NaiveDate::from_ymd_opt(text[..4].parse().ok()?, text[5..].parse().ok()?, 1)
}

fn counts(c: &UsageCounts) -> Value {
    json!({
        "requests": c.requests,
        "prompt_tokens": c.prompt_tokens,
        "cached_prompt_tokens": c.cached_prompt_tokens,
        "completion_tokens": c.completion_tokens,
        "cost_usd": usd(c.cost_micro_cents),
        "cost_micro_cents": c.cost_micro_cents,
        "unpriced_tokens": c.unpriced_tokens,
        "unpriced_models": c.unpriced_models,
    })
}

pub async fn usage(
    State(state): State<ApiState>,
    user: AuthUser,
    Query(q): Query<UsageQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let month = match q.month.as_deref() {
        None => store::month_of(Utc::now()),
        Some(m) => parse_month(m.trim()).ok_or_else(|| {
            ApiError::invalid(vec![FieldError::new("month", "use YYYY-MM, e.g. 2026-05")])
        })?,
    };
    let team = match q.scope.as_deref().map(str::trim) {
        None | Some("self") => false,
        Some("team") => true,
        Some(_) => {
            return Err(ApiError::invalid(vec![FieldError::new(
                "scope",
                "use self (your own usage) or team (every member's; admins only)",
            )]));
        }
    };
    if team && user.role != Role::Admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "policy_denied",
            "Only an admin may read the team's Copilot usage; leave out scope to read your own.",
        ));
    }
    let mut tx = begin_tenant(&state.pool, user.tenant_id).await?;
    let rows = store::usage(&mut tx, month, (!team).then_some(user.user_id)).await?;
    tx.commit().await?;

    let mut total = UsageCounts::default();
    for r in &rows {
        total.add(&r.counts);
    }
    let cost = state.copilot.cost_config();
    let model = state.copilot.model_name();
    let priced = cost.prices.get(model).is_some();
    let mut notes = Vec::new();
    if !total.unpriced_models.is_empty() {
        notes.push(format!(
            "No price is configured for {}: {} tokens of theirs are counted but not in the cost (set HEIMDELL_MODEL_PRICES).",
            total
                .unpriced_models
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", "),
            total.unpriced_tokens
        ));
    }
    if !priced && !total.unpriced_models.iter().any(|m| m == model) {
        notes.push(format!(
            "The Copilot's model `{model}` has no configured price: its turns will cost 0 here (set HEIMDELL_MODEL_PRICES)."
        ));
    }
    if model == BUILTIN_MODEL {
        notes.push("The built-in planner runs on this server and costs nothing.".to_string());
    }
    let limits = json!({
        "requests_per_member": state.copilot.monthly_request_limit(),
        "cost_per_member_usd": cost.member_limit_micro_cents.map(usd),
        "cost_per_tenant_usd": cost.tenant_limit_micro_cents.map(usd),
    });
    let mut body = json!({
        "month": month.format("%Y-%m").to_string(),
        "scope": if team { "team" } else { "self" },
        "currency": "USD",
        "model": { "name": model, "priced": priced },
        "limits": limits,
        "notes": notes,
    });
    if team {
        body["members"] = rows
            .iter()
            .map(|r| {
                let mut v = counts(&r.counts);
                v["user_id"] = json!(r.user_id);
                v["name"] = json!(r.name);
                v["email"] = json!(r.email);
                v["role"] = json!(r.role);
                v
            })
            .collect();
        body["total"] = counts(&total);
    } else {
        body["usage"] = counts(&total);
    }
    Ok(axum::Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_yyyy_mm() {
        assert_eq!(parse_month("2026-05"), NaiveDate::from_ymd_opt(2026, 5, 1));
        for bad in [
            "2026-13",
            "2026-00",
            "2026-5",
            "26-05",
            "2026/05",
            "2026-05-01",
            "",
            "２０２６-05",
        ] {
            assert_eq!(parse_month(bad), None, "{bad}");
        }
    }
}
