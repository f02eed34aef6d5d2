//! `create_company`.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::common::{Check, Ref, check_refs, checked, foreign};
use crate::domain::{Name, Phone};
use crate::error::ToolError;
use crate::records;
use crate::registry::{Ctx, Facts, Inspection, Tool, ToolKind};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCompanyArgs {
    /// The company's name.
    #[schemars(length(min = 1, max = 200))]
    pub name: String,
    /// Its web domain, e.g. acme.com.
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub industry: Option<String>,
    /// Main phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// The user who owns the account (default: the requester).
    #[serde(default)]
    pub owner_id: Option<Uuid>,
}

pub struct NewCompany {
    name: Name,
    domain: Option<String>,
    industry: Option<Name>,
    phone: Option<Phone>,
    owner_id: Uuid,
}

/// A bare host name: lower-case labels, at least one dot; a pasted URL is reduced to its host.
fn parse_domain(input: &str) -> Result<String, String> {
    let s = input.trim().to_ascii_lowercase();
    let s = s
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_start_matches("www.");
    let host = s.split(['/', '?', '#']).next().unwrap_or_default();
    let ok = host.contains('.')
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(host.to_string())
    } else {
        Err(format!("`{input}` is not a web domain such as acme.com"))
    }
}

pub struct CreateCompany;

impl Tool for CreateCompany {
    type Args = CreateCompanyArgs;
    type Input = NewCompany;
    const NAME: &'static str = "create_company";
    const KIND: ToolKind = ToolKind::Write;
    const DESCRIPTION: &'static str =
        "Create a company (an account). Refused if another company already has the same domain.";

    fn parse(ctx: &Ctx, a: CreateCompanyArgs) -> Result<NewCompany, ToolError> {
        let mut c = Check::default();
        let name = c.name("name", &a.name, 200);
        let domain = c.opt("domain", a.domain.as_deref(), parse_domain);
        let industry = c.opt_name("industry", a.industry.as_deref(), 100);
        let phone = c.opt("phone", a.phone.as_deref(), |s| {
            Phone::parse(s, ctx.country)
        });
        c.finish()?;
        Ok(NewCompany {
            name: checked(name),
            domain,
            industry,
            phone,
            owner_id: a.owner_id.unwrap_or(ctx.actor.user_id),
        })
    }

    async fn inspect(
        conn: &mut PgConnection,
        ctx: &Ctx,
        n: &NewCompany,
    ) -> Result<Inspection, ToolError> {
        check_refs(conn, &[("owner_id", Ref::User, Some(n.owner_id))]).await?;
        let preview = match &n.domain {
            Some(d) => format!("Create company {} ({d})", n.name),
            None => format!("Create company {}", n.name),
        };
        Ok(Inspection {
            facts: Facts {
                foreign_owned: foreign(Some(n.owner_id), ctx),
                ..Facts::default()
            },
            preview,
        })
    }

    async fn run(conn: &mut PgConnection, ctx: &Ctx, n: NewCompany) -> Result<Value, ToolError> {
        check_refs(conn, &[("owner_id", Ref::User, Some(n.owner_id))]).await?;
        if let Some(d) = &n.domain {
            let existing: Option<(Uuid,)> =
                sqlx::query_as("SELECT id FROM companies WHERE lower(domain) = $1 LIMIT 1")
                    .bind(d)
                    .fetch_optional(&mut *conn)
                    .await?;
            if let Some((id,)) = existing {
                return Err(ToolError::field(
                    "domain",
                    format!("company {id} already has this domain"),
                ));
            }
        }
        let (id,): (Uuid,) = sqlx::query_as(
            "INSERT INTO companies (tenant_id, name, domain, industry, phone, owner_id, created_by, created_at, updated_at)
             VALUES (app_tenant(), $1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(n.name.as_str())
        .bind(n.domain.as_deref())
        .bind(n.industry.as_ref().map(Name::as_str))
        .bind(n.phone.as_ref().map(Phone::as_str))
        .bind(n.owner_id)
        .bind(ctx.actor.user_id)
        .bind(ctx.now)
        .fetch_one(&mut *conn)
        .await?;
        Ok(json!({ "company": records::get_company(conn, id).await? }))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn domains_are_reduced_to_hosts() {
        assert_eq!(
            super::parse_domain("https://www.Acme.com/about").unwrap(),
            "acme.com"
        );
        assert!(super::parse_domain("acme").is_err());
        assert!(super::parse_domain("ac me.com").is_err());
    }
}
