//! Heimdell's edges: where requests from outside come in.
//!
//! - [`http`]: the REST API (JSON, bearer token or session cookie), health and metrics.
//!   Chat surfaces (web chat, Slack, Discord, Telegram) and vendor webhooks join here.

pub mod http;
