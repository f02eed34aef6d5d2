//! `adapters::twilio` against a fake Twilio speaking Twilio's wire format, plus the pure parts:
//! webhook signatures (Twilio's published vectors), TwiML escaping, keywords, inbound forms.

mod fake_twilio;

use std::time::Duration;

use base64::Engine as _;
use fake_twilio::{FakeTwilio, Scripted};
use heimdell_adapters::twilio::{
    CallEvent, CallRequest, CallState, CallStatus, FormParams, IDEMPOTENCY_HEADER, InboundError,
    InboundSms, Keyword, MessageStatus, SmsRequest, SmsStatus, TwilioClient, TwilioError,
    expected_signature, twiml, verify,
};
use reqwest::Url;
use secrecy::SecretString;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "test-auth-token-0123456789";

fn client_for(base_url: &str, token: &str) -> TwilioClient {
    TwilioClient::new(
        base_url,
        SID,
        SecretString::from(token.to_owned()),
        Duration::from_secs(5),
    )
    .expect("client")
}

fn sms<'a>(to: &'a str, key: &'a str) -> SmsRequest<'a> {
    SmsRequest {
        from: "+15005550006",
        to,
        body: "Hi Ada & co — 50% off? <3",
        status_callback: Some(
            Url::parse("https://crm.example.com/webhooks/twilio/sms-status?tenant=t1").unwrap(),
        ),
        idempotency_key: key,
    }
}

// ---------------------------------------------------------------- the REST client

#[tokio::test]
async fn send_sms_posts_twilios_form_with_basic_auth_and_the_idempotency_key() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let client = client_for(&fake.base_url, TOKEN);

    let sent = client
        .send_sms(&sms("+14155550100", "outbox-7f3a"))
        .await
        .expect("sent");

    assert!(
        sent.sid.starts_with("SM") && sent.sid.len() == 34,
        "{}",
        sent.sid
    );
    assert_eq!(sent.status, MessageStatus::Queued);
    assert_eq!(sent.to.as_deref(), Some("+14155550100"));
    assert_eq!(sent.from.as_deref(), Some("+15005550006"));
    assert_eq!(sent.num_segments, Some(1));
    assert!(sent.date_created.is_some());

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.path, format!("/2010-04-01/Accounts/{SID}/Messages.json"));
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"));
    assert_eq!(
        r.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(r.header(IDEMPOTENCY_HEADER), Some("outbox-7f3a"));
    assert_eq!(r.header("accept"), Some("application/json"));
    assert_eq!(r.names(), ["To", "From", "Body", "StatusCallback"]);
    assert_eq!(r.field("To"), Some("+14155550100"));
    assert_eq!(r.field("From"), Some("+15005550006"));
    assert_eq!(r.field("Body"), Some("Hi Ada & co — 50% off? <3"));
    assert_eq!(
        r.field("StatusCallback"),
        Some("https://crm.example.com/webhooks/twilio/sms-status?tenant=t1")
    );

    // Without a status callback the field is left out.
    let mut plain = sms("+14155550101", "outbox-2");
    plain.status_callback = None;
    client.send_sms(&plain).await.expect("sent");
    let r = &fake.requests()[1];
    assert_eq!(r.names(), ["To", "From", "Body"]);
}

#[tokio::test]
async fn start_call_posts_url_status_callback_events_and_record() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let client = client_for(&fake.base_url, TOKEN);

    let request = CallRequest {
        from: "+15005550006",
        to: "+14155550123",
        url: Url::parse("https://crm.example.com/webhooks/twilio/voice/bridge?call=c1&t=x%20y")
            .unwrap(),
        status_callback: Some(
            Url::parse("https://crm.example.com/webhooks/twilio/call-status?call=c1").unwrap(),
        ),
        status_callback_events: &CallEvent::ALL,
        record: true,
        idempotency_key: "outbox-call-1",
    };
    let sent = client.start_call(&request).await.expect("started");
    assert!(
        sent.sid.starts_with("CA") && sent.sid.len() == 34,
        "{}",
        sent.sid
    );
    assert_eq!(sent.status, CallState::Queued);
    assert_eq!(sent.to.as_deref(), Some("+14155550123"));

    let r = &fake.requests()[0];
    assert_eq!(r.path, format!("/2010-04-01/Accounts/{SID}/Calls.json"));
    assert_eq!(r.header(IDEMPOTENCY_HEADER), Some("outbox-call-1"));
    assert_eq!(r.field("To"), Some("+14155550123"));
    assert_eq!(r.field("From"), Some("+15005550006"));
    assert_eq!(
        r.field("Url"),
        Some("https://crm.example.com/webhooks/twilio/voice/bridge?call=c1&t=x%20y")
    );
    assert_eq!(r.field("Method"), Some("POST"));
    assert_eq!(
        r.field("StatusCallback"),
        Some("https://crm.example.com/webhooks/twilio/call-status?call=c1")
    );
    assert_eq!(r.field("StatusCallbackMethod"), Some("POST"));
    assert_eq!(
        r.fields("StatusCallbackEvent"),
        ["initiated", "ringing", "answered", "completed"]
    );
    assert_eq!(r.field("Record"), Some("true"));

    // No recording, no callback: neither Record nor any StatusCallback* field is sent.
    let quiet = CallRequest {
        status_callback: None,
        record: false,
        idempotency_key: "outbox-call-2",
        ..request
    };
    client.start_call(&quiet).await.expect("started");
    let r = &fake.requests()[1];
    assert_eq!(r.names(), ["To", "From", "Url", "Method"]);
}

#[tokio::test]
async fn an_invalid_number_is_permanent_with_twilios_code() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let client = client_for(&fake.base_url, TOKEN);

    let err = client
        .send_sms(&sms("555-0100", "k1"))
        .await
        .expect_err("refused");
    match &err {
        TwilioError::Permanent {
            status,
            code,
            message,
        } => {
            assert_eq!(*status, 400);
            assert_eq!(*code, Some(21211));
            assert!(message.contains("Invalid 'To' Phone Number"), "{message}");
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
    assert!(!err.is_transient());
    assert_eq!(err.code(), Some(21211));

    let call = CallRequest {
        from: "+15005550006",
        to: "+0123",
        url: Url::parse("https://crm.example.com/voice").unwrap(),
        status_callback: None,
        status_callback_events: &[],
        record: false,
        idempotency_key: "k2",
    };
    let err = client.start_call(&call).await.expect_err("refused");
    assert_eq!(err.code(), Some(21211));
}

#[tokio::test]
async fn server_errors_and_throttling_are_transient_and_a_retry_resends_the_same_key() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let client = client_for(&fake.base_url, TOKEN);
    fake.fail_next(1, 503);
    fake.fail_next(1, 500);
    fake.fail_next(1, 429);

    let request = sms("+14155550100", "outbox-retry");
    for expected in [503, 500, 429] {
        let err = client.send_sms(&request).await.expect_err("fails");
        assert!(err.is_transient(), "{err:?}");
        match err {
            TwilioError::Transient { status, .. } => assert_eq!(status, Some(expected)),
            other => panic!("expected Transient, got {other:?}"),
        }
    }
    // The script is used up: the outbox's next attempt goes through.
    let sent = client.send_sms(&request).await.expect("sent on retry");
    assert_eq!(sent.status, MessageStatus::Queued);

    let keys: Vec<_> = fake
        .requests()
        .iter()
        .map(|r| r.header(IDEMPOTENCY_HEADER).unwrap().to_owned())
        .collect();
    assert_eq!(keys, ["outbox-retry"; 4]);
}

#[tokio::test]
async fn wrong_credentials_are_permanent_20003_and_the_token_never_shows() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let client = client_for(&fake.base_url, "wrong-token-value");

    let err = client
        .send_sms(&sms("+14155550100", "k"))
        .await
        .expect_err("refused");
    assert_eq!(
        err,
        TwilioError::Permanent {
            status: 401,
            code: Some(20003),
            message: "Authenticate".into()
        }
    );
    assert!(!err.is_transient());
    for shown in [err.to_string(), format!("{err:?}"), format!("{client:?}")] {
        assert!(!shown.contains("wrong-token-value"), "{shown}");
    }
}

#[tokio::test]
async fn connection_refused_is_transient() {
    // Take a free port, then close it: nothing listens there.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);

    let client = client_for(&format!("http://{addr}"), TOKEN);
    let err = client
        .send_sms(&sms("+14155550100", "k"))
        .await
        .expect_err("no server");
    assert!(err.is_transient(), "{err:?}");
    assert!(matches!(err, TwilioError::Transient { status: None, .. }));
    assert!(err.to_string().contains("could not connect"), "{err}");
}

#[tokio::test]
async fn a_timeout_is_transient() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    fake.script([Scripted::Stall(Duration::from_secs(30))]);
    let client = TwilioClient::new(
        &fake.base_url,
        SID,
        SecretString::from(TOKEN.to_owned()),
        Duration::from_millis(300),
    )
    .unwrap();

    let err = client
        .send_sms(&sms("+14155550100", "k"))
        .await
        .expect_err("times out");
    match &err {
        TwilioError::Transient { status, message } => {
            assert_eq!(*status, None);
            assert!(message.contains("timed out"), "{message}");
        }
        other => panic!("expected Transient, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreadable_success_is_a_decode_error_and_not_retried() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    fake.script([Scripted::Garbage]);
    let client = client_for(&fake.base_url, TOKEN);

    let err = client
        .send_sms(&sms("+14155550100", "k"))
        .await
        .expect_err("garbage");
    assert!(matches!(err, TwilioError::Decode(_)), "{err:?}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn a_bad_idempotency_key_is_refused_before_sending() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let client = client_for(&fake.base_url, TOKEN);
    for key in ["", "line\nbreak"] {
        let err = client
            .send_sms(&sms("+14155550100", key))
            .await
            .expect_err("refused");
        assert!(matches!(err, TwilioError::Invalid(_)), "{err:?}");
    }
    assert!(fake.requests().is_empty());
}

// ---------------------------------------------------------------- webhook signatures

/// Twilio's documented example request: auth token `12345`, this URL, these POST fields.
/// Expected signatures are from twilio-php's RequestValidatorTest (auth token 12345) and the
/// example in Twilio's request-validation docs; each was recomputed independently with Python's
/// hmac/hashlib/base64 before being written here.
const DOC_TOKEN: &str = "12345";
const DOC_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

fn doc_params(caller: &str) -> Vec<(String, String)> {
    [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", caller),
        ("Digits", "1234"),
        ("From", caller),
        ("To", "+18005551212"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn signature_matches_twilios_published_vectors() {
    let params = doc_params("+14158675309");
    assert_eq!(
        expected_signature(DOC_TOKEN, DOC_URL, &params),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
    assert!(verify(
        DOC_TOKEN,
        DOC_URL,
        &params,
        Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    ));

    let params = doc_params("+12349013030");
    assert_eq!(
        expected_signature(DOC_TOKEN, DOC_URL, &params),
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    );
    // Field order in the request does not matter: they are sorted before signing.
    let mut shuffled = params.clone();
    shuffled.reverse();
    assert!(verify(
        DOC_TOKEN,
        DOC_URL,
        &shuffled,
        Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    ));
}

#[test]
fn signature_of_a_raw_form_body_verifies() {
    // The body as Twilio posts it: form-encoded, in any order, `+` as %2B.
    let body = b"To=%2B18005551212&Digits=1234&CallSid=CA1234567890ABCDE\
                 &From=%2B14158675309&Caller=%2B14158675309";
    let form = FormParams::parse(body);
    assert_eq!(form.get("From"), Some("+14158675309"));
    assert!(form.verify(DOC_TOKEN, DOC_URL, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")));
    assert!(!form.verify(DOC_TOKEN, DOC_URL, None));
}

#[test]
fn repeated_fields_are_signed_once_per_distinct_value_in_sorted_order() {
    // twilio-php's testValidateWithArrayAndDuplicates: Digits = [5678, 1234, 1234].
    let form = FormParams::parse(b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234");
    assert_eq!(
        form.get_all("Digits").collect::<Vec<_>>(),
        ["5678", "1234", "1234"]
    );
    assert_eq!(
        expected_signature(DOC_TOKEN, DOC_URL, form.pairs()),
        "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    );
}

#[test]
fn signature_tolerates_an_explicit_or_missing_port() {
    let params = doc_params("+14158675309");
    // Signed over the URL with :443 (twilio-php's testValidateAddsPortHttps).
    assert!(verify(
        DOC_TOKEN,
        DOC_URL,
        &params,
        Some("kvajT1Ptam85bY51eRf/AJRuM3w=")
    ));
    // http with :80 (testValidateAddsPortHttp).
    assert!(verify(
        DOC_TOKEN,
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        &params,
        Some("0ZXoZLH/DfblKGATFgpif+LLRf4=")
    ));
    // Our URL has a port Twilio's did not (testValidateRemovesPortHttps).
    assert!(verify(
        DOC_TOKEN,
        "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
        &params,
        Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    ));
}

#[test]
fn any_change_breaks_the_signature() {
    let params = doc_params("+14158675309");
    let good = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    assert!(verify(DOC_TOKEN, DOC_URL, &params, Some(good)));

    // One changed parameter value.
    let mut changed = params.clone();
    changed[2].1 = "1235".into();
    assert!(!verify(DOC_TOKEN, DOC_URL, &changed, Some(good)));
    // One extra parameter.
    let mut extra = params.clone();
    extra.push(("Body".into(), "STOP".into()));
    assert!(!verify(DOC_TOKEN, DOC_URL, &extra, Some(good)));
    // One missing parameter.
    assert!(!verify(DOC_TOKEN, DOC_URL, &params[1..], Some(good)));
    // A renamed parameter (value unchanged).
    let mut renamed = params.clone();
    renamed[0].0 = "Callsid".into();
    assert!(!verify(DOC_TOKEN, DOC_URL, &renamed, Some(good)));
    // Another URL: path, query, scheme, host.
    for url in [
        "https://mycompany.com/myapp.php?foo=1&bar=3",
        "https://mycompany.com/other.php?foo=1&bar=2",
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        "https://evil.example/myapp.php?foo=1&bar=2",
        "https://mycompany.com/myapp.php",
    ] {
        assert!(!verify(DOC_TOKEN, url, &params, Some(good)), "{url}");
    }
    // Another token.
    assert!(!verify("12346", DOC_URL, &params, Some(good)));
    assert!(!verify("", DOC_URL, &params, Some(good)));
    // Missing, empty, truncated or altered header.
    assert!(!verify(DOC_TOKEN, DOC_URL, &params, None));
    assert!(!verify(DOC_TOKEN, DOC_URL, &params, Some("")));
    assert!(!verify(
        DOC_TOKEN,
        DOC_URL,
        &params,
        Some(&good[..good.len() - 1])
    ));
    assert!(!verify(
        DOC_TOKEN,
        DOC_URL,
        &params,
        Some("rsoydt4t1cutdk1pdd93/vvr8b8=")
    ));
}

// ---------------------------------------------------------------- TwiML

#[test]
fn bridge_call_dials_the_contact_with_our_caller_id() {
    let xml = twiml::bridge_call("+14155550123", "+15005550006", false, None);
    assert_eq!(
        xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>\
         <Dial callerId=\"+15005550006\"><Number>+14155550123</Number></Dial></Response>"
    );

    let xml = twiml::bridge_call(
        "+14155550123",
        "+15005550006",
        true,
        Some("This call may be recorded."),
    );
    assert_eq!(
        xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>\
         <Say>This call may be recorded.</Say>\
         <Dial callerId=\"+15005550006\" record=\"record-from-answer-dual\">\
         <Number>+14155550123</Number></Dial></Response>"
    );
}

#[test]
fn twiml_escapes_every_value() {
    let hostile = r#"</Say><Dial><Number>+19005551234</Number></Dial><Say a='1' b="2">&amp;"#;
    let xml = twiml::bridge_call(hostile, r#"+1"><Play>x</Play>"#, true, Some(hostile));
    // Only our own elements remain: exactly one Dial, one Number, one Say.
    assert_eq!(xml.matches("<Dial").count(), 1);
    assert_eq!(xml.matches("<Number>").count(), 1);
    assert_eq!(xml.matches("<Say>").count(), 1);
    assert!(!xml.contains("<Play>"));
    assert!(xml.contains("callerId=\"+1&quot;&gt;&lt;Play&gt;x&lt;/Play&gt;\""));
    assert!(xml.contains(
        "&lt;/Say&gt;&lt;Dial&gt;&lt;Number&gt;+19005551234&lt;/Number&gt;&lt;/Dial&gt;\
         &lt;Say a=&apos;1&apos; b=&quot;2&quot;&gt;&amp;amp;"
    ));

    assert_eq!(
        twiml::say_and_hangup("Tom & Jerry's <call>"),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>\
         <Say>Tom &amp; Jerry&apos;s &lt;call&gt;</Say><Hangup/></Response>"
    );
    assert_eq!(
        twiml::message_reply("\"Quotes\" & <tags>"),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>\
         <Message>&quot;Quotes&quot; &amp; &lt;tags&gt;</Message></Response>"
    );
    assert_eq!(
        twiml::empty_response(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>"
    );
    // A blank consent notice says nothing.
    assert!(!twiml::bridge_call("+1415", "+1500", false, Some("  ")).contains("<Say>"));
}

// ---------------------------------------------------------------- keywords

#[test]
fn keyword_table() {
    use Keyword::*;
    let cases: &[(&str, Option<Keyword>)] = &[
        ("STOP", Some(OptOut)),
        ("stop", Some(OptOut)),
        ("Stop", Some(OptOut)),
        ("  stop  ", Some(OptOut)),
        ("STOP.", Some(OptOut)),
        ("stop!", Some(OptOut)),
        ("\"Stop\"", Some(OptOut)),
        ("\n\tSTOP\r\n", Some(OptOut)),
        ("STOPALL", Some(OptOut)),
        ("unsubscribe", Some(OptOut)),
        ("Cancel", Some(OptOut)),
        ("END", Some(OptOut)),
        ("quit.", Some(OptOut)),
        ("START", Some(OptIn)),
        ("start!", Some(OptIn)),
        ("Unstop", Some(OptIn)),
        ("HELP", Some(Help)),
        ("help?", Some(Help)),
        ("info", Some(Help)),
        // Not a lone keyword: an ordinary message.
        ("STOP PLEASE", None),
        ("please stop", None),
        ("Stop texting me", None),
        ("don't stop", None),
        ("stopp", None),
        ("ST OP", None),
        ("STOP STOP", None),
        ("yes", None),
        ("", None),
        ("   ", None),
        ("?!", None),
        ("Startup news", None),
        ("stop1", None),
    ];
    assert!(cases.len() >= 15);
    for (body, expected) in cases {
        assert_eq!(Keyword::of_body(body), *expected, "{body:?}");
    }
}

// ---------------------------------------------------------------- inbound webhooks

#[test]
fn inbound_sms_parses_twilios_form() {
    let form = FormParams::parse(
        b"ToCountry=US&SmsMessageSid=SM11&NumMedia=0&SmsSid=SM11&SmsStatus=received\
          &Body=Stop+it%21&To=%2B15005550006&NumSegments=1&MessageSid=SM11\
          &AccountSid=AC0123&From=%2B14155550123&ApiVersion=2010-04-01",
    );
    let sms = InboundSms::from_form(&form).expect("parses");
    assert_eq!(
        sms,
        InboundSms {
            message_sid: "SM11".into(),
            from: "+14155550123".into(),
            to: "+15005550006".into(),
            body: "Stop it!".into(),
        }
    );
    assert_eq!(sms.keyword(), None);

    let stop =
        FormParams::parse(b"MessageSid=SM12&From=%2B14155550123&To=%2B15005550006&Body=STOP");
    assert_eq!(
        InboundSms::from_form(&stop).unwrap().keyword(),
        Some(Keyword::OptOut)
    );

    // A picture-only message has an empty body: still an SMS.
    let empty = FormParams::parse(b"MessageSid=SM13&From=%2B1415&To=%2B1500&Body=");
    assert_eq!(InboundSms::from_form(&empty).unwrap().body, "");
}

#[test]
fn inbound_sms_names_the_missing_or_blank_field() {
    let cases: &[(&[u8], InboundError)] = &[
        (
            b"MessageSid=SM1&From=%2B1415&To=%2B1500",
            InboundError::MissingField("Body"),
        ),
        (
            b"MessageSid=SM1&To=%2B1500&Body=hi",
            InboundError::MissingField("From"),
        ),
        (
            b"From=%2B1415&To=%2B1500&Body=hi",
            InboundError::MissingField("MessageSid"),
        ),
        (
            b"MessageSid=SM1&From=%2B1415&To=+&Body=hi",
            InboundError::InvalidField {
                field: "To",
                value: " ".into(),
            },
        ),
    ];
    for (body, expected) in cases {
        let err = InboundSms::from_form(&FormParams::parse(body)).expect_err("invalid");
        assert_eq!(&err, expected);
    }
    assert_eq!(
        InboundError::MissingField("Body").to_string(),
        "missing field Body"
    );
}

#[test]
fn sms_status_callbacks_parse() {
    let form = FormParams::parse(
        b"SmsSid=SM42&SmsStatus=undelivered&MessageStatus=undelivered&To=%2B14155550123\
          &MessageSid=SM42&AccountSid=AC1&From=%2B15005550006&ApiVersion=2010-04-01&ErrorCode=30003",
    );
    assert_eq!(
        SmsStatus::from_form(&form).unwrap(),
        SmsStatus {
            message_sid: "SM42".into(),
            status: MessageStatus::Undelivered,
            error_code: Some(30003),
        }
    );

    let delivered = FormParams::parse(b"MessageSid=SM42&MessageStatus=delivered&ErrorCode=");
    let status = SmsStatus::from_form(&delivered).unwrap();
    assert_eq!(status.status, MessageStatus::Delivered);
    assert_eq!(status.error_code, None);

    let missing = FormParams::parse(b"MessageSid=SM42");
    assert_eq!(
        SmsStatus::from_form(&missing),
        Err(InboundError::MissingField("MessageStatus"))
    );
    let unknown = FormParams::parse(b"MessageSid=SM42&MessageStatus=teleported");
    assert_eq!(
        SmsStatus::from_form(&unknown),
        Err(InboundError::InvalidField {
            field: "MessageStatus",
            value: "teleported".into()
        })
    );
    let bad_code = FormParams::parse(b"MessageSid=SM42&MessageStatus=failed&ErrorCode=abc");
    assert_eq!(
        SmsStatus::from_form(&bad_code),
        Err(InboundError::InvalidField {
            field: "ErrorCode",
            value: "abc".into()
        })
    );
}

#[test]
fn call_status_callbacks_parse() {
    let form = FormParams::parse(
        b"Called=%2B14155550123&CallStatus=completed&Duration=1&CallDuration=42\
          &CallSid=CA77&AccountSid=AC1&Direction=outbound-api&SequenceNumber=3\
          &Timestamp=Tue%2C+01+Jul+2025+10%3A00%3A00+%2B0000&CallbackSource=call-progress-events",
    );
    assert_eq!(
        CallStatus::from_form(&form).unwrap(),
        CallStatus {
            call_sid: "CA77".into(),
            status: CallState::Completed,
            duration_seconds: Some(42),
            sequence_number: Some(3),
        }
    );

    let ringing = FormParams::parse(b"CallSid=CA77&CallStatus=ringing");
    let status = CallStatus::from_form(&ringing).unwrap();
    assert_eq!(status.status, CallState::Ringing);
    assert_eq!(status.duration_seconds, None);
    for (text, state) in [
        ("queued", CallState::Queued),
        ("initiated", CallState::Initiated),
        ("in-progress", CallState::InProgress),
        ("busy", CallState::Busy),
        ("failed", CallState::Failed),
        ("no-answer", CallState::NoAnswer),
        ("canceled", CallState::Canceled),
    ] {
        let body = format!("CallSid=CA77&CallStatus={text}");
        let parsed = CallStatus::from_form(&FormParams::parse(body.as_bytes())).unwrap();
        assert_eq!(parsed.status, state);
    }

    assert_eq!(
        CallStatus::from_form(&FormParams::parse(b"CallStatus=completed")),
        Err(InboundError::MissingField("CallSid"))
    );
    assert_eq!(
        CallStatus::from_form(&FormParams::parse(b"CallSid=CA77")),
        Err(InboundError::MissingField("CallStatus"))
    );
    assert_eq!(
        CallStatus::from_form(&FormParams::parse(
            b"CallSid=CA77&CallStatus=completed&CallDuration=-5"
        )),
        Err(InboundError::InvalidField {
            field: "CallDuration",
            value: "-5".into()
        })
    );
    assert_eq!(
        CallStatus::from_form(&FormParams::parse(b"CallSid=CA77&CallStatus=answered")),
        Err(InboundError::InvalidField {
            field: "CallStatus",
            value: "answered".into()
        })
    );
}
