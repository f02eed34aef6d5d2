//! Heimdell's edges: where requests from outside come in.
//!
//! - [`http`]: the REST API (JSON, bearer token or session cookie), health and metrics.
//!   Chat surfaces (web chat, Slack, Discord, Telegram) and vendor webhooks join here.
//! - [`twilio`]: Twilio's REST client (SMS, bridged calls), webhook signatures, TwiML.
//! - [`web`]: the browser panel (HTML, CSS and JavaScript embedded in the binary).

pub mod http;
pub mod twilio;
pub mod web;
