//! The context pack: what the model is told before it reads anything itself. Tenant-scoped
//! (it is built inside the caller's tenant transaction), token-budgeted, and with every piece
//! of outside text fenced. Secrets never enter it: it is built from read models that hold none.

use chrono::{DateTime, Utc};
use heimdell_tools::ToolError;
use heimdell_tools::domain::Currency;
use heimdell_tools::records::{
    self, ActivityRecord, DealRecord, DealsOf, TaskFilter, TaskRecord, TimelineOf,
};
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

    /// Lines that may be left out when the budget is spent; the line when it was kept.
    fn may(&mut self, line: String) -> Option<&str> {
        let cost = estimate_tokens(&line);
        if cost <= self.left {
            self.left -= cost;
            self.lines.push(line);
            self.lines.last().map(String::as_str)
        } else {
            self.dropped += 1;
            None
        }
    }

    /// A line that may be left out; when kept, the grounding check learns what it shows (its
    /// text, and the record it cites). What is left out is not something the model saw.
    fn may_show(&mut self, sources: &mut Sources, line: String, cites: Option<EntityRef>) {
        if let Some(kept) = self.may(line) {
            sources.add_text(kept);
            if let Some(r) = cites {
                sources.add_entity(r);
            }
        }
    }

    fn finish(mut self) -> String {
        if self.dropped > 0 {
            self.lines.push(format!("({} older or longer items left out to keep this short; use the tools to read them)", self.dropped));
        }
        self.lines.join("\n")
    }
}

fn day(at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

fn cite(kind: EntityKind, id: uuid::Uuid) -> String {
    EntityRef { kind, id }.marker()
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
            b.must(format!(
                "Contact {} {}",
                c.full_name(),
                cite(EntityKind::Contact, c.id)
            ));
            b.must(format!("Title: {}", or_missing(c.title.as_deref())));
            match (c.company_id, &c.company_name) {
                (Some(id), Some(name)) => {
                    b.must(format!("Company: {name} {}", cite(EntityKind::Company, id)))
                }
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
            b.must(format!(
                "Company {} {}",
                c.name,
                cite(EntityKind::Company, c.id)
            ));
            b.must(format!(
                "Domain: {}; industry: {}; phone: {}",
                or_missing(c.domain.as_deref()),
                or_missing(c.industry.as_deref()),
                or_missing(c.phone.as_deref())
            ));
            b.must(format!("Owner: {}", or_missing(c.owner_name.as_deref())));
            let people = records::contacts_of_company(conn, focus.id, 10).await?;
            for p in &people {
                let r = EntityRef {
                    kind: EntityKind::Contact,
                    id: p.id,
                };
                let line = format!(
                    "- person: {} ({}) {}",
                    p.full_name(),
                    or_missing(p.title.as_deref()),
                    r.marker()
                );
                b.may_show(sources, line, Some(r));
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
            b.must(format!("Deal {} {}", d.name, cite(EntityKind::Deal, d.id)));
            b.must(format!(
                "Stage: {} ({}%); value: {}",
                d.stage_name,
                d.stage_probability,
                Currency::format_amount(d.value_minor, &d.currency)
            ));
            b.must(format!(
                "Expected close: {}",
                d.expected_close
                    .map(|x| x.to_string())
                    .unwrap_or_else(|| "not recorded".into())
            ));
            if let (Some(id), Some(name)) = (d.company_id, &d.company_name) {
                b.must(format!("Company: {name} {}", cite(EntityKind::Company, id)));
            }
            if let (Some(id), Some(name)) = (d.contact_id, &d.contact_name) {
                b.must(format!("Contact: {name} {}", cite(EntityKind::Contact, id)));
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
    related_lines(&mut b, sources, &deals, &tasks, &timeline, tz);
    Ok(FocusInfo {
        kind: focus.kind.as_str(),
        summary: b.finish(),
    })
}

/// The focus record's deals, open tasks and timeline, newest first, as far as the budget goes.
fn related_lines(
    b: &mut Budget,
    sources: &mut Sources,
    deals: &[DealRecord],
    tasks: &[TaskRecord],
    timeline: &[ActivityRecord],
    tz: chrono_tz::Tz,
) {
    for d in deals {
        let r = EntityRef {
            kind: EntityKind::Deal,
            id: d.id,
        };
        let line = format!(
            "- deal: {} {}, {}, {}, expected close {}",
            d.name,
            r.marker(),
            d.stage_name,
            Currency::format_amount(d.value_minor, &d.currency),
            d.expected_close
                .map(|x| x.to_string())
                .unwrap_or_else(|| "not recorded".into())
        );
        b.may_show(sources, line, Some(r));
    }
    for t in tasks {
        let r = EntityRef {
            kind: EntityKind::Task,
            id: t.id,
        };
        let due = t
            .due_at
            .map(|d| day(d, tz))
            .unwrap_or_else(|| "no due date".into());
        let line = format!("- open task: {} {}, due {due}", fence(&t.title), r.marker());
        b.may_show(sources, line, Some(r));
    }
    for a in timeline {
        let text: String = a
            .body
            .as_deref()
            .or(a.subject.as_deref())
            .unwrap_or_default()
            .chars()
            .take(400)
            .collect();
        let line = format!(
            "- {} on {} by {}: {}",
            a.kind,
            day(a.occurred_at, tz),
            or_missing(a.actor_name.as_deref()),
            fence(&text)
        );
        b.may_show(sources, line, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grounding::{Finding, check};

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

    fn note(body: &str, minutes_ago: i64) -> ActivityRecord {
        ActivityRecord {
            id: uuid::Uuid::now_v7(),
            kind: "note".into(),
            subject: None,
            body: Some(body.into()),
            contact_id: Some(uuid::Uuid::now_v7()),
            company_id: None,
            deal_id: None,
            actor_id: None,
            actor_name: Some("Kari".into()),
            occurred_at: Utc::now() - chrono::Duration::minutes(minutes_ago),
        }
    }

    #[test]
    fn a_timeline_row_the_budget_leaves_out_grounds_nothing() {
        let kept = note("She asked for pricing; call her on +1 415 555 2671.", 5);
        let dropped = note(
            &format!(
                "Budget approved at USD 98,765.00, reach the CFO on +1 212 555 0199. {}",
                "Long minutes of the meeting. ".repeat(10)
            ),
            60,
        );
        let mut b = Budget::new(40);
        let mut sources = Sources::in_zone(chrono_tz::UTC);
        related_lines(
            &mut b,
            &mut sources,
            &[],
            &[],
            &[kept, dropped.clone()],
            chrono_tz::UTC,
        );
        let summary = b.finish();
        assert!(summary.contains("415 555 2671"), "{summary}");
        assert!(!summary.contains("212 555 0199"), "{summary}");
        assert!(
            summary.contains("1 older or longer items left out"),
            "{summary}"
        );

        assert_eq!(check("Call her on (415) 555-2671.", &sources), vec![]);
        assert_eq!(
            check(
                "The CFO is on +1 212 555 0199; the budget is USD 98,765.00.",
                &sources
            ),
            vec![
                Finding::UngroundedFact {
                    fact: "12125550199".into()
                },
                Finding::UngroundedFact {
                    fact: "98,765.00".into()
                },
            ]
        );
        // Nor does the row's record become citable.
        let contact = dropped.contact_id.unwrap();
        assert!(!sources.knows(&EntityRef {
            kind: EntityKind::Contact,
            id: contact
        }));
    }

    #[test]
    fn a_kept_deal_line_is_citable_and_a_dropped_one_is_not() {
        let mut b = Budget::new(30);
        let mut sources = Sources::default();
        let deal = |name: &str| DealRecord {
            id: uuid::Uuid::now_v7(),
            name: name.into(),
            company_id: None,
            company_name: None,
            contact_id: None,
            contact_name: None,
            pipeline_id: uuid::Uuid::now_v7(),
            stage_id: uuid::Uuid::now_v7(),
            stage_name: "Proposal".into(),
            stage_probability: 50,
            stage_is_won: false,
            stage_is_lost: false,
            value_minor: 1_250_000,
            currency: "USD".into(),
            owner_id: None,
            owner_name: None,
            expected_close: None,
            last_activity_at: None,
            closed_at: None,
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let (a, z) = (deal("Acme renewal"), deal("Zenith rollout"));
        related_lines(
            &mut b,
            &mut sources,
            &[a.clone(), z.clone()],
            &[],
            &[],
            chrono_tz::UTC,
        );
        let cited = |d: &DealRecord| EntityRef {
            kind: EntityKind::Deal,
            id: d.id,
        };
        assert!(sources.knows(&cited(&a)));
        assert!(!sources.knows(&cited(&z)));
        assert_eq!(
            check(&cited(&z).marker(), &sources),
            vec![Finding::UnknownCitation {
                marker: cited(&z).marker()
            }]
        );
    }
}
