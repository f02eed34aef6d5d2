//! Twilio: our own small client for the two REST calls Heimdell makes, and the pieces its
//! webhooks need.
//!
//! - [`client`]: [`TwilioClient`] sends an SMS (`Messages.json`) or starts a bridged call
//!   (`Calls.json`): form-encoded, HTTP basic auth, one request per call and no retries (the
//!   durable outbox retries what [`TwilioError::is_transient`] says it may).
//! - [`signature`]: the `X-Twilio-Signature` check (HMAC-SHA1 over the public URL followed by the
//!   sorted form fields) and [`FormParams`], the parsed `application/x-www-form-urlencoded` body.
//! - [`twiml`]: TwiML responses built as text with XML escaping.
//! - [`inbound`]: typed inbound SMS, SMS status and call status webhooks, and the STOP/START/HELP
//!   [`keyword`] rules.
//! - [`gateway`]: [`TwilioGateway`], the durable outbox's way out to Twilio.
//!
//! Nothing here logs, and the auth token is held as a [`secrecy::SecretString`]: it never
//! appears in `Debug` output or in an error.

pub mod client;
pub mod gateway;
pub mod inbound;
pub mod signature;
pub mod twiml;

pub use client::{
    CallEvent, CallRequest, DEFAULT_BASE_URL, IDEMPOTENCY_HEADER, SentCall, SentMessage,
    SmsRequest, TwilioClient, TwilioError, check_base_url,
};
pub use gateway::TwilioGateway;
pub use inbound::{
    CallState, CallStatus, InboundError, InboundSms, Keyword, MessageStatus, SmsStatus,
    UnknownStatus,
};
pub use signature::{FormParams, SIGNATURE_HEADER, expected_signature, verify};
