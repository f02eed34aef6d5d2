//! What every handler shares.

use std::net::IpAddr;
use std::sync::Arc;

use heimdell_agent::Pipeline;
use heimdell_agent::copilot::Copilot;
use heimdell_tools::crypto::SecretKey;
use metrics_exporter_prometheus::PrometheusRecorder;
use sqlx::PgPool;

use super::limits::HttpLimits;
use super::password::PasswordChecker;
use super::rate::RateLimiter;

/// Shared handler state; cloning is cheap.
#[derive(Clone)]
pub struct ApiState {
    /// The app-role pool (row-level security applies to every query).
    pub pool: PgPool,
    /// The one path for every tool call.
    pub pipeline: Pipeline,
    /// The chat runtime (it calls tools through the same pipeline).
    pub copilot: Copilot,
    /// This server's metrics, kept here rather than in a process-global recorder so that
    /// several servers (as in the tests) never share counters.
    pub metrics: Arc<PrometheusRecorder>,
    /// Whether session cookies are marked `Secure` (true behind HTTPS).
    pub cookie_secure: bool,
    /// Password checks: at most one per core at once, in reused memory.
    pub passwords: PasswordChecker,
    /// Sign-in attempts per client address.
    pub sign_in_rate: RateLimiter<IpAddr>,
    /// Timeouts, connection cap, metrics access.
    pub limits: Arc<HttpLimits>,
    /// Opens tenants' sealed secrets (Twilio auth tokens, to check webhook signatures).
    pub secret_key: Option<Arc<SecretKey>>,
    /// `HEIMDELL_PUBLIC_URL`: webhook signatures are computed over it.
    pub public_url: Option<String>,
}
