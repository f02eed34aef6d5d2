//! `get_contact`, `get_company`, `get_deal`: one record with what surrounds it — its recent
//! timeline, open tasks and deals — so a single call answers most questions about it.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::ToolError;
use crate::records::{self, DealsOf, TaskFilter, TimelineOf};
use crate::registry::{Ctx, Facts, Inspection, Tool, ToolKind};

const TIMELINE: i64 = 20;
const RELATED: i64 = 25;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetContactArgs {
    /// The contact's id, e.g. from `search`.
    pub contact_id: Uuid,
}

pub struct GetContact;

impl Tool for GetContact {
    type Args = GetContactArgs;
    type Input = Uuid;
    const NAME: &'static str = "get_contact";
    const KIND: ToolKind = ToolKind::Read;
    const DESCRIPTION: &'static str =
        "One contact with consent flags, company, deals, open tasks and recent timeline.";

    fn parse(_ctx: &Ctx, args: GetContactArgs) -> Result<Uuid, ToolError> {
        Ok(args.contact_id)
    }

    async fn inspect(
        conn: &mut PgConnection,
        _ctx: &Ctx,
        id: &Uuid,
    ) -> Result<Inspection, ToolError> {
        let c = records::get_contact(conn, *id).await?;
        Ok(Inspection {
            facts: Facts::default(),
            preview: format!("Read contact {}", c.full_name()),
        })
    }

    async fn run(conn: &mut PgConnection, _ctx: &Ctx, id: Uuid) -> Result<Value, ToolError> {
        let contact = records::get_contact(conn, id).await?;
        let company = match contact.company_id {
            Some(cid) => Some(records::get_company(conn, cid).await?),
            None => None,
        };
        let deals = records::deals_of(conn, DealsOf::Contact(id), RELATED).await?;
        let filter = TaskFilter {
            open_only: true,
            contact_id: Some(id),
            limit: RELATED,
            ..Default::default()
        };
        let open_tasks = records::find_tasks(conn, &filter).await?;
        let timeline = records::timeline(conn, TimelineOf::Contact(id), TIMELINE).await?;
        Ok(
            json!({ "contact": contact, "company": company, "deals": deals, "open_tasks": open_tasks, "timeline": timeline }),
        )
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetCompanyArgs {
    /// The company's id, e.g. from `search`.
    pub company_id: Uuid,
}

pub struct GetCompany;

impl Tool for GetCompany {
    type Args = GetCompanyArgs;
    type Input = Uuid;
    const NAME: &'static str = "get_company";
    const KIND: ToolKind = ToolKind::Read;
    const DESCRIPTION: &'static str =
        "One company with its contacts, deals, open tasks and recent timeline.";

    fn parse(_ctx: &Ctx, args: GetCompanyArgs) -> Result<Uuid, ToolError> {
        Ok(args.company_id)
    }

    async fn inspect(
        conn: &mut PgConnection,
        _ctx: &Ctx,
        id: &Uuid,
    ) -> Result<Inspection, ToolError> {
        let c = records::get_company(conn, *id).await?;
        Ok(Inspection {
            facts: Facts::default(),
            preview: format!("Read company {}", c.name),
        })
    }

    async fn run(conn: &mut PgConnection, _ctx: &Ctx, id: Uuid) -> Result<Value, ToolError> {
        let company = records::get_company(conn, id).await?;
        let contacts = records::contacts_of_company(conn, id, RELATED).await?;
        let deals = records::deals_of(conn, DealsOf::Company(id), RELATED).await?;
        let filter = TaskFilter {
            open_only: true,
            company_id: Some(id),
            limit: RELATED,
            ..Default::default()
        };
        let open_tasks = records::find_tasks(conn, &filter).await?;
        let timeline = records::timeline(conn, TimelineOf::Company(id), TIMELINE).await?;
        Ok(
            json!({ "company": company, "contacts": contacts, "deals": deals, "open_tasks": open_tasks, "timeline": timeline }),
        )
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetDealArgs {
    /// The deal's id, e.g. from `search`.
    pub deal_id: Uuid,
}

pub struct GetDeal;

impl Tool for GetDeal {
    type Args = GetDealArgs;
    type Input = Uuid;
    const NAME: &'static str = "get_deal";
    const KIND: ToolKind = ToolKind::Read;
    const DESCRIPTION: &'static str = "One deal with its stage, value, the pipeline's stages, stage history, open tasks and recent timeline.";

    fn parse(_ctx: &Ctx, args: GetDealArgs) -> Result<Uuid, ToolError> {
        Ok(args.deal_id)
    }

    async fn inspect(
        conn: &mut PgConnection,
        _ctx: &Ctx,
        id: &Uuid,
    ) -> Result<Inspection, ToolError> {
        let d = records::get_deal(conn, *id).await?;
        Ok(Inspection {
            facts: Facts::default(),
            preview: format!("Read deal {}", d.name),
        })
    }

    async fn run(conn: &mut PgConnection, _ctx: &Ctx, id: Uuid) -> Result<Value, ToolError> {
        let deal = records::get_deal(conn, id).await?;
        let stages = super::deals::stages_of(conn, deal.pipeline_id).await?;
        let history = records::field_history(conn, "deal", id, TIMELINE).await?;
        let filter = TaskFilter {
            open_only: true,
            deal_id: Some(id),
            limit: RELATED,
            ..Default::default()
        };
        let open_tasks = records::find_tasks(conn, &filter).await?;
        let timeline = records::timeline(conn, TimelineOf::Deal(id), TIMELINE).await?;
        Ok(
            json!({ "deal": deal, "stages": stages, "history": history, "open_tasks": open_tasks, "timeline": timeline }),
        )
    }
}
