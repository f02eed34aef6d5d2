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
        let (tenant, rest) = match inner.split_once('.') {
            Some((t, r)) if r.starts_with("action:") => (t, r),
            _ => ("home", inner),
        };
        if let Some(n) = rest.strip_prefix("action:") {
            let n: usize = n
                .parse()
                .map_err(|_| format!("`{inner}`: action numbers start at 1"))?;
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
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed `{{{{` in `{text}`"))?;
            out.push_str(&self.resolve(&after[..end])?);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
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
}
