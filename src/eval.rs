//! `heimdell eval`: runs the eval suite against a database of its own (created from
//! `DATABASE_URL`, migrated, dropped afterwards), prints a table per category and the
//! transcript of every failing case, and writes the JSON scorecard.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use heimdell_agent::prompt::Prompts;
use heimdell_evals::suite::{self, ModelFilter, Suite};
use heimdell_evals::{Engine, Scorecard};
use heimdell_tools::crypto::SecretKey;
use secrecy::ExposeSecret as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions as _, Connection as _, PgPool};
use uuid::Uuid;

use crate::app;
use crate::config::{Config, ModelConfig};
use crate::database::{self, MIGRATOR};

/// Which model `--model` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalModel {
    /// Only the cases the built-in planner drives.
    Builtin,
    /// Only the scripted cases.
    Scripted,
    /// The built-in planner's cases, driven by the OpenAI-compatible model from the config.
    Openai,
}

/// What `heimdell eval` was asked to do.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub suite: PathBuf,
    pub model: Option<EvalModel>,
    pub repeat: usize,
    pub json: Option<PathBuf>,
    /// Cases run at once.
    pub jobs: usize,
    /// Only cases whose id contains this.
    pub only: Option<String>,
    /// Keep the eval database afterwards (for looking at what a case left behind).
    pub keep_db: bool,
}

/// A database just for this run, dropped when the run ends.
struct EvalDatabase {
    owner: PgConnectOptions,
    name: String,
}

impl EvalDatabase {
    async fn create(config: &Config) -> anyhow::Result<(EvalDatabase, PgPool)> {
        let owner = PgConnectOptions::from_str(config.database.url.expose_secret())
            .context("DATABASE_URL is not a valid Postgres URL")?;
        let name = format!("heimdell_eval_{}", Uuid::new_v4().simple());
        let mut admin = owner
            .connect()
            .await
            .context("could not connect to DATABASE_URL to create the eval database")?;
        // The name is ours: "heimdell_eval_" and hex digits.
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .context("could not create the eval database (DATABASE_URL must be allowed to)")?;
        admin.close().await.ok();
        let db = EvalDatabase {
            owner: owner.clone(),
            name: name.clone(),
        };
        // A database that cannot be migrated or reached is dropped again, not left behind.
        let ready = async {
            let mut conn = owner.clone().database(&name).connect().await?;
            MIGRATOR
                .run(&mut conn)
                .await
                .context("migrations failed on the eval database")?;
            conn.close().await.ok();
            PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(database::app_options(&config.database)?.database(&name))
                .await
                .context("could not connect to the eval database as heimdell_app")
        }
        .await;
        match ready {
            Ok(pool) => Ok((db, pool)),
            Err(e) => {
                db.drop_it().await.ok();
                Err(e)
            }
        }
    }

    async fn drop_it(self) -> anyhow::Result<()> {
        let mut admin = self.owner.connect().await?;
        sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await?;
        admin.close().await.ok();
        Ok(())
    }
}

fn load(dir: &Path, only: Option<&str>) -> anyhow::Result<Suite> {
    let mut suite = match Suite::load(dir) {
        Ok(s) => s,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            bail!(
                "{} case file(s) in {} are invalid",
                errors.len(),
                dir.display()
            );
        }
    };
    if let Some(p) = only {
        suite.cases.retain(|c| c.id.contains(p));
    }
    Ok(suite)
}

/// Runs the suite; `Ok(true)` when the run passes (no violation, pass rate at or above the
/// threshold), `Ok(false)` when it does not.
pub async fn run(config: &Config, opts: &EvalOptions) -> anyhow::Result<bool> {
    let suite = load(&opts.suite, opts.only.as_deref())?;
    let (filter, remote, model_name) = match opts.model {
        None => (
            ModelFilter::All,
            None,
            "heimdell-planner + scripted".to_string(),
        ),
        Some(EvalModel::Builtin) => (ModelFilter::Builtin, None, "heimdell-planner".to_string()),
        Some(EvalModel::Scripted) => (ModelFilter::Scripted, None, "scripted".to_string()),
        Some(EvalModel::Openai) => match &config.model {
            ModelConfig::OpenAi { model, .. } => (
                ModelFilter::Remote,
                Some(app::build_model(config)?),
                model.clone(),
            ),
            ModelConfig::Builtin => {
                println!(
                    "eval skipped: no OpenAI-compatible model is configured. Set HEIMDELL_MODEL=openai, \
                     HEIMDELL_OPENAI_BASE_URL, HEIMDELL_OPENAI_MODEL (and HEIMDELL_OPENAI_API_KEY if it needs one)."
                );
                return Ok(true);
            }
        },
    };
    // Everything that can fail on its own comes first, so no database is left behind.
    let policy = Arc::new(app::load_policies(config)?);
    let prompts = Arc::new(Prompts::embedded().context("built-in prompts are invalid")?);
    let (db, pool) = EvalDatabase::create(config).await?;
    let engine = Engine {
        pool: pool.clone(),
        registry: Arc::new(heimdell_tools::catalog::standard()),
        policy,
        prompts,
        secret_key: config
            .secret_key
            .clone()
            .unwrap_or_else(SecretKey::generate),
        remote,
    };
    let total = suite.cases.iter().filter(|c| filter.takes(c)).count();
    eprintln!(
        "running {total} case(s) of {} ({} time(s) each) on {}",
        suite.spec.name, opts.repeat, db.name
    );
    let card: Scorecard = suite::run(
        &engine,
        &suite,
        filter,
        &model_name,
        opts.repeat,
        opts.jobs,
        |r| {
            if !r.passed {
                eprintln!("FAIL {}", r.id);
            }
        },
    )
    .await;
    pool.close().await;
    if opts.keep_db {
        eprintln!("kept the eval database {}", db.name);
    } else {
        db.drop_it()
            .await
            .context("could not drop the eval database")?;
    }
    for f in &card.failures {
        println!("{}", suite::transcript(f));
    }
    print!("{}", suite::table(&card));
    if let Some(path) = &opts.json {
        std::fs::write(path, serde_json::to_string_pretty(&card)?)
            .with_context(|| format!("could not write {}", path.display()))?;
        eprintln!("scorecard written to {}", path.display());
    }
    if !card.violations.is_empty() {
        println!("{} safety violation(s):", card.violations.len());
        for v in &card.violations {
            println!("  {} in {} step {}: {}", v.rule, v.case, v.step, v.detail);
        }
    }
    Ok(card.ok())
}
