//! Email addresses as a CRM wants them: the dot-atom form people actually type, with a real
//! domain name. Quoted local parts, comments and IP-literal domains are refused on purpose:
//! RFC 5322 allows them, but no mail a sales team sends should go there.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

const ATOM_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";

impl Email {
    /// Parses and normalises (domain lower-cased, surrounding spaces trimmed).
    pub fn parse(input: &str) -> Result<Email, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.len() > 254 {
            return Err("is longer than 254 characters".into());
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err("must contain an @".into());
        };
        validate_local(local)?;
        let domain = domain.to_ascii_lowercase();
        validate_domain(&domain)?;
        Ok(Email(format!("{local}@{domain}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the @, lower-cased.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

fn validate_local(local: &str) -> Result<(), String> {
    if local.is_empty() {
        return Err("has nothing before the @".into());
    }
    if local.len() > 64 {
        return Err("has more than 64 characters before the @".into());
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("has a misplaced dot before the @".into());
    }
    if let Some(c) = local
        .chars()
        .find(|&c| !(c == '.' || c.is_alphanumeric() || ATOM_SPECIALS.contains(c)))
    {
        return Err(format!(
            "contains `{c}` before the @, which addresses here may not"
        ));
    }
    Ok(())
}

fn validate_domain(domain: &str) -> Result<(), String> {
    if domain.is_empty() {
        return Err("has no domain after the @".into());
    }
    if domain.len() > 253 {
        return Err("has a domain longer than 253 characters".into());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("needs a domain with a dot, such as example.com".into());
    }
    for label in &labels {
        if label.is_empty() {
            return Err("has an empty part in its domain".into());
        }
        if label.len() > 63 {
            return Err("has a domain part longer than 63 characters".into());
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("has a domain part that starts or ends with a hyphen".into());
        }
        if !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
            return Err("has a character its domain may not contain".into());
        }
    }
    let tld = labels[labels.len() - 1];
    if tld.chars().all(|c| c.is_ascii_digit()) {
        return Err("has a numeric top-level domain".into());
    }
    Ok(())
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn accepts_and_normalises_everyday_addresses() {
        assert_eq!(
            Email::parse(" Jane.Cooper@Acme.COM ").unwrap().as_str(),
            "Jane.Cooper@acme.com"
        );
        assert!(Email::parse("o'brien+crm@mail.example.co.uk").is_ok());
    }

    #[test]
    fn refuses_with_a_reason() {
        for bad in [
            "",
            "jane",
            "jane@",
            "@acme.com",
            "jane@acme",
            "ja..ne@acme.com",
            "jane@-acme.com",
            "jane doe@acme.com",
            "\"jane\"@acme.com",
            "jane@[127.0.0.1]",
            "jane@acme.123",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
