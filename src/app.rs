//! Wiring: from a [`Config`] to a running server. The listener and the shutdown signal are
//! passed in, so tests bind `127.0.0.1:0` and stop the server when they are done.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use heimdell_adapters::http::{self, ApiState};
use heimdell_agent::Pipeline;
use heimdell_policies::PolicyEngine;
use metrics_exporter_prometheus::PrometheusBuilder;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::config::Config;

/// Loads the policies named by the config, or the ones built into the binary. A bad policy
/// file is an error that names the file: the server must not start with it.
pub fn load_policies(config: &Config) -> anyhow::Result<PolicyEngine> {
    match &config.policies_dir {
        Some(dir) => PolicyEngine::load_dir(dir)
            .with_context(|| format!("policies in {} are invalid", dir.display())),
        None => PolicyEngine::embedded().context("built-in policies are invalid"),
    }
}

/// Everything a server needs, built once.
pub fn state(config: &Config, pool: PgPool) -> anyhow::Result<ApiState> {
    let policy = Arc::new(load_policies(config)?);
    let registry = Arc::new(heimdell_tools::catalog::standard());
    let ttl = chrono::Duration::hours(config.action_ttl_hours);
    let pipeline = Pipeline::new(pool.clone(), registry, policy, ttl);
    Ok(ApiState {
        pool,
        pipeline,
        metrics: Arc::new(PrometheusBuilder::new().build_recorder()),
        cookie_secure: config.cookie_secure,
        dummy_hash: Arc::new(heimdell_tools::identity::hash_password(
            "no account has this password",
        )),
    })
}

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, http::router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .context("server stopped with an error")
}
