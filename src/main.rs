//! `heimdell`: the command line. Thin on purpose; the work is in the library crates.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use heimdell::config::{Config, LogFormat};
use heimdell::eval::{EvalModel, EvalOptions};
use heimdell::{app, bench, database, eval, seed};

#[derive(Parser)]
#[command(
    name = "heimdell",
    version,
    about = "Heimdell: a sales CRM whose changes all wait for a human's approval"
)]
struct Cli {
    /// A TOML config file (also HEIMDELL_CONFIG). Environment variables override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply database migrations (as the owner in DATABASE_URL).
    Migrate,
    /// Create or refresh the demo tenants, users and data; prints the sign-ins.
    SeedDemo {
        /// Print the sign-ins as JSON: {"tenants":[{"id","name","users":[{"email","role","password","token"}]}]}
        #[arg(long)]
        json: bool,
        /// Make sure the first demo tenant has N extra generated contacts (for benchmarks).
        #[arg(long, value_name = "N", default_value_t = 0)]
        contacts: usize,
    },
    /// Measure what BENCHMARKS.md reports (run `seed-demo --contacts 100000` first).
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Run the eval suite on a database of its own and write the scorecard. Exits 1 on any
    /// safety violation or when the pass rate is under the suite's threshold.
    Eval {
        /// The suite folder (with suite.yaml).
        #[arg(long, default_value = "evals/")]
        suite: PathBuf,
        /// builtin: the planner's cases; scripted: the scripted cases; openai: the planner's
        /// cases driven by the configured OpenAI-compatible model. Default: every case with
        /// its own model.
        #[arg(long, value_enum)]
        model: Option<EvalModel>,
        /// Run each case K times and report pass^k (for real models).
        #[arg(long, value_name = "K", default_value_t = 1)]
        repeat: usize,
        /// Write the JSON scorecard here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Cases run at once.
        #[arg(long, default_value_t = 4)]
        jobs: usize,
        /// Only the cases whose id contains this.
        #[arg(long, value_name = "TEXT")]
        only: Option<String>,
        /// Keep the eval database afterwards.
        #[arg(long)]
        keep_db: bool,
    },
    /// Migrate, then serve the API (and web panel) until Ctrl-C.
    Serve {
        /// Address to listen on (default HEIMDELL_ADDR or 127.0.0.1:8080).
        #[arg(long)]
        addr: Option<SocketAddr>,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Texting: N approved texts to distinct contacts delivered by the outbox worker to an
    /// in-process fake Twilio (timed), then signed inbound SMS webhooks against the real server
    /// at a fixed rate (latency percentiles). Uses its own "Bench SMS" tenant.
    Sms {
        /// Approved texts to deliver, each to a different contact.
        #[arg(long, default_value_t = 1000)]
        messages: usize,
        /// Inbound webhooks a second.
        #[arg(long, default_value_t = 500.0)]
        webhook_rate: f64,
        /// Seconds of inbound webhooks.
        #[arg(long, default_value_t = 10.0)]
        webhook_seconds: f64,
    },
    /// Time building context packs in-process and print percentiles.
    ContextPack {
        #[arg(long, default_value_t = 500)]
        iterations: usize,
    },
    /// Time whole Copilot turns with the built-in planner in-process.
    Turn {
        #[arg(long, default_value_t = 500)]
        iterations: usize,
    },
    /// Offer GET requests to a running server at a fixed rate (open loop, a second process) and
    /// print the rate achieved and latency percentiles counted from when each request was due.
    Rate {
        /// The server, e.g. http://127.0.0.1:8080
        #[arg(long)]
        url: String,
        /// The API token to send.
        #[arg(long, env = "HEIMDELL_BENCH_TOKEN", hide_env_values = true)]
        token: String,
        /// Path and query to GET; repeat it to rotate through several.
        #[arg(long = "path", required = true)]
        paths: Vec<String>,
        /// Requests a second.
        #[arg(long, default_value_t = 1500.0)]
        rate: f64,
        /// Seconds to run.
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        /// Most requests in flight at once (one connection each).
        #[arg(long, default_value_t = 64)]
        connections: usize,
    },
    /// Failed sign-ins from many clients against a running server (each for a different unknown
    /// email), with an authenticated read offered at 20/s beside them: answers by status, the
    /// read's latency, and the server's memory before, at peak and after (from /metrics).
    SignInFlood {
        /// The server, e.g. http://127.0.0.1:8080
        #[arg(long)]
        url: String,
        /// An API token for the reads offered meanwhile.
        #[arg(long, env = "HEIMDELL_BENCH_TOKEN", hide_env_values = true)]
        token: String,
        #[arg(long, default_value_t = 1000)]
        attempts: usize,
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// The server's HEIMDELL_METRICS_TOKEN, if it has one.
        #[arg(long, env = "HEIMDELL_METRICS_TOKEN", hide_env_values = true)]
        metrics_token: Option<String>,
    },
    /// The benchmark mix against a running server for N minutes (contact search, create_task
    /// proposed and approved, chat turns, texts sent to a fake Twilio this process runs, signed
    /// inbound texts), printing per minute the server's memory and each kind's count, errors
    /// and p95. Start the server with HEIMDELL_TWILIO_BASE_URL=http://<--twilio-addr>,
    /// HEIMDELL_SECRET_KEY and HEIMDELL_PUBLIC_URL=<--url>. Exits 1 on any error.
    Soak {
        /// The server, e.g. http://127.0.0.1:8080 (also its HEIMDELL_PUBLIC_URL).
        #[arg(long)]
        url: String,
        /// A rep's API token (search, tasks, chat).
        #[arg(long, env = "HEIMDELL_BENCH_TOKEN", hide_env_values = true)]
        token: String,
        /// An admin's API token (connects Twilio to the fake; sends texts).
        #[arg(long, env = "HEIMDELL_BENCH_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: String,
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
        /// Where to run the fake Twilio the server sends texts to.
        #[arg(long, default_value = "127.0.0.1:18099")]
        twilio_addr: String,
        /// Searches a second.
        #[arg(long, default_value_t = 50.0)]
        search_rate: f64,
        /// create_task proposals (approved at once) a second.
        #[arg(long, default_value_t = 10.0)]
        task_rate: f64,
        /// Chat turns a second.
        #[arg(long, default_value_t = 2.0)]
        chat_rate: f64,
        /// Texts (proposed, approved, delivered) a second.
        #[arg(long, default_value_t = 2.0)]
        text_rate: f64,
        /// Signed inbound texts a second.
        #[arg(long, default_value_t = 5.0)]
        inbound_rate: f64,
        /// The server's HEIMDELL_METRICS_TOKEN, if it has one.
        #[arg(long, env = "HEIMDELL_METRICS_TOKEN", hide_env_values = true)]
        metrics_token: Option<String>,
    },
    /// Play chat users against a running server over HTTP (a second process).
    ChatLoad {
        /// The server, e.g. http://127.0.0.1:8080
        #[arg(long)]
        url: String,
        /// API tokens to chat as, separated by commas (users take them in turn).
        #[arg(long, env = "HEIMDELL_BENCH_TOKEN", hide_env_values = true)]
        token: String,
        #[arg(long, default_value_t = 200)]
        users: usize,
        /// Seconds between one user's messages.
        #[arg(long, default_value_t = 5.0)]
        every: f64,
        /// Seconds to run.
        #[arg(long, default_value_t = 60.0)]
        seconds: f64,
    },
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HEIMDELL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

/// The demo sign-ins, for people.
fn print_sign_ins(report: &seed::SeedReport) {
    println!("Demo sign-ins (passwords and tokens are new on every run):");
    for t in &report.tenants {
        println!("\n{} (tenant {})", t.name, t.id);
        for u in &t.users {
            println!(
                "  {:<8} {:<28} password {}  token {}",
                u.role, u.email, u.password, u.token
            );
        }
    }
}

/// Every connection holds a file descriptor; the usual soft limit (1024) is about the default
/// connection cap, so without this the process runs out of descriptors before the cap applies.
/// Raises the soft limit towards the hard one, and says so when that is still too few.
fn raise_open_file_limit(max_connections: usize) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        let wanted = (max_connections as libc::rlim_t).saturating_mul(2) + 256;
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
    if (limit.rlim_cur as usize) < max_connections + 128 {
        tracing::warn!(
            open_files = limit.rlim_cur,
            max_connections,
            "the open-file limit is below HEIMDELL_MAX_CONNECTIONS: lower it or raise `ulimit -n`"
        );
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref(), |k| std::env::var(k).ok())?;
    init_logging(config.log_format);
    match cli.command {
        Command::Migrate => {
            database::migrate(&config.database).await?;
            eprintln!("migrations applied");
        }
        Command::SeedDemo { json, contacts } => {
            let pool = database::connect_app(&config.database).await?;
            let report = seed::seed_demo(
                &pool,
                &seed::SeedOptions {
                    extra_contacts: contacts,
                },
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print_sign_ins(&report);
            }
        }
        Command::Bench { what } => match what {
            BenchWhat::Sms {
                messages,
                webhook_rate,
                webhook_seconds,
            } => {
                let pool = database::connect_app(&config.database).await?;
                println!(
                    "sms delivery: {}",
                    bench::sms::delivery(&config, pool.clone(), messages).await?
                );
                println!(
                    "sms inbound: {}",
                    bench::sms::inbound(&config, pool, webhook_rate, webhook_seconds).await?
                );
            }
            BenchWhat::ContextPack { iterations } => {
                let pool = database::connect_app(&config.database).await?;
                println!(
                    "context pack ({iterations} builds, focus on a contact): {}",
                    bench::context_pack(&config, pool, iterations).await?
                );
            }
            BenchWhat::Turn { iterations } => {
                let pool = database::connect_app(&config.database).await?;
                println!(
                    "copilot turn, built-in planner ({iterations} turns): {}",
                    bench::turns(&config, pool, iterations).await?
                );
            }
            BenchWhat::Rate {
                url,
                token,
                paths,
                rate,
                seconds,
                connections,
            } => {
                let report = bench::rate::get_at_rate(
                    &url,
                    &token,
                    &paths,
                    rate,
                    std::time::Duration::from_secs_f64(seconds),
                    connections,
                )
                .await?;
                println!(
                    "fixed-rate GETs ({} paths, {connections} connections, {seconds} s): {report}",
                    paths.len()
                );
            }
            BenchWhat::ChatLoad {
                url,
                token,
                users,
                every,
                seconds,
            } => {
                let summary = bench::chat_load(
                    &url,
                    &token,
                    users,
                    std::time::Duration::from_secs_f64(every),
                    std::time::Duration::from_secs_f64(seconds),
                )
                .await?;
                println!(
                    "chat load ({users} users, one message every {every} s each, {seconds} s): {summary}"
                );
            }
            BenchWhat::SignInFlood {
                url,
                token,
                attempts,
                clients,
                metrics_token,
            } => {
                let target = bench::soak::Target::new(&url, metrics_token)?;
                bench::soak::sign_in_flood(target, token, attempts, clients).await?;
            }
            BenchWhat::Soak {
                url,
                token,
                admin_token,
                minutes,
                twilio_addr,
                search_rate,
                task_rate,
                chat_rate,
                text_rate,
                inbound_rate,
                metrics_token,
            } => {
                let target = bench::soak::Target::new(&url, metrics_token)?;
                bench::soak::soak(
                    target,
                    bench::soak::SoakOptions {
                        minutes,
                        rep_token: token,
                        admin_token,
                        twilio_addr,
                        search_rate,
                        task_rate,
                        chat_rate,
                        text_rate,
                        inbound_rate,
                    },
                )
                .await?;
            }
        },
        Command::Eval {
            suite,
            model,
            repeat,
            json,
            jobs,
            only,
            keep_db,
        } => {
            let opts = EvalOptions {
                suite,
                model,
                repeat: repeat.max(1),
                json,
                jobs: jobs.max(1),
                only,
                keep_db,
            };
            if !eval::run(&config, &opts).await? {
                std::process::exit(1);
            }
        }
        Command::Serve { addr } => {
            raise_open_file_limit(config.http.max_connections);
            database::migrate(&config.database).await?;
            let pool = database::connect_app(&config.database).await?;
            let state = app::state(&config, pool.clone())?;
            let addr = addr.unwrap_or(config.addr);
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            tracing::info!(%addr, "Heimdell is serving on http://{addr}");
            if config.public_url.is_none() {
                tracing::info!(
                    "HEIMDELL_PUBLIC_URL is not set: Twilio webhooks will be refused and no status callbacks requested"
                );
            }
            if config.secret_key.is_none() {
                tracing::info!("HEIMDELL_SECRET_KEY is not set: Twilio cannot be connected");
            }
            // The outbox worker delivers approved texts and calls; it stops with the server,
            // finishing the pass it is in.
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let mut worker_stop = stopped.clone();
            let worker = tokio::spawn(app::worker(&config, pool).run(async move {
                let _ = worker_stop.wait_for(|s| *s).await;
            }));
            app::serve(listener, state, async move {
                let _ = tokio::signal::ctrl_c().await;
                let _ = stop.send(true);
            })
            .await?;
            let _ = worker.await;
        }
    }
    Ok(())
}
