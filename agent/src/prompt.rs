//! Prompt templates from `prompts/`, compiled into the binary and rendered with minijinja in
//! strict mode (an unknown variable is an error, not a blank). Each template's first line
//! carries its version, which every stored assistant message records.
//!
//! The layout serves prefix caches (OpenAI's prompt caching, vLLM's and llama.cpp's): the
//! system prompt (`system.j2`) takes no variables, so it and the tool schemas are the same bytes
//! for every turn, member and tenant; everything that changes (who, when, the record in focus,
//! pending approvals) is the CONTEXT message (`context.j2`), sent just before the user's words.

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

const SYSTEM: &str = include_str!("../../prompts/system.j2");
const CONTEXT: &str = include_str!("../../prompts/context.j2");

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("prompt template {name} is invalid: {message}")]
    Template { name: &'static str, message: String },
    #[error("prompt template {0} has no `{{#- version: … -#}}` header")]
    NoVersion(&'static str),
    #[error("prompt templates disagree on their version: system {system}, context {context}")]
    Versions { system: String, context: String },
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
        for (name, source) in [("system", SYSTEM), ("context", CONTEXT)] {
            env.add_template(name, source)
                .map_err(|e| PromptError::Template {
                    name,
                    message: e.to_string(),
                })?;
        }
        // One version for the pair: they are written together and read together.
        let system = version_of("system", SYSTEM)?;
        let context = version_of("context", CONTEXT)?;
        if system != context {
            return Err(PromptError::Versions { system, context });
        }
        Ok(Prompts {
            env,
            system_version: system,
        })
    }

    /// The system prompt's version, e.g. `2026-11-21.1`.
    pub fn system_version(&self) -> &str {
        &self.system_version
    }

    /// The system prompt: the same text for every turn, member and tenant.
    pub fn system(&self) -> Result<String, PromptError> {
        self.render("system", &())
    }

    /// The CONTEXT message of one turn, from its context pack.
    pub fn context(&self, input: &impl Serialize) -> Result<String, PromptError> {
        self.render("context", input)
            .map(|text| text.trim_end().to_string())
    }

    fn render(&self, name: &'static str, input: &impl Serialize) -> Result<String, PromptError> {
        let template = self
            .env
            .get_template(name)
            .map_err(|e| PromptError::Template {
                name,
                message: e.to_string(),
            })?;
        template.render(input).map_err(|e| PromptError::Template {
            name,
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_prompts_have_a_version_and_the_context_refuses_missing_variables() {
        let p = Prompts::embedded().unwrap();
        assert_eq!(p.system_version(), "2026-12-06.1");
        assert!(p.context(&json!({})).is_err());
    }

    #[test]
    fn the_system_prompt_takes_nothing_that_changes() {
        let p = Prompts::embedded().unwrap();
        let system = p.system().unwrap();
        assert_eq!(system, p.system().unwrap());
        assert!(system.starts_with("You are Heimdell"), "{system}");
        assert!(!system.contains("{{") && !system.contains("{%"), "{system}");
    }
}
