//! The REST client: `POST …/Messages.json` (send an SMS) and `POST …/Calls.json` (start a call).
//!
//! Wire format (Twilio's 2010-04-01 API): the body is `application/x-www-form-urlencoded` with
//! Twilio's capitalised parameter names (`To`, `From`, `Body`, `Url`, `StatusCallback`, …), the
//! account SID and auth token go as HTTP basic auth, and the answer is the created resource as
//! JSON (`201 Created`) or an error object `{"code", "message", "more_info", "status"}`.
//!
//! One call here is one HTTP request: the client never retries. The durable outbox does, with
//! backoff, when [`TwilioError::is_transient`] says so, and sends the same idempotency key each
//! time (as the [`IDEMPOTENCY_HEADER`] header).

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{ACCEPT, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::inbound::{CallState, MessageStatus};

/// Where Twilio's REST API lives.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// The header our idempotency key travels in. Twilio sends this header on its own webhook
/// requests (so receivers can drop redelivered webhooks); we send it on our create requests so a
/// retried request carries the same key. Whether Twilio's REST API de-duplicates on it is not
/// stated in the documentation we could check, so the outbox must not rely on it alone.
pub const IDEMPOTENCY_HEADER: &str = "I-Twilio-Idempotency-Token";

/// Longest error text kept from a response body that is not Twilio's JSON error object.
const MAX_ERROR_TEXT: usize = 300;

/// What can go wrong talking to Twilio. No variant ever holds the auth token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TwilioError {
    /// Worth retrying later: HTTP 429, 408 or 5xx, or the request never got an answer
    /// (connection refused or reset, DNS, timeout). `status` is `None` when there was no answer.
    #[error("Twilio is unavailable{}: {message}", http_status(*status))]
    Transient {
        status: Option<u16>,
        message: String,
    },
    /// Twilio answered and refused (any other 4xx, or 3xx): invalid or unverified number,
    /// wrong credentials, opted-out recipient… Retrying the same request will fail the same way.
    /// `code` is Twilio's error code from the JSON body (e.g. 21211, 20003, 21610).
    #[error("Twilio refused the request (HTTP {status}{}): {message}", error_code(*code))]
    Permanent {
        status: u16,
        code: Option<u32>,
        message: String,
    },
    /// Twilio answered with success but a body we could not read. The request may well have
    /// been carried out, so this is not transient: retrying could send twice.
    #[error("unexpected response from Twilio: {0}")]
    Decode(String),
    /// Refused before anything was sent: a bad base URL, account SID or idempotency key.
    #[error("invalid Twilio request: {0}")]
    Invalid(String),
}

fn http_status(status: Option<u16>) -> String {
    status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
}

fn error_code(code: Option<u32>) -> String {
    code.map(|c| format!(", error {c}")).unwrap_or_default()
}

impl TwilioError {
    /// True when the outbox should try again later with the same idempotency key.
    pub fn is_transient(&self) -> bool {
        matches!(self, TwilioError::Transient { .. })
    }

    /// Twilio's error code, when Twilio gave one.
    pub fn code(&self) -> Option<u32> {
        match self {
            TwilioError::Permanent { code, .. } => *code,
            _ => None,
        }
    }
}

/// An SMS to send. `from` and `to` are E.164 (`+15551234567`); the tools layer normalises them.
#[derive(Debug, Clone)]
pub struct SmsRequest<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub body: &'a str,
    /// Where Twilio posts delivery status changes (`StatusCallback`).
    pub status_callback: Option<Url>,
    /// The outbox's key for this send; the same on every retry.
    pub idempotency_key: &'a str,
}

/// A bridged call: Twilio rings `to` (the rep's own phone) from `from` (our Twilio number) and,
/// once answered, fetches TwiML from `url` (our voice webhook, which answers with
/// [`super::twiml::bridge_call`] to connect the contact).
#[derive(Debug, Clone)]
pub struct CallRequest<'a> {
    pub from: &'a str,
    pub to: &'a str,
    /// The voice webhook returning TwiML (`Url`).
    pub url: Url,
    /// Where Twilio posts call progress (`StatusCallback`).
    pub status_callback: Option<Url>,
    /// Which progress events to post (`StatusCallbackEvent`, one form field per event); only
    /// sent with a `status_callback`. Usually [`CallEvent::ALL`].
    pub status_callback_events: &'a [CallEvent],
    /// Twilio's `Record=true`: record the call from the moment it is answered. Bridged calls
    /// usually leave this off and record at `<Dial record=…>` instead (after the consent notice).
    pub record: bool,
    /// The outbox's key for this call; the same on every retry.
    pub idempotency_key: &'a str,
}

/// Call progress events a status callback can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallEvent {
    Initiated,
    Ringing,
    Answered,
    Completed,
}

impl CallEvent {
    pub const ALL: [CallEvent; 4] = [
        CallEvent::Initiated,
        CallEvent::Ringing,
        CallEvent::Answered,
        CallEvent::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallEvent::Initiated => "initiated",
            CallEvent::Ringing => "ringing",
            CallEvent::Answered => "answered",
            CallEvent::Completed => "completed",
        }
    }
}

/// The Message resource Twilio created (the fields Heimdell keeps).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SentMessage {
    /// `SM…` (or `MM…`): the key status callbacks will carry as `MessageSid`.
    pub sid: String,
    pub status: MessageStatus,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    /// How many SMS segments Twilio will bill (sent as a string by Twilio).
    #[serde(default, deserialize_with = "lenient_u32")]
    pub num_segments: Option<u32>,
    /// RFC 2822, as Twilio sends it.
    #[serde(default)]
    pub date_created: Option<String>,
}

/// The Call resource Twilio created (the fields Heimdell keeps).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SentCall {
    /// `CA…`: the key status callbacks will carry as `CallSid`.
    pub sid: String,
    pub status: CallState,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    /// RFC 2822, as Twilio sends it.
    #[serde(default)]
    pub date_created: Option<String>,
}

/// A number Twilio may send as JSON number, numeric string, or null.
fn lenient_u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u32),
        Text(String),
    }
    Ok(match Option::<Raw>::deserialize(deserializer)? {
        Some(Raw::Number(n)) => Some(n),
        Some(Raw::Text(s)) => s.trim().parse().ok(),
        None => None,
    })
}

/// Twilio's JSON error object.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<u32>,
    #[serde(default)]
    message: Option<String>,
}

/// A client for one Twilio account. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    base_url: String,
    account_sid: String,
    auth_token: SecretString,
}

impl fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioClient")
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"[redacted]")
            .finish()
    }
}

/// Whether `base_url` may carry Twilio credentials: `https`, or plain `http` only on a loopback
/// host (a fake in tests), with nothing but scheme, host, port and path. Configuration checks
/// it at start, so a bad value stops the server instead of dead-lettering every send.
pub fn check_base_url(base_url: &str) -> Result<(), TwilioError> {
    let parsed = Url::parse(base_url)
        .map_err(|e| TwilioError::Invalid(format!("base URL {base_url:?}: {e}")))?;
    let loopback = parsed.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    });
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        other => {
            return Err(TwilioError::Invalid(format!(
                "base URL scheme {other:?}: must be https (http only on a loopback host)"
            )));
        }
    }
    if parsed.host_str().is_none()
        || !parsed.username().is_empty()
        || parsed.password().is_some()
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err(TwilioError::Invalid(format!(
            "base URL {base_url:?}: must be scheme, host, optional port and path only"
        )));
    }
    Ok(())
}

impl TwilioClient {
    /// A client for `account_sid` at `base_url` ([`DEFAULT_BASE_URL`] in production; a fake in
    /// tests). `timeout` bounds each whole request. The base URL must be `https`, except on a
    /// loopback host, so the basic-auth credentials never cross a network in clear.
    pub fn new(
        base_url: &str,
        account_sid: &str,
        auth_token: SecretString,
        timeout: Duration,
    ) -> Result<Self, TwilioError> {
        check_base_url(base_url)?;
        if account_sid.is_empty() || !account_sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(TwilioError::Invalid(
                "account SID must be non-empty and alphanumeric".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("heimdell/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TwilioError::Invalid(format!("HTTP client: {e}")))?;
        Ok(TwilioClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            account_sid: account_sid.to_owned(),
            auth_token,
        })
    }

    /// Send one SMS: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json` with `To`, `From`,
    /// `Body` and, when given, `StatusCallback`.
    pub async fn send_sms(&self, request: &SmsRequest<'_>) -> Result<SentMessage, TwilioError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("To", request.to),
            ("From", request.from),
            ("Body", request.body),
        ];
        if let Some(callback) = &request.status_callback {
            form.push(("StatusCallback", callback.as_str()));
        }
        let sent: SentMessage = self
            .post("Messages.json", &form, request.idempotency_key)
            .await?;
        if sent.sid.is_empty() {
            return Err(TwilioError::Decode("message without a sid".into()));
        }
        Ok(sent)
    }

    /// Start one call: `POST {base}/2010-04-01/Accounts/{sid}/Calls.json` with `To`, `From`,
    /// `Url` (fetched with POST) and, when given, `StatusCallback` (POST) with one
    /// `StatusCallbackEvent` field per event, and `Record=true` when asked.
    pub async fn start_call(&self, request: &CallRequest<'_>) -> Result<SentCall, TwilioError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("To", request.to),
            ("From", request.from),
            ("Url", request.url.as_str()),
            ("Method", "POST"),
        ];
        if let Some(callback) = &request.status_callback {
            form.push(("StatusCallback", callback.as_str()));
            form.push(("StatusCallbackMethod", "POST"));
            for event in request.status_callback_events {
                form.push(("StatusCallbackEvent", event.as_str()));
            }
        }
        if request.record {
            form.push(("Record", "true"));
        }
        let sent: SentCall = self
            .post("Calls.json", &form, request.idempotency_key)
            .await?;
        if sent.sid.is_empty() {
            return Err(TwilioError::Decode("call without a sid".into()));
        }
        Ok(sent)
    }

    async fn post<T: DeserializeOwned>(
        &self,
        resource: &str,
        form: &[(&str, &str)],
        idempotency_key: &str,
    ) -> Result<T, TwilioError> {
        if idempotency_key.is_empty() {
            return Err(TwilioError::Invalid("empty idempotency key".into()));
        }
        let key = HeaderValue::from_str(idempotency_key)
            .map_err(|_| TwilioError::Invalid("idempotency key is not a valid header".into()))?;
        let url = format!(
            "{}/2010-04-01/Accounts/{}/{}",
            self.base_url, self.account_sid, resource
        );
        let response = self
            .http
            .post(url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .header(IDEMPOTENCY_HEADER, key)
            .header(ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .map_err(unanswered)?;

        let status = response.status();
        if status.is_success() {
            let body = response.bytes().await.map_err(|e| {
                TwilioError::Decode(format!("HTTP {status} with an unreadable body: {e}"))
            })?;
            return serde_json::from_slice(&body)
                .map_err(|e| TwilioError::Decode(format!("HTTP {status}: {e}")));
        }
        let body = response.bytes().await.unwrap_or_default();
        Err(refusal(status.as_u16(), &body))
    }
}

/// The request got no HTTP answer.
fn unanswered(error: reqwest::Error) -> TwilioError {
    if error.is_builder() {
        return TwilioError::Invalid(error.without_url().to_string());
    }
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "no answer"
    };
    // Drop the URL from the text: it is ours, and says nothing the caller does not know. Keep
    // the causes (reqwest's own text is only "error sending request").
    let error = error.without_url();
    let mut message = format!("{kind}: {error}");
    let mut cause = std::error::Error::source(&error);
    while let Some(inner) = cause {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        cause = inner.source();
    }
    TwilioError::Transient {
        status: None,
        message,
    }
}

/// An HTTP error answer: Twilio's JSON error object when there is one.
fn refusal(status: u16, body: &[u8]) -> TwilioError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let code = parsed.as_ref().and_then(|b| b.code);
    let message = parsed
        .and_then(|b| b.message)
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                reqwest::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("no message")
                    .to_owned()
            } else {
                text.chars().take(MAX_ERROR_TEXT).collect()
            }
        });
    if status == 429 || status == 408 || (500..=599).contains(&status) {
        TwilioError::Transient {
            status: Some(status),
            message,
        }
    } else {
        TwilioError::Permanent {
            status,
            code,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> SecretString {
        SecretString::from("s3cret-token-value".to_owned())
    }

    #[test]
    fn refusal_reads_twilios_error_object() {
        let body = br#"{"code": 21211, "message": "Invalid 'To' Phone Number", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        assert_eq!(
            refusal(400, body),
            TwilioError::Permanent {
                status: 400,
                code: Some(21211),
                message: "Invalid 'To' Phone Number".into()
            }
        );
    }

    #[test]
    fn refusal_classifies_by_status() {
        assert!(refusal(429, b"").is_transient());
        assert!(refusal(408, b"").is_transient());
        assert!(refusal(500, b"oops").is_transient());
        assert!(refusal(503, b"<html>down</html>").is_transient());
        assert!(!refusal(400, b"").is_transient());
        assert!(!refusal(401, b"").is_transient());
        assert!(!refusal(404, b"").is_transient());
        assert!(!refusal(302, b"").is_transient());
        assert_eq!(
            refusal(502, b""),
            TwilioError::Transient {
                status: Some(502),
                message: "Bad Gateway".into()
            }
        );
    }

    #[test]
    fn base_url_must_be_https_unless_loopback() {
        let t = Duration::from_secs(5);
        assert!(TwilioClient::new(DEFAULT_BASE_URL, "AC123", token(), t).is_ok());
        assert!(TwilioClient::new("http://127.0.0.1:9", "AC123", token(), t).is_ok());
        assert!(TwilioClient::new("http://localhost:9/", "AC123", token(), t).is_ok());
        for bad in [
            "http://api.twilio.com",
            "ftp://api.twilio.com",
            "https://user:pw@api.twilio.com",
            "https://api.twilio.com/?x=1",
            "not a url",
        ] {
            assert!(
                matches!(
                    TwilioClient::new(bad, "AC123", token(), t),
                    Err(TwilioError::Invalid(_))
                ),
                "{bad}"
            );
        }
        for sid in ["", "AC/../x", "AC 1"] {
            assert!(TwilioClient::new(DEFAULT_BASE_URL, sid, token(), t).is_err());
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let client =
            TwilioClient::new(DEFAULT_BASE_URL, "AC123", token(), Duration::from_secs(5)).unwrap();
        let shown = format!("{client:?}");
        assert!(shown.contains("AC123"));
        assert!(!shown.contains("s3cret"));
    }

    #[test]
    fn sent_message_reads_twilios_json() {
        let json = r#"{"sid": "SM29f4f980778e4621b72df75ac82f5000", "date_created": "Tue, 27 Nov 2018 16:14:39 +0000",
            "to": "+380671541943", "from": "+19106000514", "body": "Hello", "status": "queued",
            "num_segments": "1", "num_media": "0", "direction": "outbound-api", "price": null}"#;
        let sent: SentMessage = serde_json::from_str(json).unwrap();
        assert_eq!(sent.sid, "SM29f4f980778e4621b72df75ac82f5000");
        assert_eq!(sent.status, MessageStatus::Queued);
        assert_eq!(sent.num_segments, Some(1));
        assert_eq!(sent.to.as_deref(), Some("+380671541943"));
    }
}
