//! Twilio's webhooks, typed: an inbound SMS, an SMS status change, a call status change; and the
//! opt-out / opt-in / help keywords of an inbound SMS.
//!
//! Parse only after [`super::signature::verify`] has passed: the signature is over the raw
//! values. A missing or malformed field is an [`InboundError`] naming the field; fields Heimdell
//! does not use are ignored (Twilio adds new ones without notice). Every value read here has its
//! NUL characters (U+0000) removed: Postgres `text` cannot hold them, and a signed webhook that
//! failed to store would be answered 500 and retried by Twilio for ever.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::signature::FormParams;
pub use heimdell_tools::outreach::inbound::Keyword;

/// Why a webhook form could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    #[error("missing field {0}")]
    MissingField(&'static str),
    #[error("invalid value for field {field}: {value:?}")]
    InvalidField { field: &'static str, value: String },
}

/// Longest part of a rejected value repeated in an [`InboundError`].
const MAX_ECHO: usize = 64;

fn invalid(field: &'static str, value: &str) -> InboundError {
    InboundError::InvalidField {
        field,
        value: value.chars().take(MAX_ECHO).collect(),
    }
}

/// A field's value without NUL characters, if it was sent.
fn get(form: &FormParams, field: &'static str) -> Option<String> {
    form.get(field).map(|v| v.replace('\0', ""))
}

/// A field that must be present and not blank.
fn required(form: &FormParams, field: &'static str) -> Result<String, InboundError> {
    match get(form, field) {
        None => Err(InboundError::MissingField(field)),
        Some(v) if v.trim().is_empty() => Err(invalid(field, &v)),
        Some(v) => Ok(v),
    }
}

/// A field that may be absent or empty; present, it must parse.
fn optional<T: FromStr>(form: &FormParams, field: &'static str) -> Result<Option<T>, InboundError> {
    match get(form, field).as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| invalid(field, v)),
    }
}

/// An SMS sent to one of our numbers (the messaging webhook).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundSms {
    pub message_sid: String,
    /// The contact's number (E.164).
    pub from: String,
    /// Our number (E.164).
    pub to: String,
    /// The text; may be empty (a picture-only message).
    pub body: String,
}

impl InboundSms {
    pub fn from_form(form: &FormParams) -> Result<Self, InboundError> {
        Ok(InboundSms {
            message_sid: required(form, "MessageSid")?,
            from: required(form, "From")?,
            to: required(form, "To")?,
            body: get(form, "Body").ok_or(InboundError::MissingField("Body"))?,
        })
    }

    /// The opt-out / opt-in / help keyword this message is, if any.
    pub fn keyword(&self) -> Option<Keyword> {
        Keyword::of_body(&self.body)
    }
}

/// A delivery status change of a message we sent (its `StatusCallback`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsStatus {
    pub message_sid: String,
    pub status: MessageStatus,
    /// Twilio's error code when delivery failed (`ErrorCode`, e.g. 30003 unreachable).
    pub error_code: Option<u32>,
}

impl SmsStatus {
    pub fn from_form(form: &FormParams) -> Result<Self, InboundError> {
        let status = required(form, "MessageStatus")?;
        Ok(SmsStatus {
            message_sid: required(form, "MessageSid")?,
            status: status
                .parse()
                .map_err(|_| invalid("MessageStatus", &status))?,
            error_code: optional(form, "ErrorCode")?,
        })
    }
}

/// A progress change of a call we started (its `StatusCallback`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallStatus {
    pub call_sid: String,
    pub status: CallState,
    /// `CallDuration`: seconds, sent once the call has ended.
    pub duration_seconds: Option<u32>,
    /// `SequenceNumber`: the order Twilio fired the events in (callbacks can arrive out of
    /// order), when sent.
    pub sequence_number: Option<u32>,
}

impl CallStatus {
    pub fn from_form(form: &FormParams) -> Result<Self, InboundError> {
        let status = required(form, "CallStatus")?;
        Ok(CallStatus {
            call_sid: required(form, "CallSid")?,
            status: status.parse().map_err(|_| invalid("CallStatus", &status))?,
            duration_seconds: optional(form, "CallDuration")?,
            sequence_number: optional(form, "SequenceNumber")?,
        })
    }
}

/// A status value Twilio sent that is not in our list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {0:?}")]
pub struct UnknownStatus(pub String);

macro_rules! status_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in Twilio's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Twilio's spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownStatus;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownStatus(other.to_owned())),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

status_enum! {
    /// A Message resource's `status` / a callback's `MessageStatus`.
    MessageStatus {
        Queued => "queued",
        Sending => "sending",
        Sent => "sent",
        Delivered => "delivered",
        Undelivered => "undelivered",
        Failed => "failed",
        Receiving => "receiving",
        Received => "received",
        Accepted => "accepted",
        Scheduled => "scheduled",
        Read => "read",
        PartiallyDelivered => "partially_delivered",
        Canceled => "canceled",
    }
}

status_enum! {
    /// A Call resource's `status` / a callback's `CallStatus`.
    CallState {
        Queued => "queued",
        Initiated => "initiated",
        Ringing => "ringing",
        InProgress => "in-progress",
        Completed => "completed",
        Busy => "busy",
        Failed => "failed",
        NoAnswer => "no-answer",
        Canceled => "canceled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_text_and_json() {
        for s in MessageStatus::ALL {
            assert_eq!(s.as_str().parse::<MessageStatus>(), Ok(*s));
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<MessageStatus>(&json).unwrap(), *s);
        }
        for s in CallState::ALL {
            assert_eq!(s.as_str().parse::<CallState>(), Ok(*s));
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(serde_json::from_str::<CallState>(&json).unwrap(), *s);
        }
        assert_eq!(CallState::InProgress.as_str(), "in-progress");
        assert_eq!(CallState::NoAnswer.to_string(), "no-answer");
        assert!("In-Progress".parse::<CallState>().is_err());
    }

    #[test]
    fn nul_characters_are_removed_from_every_value_read() {
        let form = FormParams::parse(
            b"MessageSid=SM%00abc&From=%2B1415%005552671&To=%2B14155550000%00&Body=Hi%00+there%00",
        );
        let sms = InboundSms::from_form(&form).unwrap();
        assert_eq!(sms.message_sid, "SMabc");
        assert_eq!(sms.from, "+14155552671");
        assert_eq!(sms.to, "+14155550000");
        assert_eq!(sms.body, "Hi there");
        // The form itself (what the signature is checked over) is untouched.
        assert_eq!(form.get("Body"), Some("Hi\0 there\0"));
        // Nothing but NUL is as blank as nothing.
        let form = FormParams::parse(b"MessageSid=%00&From=%2B1&To=%2B2&Body=");
        assert!(matches!(
            InboundSms::from_form(&form),
            Err(InboundError::InvalidField {
                field: "MessageSid",
                ..
            })
        ));
        let form =
            FormParams::parse(b"MessageSid=SM%001&MessageStatus=deliv%00ered&ErrorCode=300%0003");
        let status = SmsStatus::from_form(&form).unwrap();
        assert_eq!(status.message_sid, "SM1");
        assert_eq!(status.status, MessageStatus::Delivered);
        assert_eq!(status.error_code, Some(30003));
        let form = FormParams::parse(b"CallSid=CA%001&CallStatus=completed&CallDuration=%0042");
        let call = CallStatus::from_form(&form).unwrap();
        assert_eq!(call.call_sid, "CA1");
        assert_eq!(call.duration_seconds, Some(42));
    }
}
