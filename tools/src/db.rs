//! Tenant-scoped transactions. The tenant is a transaction-local setting that every row-level
//! security policy reads, so a query that forgets `WHERE tenant_id = ...` still sees one tenant.

use sqlx::{AssertSqlSafe, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// Begins a transaction in which only `tenant_id`'s rows are visible or writable.
///
/// `BEGIN` and the setting go to the server in one round trip. The id is inlined into the SQL
/// text, which is safe: a formatted `Uuid` holds only hex digits and hyphens.
pub async fn begin_tenant(
    pool: &PgPool,
    tenant_id: Uuid,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let id = tenant_id.hyphenated().to_string();
    debug_assert!(id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    pool.begin_with(AssertSqlSafe(format!(
        "BEGIN; SELECT set_config('heimdell.tenant_id', '{id}', true)"
    )))
    .await
}

/// Sets the tenant for the rest of the current transaction.
pub async fn set_tenant(conn: &mut sqlx::PgConnection, tenant_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config('heimdell.tenant_id', $1, true)")
        .bind(tenant_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
