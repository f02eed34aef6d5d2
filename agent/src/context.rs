//! The context pack: what the model is told before it reads anything itself. Tenant-scoped
//! (it is built inside the caller's tenant transaction), token-budgeted, and with every piece
//! of outside text fenced. Secrets never enter it: it is built from read models that hold none.

use chrono::{DateTime, Utc};
use heimdell_tools::ToolError;
use heimdell_tools::domain::Currency;
use heimdell_tools::records::{self, DealsOf, TaskFilter, TimelineOf};
use serde::Serialize;
use sqlx::PgConnection;

use crate::actions::ActionView;
use crate::fence::fence;
use crate::grounding::Sources;
use crate::model::{EntityKind, EntityRef};

/// Rough token estimate: four characters a token, the usual rule for English text.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

/// The pack, ready to render into the system prompt.
#[derive(Debug, Clone, Serialize)]
pub struct ContextPack {
    pub user: UserInfo,
    pub tenant: TenantInfo,
    pub today: String,
    pub weekday: String,
    pub time: String,
    pub timezone: String,
    pub focus: Option<FocusInfo>,
    pub pending: Vec<PendingInfo>,
    /// What the pack shows, for the grounding check.
    #[serde(skip)]
    pub sources: Sources,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserInfo {
    pub name: String,
    pub role: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TenantInfo {
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FocusInfo {
    pub kind: &'static str,
    pub summary: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PendingInfo {
    pub id: uuid::Uuid,
    pub preview: String,
    pub approver_role: String,
}

/// Lines added under a token budget; what does not fit is counted, not silently dropped.
struct Budget {
    lines: Vec<String>,
    left: usize,
    dropped: usize,
}

impl Budget {
    fn new(tokens: usize) -> Self {
        Budget {
            lines: Vec::new(),
            left: tokens,
            dropped: 0,
        }
    }

    /// Lines that must be there (the record itself).
    fn must(&mut self, line: String) {
        self.left = self.left.saturating_sub(estimate_tokens(&line));
        self.lines.push(line);
    }

    /// Lines that may be left out when the budget is spent.
    fn may(&mut self, line: String) {
        let cost = estimate_tokens(&line);
        if cost <= self.left {
            self.left -= cost;
            self.lines.push(line);
        } else {
            self.dropped += 1;
        }
    }

    fn finish(mut self) -> String {
        if self.dropped > 0 {
            self.lines.push(format!("({} older or longer items left out to keep this short; use the tools to read them)", self.dropped));
        }
        self.lines.join("\n")
    }
}

fn money(minor: i64, currency: &str) -> String {
    Currency::parse(currency)
        .map(|c| c.format_minor(minor))
        .unwrap_or_else(|_| format!("{currency} {minor} (minor units)"))
}

fn day(at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

fn or_missing(v: Option<&str>) -> &str {
    v.filter(|s| !s.is_empty()).unwrap_or("not recorded")
}

/// Inputs for building a pack.
pub struct PackInput<'a> {
    pub user_name: &'a str,
    pub role: &'a str,
    pub tenant_name: &'a str,
    pub now: DateTime<Utc>,
    pub tz: chrono_tz::Tz,
    pub focus: Option<EntityRef>,
    pub pending: &'a [ActionView],
    /// Token budget for the focus record's summary.
    pub budget_tokens: usize,
}

/// Builds the pack inside the caller's tenant transaction.
pub async fn build(
    conn: &mut PgConnection,
    input: PackInput<'_>,
) -> Result<ContextPack, ToolError> {
    let mut sources = Sources::in_zone(input.tz);
    let local = input.now.with_timezone(&input.tz);
    let focus = match input.focus {
        None => None,
        Some(f) => Some(focus_summary(conn, f, input.tz, input.budget_tokens, &mut sources).await?),
    };
    let pending: Vec<PendingInfo> = input
        .pending
        .iter()
        .take(10)
        .map(|a| {
            sources.add_entity(EntityRef {
                kind: EntityKind::Action,
                id: a.id,
            });
            sources.add_text(&a.preview);
            PendingInfo {
                id: a.id,
                preview: fence(&a.preview),
                approver_role: a.approver_role.as_str().to_string(),
            }
        })
        .collect();
    let today = local.format("%Y-%m-%d").to_string();
    sources.add_text(&today);
    Ok(ContextPack {
        user: UserInfo {
            name: input.user_name.to_string(),
            role: input.role.to_string(),
        },
        tenant: TenantInfo {
            name: input.tenant_name.to_string(),
        },
        today,
        weekday: local.format("%A").to_string(),
        time: local.format("%H:%M").to_string(),
        timezone: input.tz.name().to_string(),
        focus,
        pending,
        sources,
    })
}

async fn focus_summary(
    conn: &mut PgConnection,
    focus: EntityRef,
    tz: chrono_tz::Tz,
    budget_tokens: usize,
    sources: &mut Sources,
) -> Result<FocusInfo, ToolError> {
    let mut b = Budget::new(budget_tokens);
    let (deals, tasks, timeline) = match focus.kind {
        EntityKind::Contact => {
            let c = records::get_contact(conn, focus.id).await?;
            sources.add_json(&serde_json::json!({ "contact": c }));
            b.must(format!("Contact {} [[contact:{}]]", c.full_name(), c.id));
            b.must(format!("Title: {}", or_missing(c.title.as_deref())));
            match (c.company_id, &c.company_name) {
                (Some(id), Some(name)) => b.must(format!("Company: {name} [[company:{id}]]")),
                _ => b.must("Company: not recorded".into()),
            }
            b.must(format!("Email: {}", or_missing(c.email.as_deref())));
            b.must(format!("Phone: {}", or_missing(c.phone.as_deref())));
            b.must(format!("Owner: {}", or_missing(c.owner_name.as_deref())));
            b.must(format!(
                "Consent: email opt-out {}, SMS opt-out {}, do-not-call {}, marketing consent {}, lawful basis {}{}",
                c.email_opt_out,
                c.sms_opt_out,
                c.do_not_call,
                c.marketing_consent,
                or_missing(c.lawful_basis.as_deref()),
                if c.anonymised { "; ANONYMISED (no personal data may be used)" } else { "" }
            ));
            (
                records::deals_of(conn, DealsOf::Contact(focus.id), 10).await?,
                records::find_tasks(
                    conn,
                    &TaskFilter {
                        open_only: true,
                        contact_id: Some(focus.id),
                        limit: 10,
                        ..Default::default()
                    },
                )
                .await?,
                records::timeline(conn, TimelineOf::Contact(focus.id), 15).await?,
            )
        }
        EntityKind::Company => {
            let c = records::get_company(conn, focus.id).await?;
            sources.add_json(&serde_json::json!({ "company": c }));
            b.must(format!("Company {} [[company:{}]]", c.name, c.id));
            b.must(format!(
                "Domain: {}; industry: {}; phone: {}",
                or_missing(c.domain.as_deref()),
                or_missing(c.industry.as_deref()),
                or_missing(c.phone.as_deref())
            ));
            b.must(format!("Owner: {}", or_missing(c.owner_name.as_deref())));
            let people = records::contacts_of_company(conn, focus.id, 10).await?;
            sources.add_json(&serde_json::json!({ "contacts": people }));
            for p in &people {
                b.may(format!(
                    "- person: {} ({}) [[contact:{}]]",
                    p.full_name(),
                    or_missing(p.title.as_deref()),
                    p.id
                ));
            }
            (
                records::deals_of(conn, DealsOf::Company(focus.id), 10).await?,
                records::find_tasks(
                    conn,
                    &TaskFilter {
                        open_only: true,
                        company_id: Some(focus.id),
                        limit: 10,
                        ..Default::default()
                    },
                )
                .await?,
                records::timeline(conn, TimelineOf::Company(focus.id), 15).await?,
            )
        }
        EntityKind::Deal => {
            let d = records::get_deal(conn, focus.id).await?;
            b.must(format!("Deal {} [[deal:{}]]", d.name, d.id));
            b.must(format!(
                "Stage: {} ({}%); value: {}",
                d.stage_name,
                d.stage_probability,
                money(d.value_minor, &d.currency)
            ));
            b.must(format!(
                "Expected close: {}",
                d.expected_close
                    .map(|x| x.to_string())
                    .unwrap_or_else(|| "not recorded".into())
            ));
            if let (Some(id), Some(name)) = (d.company_id, &d.company_name) {
                b.must(format!("Company: {name} [[company:{id}]]"));
            }
            if let (Some(id), Some(name)) = (d.contact_id, &d.contact_name) {
                b.must(format!("Contact: {name} [[contact:{id}]]"));
            }
            b.must(format!(
                "Owner: {}; version {}",
                or_missing(d.owner_name.as_deref()),
                d.version
            ));
            sources.add_json(&serde_json::json!({ "deal": d }));
            (
                Vec::new(),
                records::find_tasks(
                    conn,
                    &TaskFilter {
                        open_only: true,
                        deal_id: Some(focus.id),
                        limit: 10,
                        ..Default::default()
                    },
                )
                .await?,
                records::timeline(conn, TimelineOf::Deal(focus.id), 15).await?,
            )
        }
        EntityKind::Task | EntityKind::Action => {
            return Err(ToolError::field(
                "context",
                "the chat can be opened on a contact, company or deal",
            ));
        }
    };
    sources.add_json(&serde_json::json!({ "deals": deals, "open_tasks": tasks }));
    for d in &deals {
        b.may(format!(
            "- deal: {} [[deal:{}]], {}, {}, expected close {}",
            d.name,
            d.id,
            d.stage_name,
            money(d.value_minor, &d.currency),
            d.expected_close
                .map(|x| x.to_string())
                .unwrap_or_else(|| "not recorded".into())
        ));
    }
    for t in &tasks {
        let due = t
            .due_at
            .map(|d| day(d, tz))
            .unwrap_or_else(|| "no due date".into());
        b.may(format!(
            "- open task: {} [[task:{}]], due {due}",
            fence(&t.title),
            t.id
        ));
    }
    for a in &timeline {
        sources.add_json(&serde_json::json!({ "timeline": [a] }));
        let text: String = a
            .body
            .as_deref()
            .or(a.subject.as_deref())
            .unwrap_or_default()
            .chars()
            .take(400)
            .collect();
        b.may(format!(
            "- {} on {} by {}: {}",
            a.kind,
            day(a.occurred_at, tz),
            or_missing(a.actor_name.as_deref()),
            fence(&text)
        ));
    }
    Ok(FocusInfo {
        kind: focus.kind.as_str(),
        summary: b.finish(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_keeps_what_must_stay_and_says_what_it_left_out() {
        let mut b = Budget::new(10);
        b.must("the record itself, always kept".into());
        b.may("a long timeline entry that does not fit any more".into());
        let out = b.finish();
        assert!(out.contains("the record itself"));
        assert!(!out.contains("timeline entry"));
        assert!(out.contains("1 older or longer items left out"));
    }
}
