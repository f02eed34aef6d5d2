//! Prompt templates from `prompts/`, compiled into the binary and rendered with minijinja in
//! strict mode (an unknown variable is an error, not a blank). Each template's first line
//! carries its version, which every stored assistant message records.

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

const SYSTEM: &str = include_str!("../../prompts/system.j2");

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("prompt template {name} is invalid: {message}")]
    Template { name: &'static str, message: String },
    #[error("prompt template {0} has no `{{#- version: … -#}}` header")]
    NoVersion(&'static str),
}

/// The compiled prompts.
pub struct Prompts {
    env: Environment<'static>,
    system_version: String,
}

fn version_of(name: &'static str, source: &str) -> Result<String, PromptError> {
    let first = source.lines().next().unwrap_or_default();
    first
        .split("version:")
        .nth(1)
        .map(|v| {
            v.trim()
                .trim_end_matches("-#}")
                .trim_end_matches("#}")
                .trim()
                .to_string()
        })
        .filter(|v| !v.is_empty())
        .ok_or(PromptError::NoVersion(name))
}

impl Prompts {
    pub fn embedded() -> Result<Prompts, PromptError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.add_template("system", SYSTEM)
            .map_err(|e| PromptError::Template {
                name: "system",
                message: e.to_string(),
            })?;
        Ok(Prompts {
            env,
            system_version: version_of("system", SYSTEM)?,
        })
    }

    /// The system prompt's version, e.g. `2026-11-21.1`.
    pub fn system_version(&self) -> &str {
        &self.system_version
    }

    pub fn system(&self, input: &impl Serialize) -> Result<String, PromptError> {
        let template = self
            .env
            .get_template("system")
            .map_err(|e| PromptError::Template {
                name: "system",
                message: e.to_string(),
            })?;
        template.render(input).map_err(|e| PromptError::Template {
            name: "system",
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_system_prompt_has_a_version_and_refuses_missing_variables() {
        let p = Prompts::embedded().unwrap();
        assert_eq!(p.system_version(), "2026-11-21.1");
        assert!(p.system(&json!({})).is_err());
    }
}
