//! Reading, parsing and strictly validating the policy files and the schema.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use cedar_policy::{PolicyId, PolicySet, Schema, ValidationMode, Validator};

use crate::PolicyError;

/// The files in `policies/`, compiled into the binary for [`crate::PolicyEngine::embedded`].
/// A test checks that this list matches the folder.
pub(crate) const EMBEDDED_SCHEMA: (&str, &str) = (
    "heimdell.cedarschema",
    include_str!("../heimdell.cedarschema"),
);

/// See [`EMBEDDED_SCHEMA`].
pub(crate) const EMBEDDED_POLICIES: &[(&str, &str)] = &[
    ("approvals.cedar", include_str!("../approvals.cedar")),
    ("consent.cedar", include_str!("../consent.cedar")),
    ("tenancy.cedar", include_str!("../tenancy.cedar")),
    ("tools.cedar", include_str!("../tools.cedar")),
];

/// The annotation whose text a denied (or waiting) user reads.
pub(crate) const REASON: &str = "reason";

/// Policies and schema after parsing and validation; built once per engine.
pub(crate) struct Compiled {
    /// Every policy of every file, with ids `file:@id`.
    pub policies: PolicySet,
    /// The schema, kept to check each request's entities and request shape.
    pub schema: Schema,
    /// Each policy's `@reason` and its load position (to list several reasons in file order).
    pub reasons: HashMap<PolicyId, (usize, String)>,
}

/// Reads every `*.cedar` file and the single `*.cedarschema` file of `dir`.
pub(crate) fn read_dir(dir: &Path) -> Result<Compiled, PolicyError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PolicyError::Io { path, source }
    };
    let mut schemas = Vec::new();
    let mut policies = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let list = match path.extension().and_then(|e| e.to_str()) {
            Some("cedar") => &mut policies,
            Some("cedarschema") => &mut schemas,
            _ => continue,
        };
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        list.push((name, text));
    }
    if schemas.len() != 1 {
        return Err(PolicyError::SchemaCount {
            dir: dir.to_path_buf(),
            found: schemas.len(),
        });
    }
    if policies.is_empty() {
        return Err(PolicyError::NoPolicies {
            dir: dir.to_path_buf(),
        });
    }
    policies.sort();
    let (schema_name, schema_text) = &schemas[0];
    compile(
        (schema_name, schema_text),
        policies.iter().map(|(n, t)| (n.as_str(), t.as_str())),
    )
}

/// Parses the schema and the policy files, checks every policy has a `@reason`, and validates
/// the whole set against the schema in strict mode (warnings count as errors).
pub(crate) fn compile<'a>(
    (schema_file, schema_text): (&str, &str),
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Compiled, PolicyError> {
    let (schema, _warnings) =
        Schema::from_cedarschema_str(schema_text).map_err(|e| PolicyError::Schema {
            file: schema_file.to_owned(),
            message: e.to_string(),
        })?;

    let mut policies = PolicySet::new();
    let mut reasons = HashMap::new();
    // Policy id → file, to name the file in validation errors.
    let mut file_of: HashMap<PolicyId, String> = HashMap::new();
    for (file, text) in files {
        let parsed = PolicySet::from_str(text).map_err(|errs| PolicyError::Parse {
            file: file.to_owned(),
            message: errs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        })?;
        if let Some(t) = parsed.templates().next() {
            return Err(PolicyError::Parse {
                file: file.to_owned(),
                message: format!(
                    "`{}` is a template (it has ?principal or ?resource slots); only static policies are supported",
                    t.annotation("id").unwrap_or(t.id().as_ref())
                ),
            });
        }
        for (position, policy) in parsed.policies().enumerate() {
            let local = policy
                .annotation("id")
                .map(str::to_owned)
                .unwrap_or_else(|| format!("policy #{}", position + 1));
            let id = PolicyId::new(format!("{file}:{local}"));
            match policy.annotation(REASON).map(str::trim) {
                Some(reason) if !reason.is_empty() => {
                    reasons.insert(id.clone(), (reasons.len(), reason.to_owned()));
                }
                _ => {
                    return Err(PolicyError::MissingReason {
                        file: file.to_owned(),
                        policy: local,
                    });
                }
            }
            policies
                .add(policy.new_id(id.clone()))
                .map_err(|e| PolicyError::PolicySet {
                    file: file.to_owned(),
                    policy: local,
                    message: e.to_string(),
                })?;
            file_of.insert(id, file.to_owned());
        }
    }

    let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
    if !result.validation_passed_without_warnings() {
        let line = |id: &PolicyId, message: String| {
            let file = file_of.get(id).map_or("?", String::as_str);
            format!("{file}: {message}")
        };
        let problems = result
            .validation_errors()
            .map(|e| line(e.policy_id(), e.to_string()))
            .chain(
                result
                    .validation_warnings()
                    .map(|w| line(w.policy_id(), format!("(warning) {w}"))),
            )
            .collect();
        return Err(PolicyError::Validation { problems });
    }

    Ok(Compiled {
        policies,
        schema,
        reasons,
    })
}
