//! The tool registry: a name → tool map where every tool carries its JSON schema (derived from its
//! argument struct) and a compiled validator that checks every call, formats included, before
//! anything runs.

use crate::domain::{Country, Role, nul_path};
use crate::error::{FieldError, ToolError};
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::BTreeMap;
use std::future::Future;
use uuid::Uuid;

/// What a tool does to the world; the policy layer decides approval from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolKind {
    /// Reads CRM data only; runs at once when allowed.
    Read,
    /// Changes CRM data.
    Write,
    /// Reaches a person outside (SMS, call, email).
    Contact,
    /// Removes or irreversibly overwrites data.
    Destructive,
}

impl ToolKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ToolKind::Read => "read",
            ToolKind::Write => "write",
            ToolKind::Contact => "contact",
            ToolKind::Destructive => "destructive",
        }
    }
}

/// Who is acting. Built from the database by the caller, never from request input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// The tenant every query of this call is confined to.
    pub tenant_id: Uuid,
    /// The user on whose behalf the call runs; recorded on every write.
    pub user_id: Uuid,
    /// Their role, for tools whose output differs by role.
    pub role: Role,
}

/// Everything a tool may know about the call besides its arguments.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Who is acting (for a write run after approval: the requester, not the approver).
    pub actor: Actor,
    /// The clock reading for this call, so one call sees one "now".
    pub now: DateTime<Utc>,
    /// The actor's time zone: "today" and "due tomorrow" are theirs.
    pub tz: chrono_tz::Tz,
    /// The tenant's default country for phone numbers written without a country code.
    pub country: Country,
    /// The approved action this run belongs to, recorded on field history and activities.
    pub action_id: Option<Uuid>,
}

/// How a call reaches a person outside Heimdell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Call,
}

/// Facts about a call that the policy layer needs and only the data can tell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// The call changes an existing record owned by someone other than the actor.
    pub foreign_owned: bool,
    /// The call moves a deal to a won or lost stage.
    pub closes_deal: bool,
    /// The call removes or overwrites data in bulk.
    pub bulk: bool,
    /// The call reads the whole team's data rather than the actor's own.
    pub team_scope: bool,
    /// The channel through which the call reaches a contact (None: it reaches nobody).
    pub channel: Option<Channel>,
    /// The contact opted out of text messages.
    pub sms_opt_out: bool,
    /// The contact asked not to be called.
    pub do_not_call: bool,
    /// The contact was anonymised.
    pub anonymised: bool,
    /// The contact has no valid E.164 phone number.
    pub no_valid_phone: bool,
    /// It is quiet hours where the contact is (texts wait; calls are refused).
    pub quiet_hours: bool,
}

/// What a call would do, before it runs: the policy facts and a sentence for the approver.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub facts: Facts,
    /// One plain sentence describing the change, shown on approval cards.
    pub preview: String,
}

/// A CRM capability. `Args` is the wire form (its schema is what callers and models see);
/// `parse` turns it into checked domain values, so `inspect` and `run` never see bad input.
pub trait Tool: Send + Sync + 'static {
    type Args: DeserializeOwned + JsonSchema + Send;
    type Input: Send + Sync;
    const NAME: &'static str;
    const KIND: ToolKind;
    const DESCRIPTION: &'static str;
    /// Top-level string arguments that are secrets (e.g. an auth token). The actions pipeline
    /// seals them (see [`crate::crypto`]) before the call is inspected, stored or audited, so
    /// `parse` and `run` only ever see the sealed form, and callers never see it again.
    const SECRET_FIELDS: &'static [&'static str] = &[];

    fn parse(ctx: &Ctx, args: Self::Args) -> Result<Self::Input, ToolError>;

    fn inspect(
        conn: &mut PgConnection,
        ctx: &Ctx,
        input: &Self::Input,
    ) -> impl Future<Output = Result<Inspection, ToolError>> + Send;

    fn run(
        conn: &mut PgConnection,
        ctx: &Ctx,
        input: Self::Input,
    ) -> impl Future<Output = Result<Value, ToolError>> + Send;
}

/// A registered tool with its schema and compiled validator.
pub struct ToolEntry {
    name: &'static str,
    kind: ToolKind,
    description: &'static str,
    secret_fields: &'static [&'static str],
    schema: Value,
    validator: jsonschema::Validator,
    ops: Box<dyn ErasedOps>,
}

trait ErasedOps: Send + Sync {
    fn inspect<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        ctx: &'a Ctx,
        args: Value,
    ) -> BoxFuture<'a, Result<Inspection, ToolError>>;
    fn run<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        ctx: &'a Ctx,
        args: Value,
    ) -> BoxFuture<'a, Result<Value, ToolError>>;
}

struct Ops<T: Tool>(std::marker::PhantomData<fn() -> T>);

fn decode<T: Tool>(ctx: &Ctx, args: Value) -> Result<T::Input, ToolError> {
    let wire: T::Args =
        serde_json::from_value(args).map_err(|e| ToolError::field("", e.to_string()))?;
    T::parse(ctx, wire)
}

impl<T: Tool> ErasedOps for Ops<T> {
    fn inspect<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        ctx: &'a Ctx,
        args: Value,
    ) -> BoxFuture<'a, Result<Inspection, ToolError>> {
        Box::pin(async move {
            let input = decode::<T>(ctx, args)?;
            T::inspect(conn, ctx, &input).await
        })
    }

    fn run<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        ctx: &'a Ctx,
        args: Value,
    ) -> BoxFuture<'a, Result<Value, ToolError>> {
        Box::pin(async move {
            let input = decode::<T>(ctx, args)?;
            T::run(conn, ctx, input).await
        })
    }
}

impl ToolEntry {
    pub fn name(&self) -> &'static str {
        self.name
    }
    pub fn kind(&self) -> ToolKind {
        self.kind
    }
    pub fn description(&self) -> &'static str {
        self.description
    }
    /// Arguments the pipeline must seal before storing (see [`Tool::SECRET_FIELDS`]).
    pub fn secret_fields(&self) -> &'static [&'static str] {
        self.secret_fields
    }
    /// The JSON schema of the arguments (draft 2020-12, no extra properties).
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// Checks arguments against the schema, formats included; names every bad field.
    ///
    /// Before anything else, a key or string anywhere in the arguments that holds U+0000 is
    /// refused (named by [`nul_path`]): Postgres `text` and `jsonb` cannot store it, so it
    /// would otherwise fail as a database error wherever the arguments are stored or used. This
    /// is the one check every caller passes through, the HTTP API and a model's tool calls alike.
    pub fn validate(&self, args: &Value) -> Result<(), ToolError> {
        if let Some(field) = nul_path(args) {
            return Err(ToolError::field(field, NUL_MESSAGE));
        }
        let mut errors = Vec::new();
        for e in self.validator.iter_errors(args) {
            let base = pointer_to_field(e.instance_path().as_str());
            match e.kind() {
                jsonschema::error::ValidationErrorKind::Required { property } => {
                    let p = property.as_str().unwrap_or_default();
                    errors.push(FieldError::new(join(&base, p), "is required"));
                }
                jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                    for p in unexpected {
                        errors.push(FieldError::new(join(&base, p), "is not a known argument"));
                    }
                }
                _ => errors.push(FieldError::new(base, e.masked().to_string())),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ToolError::InvalidArguments(errors))
        }
    }

    /// Parses the arguments and reports what the call would touch, without changing anything.
    pub async fn inspect(
        &self,
        conn: &mut PgConnection,
        ctx: &Ctx,
        args: &Value,
    ) -> Result<Inspection, ToolError> {
        self.validate(args)?;
        self.ops.inspect(conn, ctx, args.clone()).await
    }

    /// Runs the call. The caller owns the transaction, so a failure leaves nothing behind.
    pub async fn run(
        &self,
        conn: &mut PgConnection,
        ctx: &Ctx,
        args: &Value,
    ) -> Result<Value, ToolError> {
        self.validate(args)?;
        self.ops.run(conn, ctx, args.clone()).await
    }
}

/// Why arguments holding U+0000 are refused (see [`ToolEntry::validate`]).
const NUL_MESSAGE: &str = "must not contain the NUL character (U+0000)";

fn pointer_to_field(pointer: &str) -> String {
    pointer
        .trim_start_matches('/')
        .replace('/', ".")
        .replace("~1", "/")
        .replace("~0", "~")
}

fn join(base: &str, prop: &str) -> String {
    if base.is_empty() {
        prop.to_string()
    } else {
        format!("{base}.{prop}")
    }
}

/// The JSON schema callers and models see for `T`: inlined, without `$schema`.
pub fn schema_for<T: JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("$schema");
        obj.remove("title");
    }
    schema
}

/// All tools, by name, in registration order.
#[derive(Default)]
pub struct Registry {
    tools: BTreeMap<&'static str, ToolEntry>,
    order: Vec<&'static str>,
}

impl Registry {
    /// An empty registry; see [`crate::catalog::standard`] for the full set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tool. Panics at start-up if its derived schema does not compile: that is a
    /// programming error in this crate, caught by the registry test, never by user input.
    pub fn register<T: Tool>(&mut self) -> &mut Self {
        let schema = schema_for::<T::Args>();
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("schema of tool {} does not compile: {e}", T::NAME));
        let entry = ToolEntry {
            name: T::NAME,
            kind: T::KIND,
            description: T::DESCRIPTION,
            secret_fields: T::SECRET_FIELDS,
            schema,
            validator,
            ops: Box::new(Ops::<T>(std::marker::PhantomData)),
        };
        assert!(
            self.tools.insert(T::NAME, entry).is_none(),
            "tool {} registered twice",
            T::NAME
        );
        self.order.push(T::NAME);
        self
    }

    pub fn get(&self, name: &str) -> Result<&ToolEntry, ToolError> {
        self.tools
            .get(name)
            .ok_or_else(|| ToolError::UnknownTool(name.to_string()))
    }

    /// Every tool in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &ToolEntry> {
        self.order.iter().filter_map(|n| self.tools.get(n))
    }
}
