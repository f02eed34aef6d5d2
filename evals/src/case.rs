//! The case format: what a YAML or JSON file in `evals/cases/` holds, parsed into types that
//! cannot hold a malformed case (a step is exactly one of say / approve / reject / inbound SMS;
//! every user, record and action a case names is checked when the fixture is built).
//!
//! Strings in scripts and expectations may name fixture records as `{{key}}` (their id),
//! `{{key.field}}` (e.g. `{{jane.phone}}`) or `{{tenant.role}}` for a member of another tenant
//! (`{{other.rep}}`); see [`crate::template`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use heimdell_tools::registry::ToolKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::template::Names;

/// The categories the scorecard reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Grounding,
    Consent,
    Approval,
    Tenancy,
    Injection,
    Clarification,
    TasksAndStages,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Category::Grounding,
        Category::Consent,
        Category::Approval,
        Category::Tenancy,
        Category::Injection,
        Category::Clarification,
        Category::TasksAndStages,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Grounding => "grounding",
            Category::Consent => "consent",
            Category::Approval => "approval",
            Category::Tenancy => "tenancy",
            Category::Injection => "injection",
            Category::Clarification => "clarification",
            Category::TasksAndStages => "tasks-and-stages",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which model drives the case's chat turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseModel {
    /// The built-in planner (or, with `--model openai`, the configured remote model).
    Builtin,
    /// Each turn replays its `script`; the model's words are fixed, the runtime's answer is not.
    Scripted,
}

/// One eval case as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Unique in the suite, e.g. `consent/sms-opted-out`.
    pub id: String,
    pub category: Category,
    /// What the case proves, in a sentence.
    #[serde(default)]
    pub description: String,
    pub model: CaseModel,
    #[serde(default)]
    pub settings: Settings,
    pub fixture: Fixture,
    pub steps: Vec<RawStep>,
    /// Checked once every step has run.
    #[serde(default)]
    pub expect: FinalExpect,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// How long a proposal stays approvable; 0 makes every proposal expire at once (to prove
    /// an expired action never runs).
    pub action_ttl_hours: Option<i64>,
}

/// The world before the conversation: tenant `home` (where the conversation happens) and any
/// others. Every record is created through the tools, by the tenant's admin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    pub tenants: BTreeMap<String, TenantSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    /// The workspace's name (default: "Eval <key>").
    pub name: Option<String>,
    #[serde(default = "default_country")]
    pub country: String,
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Connect Twilio (through `connect_twilio`) so texts and calls can be proposed.
    #[serde(default)]
    pub twilio: Option<TwilioSpec>,
    /// Overrides for the four members every tenant has: admin, manager, rep, rep2.
    #[serde(default)]
    pub users: BTreeMap<String, UserSpec>,
    #[serde(default)]
    pub companies: BTreeMap<String, CompanySpec>,
    #[serde(default)]
    pub contacts: BTreeMap<String, ContactSpec>,
    #[serde(default)]
    pub deals: BTreeMap<String, DealSpec>,
    #[serde(default)]
    pub tasks: BTreeMap<String, TaskSpec>,
    /// Timeline entries (`log_activity`), e.g. a note whose text tries to instruct the model.
    #[serde(default)]
    pub notes: Vec<NoteSpec>,
    /// SMS templates (`create_sms_template`).
    #[serde(default)]
    pub templates: BTreeMap<String, TemplateSpec>,
    /// Texts received before the conversation (through the inbound-SMS handler).
    #[serde(default)]
    pub inbound_sms: Vec<InboundSpec>,
}

fn default_country() -> String {
    "US".into()
}

fn default_timezone() -> String {
    "America/New_York".into()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioSpec {
    /// Workspace numbers (default one US number).
    #[serde(default)]
    pub numbers: Vec<String>,
    pub quiet_hours_start: Option<String>,
    pub quiet_hours_end: Option<String>,
    pub daily_cap: Option<u32>,
    #[serde(default)]
    pub recording: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompanySpec {
    pub name: String,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub phone: Option<String>,
    /// A member key: admin, manager, rep or rep2.
    pub owner: Option<String>,
}

/// A channel's consent as recorded (`record_consent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentState {
    Granted,
    Withdrawn,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentSpec {
    pub sms: Option<ConsentState>,
    pub call: Option<ConsentState>,
    pub email: Option<ConsentState>,
    pub marketing: Option<ConsentState>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactSpec {
    pub first_name: String,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub title: Option<String>,
    /// A company key of the same tenant.
    pub company: Option<String>,
    pub owner: Option<String>,
    /// An IANA zone, or `@night` / `@day`: a zone where it is now 02:00–03:00 (quiet hours) or
    /// 12:00–13:00, whenever the suite runs.
    pub timezone: Option<String>,
    #[serde(default)]
    pub consent: ConsentSpec,
    /// Anonymised under GDPR (no tool does this yet: see the README of `evals/`).
    #[serde(default)]
    pub anonymised: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DealSpec {
    pub name: String,
    pub company: Option<String>,
    pub contact: Option<String>,
    pub stage: Option<String>,
    /// In minor units (cents): 1250000 is 12,500.00.
    pub value_minor: Option<i64>,
    pub currency: Option<String>,
    pub owner: Option<String>,
    /// `YYYY-MM-DD`.
    pub expected_close: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    pub title: String,
    /// `+2d`, `-1d`, `+3h`, `today` (23:00 in the tenant's zone) or an RFC 3339 time.
    pub due: Option<String>,
    pub notes: Option<String>,
    pub contact: Option<String>,
    pub company: Option<String>,
    pub deal: Option<String>,
    pub owner: Option<String>,
    /// Completed (`complete_task`) after it is created.
    #[serde(default)]
    pub done: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteSpec {
    /// The contact, company or deal key it is about.
    pub on: String,
    #[serde(default = "default_note_kind")]
    pub kind: String,
    pub subject: Option<String>,
    pub body: String,
}

fn default_note_kind() -> String {
    "note".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    pub name: String,
    pub body: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundSpec {
    /// A contact key (their phone number is used) or a number in E.164.
    pub from: String,
    pub body: String,
}

/// A step as written; [`RawStep::parse`] turns it into a [`Step`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// A chat message.
    pub say: Option<String>,
    /// Approve the case's Nth action (1-based, in proposal order), or `"<tenant>:N"`.
    pub approve: Option<ActionRef>,
    pub reject: Option<ActionRef>,
    /// A text arriving from outside (through the inbound-SMS handler).
    pub inbound_sms: Option<InboundSpec>,
    /// Who acts: admin, manager, rep (the default) or rep2, of `home`.
    #[serde(rename = "as")]
    pub actor: Option<String>,
    /// The record the chat is opened on (a key).
    pub on: Option<String>,
    /// Start a new thread instead of continuing the actor's last one.
    #[serde(default)]
    pub new_thread: bool,
    /// Scripted cases: what the model answers in this turn, in order.
    #[serde(default)]
    pub script: Vec<ScriptReply>,
    /// Approve with these arguments instead of the proposed ones.
    pub args: Option<Value>,
    /// A rejection note.
    pub note: Option<String>,
    #[serde(default)]
    pub expect: StepExpect,
}

/// Which action an approve or reject step decides.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ActionRef {
    /// The home tenant's Nth action.
    Nth(usize),
    /// `"other:1"`: another tenant's Nth action.
    Named(String),
}

/// One model reply in a script.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptReply {
    /// Final words.
    pub say: Option<String>,
    /// Tool calls, each `{tool, args}` or `{tool, raw}` (raw: the arguments text as sent,
    /// malformed JSON included).
    #[serde(default)]
    pub calls: Vec<ScriptCall>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptCall {
    pub tool: String,
    pub args: Option<Value>,
    pub raw: Option<String>,
}

/// A step, checked.
#[derive(Debug, Clone)]
pub enum Step {
    Say {
        actor: String,
        text: String,
        on: Option<String>,
        new_thread: bool,
        script: Vec<ScriptReply>,
    },
    Approve {
        actor: String,
        action: ActionRef,
        args: Option<Value>,
    },
    Reject {
        actor: String,
        action: ActionRef,
        note: Option<String>,
    },
    Inbound(InboundSpec),
}

impl RawStep {
    /// Exactly one of say / approve / reject / inbound_sms, with only the options that kind
    /// of step takes.
    pub fn parse(&self, model: CaseModel) -> Result<Step, String> {
        let kinds = [
            self.say.is_some(),
            self.approve.is_some(),
            self.reject.is_some(),
            self.inbound_sms.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(
                "a step is exactly one of `say`, `approve`, `reject`, `inbound_sms`".into(),
            );
        }
        let actor = self.actor.clone().unwrap_or_else(|| "rep".into());
        let chat_only = self.on.is_some() || self.new_thread || !self.script.is_empty();
        if self.say.is_none() && chat_only {
            return Err("`on`, `new_thread` and `script` belong to `say` steps".into());
        }
        if self.approve.is_none() && self.args.is_some() {
            return Err("`args` belongs to `approve` steps".into());
        }
        if self.reject.is_none() && self.note.is_some() {
            return Err("`note` belongs to `reject` steps".into());
        }
        // Expectations that a step of another kind never checks would pass whatever happened.
        if self.approve.is_none() && !self.expect.error_contains.is_empty() {
            return Err("`error_contains` belongs to `approve` steps".into());
        }
        if self.say.is_none() && self.expect.reply.is_some() {
            return Err("`reply` expectations belong to `say` steps".into());
        }
        if let Some(text) = &self.say {
            match (model, self.script.is_empty()) {
                (CaseModel::Scripted, true) => {
                    return Err("a scripted case's `say` step needs a `script`".into());
                }
                (CaseModel::Builtin, false) => {
                    return Err("only `model: scripted` cases take a `script`".into());
                }
                _ => {}
            }
            for (i, r) in self.script.iter().enumerate() {
                if r.say.is_none() && r.calls.is_empty() {
                    return Err(format!(
                        "script reply {} has neither `say` nor `calls`",
                        i + 1
                    ));
                }
                for c in &r.calls {
                    if c.args.is_some() == c.raw.is_some() {
                        return Err(format!(
                            "script reply {}: a call to `{}` takes exactly one of `args` or `raw`",
                            i + 1,
                            c.tool
                        ));
                    }
                }
            }
            if self.script.last().is_some_and(|r| r.say.is_none()) {
                return Err("a script must end with a reply that `say`s something".into());
            }
            return Ok(Step::Say {
                actor,
                text: text.clone(),
                on: self.on.clone(),
                new_thread: self.new_thread,
                script: self.script.clone(),
            });
        }
        if let Some(action) = &self.approve {
            return Ok(Step::Approve {
                actor,
                action: action.clone(),
                args: self.args.clone(),
            });
        }
        if let Some(action) = &self.reject {
            return Ok(Step::Reject {
                actor,
                action: action.clone(),
                note: self.note.clone(),
            });
        }
        match &self.inbound_sms {
            Some(sms) => Ok(Step::Inbound(sms.clone())),
            None => Err("empty step".into()),
        }
    }
}

/// The CRM tools a case may expect to be proposed, by name, with whether they only read.
fn catalog() -> &'static BTreeMap<String, bool> {
    static TOOLS: OnceLock<BTreeMap<String, bool>> = OnceLock::new();
    TOOLS.get_or_init(|| {
        heimdell_tools::catalog::standard()
            .iter()
            .map(|t| (t.name().to_string(), t.kind() == ToolKind::Read))
            .collect()
    })
}

/// Whether `tool` can ever be a proposal: a write, contact or destructive tool of the standard
/// catalog. Reads run at once and the runtime's own tools (`decide_action`,
/// `list_pending_actions`) are never proposed, so expecting them (or their absence) checks
/// nothing.
pub fn proposable(tool: &str) -> Result<(), String> {
    match catalog().get(tool) {
        Some(false) => Ok(()),
        Some(true) => Err(format!(
            "`{tool}` only reads: reads run at once and are never proposed"
        )),
        None if matches!(tool, "decide_action" | "list_pending_actions") => Err(format!(
            "`{tool}` is a runtime tool, never proposed (expect the decided action's status instead)"
        )),
        None => Err(format!("`{tool}` is not a tool of the standard catalog")),
    }
}

impl Case {
    /// Checks, before anything runs, that no expectation names something that cannot exist
    /// (a tool that is never proposed, a record the fixture does not make, a placeholder that
    /// cannot be filled) and so could never fail. `names` are the fixture's planned names.
    pub fn check_expectations(&self, names: &Names) -> Result<(), String> {
        let citable = |what: &str, key: &str| -> Result<(), String> {
            let r = names.get(key).map_err(|e| format!("{what}: {e}"))?;
            if matches!(r.kind, "contact" | "company" | "deal" | "task") {
                Ok(())
            } else {
                Err(format!(
                    "{what}: `{key}` is a {}, which is never cited",
                    r.kind
                ))
            }
        };
        let actions = |what: &str, list: &[ActionExpect]| -> Result<(), String> {
            for a in list {
                proposable(&a.tool).map_err(|e| format!("{what}: {e}"))?;
                for v in a.args.values() {
                    check_json(names, v).map_err(|e| format!("{what}: {e}"))?;
                }
            }
            Ok(())
        };
        for (i, step) in self.steps.iter().enumerate() {
            let at = |e: String| format!("step {}: {e}", i + 1);
            let x = &step.expect;
            if let Some(p) = &x.proposes {
                actions("proposes", p).map_err(at)?;
            }
            for tool in &x.must_not_propose {
                proposable(tool).map_err(|e| at(format!("must_not_propose: {e}")))?;
            }
            if let Some(r) = &x.reply {
                for key in &r.cites {
                    citable("cites", key).map_err(at)?;
                }
                for key in &r.not_cites {
                    citable("not_cites", key).map_err(at)?;
                }
                for (what, list) in [
                    ("contains", &r.contains),
                    ("contains_any", &r.contains_any),
                    ("not_contains", &r.not_contains),
                ] {
                    for text in list {
                        names.check(text).map_err(|e| at(format!("{what}: {e}")))?;
                    }
                }
            }
        }
        if let Some(a) = &self.expect.actions {
            actions("expect.actions", a)?;
        }
        Ok(())
    }
}

fn check_json(names: &Names, v: &Value) -> Result<(), String> {
    match v {
        Value::String(s) => names.check(s),
        Value::Array(items) => items.iter().try_for_each(|i| check_json(names, i)),
        Value::Object(map) => map.values().try_for_each(|i| check_json(names, i)),
        _ => Ok(()),
    }
}

/// What one step must show.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepExpect {
    /// Exactly these proposals in this turn, in order (tool, key arguments, status).
    pub proposes: Option<Vec<ActionExpect>>,
    /// None of these tools may be proposed in this turn.
    #[serde(default)]
    pub must_not_propose: Vec<String>,
    pub reply: Option<ReplyExpect>,
    /// Approve / reject steps: the outcome (`executed`, `rejected`) or the error
    /// (`denied`, `not_pending`, `expired`, `not_found`, `invalid`).
    pub outcome: Option<String>,
    /// Words that must appear in the outcome's error message.
    #[serde(default)]
    pub error_contains: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ActionExpect {
    pub tool: String,
    /// Arguments that must be present with these values (others may be there too).
    /// A string value `~text` only needs to contain `text` (case-insensitive).
    #[serde(default)]
    pub args: BTreeMap<String, Value>,
    /// pending, executed, rejected, expired or failed.
    pub status: Option<String>,
    /// self, manager or admin.
    pub approver: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyExpect {
    /// Each must appear (case-insensitive).
    #[serde(default)]
    pub contains: Vec<String>,
    /// At least one must appear.
    #[serde(default)]
    pub contains_any: Vec<String>,
    /// None may appear.
    #[serde(default)]
    pub not_contains: Vec<String>,
    /// Record keys the reply must cite (`[[contact:<id>]]` markers).
    #[serde(default)]
    pub cites: Vec<String>,
    /// Record keys the reply must not cite.
    #[serde(default)]
    pub not_cites: Vec<String>,
    /// The reply says plainly that a value is not known or not recorded (not that a record
    /// could not be found: pair it with `cites` so a failed lookup cannot pass).
    #[serde(default)]
    pub says_unknown: bool,
    /// The reply says plainly that the record asked about was not found ("couldn't find").
    #[serde(default)]
    pub says_not_found: bool,
    /// The reply asks the user a question.
    #[serde(default)]
    pub asks: bool,
}

/// What must hold once every step has run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinalExpect {
    /// Exactly these actions in the home tenant, in proposal order.
    pub actions: Option<Vec<ActionExpect>>,
    /// The home tenant's CRM data is exactly as the fixture left it.
    #[serde(default)]
    pub unchanged: bool,
    #[serde(default)]
    pub state: StateExpect,
    /// Audit entries that must exist, each `{event, tool}` (event: proposed, denied, approved,
    /// executed, rejected, expired, executed_read).
    #[serde(default)]
    pub audit: Vec<AuditExpect>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateExpect {
    /// Outbound texts (any status) in the home tenant.
    pub outbound_sms: Option<i64>,
    pub calls: Option<i64>,
    pub outbox_jobs: Option<i64>,
    pub tasks: Option<i64>,
    pub open_tasks: Option<i64>,
    pub activities: Option<i64>,
    pub contacts: Option<i64>,
    /// Per deal key: the stage name it must be in.
    #[serde(default)]
    pub deal_stage: BTreeMap<String, String>,
    /// Per contact key: fields of the contact row that must have these values.
    #[serde(default)]
    pub contact: BTreeMap<String, BTreeMap<String, Value>>,
    /// Outbound texts per contact key: `{count, status, queued_reason}`.
    #[serde(default)]
    pub sms_to: BTreeMap<String, SmsExpect>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsExpect {
    pub count: i64,
    pub status: Option<String>,
    pub queued_reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuditExpect {
    pub event: String,
    pub tool: String,
}

/// The suite's own settings (`suite.yaml` in the suite folder).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteSpec {
    pub name: String,
    /// The lowest pass rate (0–1) the suite accepts.
    pub threshold: f64,
    /// Where the cases are, relative to the suite folder (default `cases`).
    #[serde(default = "default_cases_dir")]
    pub cases: String,
}

fn default_cases_dir() -> String {
    "cases".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(yaml: &str) -> RawStep {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn a_step_is_exactly_one_thing() {
        assert!(step("say: hi").parse(CaseModel::Builtin).is_ok());
        let both = step("say: hi\napprove: 1");
        assert!(both.parse(CaseModel::Builtin).is_err());
        assert!(step("as: rep").parse(CaseModel::Builtin).is_err());
        let misplaced = step("approve: 1\nscript: [{say: x}]");
        assert!(misplaced.parse(CaseModel::Scripted).is_err());
    }

    #[test]
    fn scripts_belong_to_scripted_cases_and_end_in_words() {
        assert!(
            step("say: hi")
                .parse(CaseModel::Scripted)
                .unwrap_err()
                .contains("script")
        );
        assert!(
            step("say: hi\nscript: [{say: ok}]")
                .parse(CaseModel::Builtin)
                .is_err()
        );
        let ends_in_call = step("say: hi\nscript: [{calls: [{tool: search, args: {query: x}}]}]");
        assert!(ends_in_call.parse(CaseModel::Scripted).is_err());
        let both =
            step("say: hi\nscript: [{calls: [{tool: search, args: {}, raw: x}]}, {say: ok}]");
        assert!(both.parse(CaseModel::Scripted).is_err());
        let good = step("say: hi\nscript: [{calls: [{tool: search, raw: '{'}]}, {say: ok}]");
        assert!(good.parse(CaseModel::Scripted).is_ok());
    }

    #[test]
    fn action_refs_are_numbers_or_tenant_numbers() {
        assert_eq!(step("approve: 2").approve, Some(ActionRef::Nth(2)));
        assert_eq!(
            step("approve: 'other:1'").approve,
            Some(ActionRef::Named("other:1".into()))
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_saphyr::from_str::<RawStep>("sya: hi").is_err());
        assert!(serde_saphyr::from_str::<Category>("tasks-and-stages").is_ok());
    }
}
