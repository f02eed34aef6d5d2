//! `create_deal` and `move_deal_stage`, and the pipeline/stage lookups they share.

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::common::{
    Check, Ref, Targets, add_activity, check_refs, checked, foreign, owner_of, record_change,
};
use crate::domain::{Currency, Name, ReasonCode, Text};
use crate::error::ToolError;
use crate::records;
use crate::registry::{Ctx, Facts, Inspection, Tool, ToolKind};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StageRecord {
    pub id: Uuid,
    pub name: String,
    pub position: i32,
    pub probability: i32,
    pub is_won: bool,
    pub is_lost: bool,
}

impl StageRecord {
    pub fn closes(&self) -> bool {
        self.is_won || self.is_lost
    }
}

pub async fn stages_of(
    conn: &mut PgConnection,
    pipeline_id: Uuid,
) -> Result<Vec<StageRecord>, ToolError> {
    Ok(sqlx::query_as::<_, StageRecord>(
        "SELECT id, name, position, probability, is_won, is_lost FROM stages WHERE pipeline_id = $1 ORDER BY position",
    )
    .bind(pipeline_id)
    .fetch_all(conn)
    .await?)
}

async fn default_pipeline(conn: &mut PgConnection) -> Result<Uuid, ToolError> {
    let row: Option<(Uuid,)> =
        sqlx::query_as("SELECT id FROM pipelines ORDER BY is_default DESC, created_at LIMIT 1")
            .fetch_optional(conn)
            .await?;
    row.map(|(id,)| id)
        .ok_or_else(|| ToolError::field("pipeline_id", "this workspace has no pipeline yet"))
}

/// What a stage name that no stage has may still mean: "won" or "lost" (also "closed won",
/// "closed-lost", "win", "lose") asks for the pipeline's won or lost stage, whatever it is called.
fn outcome_word(wanted: &str) -> Option<Outcome> {
    let low = wanted.to_lowercase().replace(['-', '_'], " ");
    let words: Vec<&str> = low.split_whitespace().collect();
    match words.as_slice() {
        ["won" | "win"] | ["closed", "won"] => Some(Outcome::Won),
        ["lost" | "lose"] | ["closed", "lost"] => Some(Outcome::Lost),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Won,
    Lost,
}

impl Outcome {
    fn flags(self, s: &StageRecord) -> bool {
        match self {
            Outcome::Won => s.is_won,
            Outcome::Lost => s.is_lost,
        }
    }
}

/// Picks a stage from `stages` by id, by name (case-insensitive), or, when no stage has that
/// name, by the words "won"/"lost" for the stage flagged as won/lost; else says which exist.
fn pick_stage(stages: &[StageRecord], wanted: &str, field: &str) -> Result<StageRecord, ToolError> {
    let w = wanted.trim();
    if let Ok(id) = Uuid::parse_str(w) {
        if let Some(s) = stages.iter().find(|s| s.id == id) {
            return Ok(s.clone());
        }
    } else if let Some(s) = stages.iter().find(|s| s.name.eq_ignore_ascii_case(w)) {
        return Ok(s.clone());
    } else if let Some(o) = outcome_word(w) {
        let flagged: Vec<&StageRecord> = stages.iter().filter(|s| o.flags(s)).collect();
        match flagged.as_slice() {
            [one] => return Ok((*one).clone()),
            [] => {}
            many => {
                let which: Vec<&str> = many.iter().map(|s| s.name.as_str()).collect();
                return Err(ToolError::field(
                    field,
                    format!("“{w}” could be any of {}; name the stage", which.join(", ")),
                ));
            }
        }
    }
    let names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
    Err(ToolError::field(
        field,
        format!(
            "no stage “{w}” in this pipeline; its stages are {}",
            names.join(", ")
        ),
    ))
}

/// Finds a stage of the pipeline (see [`pick_stage`]).
async fn resolve_stage(
    conn: &mut PgConnection,
    pipeline_id: Uuid,
    wanted: &str,
    field: &str,
) -> Result<StageRecord, ToolError> {
    let stages = stages_of(conn, pipeline_id).await?;
    pick_stage(&stages, wanted, field)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDealArgs {
    /// The deal's name, e.g. "Acme — 50 seats".
    #[schemars(length(min = 1, max = 200))]
    pub name: String,
    #[serde(default)]
    pub company_id: Option<Uuid>,
    /// The main contact on the deal.
    #[serde(default)]
    pub contact_id: Option<Uuid>,
    /// Pipeline (default: the workspace's default pipeline).
    #[serde(default)]
    pub pipeline_id: Option<Uuid>,
    /// Stage id or name (default: the pipeline's first stage).
    #[serde(default)]
    pub stage: Option<String>,
    /// Value in minor units (cents): 1250000 is 12,500.00.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub value_minor: Option<i64>,
    /// ISO 4217 code (default USD).
    #[serde(default)]
    pub currency: Option<String>,
    /// The user who owns the deal (default: the requester).
    #[serde(default)]
    pub owner_id: Option<Uuid>,
    /// Expected close date, YYYY-MM-DD.
    #[serde(default)]
    #[schemars(with = "Option<NaiveDate>")]
    pub expected_close: Option<String>,
}

pub struct NewDeal {
    name: Name,
    company_id: Option<Uuid>,
    contact_id: Option<Uuid>,
    pipeline_id: Option<Uuid>,
    stage: Option<String>,
    value_minor: i64,
    currency: Currency,
    owner_id: Uuid,
    expected_close: Option<NaiveDate>,
}

pub struct CreateDeal;

impl CreateDeal {
    async fn placement(
        conn: &mut PgConnection,
        n: &NewDeal,
    ) -> Result<(Uuid, StageRecord), ToolError> {
        let pipeline = match n.pipeline_id {
            Some(p) => {
                check_refs_pipeline(conn, p).await?;
                p
            }
            None => default_pipeline(conn).await?,
        };
        let stage = match &n.stage {
            Some(s) => resolve_stage(conn, pipeline, s, "stage").await?,
            None => stages_of(conn, pipeline)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| ToolError::field("pipeline_id", "the pipeline has no stages"))?,
        };
        Ok((pipeline, stage))
    }
}

async fn check_refs_pipeline(conn: &mut PgConnection, id: Uuid) -> Result<(), ToolError> {
    let (exists,): (bool,) =
        sqlx::query_as("SELECT EXISTS (SELECT 1 FROM pipelines WHERE id = $1)")
            .bind(id)
            .fetch_one(conn)
            .await?;
    if exists {
        Ok(())
    } else {
        Err(ToolError::field(
            "pipeline_id",
            // Like `check_refs`: another workspace's id reads as a made-up one.
            "no pipeline with that id",
        ))
    }
}

impl Tool for CreateDeal {
    type Args = CreateDealArgs;
    type Input = NewDeal;
    const NAME: &'static str = "create_deal";
    const KIND: ToolKind = ToolKind::Write;
    const DESCRIPTION: &'static str = "Create a deal (an opportunity) in a pipeline stage, with its value in minor units and currency.";

    fn parse(ctx: &Ctx, a: CreateDealArgs) -> Result<NewDeal, ToolError> {
        let mut c = Check::default();
        let name = c.name("name", &a.name, 200);
        let stage = c.opt_name("stage", a.stage.as_deref(), 100);
        let currency = c.req(
            "currency",
            a.currency.as_deref().unwrap_or("USD"),
            Currency::parse,
        );
        let expected_close = c.opt("expected_close", a.expected_close.as_deref(), |s| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| format!("`{s}` is not a date as YYYY-MM-DD"))
        });
        let value_minor = a.value_minor.unwrap_or(0);
        if value_minor < 0 {
            c.push("value_minor", "must not be negative");
        }
        c.finish()?;
        Ok(NewDeal {
            name: checked(name),
            company_id: a.company_id,
            contact_id: a.contact_id,
            pipeline_id: a.pipeline_id,
            stage: stage.map(Name::into_string),
            value_minor,
            currency: checked(currency),
            owner_id: a.owner_id.unwrap_or(ctx.actor.user_id),
            expected_close,
        })
    }

    async fn inspect(
        conn: &mut PgConnection,
        ctx: &Ctx,
        n: &NewDeal,
    ) -> Result<Inspection, ToolError> {
        check_refs(
            conn,
            &[
                ("company_id", Ref::Company, n.company_id),
                ("contact_id", Ref::Contact, n.contact_id),
                ("owner_id", Ref::User, Some(n.owner_id)),
            ],
        )
        .await?;
        let (_, stage) = Self::placement(conn, n).await?;
        let preview = format!(
            "Create deal “{}” worth {} in stage {}",
            n.name,
            n.currency.format_minor(n.value_minor),
            stage.name
        );
        Ok(Inspection {
            facts: Facts {
                foreign_owned: foreign(Some(n.owner_id), ctx),
                closes_deal: stage.closes(),
                ..Facts::default()
            },
            preview,
        })
    }

    async fn run(conn: &mut PgConnection, ctx: &Ctx, n: NewDeal) -> Result<Value, ToolError> {
        check_refs(
            conn,
            &[
                ("company_id", Ref::Company, n.company_id),
                ("contact_id", Ref::Contact, n.contact_id),
                ("owner_id", Ref::User, Some(n.owner_id)),
            ],
        )
        .await?;
        let (pipeline, stage) = Self::placement(conn, &n).await?;
        let (id,): (Uuid,) = sqlx::query_as(
            "INSERT INTO deals (tenant_id, name, company_id, contact_id, pipeline_id, stage_id, value_minor, currency,
                 owner_id, expected_close, closed_at, created_by, created_at, updated_at, last_activity_at)
             VALUES (app_tenant(), $1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $10 THEN $12 END, $11, $12, $12, $12)
             RETURNING id",
        )
        .bind(n.name.as_str())
        .bind(n.company_id)
        .bind(n.contact_id)
        .bind(pipeline)
        .bind(stage.id)
        .bind(n.value_minor)
        .bind(n.currency.as_str())
        .bind(n.owner_id)
        .bind(n.expected_close)
        .bind(stage.closes())
        .bind(ctx.actor.user_id)
        .bind(ctx.now)
        .fetch_one(&mut *conn)
        .await?;
        Ok(json!({ "deal": records::get_deal(conn, id).await? }))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveDealStageArgs {
    /// The deal to move.
    pub deal_id: Uuid,
    /// Target stage: its id or its name, e.g. "Proposal" or "Won".
    #[schemars(length(min = 1, max = 100))]
    pub stage: String,
    /// Why, as a short code, e.g. `budget_approved` or `lost_to_competitor`.
    #[serde(default)]
    pub reason_code: Option<String>,
    /// A free-text note kept with the change.
    #[serde(default)]
    #[schemars(length(max = 2000))]
    pub note: Option<String>,
    /// The version you read; the move is refused if the deal changed since.
    #[serde(default)]
    pub expected_version: Option<i32>,
}

pub struct StageMove {
    deal_id: Uuid,
    stage: String,
    reason: Option<ReasonCode>,
    note: Option<Text>,
    expected_version: Option<i32>,
}

pub struct MoveDealStage;

impl MoveDealStage {
    async fn target(
        conn: &mut PgConnection,
        m: &StageMove,
    ) -> Result<(records::DealRecord, StageRecord), ToolError> {
        let deal = records::get_deal(conn, m.deal_id).await?;
        let stage = resolve_stage(conn, deal.pipeline_id, &m.stage, "stage").await?;
        if stage.id == deal.stage_id {
            return Err(ToolError::field(
                "stage",
                format!("the deal is already in {}", stage.name),
            ));
        }
        Ok((deal, stage))
    }
}

impl Tool for MoveDealStage {
    type Args = MoveDealStageArgs;
    type Input = StageMove;
    const NAME: &'static str = "move_deal_stage";
    const KIND: ToolKind = ToolKind::Write;
    const DESCRIPTION: &'static str = "Move a deal to another stage of its pipeline (by stage id or name), with an optional reason code and note kept in the deal's history. Moving to a won or lost stage needs a manager.";

    fn parse(_ctx: &Ctx, a: MoveDealStageArgs) -> Result<StageMove, ToolError> {
        let mut c = Check::default();
        let stage = c.name("stage", &a.stage, 100);
        let reason = c.opt("reason_code", a.reason_code.as_deref(), ReasonCode::parse);
        let note = c.opt_text("note", a.note.as_deref(), 2000);
        c.finish()?;
        Ok(StageMove {
            deal_id: a.deal_id,
            stage: checked(stage).into_string(),
            reason,
            note,
            expected_version: a.expected_version,
        })
    }

    async fn inspect(
        conn: &mut PgConnection,
        ctx: &Ctx,
        m: &StageMove,
    ) -> Result<Inspection, ToolError> {
        let (deal, stage) = Self::target(conn, m).await?;
        let mut preview = format!(
            "Move deal “{}” from {} to {}",
            deal.name, deal.stage_name, stage.name
        );
        if let Some(r) = &m.reason {
            preview.push_str(&format!(" (reason: {})", r.as_str()));
        }
        Ok(Inspection {
            facts: Facts {
                foreign_owned: foreign(deal.owner_id, ctx),
                closes_deal: stage.closes(),
                ..Facts::default()
            },
            preview,
        })
    }

    async fn run(conn: &mut PgConnection, ctx: &Ctx, m: StageMove) -> Result<Value, ToolError> {
        // Lock the deal first: the version check and the move must see the same row.
        owner_of(conn, Ref::Deal, m.deal_id).await?;
        sqlx::query("SELECT 1 FROM deals WHERE id = $1 FOR UPDATE")
            .bind(m.deal_id)
            .execute(&mut *conn)
            .await?;
        let (deal, stage) = Self::target(conn, &m).await?;
        if let Some(expected) = m.expected_version
            && expected != deal.version
        {
            return Err(ToolError::Conflict(format!(
                "deal {} is at version {}, not {expected}; read it again",
                deal.id, deal.version
            )));
        }
        sqlx::query(
            "UPDATE deals SET stage_id = $2, version = version + 1, updated_at = $3, last_activity_at = $3,
                 closed_at = CASE WHEN $4 THEN $3 END WHERE id = $1",
        )
        .bind(deal.id)
        .bind(stage.id)
        .bind(ctx.now)
        .bind(stage.closes())
        .execute(&mut *conn)
        .await?;
        let reason = m.reason.as_ref().map(ReasonCode::as_str);
        let note = m.note.as_ref().map(Text::as_str);
        record_change(
            conn,
            ctx,
            "deal",
            deal.id,
            "stage",
            json!({"id": deal.stage_id, "name": deal.stage_name}),
            json!({"id": stage.id, "name": stage.name}),
            reason,
            note,
        )
        .await?;
        let subject = format!("Stage: {} → {}", deal.stage_name, stage.name);
        let targets = Targets {
            deal_id: Some(deal.id),
            ..Targets::default()
        };
        add_activity(conn, ctx, "system", Some(&subject), note, targets, ctx.now).await?;
        Ok(
            json!({ "deal": records::get_deal(conn, deal.id).await?, "from_stage": deal.stage_name, "to_stage": stage.name }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(name: &str, is_won: bool, is_lost: bool) -> StageRecord {
        StageRecord {
            id: Uuid::now_v7(),
            name: name.into(),
            position: 0,
            probability: 0,
            is_won,
            is_lost,
        }
    }

    fn pick(stages: &[StageRecord], wanted: &str) -> Result<String, String> {
        pick_stage(stages, wanted, "stage")
            .map(|s| s.name)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn won_and_lost_name_the_flagged_stages_whatever_they_are_called() {
        let stages = [
            stage("Lead", false, false),
            stage("Closed Won", true, false),
            stage("Closed Lost", false, true),
        ];
        for w in ["won", "Won", " WON ", "closed-won", "closed won", "win"] {
            assert_eq!(pick(&stages, w), Ok("Closed Won".into()), "{w}");
        }
        for w in ["lost", "Lost", "closed_lost", "lose"] {
            assert_eq!(pick(&stages, w), Ok("Closed Lost".into()), "{w}");
        }
        assert_eq!(pick(&stages, "lead"), Ok("Lead".into()));
        assert!(
            pick(&stages, "Signed")
                .unwrap_err()
                .contains("Lead, Closed Won, Closed Lost")
        );
    }

    #[test]
    fn a_stage_named_won_is_taken_by_its_name_first() {
        let stages = [stage("Won", false, false), stage("Closed Won", true, false)];
        assert_eq!(pick(&stages, "won"), Ok("Won".into()));
    }

    #[test]
    fn two_won_stages_are_not_guessed_between() {
        let stages = [
            stage("Won — new", true, false),
            stage("Won — renewal", true, false),
        ];
        let e = pick(&stages, "won").unwrap_err();
        assert!(e.contains("Won — new, Won — renewal"), "{e}");
        let none = [stage("Lead", false, false)];
        assert!(pick(&none, "won").unwrap_err().contains("no stage “won”"));
    }
}
