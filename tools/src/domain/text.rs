//! Small checked values: bounded text, currencies, time zones, roles, reason codes.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Trimmed, non-empty text of at most `max` characters, with no control characters but newlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(String);

impl Text {
    pub fn parse(input: &str, max: usize) -> Result<Text, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.chars().count() > max {
            return Err(format!("must be at most {max} characters"));
        }
        if s.chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
        {
            return Err("must not contain control characters".into());
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
