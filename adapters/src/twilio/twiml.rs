//! TwiML responses, built as text. Every value is XML-escaped ([`escape`]), so a contact's name
//! or message can never add elements or attributes to what Twilio executes.

/// The `Content-Type` to answer TwiML with.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// Escape text for an XML element or a double-quoted attribute: `& < > " '` become entities,
/// and characters XML 1.0 does not allow at all (most control characters) are dropped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Connect the answered call (the rep's phone) to `contact_number`, showing `caller_id` (our
/// Twilio number). With `consent_notice`, it is spoken first; with `record`, both legs are
/// recorded from the moment the contact answers, on separate channels:
///
/// `<Response>[<Say>notice</Say>]<Dial callerId="…" [record="record-from-answer-dual"]><Number>…</Number></Dial></Response>`
pub fn bridge_call(
    contact_number: &str,
    caller_id: &str,
    record: bool,
    consent_notice: Option<&str>,
) -> String {
    let mut xml = String::from(DECLARATION);
    xml.push_str("<Response>");
    if let Some(notice) = consent_notice.filter(|n| !n.trim().is_empty()) {
        push_element(&mut xml, "Say", notice);
    }
    xml.push_str("<Dial callerId=\"");
    xml.push_str(&escape(caller_id));
    xml.push('"');
    if record {
        xml.push_str(" record=\"record-from-answer-dual\"");
    }
    xml.push('>');
    push_element(&mut xml, "Number", contact_number);
    xml.push_str("</Dial></Response>");
    xml
}

/// Say `text`, then hang up (e.g. when a call may not go ahead after all).
pub fn say_and_hangup(text: &str) -> String {
    let mut xml = String::from(DECLARATION);
    xml.push_str("<Response>");
    push_element(&mut xml, "Say", text);
    xml.push_str("<Hangup/></Response>");
    xml
}

/// Nothing to do: the answer to SMS webhooks (Twilio sends no reply).
pub fn empty_response() -> String {
    format!("{DECLARATION}<Response/>")
}

/// Reply to an inbound SMS with `text`.
pub fn message_reply(text: &str) -> String {
    let mut xml = String::from(DECLARATION);
    xml.push_str("<Response>");
    push_element(&mut xml, "Message", text);
    xml.push_str("</Response>");
    xml
}

fn push_element(xml: &mut String, name: &str, text: &str) {
    xml.push('<');
    xml.push_str(name);
    xml.push('>');
    xml.push_str(&escape(text));
    xml.push_str("</");
    xml.push_str(name);
    xml.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_the_five_entities_and_drops_control_characters() {
        assert_eq!(escape(r#"a<b>&"c'd"#), "a&lt;b&gt;&amp;&quot;c&apos;d");
        assert_eq!(escape("tab\tnl\nbell\u{7}nul\0é"), "tab\tnl\nbellnulé");
    }
}
