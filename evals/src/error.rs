//! What can stop a case from running at all (as opposed to a case that runs and fails).

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A case file that cannot be read or parsed; names the file.
    #[error("{file}: {message}")]
    Case { file: String, message: String },
    /// The fixture could not be built; names the record.
    #[error("fixture {what}: {message}")]
    Fixture { what: String, message: String },
    /// A step that cannot run as written (an unknown member, an action that does not exist).
    #[error("step {step}: {message}")]
    Step { step: usize, message: String },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl EvalError {
    pub fn fixture(what: impl Into<String>, message: impl Into<String>) -> Self {
        EvalError::Fixture {
            what: what.into(),
            message: message.into(),
        }
    }

    pub fn step(step: usize, message: impl Into<String>) -> Self {
        EvalError::Step {
            step,
            message: message.into(),
        }
    }
}
