//! Tenant-scoped transactions. The tenant is a transaction-local setting that every row-level
//! security policy reads, so a query that forgets `WHERE tenant_id = ...` still sees one tenant.

use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// Begins a transaction in which only `tenant_id`'s rows are visible or writable.
pub async fn begin_tenant(
    pool: &PgPool,
    tenant_id: Uuid,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    set_tenant(&mut tx, tenant_id).await?;
    Ok(tx)
}

/// Sets the tenant for the rest of the current transaction.
pub async fn set_tenant(conn: &mut sqlx::PgConnection, tenant_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config('heimdell.tenant_id', $1, true)")
        .bind(tenant_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
