//! Provisioning a workspace: the tenant row with its default sales pipeline, its members and
//! their API tokens. Everything after that (companies, contacts, deals, consent, Twilio) goes
//! through the tools. Runs as the app role: each function takes a transaction already scoped to
//! the tenant (see [`crate::db`]), so row-level security checks every insert.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{Country, Role};
use crate::identity::{TOKEN_PREFIX, new_secret, secret_hash};

/// The name of a new workspace's default pipeline.
pub const DEFAULT_PIPELINE: &str = "Sales";

/// The stages a new workspace's default pipeline starts with, in order:
/// (name, win probability %, won, lost).
pub const DEFAULT_STAGES: &[(&str, i32, bool, bool)] = &[
    ("Lead", 10, false, false),
    ("Qualified", 25, false, false),
    ("Proposal", 50, false, false),
    ("Negotiation", 75, false, false),
    ("Won", 100, true, false),
    ("Lost", 0, false, true),
];

/// A workspace to create.
#[derive(Debug, Clone)]
pub struct NewTenant<'a> {
    /// Chosen by the caller so it can scope the transaction to it before inserting.
    pub id: Uuid,
    pub name: &'a str,
    /// Default country for phone numbers written without a country code.
    pub country: Country,
    /// IANA zone of the workspace (members default to it).
    pub timezone: chrono_tz::Tz,
}

/// Creates the tenant and its default pipeline. The transaction must be scoped to `t.id`.
pub async fn create_tenant(conn: &mut PgConnection, t: &NewTenant<'_>) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO tenants (id, name, country, timezone) VALUES ($1, $2, $3, $4)")
        .bind(t.id)
        .bind(t.name)
        .bind(t.country.code())
        .bind(t.timezone.name())
        .execute(&mut *conn)
        .await?;
    let pipeline: Uuid = sqlx::query_scalar(
        "INSERT INTO pipelines (tenant_id, name, is_default) VALUES (app_tenant(), $1, true)
         RETURNING id",
    )
    .bind(DEFAULT_PIPELINE)
    .fetch_one(&mut *conn)
    .await?;
    let names: Vec<&str> = DEFAULT_STAGES.iter().map(|s| s.0).collect();
    let positions: Vec<i32> = (1_i32..).take(DEFAULT_STAGES.len()).collect();
    let probabilities: Vec<i32> = DEFAULT_STAGES.iter().map(|s| s.1).collect();
    let won: Vec<bool> = DEFAULT_STAGES.iter().map(|s| s.2).collect();
    let lost: Vec<bool> = DEFAULT_STAGES.iter().map(|s| s.3).collect();
    sqlx::query(
        "INSERT INTO stages (tenant_id, pipeline_id, name, position, probability, is_won, is_lost)
         SELECT app_tenant(), $1, x.name, x.position, x.probability, x.is_won, x.is_lost
         FROM UNNEST($2::text[], $3::int[], $4::int[], $5::bool[], $6::bool[])
              AS x(name, position, probability, is_won, is_lost)",
    )
    .bind(pipeline)
    .bind(&names)
    .bind(&positions)
    .bind(&probabilities)
    .bind(&won)
    .bind(&lost)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A member to add to the tenant the transaction is scoped to.
#[derive(Debug, Clone)]
pub struct NewMember<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    /// Their own zone ("today" is theirs).
    pub timezone: chrono_tz::Tz,
    /// Their phone in E.164, for click-to-call bridges.
    pub phone: Option<&'a str>,
    /// An argon2 hash (see [`crate::identity::hash_password`]); None for token-only members.
    pub password_hash: Option<&'a str>,
}

/// Adds a member; returns their id.
pub async fn add_member(conn: &mut PgConnection, m: &NewMember<'_>) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO users (tenant_id, email, name, role, password_hash, timezone, phone)
         VALUES (app_tenant(), $1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(m.email)
    .bind(m.name)
    .bind(m.role.as_str())
    .bind(m.password_hash)
    .bind(m.timezone.name())
    .bind(m.phone)
    .fetch_one(conn)
    .await
}

/// Issues an API token for a member; returns the token, which is stored only hashed.
pub async fn issue_token(
    conn: &mut PgConnection,
    user_id: Uuid,
    name: &str,
) -> Result<String, sqlx::Error> {
    let token = new_secret(TOKEN_PREFIX);
    sqlx::query(
        "INSERT INTO api_tokens (tenant_id, user_id, name, token_hash) VALUES (app_tenant(), $1, $2, $3)",
    )
    .bind(user_id)
    .bind(name)
    .bind(secret_hash(&token))
    .execute(conn)
    .await?;
    Ok(token)
}
