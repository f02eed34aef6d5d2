//! `{{...}}` placeholders in scripts and expectations, filled from the fixture:
//!
//! - `{{jane}}`: the id of the record with key `jane` (keys are unique across a case's tenants);
//! - `{{jane.phone}}`: one of its fields as created (`email`, `phone`, `name`, ...);
//! - `{{rep}}` / `{{other.rep}}`: a member of `home` / of tenant `other`;
//! - `{{other}}`: a tenant's id;
//! - `{{action:2}}` / `{{other.action:1}}`: the id of a tenant's 2nd proposed action so far;
//! - `{{token:rep}}`: a member's API token (to prove it never shows up anywhere).

use std::collections::BTreeMap;

use serde_json::Value;
use uuid::Uuid;

/// A record the fixture made.
#[derive(Debug, Clone)]
pub struct Named {
    pub id: Uuid,
    /// The tenant key it lives in.
    pub tenant: String,
    /// `contact`, `company`, `deal`, `task`, `user` or `tenant`.
    pub kind: &'static str,
    /// Its fields as created, for `{{key.field}}`.
    pub fields: BTreeMap<String, String>,
}

/// Everything a placeholder can name.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub records: BTreeMap<String, Named>,
    /// Per tenant key: its actions' ids in proposal order.
    pub actions: BTreeMap<String, Vec<Uuid>>,
    /// Per member key (`rep`, `other.rep`): their API token.
    pub tokens: BTreeMap<String, String>,
}

impl Names {
    pub fn get(&self, key: &str) -> Result<&Named, String> {
        self.records
            .get(key)
            .ok_or_else(|| format!("`{key}` names nothing in the fixture"))
    }

    /// The value of one placeholder's inside (`jane`, `jane.phone`, `action:1`).
    fn resolve(&self, inner: &str) -> Result<String, String> {
        let inner = inner.trim();
        if let Some(who) = inner.strip_prefix("token:") {
            return self
                .tokens
                .get(who)
                .cloned()
                .ok_or_else(|| format!("no member `{who}` has a token"));
        }
        if let Some((tenant, n)) = action_ref(inner) {
            let n = action_number(inner, n)?;
            return self
                .actions
                .get(tenant)
                .and_then(|a| a.get(n.wrapping_sub(1)))
                .map(Uuid::to_string)
                .ok_or_else(|| format!("`{inner}`: tenant `{tenant}` has no action {n} yet"));
        }
        if let Some(r) = self.records.get(inner) {
            return Ok(r.id.to_string());
        }
        if let Some((key, field)) = inner.rsplit_once('.')
            && let Some(r) = self.records.get(key)
        {
            return r
                .fields
                .get(field)
                .cloned()
                .ok_or_else(|| format!("`{key}` has no field `{field}`"));
        }
        Err(format!("`{{{{{inner}}}}}` names nothing in the fixture"))
    }

    /// Fills every placeholder in `text`.
    pub fn fill(&self, text: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let rest = each_placeholder(text, |before, inner| {
            out.push_str(before);
            out.push_str(&self.resolve(inner)?);
            Ok(())
        })?;
        out.push_str(rest);
        Ok(out)
    }

    /// Whether every placeholder in `text` can be filled, before any step has run: records,
    /// fields, members and tokens must exist; an action placeholder must name a tenant and a
    /// number from 1 (whether the action exists is known only once the steps run).
    pub fn check(&self, text: &str) -> Result<(), String> {
        each_placeholder(text, |_, inner| {
            let inner = inner.trim();
            match action_ref(inner) {
                Some((tenant, n)) => {
                    action_number(inner, n)?;
                    if !self.actions.contains_key(tenant) {
                        return Err(format!("`{inner}`: no tenant `{tenant}`"));
                    }
                    Ok(())
                }
                None => self.resolve(inner).map(drop),
            }
        })
        .map(drop)
    }

    /// Fills every string inside a JSON value.
    pub fn fill_json(&self, v: &Value) -> Result<Value, String> {
        Ok(match v {
            Value::String(s) => Value::String(self.fill(s)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.fill_json(i))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.fill_json(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }
}

/// Calls `each(text before it, inside)` for every `{{...}}` in order; returns the text after
/// the last one.
fn each_placeholder<'t>(
    text: &'t str,
    mut each: impl FnMut(&'t str, &'t str) -> Result<(), String>,
) -> Result<&'t str, String> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed `{{{{` in `{text}`"))?;
        each(&rest[..start], &after[..end])?;
        rest = &after[end + 2..];
    }
    Ok(rest)
}

/// `action:2` → (`home`, `2`); `other.action:1` → (`other`, `1`).
fn action_ref(inner: &str) -> Option<(&str, &str)> {
    match inner.split_once('.') {
        Some((t, r)) if r.starts_with("action:") => Some((t, &r["action:".len()..])),
        _ => inner.strip_prefix("action:").map(|n| ("home", n)),
    }
}

fn action_number(inner: &str, n: &str) -> Result<usize, String> {
    n.parse()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("`{inner}`: action numbers start at 1"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names() -> Names {
        let mut n = Names::default();
        let jane = Uuid::now_v7();
        n.records.insert(
            "jane".into(),
            Named {
                id: jane,
                tenant: "home".into(),
                kind: "contact",
                fields: BTreeMap::from([("phone".into(), "+12125550101".into())]),
            },
        );
        n.records.insert(
            "other.rep".into(),
            Named {
                id: Uuid::nil(),
                tenant: "other".into(),
                kind: "user",
                fields: BTreeMap::new(),
            },
        );
        n.actions.insert("home".into(), vec![Uuid::max()]);
        n
    }

    #[test]
    fn placeholders_fill_ids_fields_members_and_actions() {
        let n = names();
        let id = n.get("jane").unwrap().id;
        assert_eq!(n.fill("x {{jane}} y").unwrap(), format!("x {id} y"));
        assert_eq!(n.fill("{{ jane.phone }}").unwrap(), "+12125550101");
        assert_eq!(n.fill("{{other.rep}}").unwrap(), Uuid::nil().to_string());
        assert_eq!(n.fill("{{action:1}}").unwrap(), Uuid::max().to_string());
        assert_eq!(
            n.fill_json(&json!({"a": ["{{jane}}", 1]})).unwrap(),
            json!({"a": [id.to_string(), 1]})
        );
    }

    #[test]
    fn unknown_placeholders_are_errors_that_name_them() {
        let n = names();
        assert!(n.fill("{{bob}}").unwrap_err().contains("bob"));
        assert!(n.fill("{{jane.fax}}").unwrap_err().contains("fax"));
        assert!(n.fill("{{action:2}}").unwrap_err().contains("no action 2"));
        assert!(n.fill("{{jane").unwrap_err().contains("unclosed"));
    }

    #[test]
    fn placeholders_are_checked_before_actions_exist() {
        let n = names();
        assert!(n.check("{{jane}} {{jane.phone}} {{action:7}}").is_ok());
        assert!(n.check("{{bob}}").unwrap_err().contains("bob"));
        assert!(n.check("{{jane.fax}}").is_err());
        assert!(n.check("{{action:0}}").is_err());
        assert!(
            n.check("{{nowhere.action:1}}")
                .unwrap_err()
                .contains("nowhere")
        );
        assert!(n.check("{{token:rep}}").is_err());
        assert!(n.check("no placeholders").is_ok());
    }
}
