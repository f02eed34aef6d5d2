//! Phone numbers, always stored in E.164 (`+14155550123`), parsed with the tenant's country as
//! the default for numbers written without a country code.

use std::fmt;
use std::str::FromStr;

/// A country for phone parsing; a valid ISO 3166 alpha-2 code known to the numbering plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country(phonenumber::country::Id);

impl Country {
    pub fn parse(code: &str) -> Result<Country, String> {
        phonenumber::country::Id::from_str(&code.trim().to_ascii_uppercase())
            .map(Country)
            .map_err(|_| format!("`{code}` is not a known country code"))
    }

    /// The ISO 3166 alpha-2 code, e.g. `US`.
    pub fn code(&self) -> &str {
        self.0.as_ref()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    /// Parses a number as people write it and returns it in E.164.
    pub fn parse(input: &str, default_country: Country) -> Result<Phone, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.len() > 40 {
            return Err("is too long to be a phone number".into());
        }
        let number = phonenumber::parse(Some(default_country.0), s)
            .map_err(|_| "is not a phone number".to_string())?;
        if !phonenumber::is_valid(&number) {
            return Err("is not a valid phone number for its country".into());
        }
        Ok(Phone(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_to_e164_with_the_default_country() {
        let us = Country::parse("US").unwrap();
        assert_eq!(
            Phone::parse("(415) 555-2671", us).unwrap().as_str(),
            "+14155552671"
        );
        assert_eq!(
            Phone::parse("+44 20 7946 0958", us).unwrap().as_str(),
            "+442079460958"
        );
        let gb = Country::parse("gb").unwrap();
        assert_eq!(
            Phone::parse("020 7946 0958", gb).unwrap().as_str(),
            "+442079460958"
        );
    }

    #[test]
    fn refuses_non_numbers() {
        let us = Country::parse("US").unwrap();
        assert!(Phone::parse("call me", us).is_err());
        assert!(Phone::parse("123", us).is_err());
        assert!(Country::parse("XX").is_err());
    }
}
