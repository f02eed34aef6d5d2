//! Wiring: from a [`Config`] to a running server. The listener and the shutdown signal are
//! passed in, so tests bind `127.0.0.1:0` and stop the server when they are done.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use heimdell_adapters::http::{self, ApiState};
use heimdell_agent::Pipeline;
use heimdell_policies::PolicyEngine;
use metrics_exporter_prometheus::PrometheusBuilder;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::config::{Config, ModelConfig};
use heimdell_agent::copilot::{Copilot, CopilotConfig};
use heimdell_agent::model::ChatModel;
use heimdell_agent::model::openai::{OpenAiConfig, OpenAiModel};
use heimdell_agent::model::planner::Planner;
use heimdell_agent::prompt::Prompts;
use heimdell_tools::outreach::outbox::{Worker, WorkerConfig};

/// How long one request to Twilio may take; well under the outbox lease.
const TWILIO_TIMEOUT: Duration = Duration::from_secs(15);

/// The outbox worker that delivers approved texts and calls to Twilio. `heimdell serve` runs
/// it next to the API; tests build it and decide when it runs.
pub fn worker(config: &Config, pool: PgPool) -> Worker {
    let gateway = Arc::new(heimdell_adapters::twilio::TwilioGateway::new(
        &config.twilio_base_url,
        TWILIO_TIMEOUT,
    ));
    let worker_config = WorkerConfig {
        public_url: config.public_url.clone(),
        ..config.outbox.clone()
    };
    Worker::new(pool, gateway, config.secret_key.clone(), worker_config)
}

/// Loads the policies named by the config, or the ones built into the binary. A bad policy
/// file is an error that names the file: the server must not start with it.
pub fn load_policies(config: &Config) -> anyhow::Result<PolicyEngine> {
    match &config.policies_dir {
        Some(dir) => PolicyEngine::load_dir(dir)
            .with_context(|| format!("policies in {} are invalid", dir.display())),
        None => PolicyEngine::embedded().context("built-in policies are invalid"),
    }
}

/// The Copilot's model as configured.
pub fn build_model(config: &Config) -> anyhow::Result<Arc<dyn ChatModel>> {
    Ok(match &config.model {
        ModelConfig::Builtin => Arc::new(Planner::new()),
        ModelConfig::OpenAi {
            base_url,
            api_key,
            model,
            timeout,
            max_tokens,
        } => {
            let mut cfg = OpenAiConfig::new(base_url.clone(), model.clone());
            cfg.api_key = api_key.clone();
            cfg.timeout = *timeout;
            cfg.max_tokens = *max_tokens;
            Arc::new(OpenAiModel::new(cfg).context("the OpenAI-compatible model is misconfigured")?)
        }
    })
}

/// Everything a server needs, built once.
pub fn state(config: &Config, pool: PgPool) -> anyhow::Result<ApiState> {
    state_with_model(config, pool, build_model(config)?)
}

/// The same, with a given model (tests pass a scripted one).
pub fn state_with_model(
    config: &Config,
    pool: PgPool,
    model: Arc<dyn ChatModel>,
) -> anyhow::Result<ApiState> {
    let policy = Arc::new(load_policies(config)?);
    let registry = Arc::new(heimdell_tools::catalog::standard());
    let ttl = chrono::Duration::hours(config.action_ttl_hours);
    let pipeline = Pipeline::new(pool.clone(), registry, policy, ttl)
        .with_secret_key(config.secret_key.clone());
    let prompts = Arc::new(Prompts::embedded().context("built-in prompts are invalid")?);
    let copilot_config = CopilotConfig {
        monthly_request_limit: config.usage_limit,
        cost: config.cost.clone(),
        ..CopilotConfig::default()
    };
    if config.cost.prices.get(model.name()).is_none() {
        tracing::warn!(
            model = model.name(),
            "no price is configured for the Copilot's model (HEIMDELL_MODEL_PRICES): its tokens are counted, its cost is not"
        );
    }
    let copilot = Copilot::new(pipeline.clone(), model, prompts, copilot_config);
    Ok(ApiState {
        pool,
        copilot,
        pipeline,
        metrics: Arc::new(PrometheusBuilder::new().build_recorder()),
        cookie_secure: config.cookie_secure,
        passwords: http::password::PasswordChecker::new(
            config.http.password_slots,
            config.http.password_queue,
        ),
        sign_in_rate: http::rate::RateLimiter::new(config.http.sign_ins_per_minute),
        limits: Arc::new(config.http.clone()),
        secret_key: config.secret_key.clone().map(Arc::new),
        public_url: config.public_url.clone(),
    })
}

/// Serves the API on `listener` until `shutdown` resolves (and `/metrics` on
/// `HEIMDELL_METRICS_ADDR` too, when it is set).
pub async fn serve(
    listener: TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let limits = state.limits.clone();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let metrics = match limits.metrics_addr {
        Some(addr) => {
            let metrics_listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on HEIMDELL_METRICS_ADDR={addr}"))?;
            let mut stopped = stopped.clone();
            let router = http::metrics_router(state.clone());
            let limits = limits.clone();
            Some(tokio::spawn(async move {
                http::server::serve(metrics_listener, router, &limits, async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
            }))
        }
        None => None,
    };
    let served = http::server::serve(listener, http::router(state), &limits, async move {
        shutdown.await;
        let _ = stop.send(true);
    })
    .await;
    drop(stopped);
    if let Some(task) = metrics {
        task.await.context("metrics listener")??;
    }
    served.context("server stopped with an error")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with_policies(dir: std::path::PathBuf) -> Config {
        Config::load(None, move |k| match k {
            "DATABASE_URL" => Some("postgres://localhost/x".into()),
            "HEIMDELL_POLICIES_DIR" => Some(dir.to_string_lossy().into_owned()),
            _ => None,
        })
        .unwrap()
    }

    #[test]
    fn a_bad_policy_file_stops_start_up_with_its_name() {
        let dir =
            std::env::temp_dir().join(format!("heimdell-bad-policies-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // The package folder at run time: a build cache shared between checkouts may hold a test
        // binary compiled in another one.
        let src = format!(
            "{}/policies",
            std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
        );
        for f in std::fs::read_dir(&src).unwrap() {
            let p = f.unwrap().path();
            if p.extension()
                .is_some_and(|e| e == "cedar" || e == "cedarschema")
            {
                std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
            }
        }
        assert!(
            load_policies(&config_with_policies(dir.clone())).is_ok(),
            "the shipped policies load from a folder"
        );
        std::fs::write(
            dir.join("broken.cedar"),
            "@reason(\"x\") permit(principal, action, resource) when { principal.vip };",
        )
        .unwrap();
        let err = format!(
            "{:#}",
            load_policies(&config_with_policies(dir.clone())).unwrap_err()
        );
        assert!(err.contains("broken.cedar"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
