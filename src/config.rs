//! Layered configuration: defaults, then an optional TOML file (`HEIMDELL_CONFIG` or
//! `--config`), then `HEIMDELL_*` environment variables (and `DATABASE_URL`), which win.
//! The environment is passed in as a lookup function, so tests never change the process's env.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow, bail};
use heimdell_adapters::http::HttpLimits;
use heimdell_agent::copilot::usage::{self, CostConfig, Price, PriceTable};
use heimdell_tools::crypto::SecretKey;
use heimdell_tools::outreach::outbox::WorkerConfig;
use secrecy::SecretString;
use serde::Deserialize;

/// Everything the server needs to know about where it runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseConfig,
    /// Where `serve` listens unless `--addr` says otherwise.
    pub addr: SocketAddr,
    /// How long a proposed action stays approvable.
    pub action_ttl_hours: i64,
    /// A folder of Cedar policies to use instead of the ones built into the binary.
    pub policies_dir: Option<PathBuf>,
    /// Mark session cookies `Secure` (set when served over HTTPS).
    pub cookie_secure: bool,
    /// `json` for machine-read logs, `pretty` for people.
    pub log_format: LogFormat,
    /// Which chat model the Copilot uses.
    pub model: ModelConfig,
    /// Copilot requests per user per month (`HEIMDELL_USAGE_LIMIT`); None for no limit.
    pub usage_limit: Option<i64>,
    /// Prices per model (`HEIMDELL_MODEL_PRICES` or `[prices."<model>"]` in the file) and the
    /// monthly cost limits per member (`HEIMDELL_USAGE_COST_LIMIT_USD`) and per tenant
    /// (`HEIMDELL_TENANT_COST_LIMIT_USD`).
    pub cost: CostConfig,
    /// The key tenant secrets (Twilio auth tokens) are encrypted with (`HEIMDELL_SECRET_KEY`,
    /// 32 bytes as hex or base64). Without it, nothing that stores or reads such a secret works.
    pub secret_key: Option<SecretKey>,
    /// The URL Twilio reaches this server at (`HEIMDELL_PUBLIC_URL`, e.g.
    /// `https://crm.example.com`), without a trailing slash: webhook URLs and their signatures
    /// are built on it.
    pub public_url: Option<String>,
    /// Twilio's REST API (`HEIMDELL_TWILIO_BASE_URL`; a fake one in tests).
    pub twilio_base_url: String,
    /// How the outbox worker polls, leases, retries and backs off (defaults suit production;
    /// tests shorten them). Its `public_url` is filled from [`Config::public_url`].
    pub outbox: WorkerConfig,
    /// Timeouts, connection cap, sign-in rate and metrics access at the HTTP edge.
    pub http: HttpLimits,
}

/// The Copilot's model: the built-in planner (default, offline) or an OpenAI-compatible API.
#[derive(Debug, Clone)]
pub enum ModelConfig {
    Builtin,
    OpenAi {
        /// `HEIMDELL_OPENAI_BASE_URL`, e.g. `https://api.openai.com/v1` or a local server's.
        base_url: String,
        /// `HEIMDELL_OPENAI_API_KEY`; local servers often need none.
        api_key: Option<SecretString>,
        /// `HEIMDELL_OPENAI_MODEL`.
        model: String,
        /// `HEIMDELL_OPENAI_TIMEOUT_SECS` (default 120): how long the model may stay silent
        /// (between chunks of a streamed answer, or for a whole one). Small local models need
        /// time to read a long prompt.
        timeout: std::time::Duration,
        /// `HEIMDELL_OPENAI_MAX_TOKENS` (default 1024; 0 leaves it to the server): the most
        /// tokens one answer may take.
        max_tokens: Option<u32>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Database connection settings. URLs can hold passwords, so they are secrets: never printed.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// The schema owner's URL (`DATABASE_URL`), used for migrations.
    pub url: SecretString,
    /// The app role's URL (`HEIMDELL_APP_DATABASE_URL`); derived from `url` when absent.
    pub app_url: Option<SecretString>,
    /// The app role's password when the URL is derived (`HEIMDELL_APP_DB_PASSWORD`).
    pub app_password: Option<SecretString>,
    /// Pool size for the server (`HEIMDELL_DB_MAX_CONNECTIONS`, default 32).
    pub max_connections: u32,
}

/// The shape of the optional TOML file; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    app_database_url: Option<String>,
    db_max_connections: Option<u32>,
    addr: Option<String>,
    action_ttl_hours: Option<i64>,
    policies_dir: Option<PathBuf>,
    cookie_secure: Option<bool>,
    log_format: Option<String>,
    model: Option<String>,
    openai_base_url: Option<String>,
    openai_model: Option<String>,
    openai_timeout_secs: Option<u64>,
    openai_max_tokens: Option<u32>,
    usage_limit: Option<i64>,
    /// `[prices."gpt-4o-mini"] prompt = 0.15, cached_prompt = 0.075, completion = 0.60`.
    prices: Option<std::collections::BTreeMap<String, FilePrice>>,
    usage_cost_limit_usd: Option<FileDecimal>,
    tenant_cost_limit_usd: Option<FileDecimal>,
    public_url: Option<String>,
    twilio_base_url: Option<String>,
    header_timeout_secs: Option<u64>,
    body_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    sign_in_per_minute: Option<u32>,
    metrics_addr: Option<String>,
    password_slots: Option<usize>,
    trusted_proxies: Option<Vec<String>>,
}

/// A model's prices in the file, in US dollars per million tokens; cached prompt tokens cost
/// the prompt price when `cached_prompt` is left out.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePrice {
    prompt: FileDecimal,
    cached_prompt: Option<FileDecimal>,
    completion: FileDecimal,
}

/// A decimal in the file, as a TOML number (`0.15`) or string (`"0.15"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FileDecimal {
    Number(f64),
    Text(String),
}

impl FileDecimal {
    /// The decimal as text: a float prints as the shortest text that reads back the same
    /// (`0.075`, never `0.07500000000000001`), which is then parsed exactly.
    fn text(&self) -> String {
        match self {
            FileDecimal::Number(n) => n.to_string(),
            FileDecimal::Text(t) => t.trim().to_string(),
        }
    }
}

/// The price table: `HEIMDELL_MODEL_PRICES` (which replaces the file's) or the file's
/// `[prices."<model>"]` tables.
fn prices(
    env: &impl Fn(&str) -> Option<String>,
    from_file: Option<std::collections::BTreeMap<String, FilePrice>>,
) -> anyhow::Result<PriceTable> {
    if let Some(v) = env("HEIMDELL_MODEL_PRICES").filter(|v| !v.trim().is_empty()) {
        return PriceTable::parse(&v).map_err(|e| anyhow!("HEIMDELL_MODEL_PRICES: {e}"));
    }
    let mut table = PriceTable::default();
    for (model, p) in from_file.unwrap_or_default() {
        let prompt = p.prompt.text();
        let cached = p
            .cached_prompt
            .as_ref()
            .map_or(prompt.clone(), FileDecimal::text);
        Price::parse(&prompt, &cached, &p.completion.text())
            .and_then(|price| table.insert(&model, price))
            .map_err(|e| anyhow!("[prices.{model:?}] in the config file: {e}"))?;
    }
    Ok(table)
}

/// A monthly cost limit in US dollars from the environment (which wins) or the file.
fn cost_limit(
    env: &impl Fn(&str) -> Option<String>,
    var: &str,
    key: &str,
    from_file: Option<FileDecimal>,
) -> anyhow::Result<Option<i64>> {
    match env(var).filter(|v| !v.trim().is_empty()) {
        Some(v) => usage::parse_usd_limit(&v)
            .map(Some)
            .map_err(|e| anyhow!("{var}={v} {e}")),
        None => match from_file {
            Some(d) => {
                let t = d.text();
                usage::parse_usd_limit(&t)
                    .map(Some)
                    .map_err(|e| anyhow!("{key} = {t} in the config file {e} ({var})"))
            }
            None => Ok(None),
        },
    }
}

/// A number from the environment (which wins) or the file, else `default`; a bad one is named.
fn number<T: std::str::FromStr>(
    env: &impl Fn(&str) -> Option<String>,
    var: &str,
    from_file: Option<T>,
    default: T,
) -> anyhow::Result<T> {
    match env(var).filter(|v| !v.trim().is_empty()) {
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| anyhow!("{var}={v} is not a valid number")),
        None => Ok(from_file.unwrap_or(default)),
    }
}

/// An absolute http(s) URL with a host and nothing after the path, trailing slash removed.
fn base_url(var: &str, text: &str) -> anyhow::Result<String> {
    let url =
        reqwest::Url::parse(text.trim()).with_context(|| format!("{var}={text} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        bail!(
            "{var}={text}: give an http(s) URL with a host and no query, e.g. https://crm.example.com"
        );
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

impl Config {
    /// Builds the configuration from a file (if any) and an environment lookup.
    pub fn load(
        file: Option<&std::path::Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Config> {
        let path = file
            .map(PathBuf::from)
            .or_else(|| env("HEIMDELL_CONFIG").map(PathBuf::from));
        let f: FileConfig = match &path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read config file {}", p.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("config file {} is not valid", p.display()))?
            }
            None => FileConfig::default(),
        };
        let pick =
            |var: &str, from_file: Option<String>| env(var).filter(|v| !v.is_empty()).or(from_file);

        let Some(url) = pick("DATABASE_URL", f.database_url) else {
            bail!(
                "DATABASE_URL is not set (run `make db` for a local database and export what it prints)"
            );
        };
        let max_connections = match env("HEIMDELL_DB_MAX_CONNECTIONS") {
            Some(v) => v
                .parse()
                .with_context(|| format!("HEIMDELL_DB_MAX_CONNECTIONS={v} is not a number"))?,
            None => f.db_max_connections.unwrap_or(32),
        };
        let addr_text =
            pick("HEIMDELL_ADDR", f.addr).unwrap_or_else(|| "127.0.0.1:8080".to_string());
        let addr = addr_text
            .parse()
            .with_context(|| format!("HEIMDELL_ADDR={addr_text} is not host:port"))?;
        let action_ttl_hours = match env("HEIMDELL_ACTION_TTL_HOURS") {
            Some(v) => v
                .parse()
                .with_context(|| format!("HEIMDELL_ACTION_TTL_HOURS={v} is not a number"))?,
            None => f.action_ttl_hours.unwrap_or(24 * 7),
        };
        if action_ttl_hours < 1 {
            bail!("HEIMDELL_ACTION_TTL_HOURS must be at least 1");
        }
        let cookie_secure = match env("HEIMDELL_COOKIE_SECURE") {
            Some(v) => matches!(v.as_str(), "1" | "true" | "yes"),
            None => f.cookie_secure.unwrap_or(false),
        };
        let log_format = match pick("HEIMDELL_LOG_FORMAT", f.log_format).as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("HEIMDELL_LOG_FORMAT={other}: use json or pretty"),
        };
        let model = match pick("HEIMDELL_MODEL", f.model).as_deref() {
            None | Some("builtin") => ModelConfig::Builtin,
            Some("openai") => ModelConfig::OpenAi {
                base_url: pick("HEIMDELL_OPENAI_BASE_URL", f.openai_base_url)
                    .unwrap_or_else(|| "https://api.openai.com/v1".to_string()),
                api_key: env("HEIMDELL_OPENAI_API_KEY")
                    .filter(|k| !k.is_empty())
                    .map(Into::into),
                model: pick("HEIMDELL_OPENAI_MODEL", f.openai_model)
                    .unwrap_or_else(|| "gpt-4o-mini".to_string()),
                timeout: {
                    let secs = number(
                        &env,
                        "HEIMDELL_OPENAI_TIMEOUT_SECS",
                        f.openai_timeout_secs,
                        120,
                    )?;
                    if secs == 0 {
                        bail!("HEIMDELL_OPENAI_TIMEOUT_SECS must be at least 1 second");
                    }
                    std::time::Duration::from_secs(secs)
                },
                max_tokens: Some(number(
                    &env,
                    "HEIMDELL_OPENAI_MAX_TOKENS",
                    f.openai_max_tokens,
                    1024,
                )?)
                .filter(|n| *n > 0),
            },
            Some(other) => bail!("HEIMDELL_MODEL={other}: use builtin or openai"),
        };
        let usage_limit = match env("HEIMDELL_USAGE_LIMIT") {
            Some(v) => Some(
                v.parse()
                    .with_context(|| format!("HEIMDELL_USAGE_LIMIT={v} is not a number"))?,
            ),
            None => f.usage_limit,
        };
        let cost = CostConfig {
            prices: prices(&env, f.prices)?,
            member_limit_micro_cents: cost_limit(
                &env,
                "HEIMDELL_USAGE_COST_LIMIT_USD",
                "usage_cost_limit_usd",
                f.usage_cost_limit_usd,
            )?,
            tenant_limit_micro_cents: cost_limit(
                &env,
                "HEIMDELL_TENANT_COST_LIMIT_USD",
                "tenant_cost_limit_usd",
                f.tenant_cost_limit_usd,
            )?,
        };
        // The key is a secret: only the environment carries it, never the config file.
        let secret_key = match env("HEIMDELL_SECRET_KEY").filter(|k| !k.trim().is_empty()) {
            Some(text) => Some(
                SecretKey::parse(&text).map_err(|e| anyhow::anyhow!("HEIMDELL_SECRET_KEY: {e}"))?,
            ),
            None => None,
        };
        let public_url = match pick("HEIMDELL_PUBLIC_URL", f.public_url) {
            Some(u) => Some(base_url("HEIMDELL_PUBLIC_URL", &u)?),
            None => None,
        };
        let twilio_base_url = base_url(
            "HEIMDELL_TWILIO_BASE_URL",
            &pick("HEIMDELL_TWILIO_BASE_URL", f.twilio_base_url)
                .unwrap_or_else(|| heimdell_adapters::twilio::DEFAULT_BASE_URL.to_string()),
        )?;
        // The Twilio client's own rule (https, or http on loopback only), checked now rather
        // than when the first text would be sent.
        heimdell_adapters::twilio::check_base_url(&twilio_base_url)
            .map_err(|e| anyhow!("HEIMDELL_TWILIO_BASE_URL: {e}"))?;
        let defaults = HttpLimits::default();
        let seconds = |var: &str, from_file: Option<u64>, default: std::time::Duration| {
            let s = number(&env, var, from_file, default.as_secs())?;
            if s == 0 {
                bail!("{var} must be at least 1 second");
            }
            Ok(std::time::Duration::from_secs(s))
        };
        let metrics_addr = match pick("HEIMDELL_METRICS_ADDR", f.metrics_addr) {
            Some(a) => Some(
                a.parse()
                    .with_context(|| format!("HEIMDELL_METRICS_ADDR={a} is not host:port"))?,
            ),
            None => None,
        };
        let trusted_proxies =
            match env("HEIMDELL_TRUSTED_PROXIES").filter(|v| !v.trim().is_empty()) {
                Some(v) => v.split(',').map(str::to_string).collect(),
                None => f.trusted_proxies.unwrap_or_default(),
            }
            .iter()
            .map(|p| {
                p.trim()
                    .parse()
                    .map_err(|_| anyhow!("HEIMDELL_TRUSTED_PROXIES: {p} is not an IP address"))
            })
            .collect::<anyhow::Result<Vec<std::net::IpAddr>>>()?;
        let http = HttpLimits {
            password_slots: number(
                &env,
                "HEIMDELL_PASSWORD_SLOTS",
                f.password_slots,
                defaults.password_slots,
            )?
            .max(1),
            trusted_proxies,
            header_timeout: seconds(
                "HEIMDELL_HEADER_TIMEOUT_SECS",
                f.header_timeout_secs,
                defaults.header_timeout,
            )?,
            body_timeout: seconds(
                "HEIMDELL_BODY_TIMEOUT_SECS",
                f.body_timeout_secs,
                defaults.body_timeout,
            )?,
            max_connections: number(
                &env,
                "HEIMDELL_MAX_CONNECTIONS",
                f.max_connections,
                defaults.max_connections,
            )?
            .max(1),
            sign_ins_per_minute: number(
                &env,
                "HEIMDELL_SIGN_IN_PER_MINUTE",
                f.sign_in_per_minute,
                defaults.sign_ins_per_minute,
            )?,
            // A secret: only the environment carries it.
            metrics_token: env("HEIMDELL_METRICS_TOKEN")
                .filter(|t| !t.trim().is_empty())
                .map(Into::into),
            metrics_addr,
            ..defaults
        };
        Ok(Config {
            http,
            secret_key,
            public_url,
            twilio_base_url,
            outbox: WorkerConfig::default(),
            model,
            usage_limit,
            cost,
            database: DatabaseConfig {
                url: url.into(),
                app_url: pick("HEIMDELL_APP_DATABASE_URL", f.app_database_url).map(Into::into),
                app_password: env("HEIMDELL_APP_DB_PASSWORD").map(Into::into),
                max_connections,
            },
            addr,
            action_ttl_hours,
            policies_dir: env("HEIMDELL_POLICIES_DIR")
                .map(PathBuf::from)
                .or(f.policies_dir),
            cookie_secure,
            log_format,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn env_wins_over_file_and_defaults_apply() {
        let dir = std::env::temp_dir().join(format!("heimdell-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("h.toml");
        std::fs::write(
            &file,
            "database_url = \"postgres://file/db\"\naddr = \"127.0.0.1:9000\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&file), env(&[("DATABASE_URL", "postgres://env/db")])).unwrap();
        assert_eq!(c.database.url.expose_secret(), "postgres://env/db");
        assert_eq!(c.addr.port(), 9000);
        assert_eq!(c.action_ttl_hours, 168);
        assert_eq!(c.database.max_connections, 32);
        assert_eq!(c.http.header_timeout.as_secs(), 10);
        assert_eq!(c.http.max_connections, 1024);
        assert!(c.http.metrics_token.is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_or_bad_values_are_named() {
        let e = Config::load(None, env(&[])).unwrap_err().to_string();
        assert!(e.contains("DATABASE_URL"), "{e}");
        let e = Config::load(
            None,
            env(&[
                ("DATABASE_URL", "postgres://x/y"),
                ("HEIMDELL_ADDR", "nope"),
            ]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("HEIMDELL_ADDR"), "{e}");
    }

    #[test]
    fn the_model_timeout_defaults_to_two_minutes_and_can_be_set() {
        let openai = |extra: &[(&str, &str)]| {
            let mut pairs = vec![
                ("DATABASE_URL", "postgres://x/y"),
                ("HEIMDELL_MODEL", "openai"),
            ];
            pairs.extend_from_slice(extra);
            Config::load(None, env(&pairs))
        };
        let timeout = |c: Config| match c.model {
            ModelConfig::OpenAi { timeout, .. } => timeout.as_secs(),
            ModelConfig::Builtin => panic!("openai was asked for"),
        };
        assert_eq!(timeout(openai(&[]).unwrap()), 120);
        assert_eq!(
            timeout(openai(&[("HEIMDELL_OPENAI_TIMEOUT_SECS", "600")]).unwrap()),
            600
        );
        let max_tokens = |c: Config| match c.model {
            ModelConfig::OpenAi { max_tokens, .. } => max_tokens,
            ModelConfig::Builtin => panic!("openai was asked for"),
        };
        assert_eq!(max_tokens(openai(&[]).unwrap()), Some(1024));
        assert_eq!(
            max_tokens(openai(&[("HEIMDELL_OPENAI_MAX_TOKENS", "0")]).unwrap()),
            None
        );
        for bad in ["0", "soon"] {
            let e = openai(&[("HEIMDELL_OPENAI_TIMEOUT_SECS", bad)])
                .unwrap_err()
                .to_string();
            assert!(e.contains("HEIMDELL_OPENAI_TIMEOUT_SECS"), "{e}");
        }
    }

    #[test]
    fn edge_limits_parse_and_bad_ones_are_named() {
        let c = Config::load(
            None,
            env(&[
                ("DATABASE_URL", "postgres://x/y"),
                ("HEIMDELL_HEADER_TIMEOUT_SECS", "3"),
                ("HEIMDELL_BODY_TIMEOUT_SECS", "4"),
                ("HEIMDELL_MAX_CONNECTIONS", "50"),
                ("HEIMDELL_SIGN_IN_PER_MINUTE", "0"),
                ("HEIMDELL_METRICS_TOKEN", "scrape-me"),
                ("HEIMDELL_METRICS_ADDR", "127.0.0.1:9464"),
                ("HEIMDELL_PASSWORD_SLOTS", "1"),
                ("HEIMDELL_TRUSTED_PROXIES", "127.0.0.1, ::1"),
            ]),
        )
        .unwrap();
        assert_eq!(c.http.password_slots, 1);
        assert_eq!(c.http.trusted_proxies.len(), 2);
        assert_eq!(c.http.header_timeout.as_secs(), 3);
        assert_eq!(c.http.body_timeout.as_secs(), 4);
        assert_eq!(c.http.max_connections, 50);
        assert_eq!(c.http.sign_ins_per_minute, 0);
        assert_eq!(c.http.metrics_addr.unwrap().port(), 9464);
        assert!(!format!("{c:?}").contains("scrape-me"));
        for (var, bad) in [
            ("HEIMDELL_HEADER_TIMEOUT_SECS", "0"),
            ("HEIMDELL_BODY_TIMEOUT_SECS", "soon"),
            ("HEIMDELL_MAX_CONNECTIONS", "-1"),
            ("HEIMDELL_METRICS_ADDR", "nowhere"),
            ("HEIMDELL_TRUSTED_PROXIES", "proxy.internal"),
            ("HEIMDELL_PASSWORD_SLOTS", "many"),
        ] {
            let e = Config::load(None, env(&[("DATABASE_URL", "postgres://x/y"), (var, bad)]))
                .unwrap_err()
                .to_string();
            assert!(e.contains(var), "{var}={bad}: {e}");
        }
    }

    #[test]
    fn prices_and_cost_limits_parse_from_env_or_file() {
        let c = Config::load(None, env(&[("DATABASE_URL", "postgres://x/y")])).unwrap();
        assert!(c.cost.prices.is_empty());
        assert_eq!(c.cost.member_limit_micro_cents, None);
        assert_eq!(c.cost.tenant_limit_micro_cents, None);

        let c = Config::load(
            None,
            env(&[
                ("DATABASE_URL", "postgres://x/y"),
                (
                    "HEIMDELL_MODEL_PRICES",
                    "gpt-4o-mini=0.15/0.075/0.60; gpt-4o=2.50/1.25/10",
                ),
                ("HEIMDELL_USAGE_COST_LIMIT_USD", "5"),
                ("HEIMDELL_TENANT_COST_LIMIT_USD", "120.50"),
            ]),
        )
        .unwrap();
        assert_eq!(c.cost.prices.len(), 2);
        assert_eq!(
            c.cost.prices.get("gpt-4o-mini"),
            Some(Price {
                prompt: 150_000,
                cached_prompt: 75_000,
                completion: 600_000
            })
        );
        assert_eq!(c.cost.member_limit_micro_cents, Some(500_000_000));
        assert_eq!(c.cost.tenant_limit_micro_cents, Some(12_050_000_000));

        let dir = std::env::temp_dir().join(format!("heimdell-cfg-prices-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("h.toml");
        std::fs::write(
            &file,
            "usage_cost_limit_usd = 2.5\ntenant_cost_limit_usd = \"100\"\n\
             [prices.\"gpt-4o-mini\"]\nprompt = 0.15\ncached_prompt = 0.075\ncompletion = 0.60\n\
             [prices.\"llama3.1:8b\"]\nprompt = 0\ncompletion = \"0.000001\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&file), env(&[("DATABASE_URL", "postgres://x/y")])).unwrap();
        assert_eq!(
            c.cost.prices.get("gpt-4o-mini").map(|p| p.cached_prompt),
            Some(75_000)
        );
        // Cached prompt tokens cost the prompt price when the file gives none.
        assert_eq!(
            c.cost.prices.get("llama3.1:8b"),
            Some(Price {
                prompt: 0,
                cached_prompt: 0,
                completion: 1
            })
        );
        assert_eq!(c.cost.member_limit_micro_cents, Some(250_000_000));
        assert_eq!(c.cost.tenant_limit_micro_cents, Some(10_000_000_000));
        // The environment replaces the file's table and limits.
        let c = Config::load(
            Some(&file),
            env(&[
                ("DATABASE_URL", "postgres://x/y"),
                ("HEIMDELL_MODEL_PRICES", "other=1/1/1"),
                ("HEIMDELL_USAGE_COST_LIMIT_USD", "3"),
            ]),
        )
        .unwrap();
        assert_eq!(c.cost.prices.len(), 1);
        assert_eq!(c.cost.member_limit_micro_cents, Some(300_000_000));
        assert_eq!(c.cost.tenant_limit_micro_cents, Some(10_000_000_000));

        std::fs::write(
            &file,
            "[prices.\"gpt-4o-mini\"]\nprompt = -0.15\ncompletion = 0.60\n",
        )
        .unwrap();
        let e = Config::load(Some(&file), env(&[("DATABASE_URL", "postgres://x/y")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[prices.\"gpt-4o-mini\"]") && e.contains("prompt"),
            "{e}"
        );
        std::fs::write(&file, "usage_cost_limit_usd = 0\n").unwrap();
        let e = Config::load(Some(&file), env(&[("DATABASE_URL", "postgres://x/y")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("usage_cost_limit_usd"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();

        for (var, bad) in [
            ("HEIMDELL_MODEL_PRICES", "gpt-4o-mini=0.15/0.60"),
            ("HEIMDELL_MODEL_PRICES", "gpt-4o-mini"),
            ("HEIMDELL_MODEL_PRICES", "gpt-4o-mini=0.15/cheap/0.60"),
            ("HEIMDELL_MODEL_PRICES", "a=1/1/1;a=2/2/2"),
            ("HEIMDELL_MODEL_PRICES", "a=1e-6/1/1"),
            ("HEIMDELL_USAGE_COST_LIMIT_USD", "0"),
            ("HEIMDELL_USAGE_COST_LIMIT_USD", "-5"),
            ("HEIMDELL_USAGE_COST_LIMIT_USD", "five"),
            ("HEIMDELL_TENANT_COST_LIMIT_USD", "1.000000001"),
            ("HEIMDELL_TENANT_COST_LIMIT_USD", "$100"),
        ] {
            let e = Config::load(None, env(&[("DATABASE_URL", "postgres://x/y"), (var, bad)]))
                .unwrap_err()
                .to_string();
            assert!(e.contains(var), "{var}={bad}: {e}");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let c = Config::load(
            None,
            env(&[
                ("DATABASE_URL", "postgres://u:hunter2@h/db"),
                ("HEIMDELL_SECRET_KEY", key),
            ]),
        )
        .unwrap();
        assert!(c.secret_key.is_some());
        let shown = format!("{c:?}");
        // What the hand-written Debug impls print in place of the secrets: `SecretKey`'s own
        // (heimdell_tools::crypto) and secrecy's for the database URL.
        assert!(
            shown.contains("secret_key: Some(SecretKey([redacted]))"),
            "{shown}"
        );
        assert!(shown.contains("url: SecretBox<str>([REDACTED])"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        // Neither as hex nor as the decimal byte list a derived Debug would print.
        assert!(!shown.contains("aabbccdd"), "{shown}");
        let bytes = hex::decode(key).unwrap();
        let decimal = format!("{bytes:?}");
        assert!(decimal.starts_with("[0, 17, 34, 51, "), "{decimal}");
        assert!(!shown.contains(&decimal[1..decimal.len() - 1]), "{shown}");
        assert!(!shown.contains("170, 187, 204, 221"), "{shown}");
    }

    #[test]
    fn twilio_settings_parse_and_default() {
        let c = Config::load(None, env(&[("DATABASE_URL", "postgres://x/y")])).unwrap();
        assert!(c.secret_key.is_none());
        assert!(c.public_url.is_none());
        assert_eq!(c.twilio_base_url, "https://api.twilio.com");
        let c = Config::load(
            None,
            env(&[
                ("DATABASE_URL", "postgres://x/y"),
                ("HEIMDELL_PUBLIC_URL", "https://crm.example.com/"),
                ("HEIMDELL_TWILIO_BASE_URL", "http://127.0.0.1:9999"),
                ("HEIMDELL_SECRET_KEY", &"ab".repeat(32)),
            ]),
        )
        .unwrap();
        assert_eq!(c.public_url.as_deref(), Some("https://crm.example.com"));
        assert_eq!(c.twilio_base_url, "http://127.0.0.1:9999");
        for (var, bad) in [
            ("HEIMDELL_SECRET_KEY", "too-short"),
            ("HEIMDELL_PUBLIC_URL", "crm.example.com"),
            ("HEIMDELL_PUBLIC_URL", "ftp://crm.example.com"),
            ("HEIMDELL_TWILIO_BASE_URL", "https://x/?a=1"),
            // Credentials would cross the network in clear: the Twilio client refuses it, so
            // start-up does too.
            ("HEIMDELL_TWILIO_BASE_URL", "http://proxy.internal"),
        ] {
            let e = Config::load(None, env(&[("DATABASE_URL", "postgres://x/y"), (var, bad)]))
                .unwrap_err()
                .to_string();
            assert!(e.contains(var), "{var}={bad}: {e}");
            assert!(
                !e.contains("too-short") || var != "HEIMDELL_SECRET_KEY",
                "{e}"
            );
        }
    }
}
