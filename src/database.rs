//! Database connections. Migrations run as the owner of the schema (`DATABASE_URL`); the server
//! and every command that touches tenant data connect as `heimdell_app`, a role without
//! BYPASSRLS, so row-level security holds even for a query that forgets its tenant filter.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::DatabaseConfig;

/// The migrations compiled into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The role the server connects as.
pub const APP_ROLE: &str = "heimdell_app";

/// Connects as the schema owner (for migrations and test set-up).
pub async fn connect_owner(cfg: &DatabaseConfig) -> anyhow::Result<PgPool> {
    let opts = PgConnectOptions::from_str(cfg.url.expose_secret())
        .context("DATABASE_URL is not a valid Postgres URL")?;
    PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .context("could not connect to the database at DATABASE_URL")
}

/// Connect options for the app role: `HEIMDELL_APP_DATABASE_URL`, else `DATABASE_URL` with the
/// user switched to `heimdell_app` (and `HEIMDELL_APP_DB_PASSWORD` as its password, if set).
pub fn app_options(cfg: &DatabaseConfig) -> anyhow::Result<PgConnectOptions> {
    if let Some(url) = &cfg.app_url {
        return PgConnectOptions::from_str(url.expose_secret())
            .context("HEIMDELL_APP_DATABASE_URL is not a valid Postgres URL");
    }
    let mut opts = PgConnectOptions::from_str(cfg.url.expose_secret())
        .context("DATABASE_URL is not a valid Postgres URL")?
        .username(APP_ROLE);
    if let Some(pw) = &cfg.app_password {
        opts = opts.password(pw.expose_secret());
    }
    Ok(opts)
}

/// Connects as the app role with a pool sized for the server.
pub async fn connect_app(cfg: &DatabaseConfig) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(cfg.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(app_options(cfg)?)
        .await
        .context("could not connect to the database as heimdell_app (run `heimdell migrate` first)")
}

/// Runs pending migrations as the owner.
pub async fn migrate(cfg: &DatabaseConfig) -> anyhow::Result<()> {
    let pool = connect_owner(cfg).await?;
    MIGRATOR.run(&pool).await.context("migrations failed")?;
    pool.close().await;
    Ok(())
}
