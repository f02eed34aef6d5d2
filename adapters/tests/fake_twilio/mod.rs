//! A fake Twilio REST API on 127.0.0.1: `POST /2010-04-01/Accounts/{sid}/Messages.json` and
//! `…/Calls.json`, speaking Twilio's wire format (form-encoded requests, HTTP basic auth, JSON
//! resources and error objects). It records every request and can be told to fail or stall the
//! next ones.
//!
//! It parses forms with `form_urlencoded` directly, not with the code under test.

#![allow(dead_code)] // each test binary uses a different part of it

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Captured {
    pub path: String,
    pub headers: HeaderMap,
    /// The form fields in the order sent, decoded.
    pub form: Vec<(String, String)>,
}

impl Captured {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first value of a form field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a form field, in the order sent.
    pub fn fields(&self, name: &str) -> Vec<&str> {
        self.form
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The names of the form fields, in the order sent.
    pub fn names(&self) -> Vec<&str> {
        self.form.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// What the fake does with the next request instead of serving it.
#[derive(Debug, Clone, Copy)]
pub enum Scripted {
    /// Answer with this HTTP status and Twilio's error object (500, 503, 429, …).
    Fail(u16),
    /// Wait this long before serving the request normally (to trip a client timeout).
    Stall(Duration),
    /// Answer 201 with a body that is not JSON.
    Garbage,
}

struct Inner {
    requests: Vec<Captured>,
    script: VecDeque<Scripted>,
    next_id: u64,
}

#[derive(Clone)]
struct Shared {
    account_sid: String,
    auth_token: String,
    inner: Arc<Mutex<Inner>>,
}

pub struct FakeTwilio {
    /// `http://127.0.0.1:{port}`: the base URL to give the client.
    pub base_url: String,
    shared: Shared,
}

impl FakeTwilio {
    /// Bind 127.0.0.1:0, then serve in the background (the socket already listens when this
    /// returns, so no waiting is needed).
    pub async fn start(account_sid: &str, auth_token: &str) -> FakeTwilio {
        let shared = Shared {
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            inner: Arc::new(Mutex::new(Inner {
                requests: Vec::new(),
                script: VecDeque::new(),
                next_id: 1,
            })),
        };
        let app = Router::new()
            .route("/2010-04-01/Accounts/{sid}/Messages.json", post(messages))
            .route("/2010-04-01/Accounts/{sid}/Calls.json", post(calls))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("fake Twilio serves");
        });
        FakeTwilio {
            base_url: format!("http://{addr}"),
            shared,
        }
    }

    /// Handle the next requests as scripted, in order; later ones are served normally.
    pub fn script(&self, steps: impl IntoIterator<Item = Scripted>) {
        self.shared.inner.lock().unwrap().script.extend(steps);
    }

    /// Fail the next `n` requests with HTTP `status`.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.script(std::iter::repeat_n(Scripted::Fail(status), n));
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Captured> {
        self.shared.inner.lock().unwrap().requests.clone()
    }
}

#[derive(Clone, Copy)]
enum Resource {
    Message,
    Call,
}

async fn messages(
    State(shared): State<Shared>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(Resource::Message, shared, sid, headers, body).await
}

async fn calls(
    State(shared): State<Shared>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(Resource::Call, shared, sid, headers, body).await
}

async fn serve(
    resource: Resource,
    shared: Shared,
    sid: String,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let path = match resource {
        Resource::Message => format!("/2010-04-01/Accounts/{sid}/Messages.json"),
        Resource::Call => format!("/2010-04-01/Accounts/{sid}/Calls.json"),
    };
    let (step, id) = {
        let mut inner = shared.inner.lock().unwrap();
        inner.requests.push(Captured {
            path,
            headers: headers.clone(),
            form: form.clone(),
        });
        let id = inner.next_id;
        inner.next_id += 1;
        (inner.script.pop_front(), id)
    };
    match step {
        Some(Scripted::Fail(status)) => {
            let (code, message) = match status {
                429 => (20429, "Too Many Requests"),
                503 => (20503, "Service Unavailable"),
                _ => (20500, "Internal Server Error"),
            };
            return twilio_error(status, code, message);
        }
        Some(Scripted::Stall(wait)) => tokio::time::sleep(wait).await,
        Some(Scripted::Garbage) => {
            return (
                StatusCode::CREATED,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"sid\": \"SM",
            )
                .into_response();
        }
        None => {}
    }

    if !authorized(&headers, &shared.account_sid, &shared.auth_token) {
        return twilio_error(401, 20003, "Authenticate");
    }
    if sid != shared.account_sid {
        return twilio_error(404, 20404, "The requested resource was not found");
    }
    let field = |name: &str| form.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let to = field("To").unwrap_or_default();
    if !is_e164(&to) {
        return twilio_error(400, 21211, &format!("Invalid 'To' Phone Number: {to}"));
    }
    let from = field("From").unwrap_or_default();
    let now = chrono::Utc::now().to_rfc2822();
    let account = &shared.account_sid;
    let body = match resource {
        Resource::Message => {
            let sid = format!("SM{id:032x}");
            json!({
                "account_sid": account,
                "api_version": "2010-04-01",
                "body": field("Body"),
                "date_created": now,
                "date_sent": null,
                "date_updated": now,
                "direction": "outbound-api",
                "error_code": null,
                "error_message": null,
                "from": from,
                "messaging_service_sid": null,
                "num_media": "0",
                "num_segments": "1",
                "price": null,
                "price_unit": "USD",
                "sid": sid,
                "status": "queued",
                "subresource_uris": {
                    "media": format!("/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json")
                },
                "to": to,
                "uri": format!("/2010-04-01/Accounts/{account}/Messages/{sid}.json"),
            })
        }
        Resource::Call => {
            let sid = format!("CA{id:032x}");
            json!({
                "account_sid": account,
                "annotation": null,
                "answered_by": null,
                "api_version": "2010-04-01",
                "caller_name": null,
                "date_created": now,
                "date_updated": now,
                "direction": "outbound-api",
                "duration": null,
                "end_time": null,
                "forwarded_from": null,
                "from": from,
                "from_formatted": from,
                "group_sid": null,
                "parent_call_sid": null,
                "phone_number_sid": null,
                "price": null,
                "price_unit": "USD",
                "queue_time": "0",
                "sid": sid,
                "start_time": null,
                "status": "queued",
                "subresource_uris": {
                    "recordings": format!("/2010-04-01/Accounts/{account}/Calls/{sid}/Recordings.json")
                },
                "to": to,
                "to_formatted": to,
                "trunk_sid": null,
                "uri": format!("/2010-04-01/Accounts/{account}/Calls/{sid}.json"),
            })
        }
    };
    json_response(StatusCode::CREATED, body)
}

fn authorized(headers: &HeaderMap, account_sid: &str, auth_token: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return false;
    };
    decoded == format!("{account_sid}:{auth_token}").as_bytes()
}

/// `+`, then 2 to 15 digits, the first not 0.
fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

fn twilio_error(status: u16, code: u32, message: &str) -> Response {
    json_response(
        StatusCode::from_u16(status).expect("valid status"),
        json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status,
        }),
    )
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}
