//! Errors of the policy crate. Loading errors name the file and carry Cedar's own message, so a
//! server refusing to start says exactly what to fix.

use std::path::PathBuf;

/// Everything that can go wrong loading policies or parsing the crate's words.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A policy or schema file could not be read.
    #[error("cannot read policy file {path}: {source}")]
    Io {
        /// The file or folder that failed.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The policy folder has no `*.cedarschema` file, or more than one.
    #[error("policy folder {dir} must hold exactly one *.cedarschema file, found {found}")]
    SchemaCount {
        /// The folder searched.
        dir: PathBuf,
        /// How many schema files it holds.
        found: usize,
    },
    /// The policy folder has no `*.cedar` file.
    #[error("policy folder {dir} holds no *.cedar policy file")]
    NoPolicies {
        /// The folder searched.
        dir: PathBuf,
    },
    /// The schema does not parse or is inconsistent.
    #[error("schema {file} is invalid: {message}")]
    Schema {
        /// File name of the schema.
        file: String,
        /// Cedar's message.
        message: String,
    },
    /// A policy file does not parse.
    #[error("policy file {file} does not parse: {message}")]
    Parse {
        /// File name of the policy file.
        file: String,
        /// Cedar's message (every parse error, one per line).
        message: String,
    },
    /// A policy lacks the `@reason("…")` annotation that tells a denied user why.
    #[error("policy `{policy}` in {file} has no non-empty @reason(\"…\") annotation")]
    MissingReason {
        /// File name of the policy file.
        file: String,
        /// The policy's `@id` (or its position in the file).
        policy: String,
    },
    /// Two policies share an id.
    #[error("policy `{policy}` in {file} cannot be added: {message}")]
    PolicySet {
        /// File name of the policy file.
        file: String,
        /// The policy's `@id` (or its position in the file).
        policy: String,
        /// Cedar's message.
        message: String,
    },
    /// One or more policies do not validate against the schema (strict mode).
    #[error("policies do not validate against the schema:\n{}", .problems.join("\n"))]
    Validation {
        /// One line per problem: `file (policy `id`): Cedar's message`.
        problems: Vec<String>,
    },
    /// A role word other than `admin`, `manager` or `rep`.
    #[error("unknown role `{0}` (expected admin, manager or rep)")]
    UnknownRole(String),
    /// A tool kind word other than `read`, `write`, `contact` or `destructive`.
    #[error("unknown tool kind `{0}` (expected read, write, contact or destructive)")]
    UnknownToolKind(String),
    /// An approver tier word other than `self`, `manager` or `admin`.
    #[error("unknown approver role `{0}` (expected self, manager or admin)")]
    UnknownApproverRole(String),
}
