//! What the HTTP edge allows a client: how long it may take to send a request, how many
//! connections may be open, how often one address may try to sign in, and who may read
//! `/metrics`. Defaults suit a server on the open internet; `src/config.rs` reads them from
//! `HEIMDELL_*` variables.

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretString;

#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// A connection must deliver a request's whole header within this (also closes idle
    /// keep-alive connections). `HEIMDELL_HEADER_TIMEOUT_SECS`, default 10.
    pub header_timeout: Duration,
    /// A request's whole body must arrive within this. `HEIMDELL_BODY_TIMEOUT_SECS`, default 30.
    pub body_timeout: Duration,
    /// Connections open at once; more are answered 503 and closed.
    /// `HEIMDELL_MAX_CONNECTIONS`, default 1024.
    pub max_connections: usize,
    /// Sign-in attempts a minute from one client address (0: no limit).
    /// `HEIMDELL_SIGN_IN_PER_MINUTE`, default 30.
    pub sign_ins_per_minute: u32,
    /// How long a sign-in may wait for a free password check before it is answered 429.
    pub password_queue: Duration,
    /// Password checks at once, each with ~19 MiB reserved for good.
    /// `HEIMDELL_PASSWORD_SLOTS`, default one per core, at most 4.
    pub password_slots: usize,
    /// `HEIMDELL_TRUSTED_PROXIES`: the addresses of reverse proxies in front of this server.
    /// For requests from them, the client is the last `X-Forwarded-For` entry that is not
    /// itself a trusted proxy (sign-in limits, loopback-only metrics).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// `HEIMDELL_METRICS_TOKEN`: `/metrics` then needs `Authorization: Bearer <it>`. Without it,
    /// `/metrics` answers only clients on the loopback interface.
    pub metrics_token: Option<SecretString>,
    /// `HEIMDELL_METRICS_ADDR`: serve `/metrics` (and `/health`) on this address as well, e.g.
    /// `127.0.0.1:9464` for a scraper on the same host.
    pub metrics_addr: Option<SocketAddr>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
            sign_ins_per_minute: 30,
            password_queue: Duration::from_secs(2),
            password_slots: super::password::PasswordChecker::default_slots(),
            trusted_proxies: Vec::new(),
            metrics_token: None,
            metrics_addr: None,
        }
    }
}
