//! Small checked values: bounded text, currencies, time zones, roles, reason codes; and where a
//! JSON value holds U+0000 ([`nul_path`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// Where a JSON value holds U+0000, which Postgres `text` and `jsonb` cannot store: the path of
/// the first object key or string value holding it, or None if there is none. Paths name
/// top-level keys plainly (`notes`), nested keys with dots (`address.city`) and array items with
/// their index (`numbers[0]`, `tags[2].label`); a key that itself holds NUL is reported with the
/// NUL shown as `\u0000`, since the character itself could not be shown or stored. Every edge
/// that accepts JSON from outside (HTTP bodies, a chat model's tool calls) refuses such input
/// with this one walk, so they all name the same field.
pub fn nul_path(value: &Value) -> Option<String> {
    nul_at(value, "")
}

fn nul_at(value: &Value, at: &str) -> Option<String> {
    match value {
        Value::String(s) => s.contains('\0').then(|| at.to_string()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_at(v, &format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let path = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            if k.contains('\0') {
                Some(path.replace('\0', "\\u0000"))
            } else {
                nul_at(v, &path)
            }
        }),
        _ => None,
    }
}

/// Free text (notes, bodies, descriptions): trimmed, non-empty, at most `max` characters. Line
/// breaks and tabs are kept; every other control character is refused, NUL above all (Postgres
/// `text` cannot hold U+0000, so letting one through would fail only when stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(String);

impl Text {
    pub fn parse(input: &str, max: usize) -> Result<Text, String> {
        let s = bounded(input, max)?;
        if let Some(c) = s
            .chars()
            .find(|&c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
        {
            return Err(format!(
                "must not contain control characters ({})",
                code_point(c)
            ));
        }
        Ok(Text(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A name or a one-line label (a person's name, a company, deal or stage name, a task title, a
/// job title, a headline): trimmed, non-empty, at most `max` characters, on one line, and
/// showing exactly what it holds. Control characters (line breaks and tabs included) are
/// refused, and so are the invisible formatting characters that change how the text around
/// them is shown without showing themselves: bidirectional overrides, embeddings and isolates,
/// zero-width characters and the like. With any of them one record could pass for another in a
/// list or on an approval card (`Jane\u{202E}…` displayed reversed, a second line that looks
/// like the next row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub fn parse(input: &str, max: usize) -> Result<Name, String> {
        let s = bounded(input, max)?;
        if let Some(c) = s
            .chars()
            .find(|&c| c.is_control() || is_invisible_format(c))
        {
            return Err(format!(
                "must not contain control or invisible formatting characters ({})",
                code_point(c)
            ));
        }
        Ok(Name(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The input trimmed, if it is not empty and at most `max` characters.
fn bounded(input: &str, max: usize) -> Result<&str, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    Ok(s)
}

/// Characters that are not shown but change how the text around them is shown or broken into
/// lines, or that show as nothing at all: the soft hyphen, the combining grapheme joiner, the
/// Arabic letter mark, the Hangul fillers, the Khmer inherent vowels, the Mongolian free
/// variation selectors and vowel separator, zero-width space / non-joiner / joiner, the
/// left-to-right and right-to-left marks, the line and paragraph separators, the bidirectional
/// embeddings and overrides, the word joiner and invisible operators, the bidirectional
/// isolates, the braille blank, the zero-width no-break space (byte order mark), the interlinear
/// annotation marks, the musical formatting characters and the tag characters.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// `U+202E`, for messages: the character itself would be invisible or break the line.
fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// An ISO 4217 currency code from the set Heimdell formats amounts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency(&'static str);

const CURRENCIES: &[&str] = &[
    "USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "SEK", "NOK", "DKK", "JPY", "INR", "BRL",
    "MXN", "SGD", "HKD", "ZAR", "PLN", "CZK", "ILS", "AED",
];

impl Currency {
    pub fn parse(input: &str) -> Result<Currency, String> {
        let upper = input.trim().to_ascii_uppercase();
        CURRENCIES
            .iter()
            .find(|c| **c == upper)
            .map(|c| Currency(c))
            .ok_or_else(|| format!("`{input}` is not a supported ISO 4217 currency code"))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }

    /// Minor units per major unit (JPY has none).
    pub fn minor_digits(&self) -> u32 {
        if self.0 == "JPY" { 0 } else { 2 }
    }

    /// Formats a stored amount in minor units with its currency code, e.g. `USD 12,500.00`; a
    /// code this type does not know is shown as is, with the amount in minor units.
    pub fn format_amount(minor: i64, code: &str) -> String {
        match Currency::parse(code) {
            Ok(c) => c.format_minor(minor),
            Err(_) => format!("{code} {minor} (minor units)"),
        }
    }

    /// Formats an amount in minor units, e.g. `USD 12,500.00`.
    pub fn format_minor(&self, minor: i64) -> String {
        let digits = self.minor_digits();
        let div = 10i64.pow(digits);
        let major = minor / div;
        let frac = (minor % div).abs();
        let mut grouped = String::new();
        let s = major.abs().to_string();
        for (i, ch) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        let sign = if minor < 0 { "-" } else { "" };
        if digits == 0 {
            format!("{} {sign}{grouped}", self.0)
        } else {
            format!(
                "{} {sign}{grouped}.{frac:0width$}",
                self.0,
                width = digits as usize
            )
        }
    }
}

/// An IANA time zone name such as `Europe/Oslo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    pub fn parse(input: &str) -> Result<TimeZone, String> {
        input
            .trim()
            .parse::<chrono_tz::Tz>()
            .map(TimeZone)
            .map_err(|_| format!("`{input}` is not an IANA time zone such as Europe/Oslo"))
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

/// A member's role in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Manager,
    Rep,
}

impl Role {
    pub fn parse(input: &str) -> Result<Role, String> {
        match input {
            "admin" => Ok(Role::Admin),
            "manager" => Ok(Role::Manager),
            "rep" => Ok(Role::Rep),
            other => Err(format!("`{other}` is not a role (admin, manager, rep)")),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Rep => "rep",
        }
    }
}

/// Why a field changed, as a short machine-friendly code (`budget_approved`, `lost_to_competitor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonCode(String);

impl ReasonCode {
    pub fn parse(input: &str) -> Result<ReasonCode, String> {
        let s = input.trim().to_ascii_lowercase();
        if s.is_empty() || s.len() > 64 {
            return Err("must be 1 to 64 characters".into());
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err("may contain only letters, digits and underscores".into());
        }
        Ok(ReasonCode(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The GDPR lawful basis for processing a contact's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LawfulBasis {
    Consent,
    Contract,
    LegalObligation,
    VitalInterests,
    PublicTask,
    LegitimateInterests,
}

impl LawfulBasis {
    pub fn as_str(&self) -> &'static str {
        match self {
            LawfulBasis::Consent => "consent",
            LawfulBasis::Contract => "contract",
            LawfulBasis::LegalObligation => "legal_obligation",
            LawfulBasis::VitalInterests => "vital_interests",
            LawfulBasis::PublicTask => "public_task",
            LawfulBasis::LegitimateInterests => "legitimate_interests",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(Text::parse("  hi ", 10).unwrap().as_str(), "hi");
        assert!(Text::parse("   ", 10).is_err());
        assert!(Text::parse("abcdef", 5).is_err());
        assert!(Text::parse("a\u{0}b", 5).is_err());
    }

    #[test]
    fn free_text_keeps_line_breaks_and_tabs_but_never_nul() {
        assert_eq!(
            Text::parse("line one\r\nline\ttwo", 50).unwrap().as_str(),
            "line one\r\nline\ttwo"
        );
        assert_eq!(
            Text::parse("a\u{0}b", 5).unwrap_err(),
            "must not contain control characters (U+0000)"
        );
        assert!(Text::parse("bell\u{7}", 10).is_err());
    }

    #[test]
    fn nul_path_names_the_first_key_or_string_holding_nul() {
        use serde_json::json;
        assert_eq!(
            nul_path(&json!({"title": "Call", "n": 1, "ok": true})),
            None
        );
        assert_eq!(nul_path(&json!(null)), None);
        assert_eq!(nul_path(&json!([1, "a", {"b": [null]}])), None);
        // Other control characters are not this walk's business.
        assert_eq!(nul_path(&json!({"notes": "bell\u{7}\n"})), None);
        assert_eq!(
            nul_path(&json!({"notes": "a\u{0}b"})).as_deref(),
            Some("notes")
        );
        assert_eq!(
            nul_path(&json!({"address": {"city": "\u{0}"}})).as_deref(),
            Some("address.city")
        );
        assert_eq!(
            nul_path(&json!({"numbers": ["+15550100", "\u{0}"]})).as_deref(),
            Some("numbers[1]")
        );
        assert_eq!(
            nul_path(&json!({"numbers": ["x\u{0}"]})).as_deref(),
            Some("numbers[0]")
        );
        assert_eq!(
            nul_path(&json!({"tags": [{"label": "ok"}, {}, {"label": "\u{0}"}]})).as_deref(),
            Some("tags[2].label")
        );
        assert_eq!(
            nul_path(&json!({"a": [[1, ["\u{0}"]]]})).as_deref(),
            Some("a[0][1][0]")
        );
        // A key holding NUL is named with the NUL spelled out, whatever its value.
        assert_eq!(
            nul_path(&json!({"bad\u{0}key": 1})).as_deref(),
            Some("bad\\u0000key")
        );
        assert_eq!(
            nul_path(&json!({"args": {"\u{0}": "x"}})).as_deref(),
            Some("args.\\u0000")
        );
        // A bare string or array has no field name to give.
        assert_eq!(nul_path(&json!("\u{0}")).as_deref(), Some(""));
        assert_eq!(nul_path(&json!(["ok", "\u{0}"])).as_deref(), Some("[1]"));
    }

    #[test]
    fn names_refuse_control_and_invisible_formatting_characters() {
        assert_eq!(Name::parse("  Jane ", 10).unwrap().as_str(), "Jane");
        // Letters of any script, accents, apostrophes, hyphens and emoji are names.
        for ok in [
            "José Ñúñez",
            "O'Brien-Smith",
            "محمد",
            "李小龍",
            "Zoë 🙂",
            "Acme, Inc.",
            // Neighbours of the refused ranges are ordinary letters and symbols.
            "\u{3163}\u{3165}",
            "\u{2801}",
            "\u{17B6}",
            "\u{1D172}\u{1D17B}",
        ] {
            assert!(Name::parse(ok, 100).is_ok(), "{ok:?}");
        }
        for (bad, shown) in [
            ("Jane\nDoe", "U+000A"),
            ("Ja\rne", "U+000D"),
            ("Jane\tDoe", "U+0009"),
            ("Ja\u{0}ne", "U+0000"),
            ("Ja\u{85}ne", "U+0085"),
            ("Jane\u{202E}eoD", "U+202E"),
            ("Ja\u{200B}ne", "U+200B"),
            ("Jane\u{200F}", "U+200F"),
            ("\u{202A}Jane", "U+202A"),
            ("Jane\u{2066}x\u{2069}", "U+2066"),
            ("Ja\u{2060}ne", "U+2060"),
            ("Ja\u{2064}ne", "U+2064"),
            ("\u{FEFF}Jane", "U+FEFF"),
            ("Jane\u{061C}", "U+061C"),
            ("Jane\u{180E}", "U+180E"),
            ("Jane\u{2028}Doe", "U+2028"),
            ("Ja\u{AD}ne", "U+00AD"),
            ("Ja\u{34F}ne", "U+034F"),
            ("\u{115F}", "U+115F"),
            ("Jane\u{1160}", "U+1160"),
            ("\u{3164}Jane", "U+3164"),
            ("Ja\u{FFA0}ne", "U+FFA0"),
            ("Jane\u{180B}", "U+180B"),
            ("Jane\u{180C}", "U+180C"),
            ("Jane\u{180D}", "U+180D"),
            ("Ja\u{17B4}ne", "U+17B4"),
            ("Ja\u{17B5}ne", "U+17B5"),
            ("\u{2800}", "U+2800"),
            ("Jane\u{2800}Doe", "U+2800"),
            ("Jane\u{E0000}", "U+E0000"),
            ("Jane\u{E0041}", "U+E0041"),
            ("Jane\u{E007F}", "U+E007F"),
            ("Ja\u{FFF9}ne", "U+FFF9"),
            ("Ja\u{FFFA}ne", "U+FFFA"),
            ("Ja\u{FFFB}ne", "U+FFFB"),
            ("Ja\u{1D173}ne", "U+1D173"),
            ("Ja\u{1D17A}ne", "U+1D17A"),
        ] {
            assert_eq!(
                Name::parse(bad, 100).unwrap_err(),
                format!("must not contain control or invisible formatting characters ({shown})"),
                "{bad:?}"
            );
        }
        assert!(Name::parse(" \t ", 10).is_err());
        assert!(Name::parse("abcdef", 5).is_err());
    }

    #[test]
    fn money_formats_in_minor_units() {
        let usd = Currency::parse("usd").unwrap();
        assert_eq!(usd.format_minor(1_250_000), "USD 12,500.00");
        assert_eq!(usd.format_minor(5), "USD 0.05");
        assert_eq!(
            Currency::parse("JPY").unwrap().format_minor(120_000),
            "JPY 120,000"
        );
        assert!(Currency::parse("XYZ").is_err());
        assert_eq!(Currency::format_amount(1_250_000, "usd"), "USD 12,500.00");
        assert_eq!(Currency::format_amount(500, "XYZ"), "XYZ 500 (minor units)");
    }

    #[test]
    fn zones_roles_reasons() {
        assert_eq!(
            TimeZone::parse("Europe/Oslo").unwrap().name(),
            "Europe/Oslo"
        );
        assert!(TimeZone::parse("Mars/Olympus").is_err());
        assert_eq!(Role::parse("manager").unwrap(), Role::Manager);
        assert!(Role::parse("root").is_err());
        assert_eq!(
            ReasonCode::parse("Budget_Approved").unwrap().as_str(),
            "budget_approved"
        );
        assert!(ReasonCode::parse("no spaces").is_err());
    }
}
