//! Test harness: every test gets a fresh database (copied from a migrated template) and the
//! real server on 127.0.0.1:0, connected as the app role, exactly as `heimdell serve` runs it.

use heimdell::config::{Config, DatabaseConfig, LogFormat};
use heimdell_tools::identity::hash_password;
use reqwest::{Client, Response, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};
use uuid::Uuid;

/// The superuser URL `make test` exports; every test database is created from it.
fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .expect("DATABASE_URL must point at a Postgres superuser: run the tests with `make test`")
}

fn with_db(url: &str, db: &str) -> String {
    let (base, _) = url
        .rsplit_once('/')
        .expect("DATABASE_URL has a database name");
    format!("{base}/{db}")
}

/// Name of the migrated template for this set of migrations.
fn template_name() -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for m in heimdell::database::MIGRATOR.iter() {
        h.update(&m.checksum);
    }
    format!("heimdell_tmpl_{}", &hex::encode(h.finalize())[..16])
}

/// Creates (once, under an advisory lock shared by all test processes) the migrated template.
async fn ensure_template(admin: &mut PgConnection) -> String {
    let name = template_name();
    sqlx::query("SELECT pg_advisory_lock(727274)")
        .execute(&mut *admin)
        .await
        .unwrap();
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut *admin)
            .await
            .unwrap();
    if !exists {
        let building = format!("{name}_building");
        sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {building}")))
            .execute(&mut *admin)
            .await
            .unwrap();
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {building}")))
            .execute(&mut *admin)
            .await
            .unwrap();
        let mut conn = PgConnection::connect(&with_db(&admin_url(), &building))
            .await
            .unwrap();
        heimdell::database::MIGRATOR
            .run(&mut conn)
            .await
            .expect("migrations apply to a fresh database");
        conn.close().await.unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "ALTER DATABASE {building} RENAME TO {name}"
        )))
        .execute(&mut *admin)
        .await
        .unwrap();
    }
    sqlx::query("SELECT pg_advisory_unlock(727274)")
        .execute(&mut *admin)
        .await
        .unwrap();
    name
}

/// A fresh, migrated database; returns its owner URL.
pub async fn fresh_database() -> String {
    let admin = admin_url();
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("connect to DATABASE_URL");
    let template = ensure_template(&mut conn).await;
    let name = format!("heimdell_test_{}", Uuid::new_v4().simple());
    sqlx::query(AssertSqlSafe(format!(
        "CREATE DATABASE {name} TEMPLATE {template}"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    with_db(&admin, &name)
}

/// A member of a test tenant with a working API token.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: Uuid,
    pub email: String,
    pub role: &'static str,
    pub token: String,
}

/// A test tenant: an admin, a manager and two reps.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: Uuid,
    pub admin: Member,
    pub manager: Member,
    pub rep: Member,
    pub rep2: Member,
}

/// The running server and its database.
pub struct TestApp {
    pub base: String,
    pub client: Client,
    /// The app-role pool (RLS applies).
    pub pool: PgPool,
    /// The owner's URL, for set-up the app role may not do (e.g. backdating an expiry).
    pub owner_url: String,
    /// The configuration the server runs with (same database and secret key for a restart).
    pub config: Config,
    /// The outbox worker: in the background when asked for, otherwise it runs only when a test
    /// calls [`TestApp::deliver`].
    pub worker: heimdell_tools::outreach::outbox::Worker,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    worker_shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(tx) = self.worker_shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Whether a test server's outbox worker runs by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerMode {
    /// Only when the test calls [`TestApp::deliver`].
    Manual,
    /// In the background, as `heimdell serve` runs it (LISTEN/NOTIFY and a short poll).
    Background,
}

pub fn config_for(owner_url: &str) -> Config {
    Config {
        database: DatabaseConfig {
            url: owner_url.to_string().into(),
            app_url: None,
            app_password: None,
            max_connections: 8,
        },
        addr: "127.0.0.1:0".parse().unwrap(),
        action_ttl_hours: 168,
        policies_dir: None,
        cookie_secure: false,
        log_format: LogFormat::Pretty,
        model: heimdell::config::ModelConfig::Builtin,
        usage_limit: None,
        cost: Default::default(),
        secret_key: Some(heimdell_tools::crypto::SecretKey::generate()),
        public_url: None,
        twilio_base_url: heimdell_adapters::twilio::DEFAULT_BASE_URL.to_string(),
        http: heimdell_adapters::http::HttpLimits::default(),
        outbox: heimdell_tools::outreach::outbox::WorkerConfig {
            concurrency: 8,
            lease: std::time::Duration::from_secs(30),
            poll_interval: std::time::Duration::from_millis(50),
            max_attempts: 3,
            backoff_base: std::time::Duration::from_millis(20),
            backoff_max: std::time::Duration::from_millis(200),
            ..Default::default()
        },
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_inner(None).await
    }

    /// The server with a given chat model (e.g. a scripted one that records what it is sent).
    pub async fn spawn_with_model(
        model: std::sync::Arc<dyn heimdell_agent::model::ChatModel>,
    ) -> TestApp {
        Self::spawn_inner(Some(model)).await
    }

    /// A server whose users may send `limit` Copilot requests a month.
    pub async fn spawn_limited(
        model: std::sync::Arc<dyn heimdell_agent::model::ChatModel>,
        limit: i64,
    ) -> TestApp {
        Self::spawn_configured(Some(model), |c| c.usage_limit = Some(limit)).await
    }

    async fn spawn_inner(
        model: Option<std::sync::Arc<dyn heimdell_agent::model::ChatModel>>,
    ) -> TestApp {
        Self::spawn_configured(model, |_| {}).await
    }

    /// A server whose outbox delivers to a fake Twilio at `twilio_base_url`; its worker runs
    /// only when the test calls [`TestApp::deliver`].
    pub async fn spawn_twilio(twilio_base_url: &str) -> TestApp {
        let url = twilio_base_url.to_string();
        Self::spawn_configured(None, move |c| c.twilio_base_url = url).await
    }

    /// A server whose configuration `adjust` changes first.
    pub async fn spawn_configured(
        model: Option<std::sync::Arc<dyn heimdell_agent::model::ChatModel>>,
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        let owner_url = fresh_database().await;
        let mut config = config_for(&owner_url);
        adjust(&mut config);
        Self::start(config, model, WorkerMode::Manual).await
    }

    /// Another server on this one's database, with the same configuration (a restart).
    pub async fn restart(config: Config, worker: WorkerMode) -> TestApp {
        Self::start(config, None, worker).await
    }

    async fn start(
        mut config: Config,
        model: Option<std::sync::Arc<dyn heimdell_agent::model::ChatModel>>,
        worker_mode: WorkerMode,
    ) -> TestApp {
        let owner_url = config.database.url.expose_secret().to_string();
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(heimdell::database::app_options(&config.database).unwrap())
            .await
            .expect("connect as heimdell_app");
        // The listener first: the server's public URL (webhooks, callbacks) is its address.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        config.public_url = Some(base.clone());
        let state = match model {
            Some(m) => heimdell::app::state_with_model(&config, pool.clone(), m).unwrap(),
            None => heimdell::app::state(&config, pool.clone()).unwrap(),
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(heimdell::app::serve(listener, state, async {
            let _ = rx.await;
        }));
        let worker = heimdell::app::worker(&config, pool.clone());
        let worker_shutdown = match worker_mode {
            WorkerMode::Manual => None,
            WorkerMode::Background => {
                let (wtx, wrx) = tokio::sync::oneshot::channel::<()>();
                tokio::spawn(worker.clone().run(async {
                    let _ = wrx.await;
                }));
                Some(wtx)
            }
        };
        TestApp {
            base,
            client: Client::builder().build().unwrap(),
            pool,
            owner_url,
            config,
            worker,
            shutdown: Some(tx),
            worker_shutdown,
        }
    }

    /// Runs the outbox worker until nothing due is left.
    pub async fn deliver(&self) -> heimdell_tools::outreach::outbox::Report {
        self.worker.drain().await.expect("outbox worker")
    }

    /// Runs `f` inside a transaction scoped to `tenant` on the app-role pool.
    pub async fn tenant_conn(&self, tenant: Uuid) -> sqlx::Transaction<'static, sqlx::Postgres> {
        heimdell_tools::db::begin_tenant(&self.pool, tenant)
            .await
            .unwrap()
    }

    /// Creates a tenant with an admin, a manager and two reps, each with an API token; the
    /// admin's password is `password-<name>`.
    pub async fn tenant(&self, name: &str) -> Tenant {
        use heimdell_tools::domain::{Country, Role};
        use heimdell_tools::tenancy::{self, NewMember, NewTenant};
        let id = Uuid::now_v7();
        let ny = chrono_tz::America::New_York;
        let mut tx = heimdell_tools::db::begin_tenant(&self.pool, id)
            .await
            .unwrap();
        tenancy::create_tenant(
            &mut tx,
            &NewTenant {
                id,
                name,
                country: Country::parse("US").unwrap(),
                timezone: ny,
            },
        )
        .await
        .unwrap();
        let slug = name.to_lowercase().replace(' ', "");
        let mut members = Vec::new();
        for (role, local) in [
            (Role::Admin, "admin"),
            (Role::Manager, "manager"),
            (Role::Rep, "rep1"),
            (Role::Rep, "rep2"),
        ] {
            let email = format!("{local}@{slug}.test");
            let hash = (role == Role::Admin).then(|| hash_password(&format!("password-{slug}")));
            let user = tenancy::add_member(
                &mut tx,
                &NewMember {
                    email: &email,
                    name: &format!("{local} {name}"),
                    role,
                    timezone: ny,
                    phone: None,
                    password_hash: hash.as_deref(),
                },
            )
            .await
            .unwrap();
            let token = tenancy::issue_token(&mut tx, user, "default")
                .await
                .unwrap();
            members.push(Member {
                id: user,
                email,
                role: role.as_str(),
                token,
            });
        }
        tx.commit().await.unwrap();
        let mut it = members.into_iter();
        Tenant {
            id,
            admin: it.next().unwrap(),
            manager: it.next().unwrap(),
            rep: it.next().unwrap(),
            rep2: it.next().unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, who: &Member, path: &str) -> (StatusCode, Value) {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(&who.token)
            .send()
            .await
            .unwrap();
        body(r).await
    }

    pub async fn post(&self, who: &Member, path: &str, json: Value) -> (StatusCode, Value) {
        let r = self
            .client
            .post(self.url(path))
            .bearer_auth(&who.token)
            .json(&json)
            .send()
            .await
            .unwrap();
        body(r).await
    }

    /// Proposes a tool call through `POST /api/v1/actions`.
    pub async fn propose(&self, who: &Member, tool: &str, args: Value) -> (StatusCode, Value) {
        self.post(
            who,
            "/api/v1/actions",
            json!({ "tool": tool, "args": args }),
        )
        .await
    }

    /// Proposes and approves at once (the caller must be allowed to approve it).
    pub async fn run(&self, who: &Member, tool: &str, args: Value) -> Value {
        let (status, v) = self
            .post(
                who,
                "/api/v1/actions",
                json!({ "tool": tool, "args": args, "approve": true }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{tool} should run at once: {v}");
        assert_eq!(v["status"], "executed", "{v}");
        v["result"].clone()
    }

    pub async fn approve(&self, who: &Member, id: &str) -> (StatusCode, Value) {
        let r = self
            .client
            .post(self.url(&format!("/api/v1/actions/{id}/approve")))
            .bearer_auth(&who.token)
            .send()
            .await
            .unwrap();
        body(r).await
    }

    /// Owner connection for set-up the app role is not allowed to do.
    pub async fn owner(&self) -> PgConnection {
        PgConnection::connect(&self.owner_url).await.unwrap()
    }
}

pub async fn body(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap();
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, v)
}

/// Asserts the error shape and returns its code.
pub fn error_code(v: &Value) -> &str {
    assert!(
        v["error"]["message"].is_string(),
        "error body has a message: {v}"
    );
    assert!(
        v["error"]["details"].is_array(),
        "error body has details: {v}"
    );
    v["error"]["code"].as_str().unwrap_or_default()
}

/// The fields named in an error's details.
pub fn error_fields(v: &Value) -> Vec<String> {
    v["error"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|x| x["field"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
