//! SMS text: `{first_name}`-style fields filled from the contact's record, and how many SMS
//! segments a text costs.
//!
//! A field Heimdell does not know is an error, and so is a known field the record has no value
//! for: a text never goes out reading "Hi ,". `{{` and `}}` write literal braces.

use std::collections::BTreeMap;

/// The fields a text or template may use.
pub const FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "full_name",
    "company",
    "title",
    "email",
    "phone",
    "owner_name",
    "sender_name",
];

/// Longest text Twilio accepts (10 segments of 160 characters).
pub const MAX_BODY: usize = 1600;

/// One piece of a parsed text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Literal(&'a str),
    Brace(char),
    Field(&'a str),
}

/// Splits a text into literals and `{field}`s; errors on an unknown field or a stray brace.
fn parse(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'}' if bytes.get(i + 1) == Some(&bytes[i]) => {
                pieces.push(Piece::Literal(&text[start..i]));
                pieces.push(Piece::Brace(bytes[i] as char));
                i += 2;
                start = i;
            }
            b'{' => {
                let Some(close) = text[i + 1..].find('}') else {
                    return Err(
                        "has a `{` without a closing `}` (write `{{` for a literal brace)".into(),
                    );
                };
                let name = text[i + 1..i + 1 + close].trim();
                if !FIELDS.contains(&name) {
                    let shown: String = name.chars().take(40).collect();
                    return Err(format!(
                        "uses {{{shown}}}, which is not a field; use {}",
                        FIELDS
                            .iter()
                            .map(|f| format!("{{{f}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                pieces.push(Piece::Literal(&text[start..i]));
                pieces.push(Piece::Field(name));
                i += close + 2;
                start = i;
            }
            b'}' => {
                return Err(
                    "has a `}` without an opening `{` (write `}}` for a literal brace)".into(),
                );
            }
            _ => i += 1,
        }
    }
    pieces.push(Piece::Literal(&text[start..]));
    Ok(pieces)
}

/// The fields a text uses, in order of first use; an error names the bad one.
pub fn fields_used(text: &str) -> Result<Vec<&'static str>, String> {
    let mut used: Vec<&'static str> = Vec::new();
    for p in parse(text)? {
        if let Piece::Field(name) = p
            && let Some(known) = FIELDS.iter().find(|f| **f == name)
            && !used.contains(known)
        {
            used.push(known);
        }
    }
    Ok(used)
}

/// Values for the fields, from a contact's record and the sender; `None` when the record has
/// no value.
#[derive(Debug, Clone, Default)]
pub struct Values(BTreeMap<&'static str, String>);

impl Values {
    pub fn set(&mut self, field: &'static str, value: Option<&str>) {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            self.0.insert(field, v.to_string());
        }
    }
}

/// Fills the fields of `text`; an unknown field, or one the record has no value for, is an
/// error naming it. The result is trimmed and must fit in [`MAX_BODY`] characters.
pub fn render(text: &str, values: &Values) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    for p in parse(text)? {
        match p {
            Piece::Literal(s) => out.push_str(s),
            Piece::Brace(c) => out.push(c),
            Piece::Field(name) => match values.0.get(name) {
                Some(v) => out.push_str(v),
                None => {
                    return Err(format!(
                        "uses {{{name}}}, but this contact has no {}",
                        name.replace('_', " ")
                    ));
                }
            },
        }
    }
    let out = out.trim().to_string();
    if out.is_empty() {
        return Err("is empty once its fields are filled in".into());
    }
    let n = out.chars().count();
    if n > MAX_BODY {
        return Err(format!(
            "is {n} characters once its fields are filled in; the most is {MAX_BODY}"
        ));
    }
    if out
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err("must not contain control characters".into());
    }
    Ok(out)
}

/// How a text travels: GSM-7 (160 characters a segment) or UCS-2 (70).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENDED: &str = "^{}\\[~]|€\u{000C}";

/// The encoding and the number of segments a text is sent as.
pub fn segments(text: &str) -> (Encoding, usize) {
    let mut septets = 0usize;
    let mut gsm = true;
    for c in text.chars() {
        if GSM_BASIC.contains(c) {
            septets += 1;
        } else if GSM_EXTENDED.contains(c) {
            septets += 2;
        } else {
            gsm = false;
            break;
        }
    }
    if gsm {
        let n = if septets <= 160 {
            1
        } else {
            septets.div_ceil(153)
        };
        (Encoding::Gsm7, n.max(1))
    } else {
        let units: usize = text.chars().map(char::len_utf16).sum();
        let n = if units <= 70 { 1 } else { units.div_ceil(67) };
        (Encoding::Ucs2, n.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jane() -> Values {
        let mut v = Values::default();
        v.set("first_name", Some("Jane"));
        v.set("company", Some("Acme"));
        v.set("title", Some("  "));
        v
    }

    #[test]
    fn fills_known_fields_and_keeps_escaped_braces() {
        assert_eq!(
            render("Hi {first_name} at { company }! {{ok}}", &jane()).unwrap(),
            "Hi Jane at Acme! {ok}"
        );
        assert_eq!(render("No fields", &jane()).unwrap(), "No fields");
        assert_eq!(
            fields_used("{first_name} {company} {first_name}").unwrap(),
            ["first_name", "company"]
        );
    }

    #[test]
    fn unknown_or_empty_fields_are_errors_not_blanks() {
        let e = render("Hi {nickname}", &jane()).unwrap_err();
        assert!(
            e.contains("{nickname}") && e.contains("{first_name}"),
            "{e}"
        );
        let e = render("Dear {title}", &jane()).unwrap_err();
        assert!(e.contains("no title"), "{e}");
        let e = render("Hi {last_name}", &jane()).unwrap_err();
        assert!(e.contains("no last name"), "{e}");
        assert!(render("Hi {first_name", &jane()).is_err());
        assert!(render("Hi }", &jane()).is_err());
        assert!(render("{first_name}", &Values::default()).is_err());
        assert!(render(&"x".repeat(1601), &jane()).is_err());
    }

    #[test]
    fn counts_segments_by_encoding() {
        assert_eq!(segments("Hello"), (Encoding::Gsm7, 1));
        assert_eq!(segments(&"a".repeat(160)), (Encoding::Gsm7, 1));
        assert_eq!(segments(&"a".repeat(161)), (Encoding::Gsm7, 2));
        assert_eq!(segments(&"€".repeat(80)), (Encoding::Gsm7, 1));
        assert_eq!(segments(&"€".repeat(81)), (Encoding::Gsm7, 2));
        assert_eq!(segments("I’m late"), (Encoding::Ucs2, 1));
        assert_eq!(segments(&"é😀".repeat(30)), (Encoding::Ucs2, 2));
    }
}
