//! The engine: policies compiled once, then a few small Cedar requests per decision.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request, RestrictedExpression, Schema,
};
use uuid::Uuid;

use crate::load::{self, Compiled};
use crate::{
    ApprovalRequirement, ApproverRole, CallFacts, Channel, PolicyError, Principal, Role, ToolKind,
};

/// Decides who may propose and who may approve tool calls, from the Cedar files in `policies/`.
///
/// Built once at start-up (parsing and validation happen there); each decision only builds a
/// handful of entities and one request per Cedar question.
pub struct PolicyEngine {
    /// All policies, validated against `schema`.
    policies: PolicySet,
    /// Checks that each request's entities and request fit the model the policies were
    /// validated against.
    schema: Schema,
    /// Cedar's evaluator, reused for every request.
    authorizer: Authorizer,
    /// `@reason` and load position per policy id, so denials read in file order.
    reasons: HashMap<cedar_policy::PolicyId, (usize, String)>,
    /// Entity type names and action ids, parsed once.
    names: Names,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("policies", &self.reasons.len())
            .finish_non_exhaustive()
    }
}

/// Cedar names used in every request.
struct Names {
    /// `Tenant`.
    tenant: EntityTypeName,
    /// `User`.
    user: EntityTypeName,
    /// `ToolCall`.
    tool_call: EntityTypeName,
    /// `Action::"propose"`.
    propose: EntityUid,
    /// `Action::"approve"`.
    approve: EntityUid,
}

impl Names {
    fn new() -> Self {
        let ty = |s: &str| -> EntityTypeName {
            s.parse()
                .unwrap_or_else(|e| unreachable!("type name {s}: {e}"))
        };
        let action = |id: &str| EntityUid::from_type_name_and_id(ty("Action"), EntityId::new(id));
        Names {
            tenant: ty("Tenant"),
            user: ty("User"),
            tool_call: ty("ToolCall"),
            propose: action("propose"),
            approve: action("approve"),
        }
    }
}

#[derive(Clone, Copy)]
enum Action {
    Propose,
    Approve,
}

/// A user as one request sees them; `id` is a UUID for real users, or a non-UUID word for the
/// synthetic approvers used to find the approval tier (so it never equals a real user).
struct Subject {
    id: String,
    tenant_id: Uuid,
    role: Role,
}

impl From<&Principal> for Subject {
    fn from(p: &Principal) -> Self {
        Subject {
            id: p.user_id.to_string(),
            tenant_id: p.tenant_id,
            role: p.role,
        }
    }
}

/// The outcome of one Cedar request.
struct Verdict {
    allowed: bool,
    /// `@reason` texts of the policies that decided it (permits when allowed, forbids when
    /// denied; empty when denied because nothing permitted it), in file order.
    reasons: Vec<String>,
}

impl Verdict {
    /// The determining reasons joined, or `fallback` when there are none.
    fn text(&self, fallback: impl FnOnce() -> String) -> String {
        if self.reasons.is_empty() {
            fallback()
        } else {
            self.reasons.join(" ")
        }
    }
}

impl PolicyEngine {
    /// The policy files of `policies/`, compiled into the binary.
    pub fn embedded() -> Result<Self, PolicyError> {
        load::compile(
            load::EMBEDDED_SCHEMA,
            load::EMBEDDED_POLICIES.iter().copied(),
        )
        .map(Self::from_compiled)
    }

    /// Every `*.cedar` file and the one `*.cedarschema` file in `dir`.
    pub fn load_dir(dir: &Path) -> Result<Self, PolicyError> {
        load::read_dir(dir).map(Self::from_compiled)
    }

    fn from_compiled(c: Compiled) -> Self {
        PolicyEngine {
            policies: c.policies,
            schema: c.schema,
            authorizer: Authorizer::new(),
            reasons: c.reasons,
            names: Names::new(),
        }
    }

    /// Decides what happens to a call `requester` asks for: run a read now, wait for the lowest
    /// approver tier the policies allow, or refuse.
    pub fn on_proposal(&self, requester: &Principal, call: &CallFacts) -> ApprovalRequirement {
        let req = Subject::from(requester);
        let proposal = self.evaluate(Action::Propose, &req, &req, call);
        if !proposal.allowed {
            return ApprovalRequirement::Forbidden {
                reason: proposal.text(|| {
                    format!(
                        "No policy allows {} to use the tool `{}`.",
                        with_article(requester.role),
                        call.tool
                    )
                }),
            };
        }
        if call.kind == ToolKind::Read {
            return ApprovalRequirement::Skip;
        }

        // Lowest tier first. "self" is the requester approving their own call judged as the
        // least privileged role, so it means "the requester's say suffices, whatever their
        // role" (a manager closing a deal still needs the manager tier).
        let tiers = [
            (
                ApproverRole::SelfApprove,
                Subject {
                    id: req.id.clone(),
                    tenant_id: req.tenant_id,
                    role: Role::Rep,
                },
            ),
            (ApproverRole::Manager, synthetic(Role::Manager, requester)),
            (ApproverRole::Admin, synthetic(Role::Admin, requester)),
        ];
        let mut why_not_lower: Option<String> = None;
        for (tier, approver) in tiers {
            let verdict = self.evaluate(Action::Approve, &approver, &req, call);
            if verdict.allowed {
                let reason = match (tier, why_not_lower) {
                    (ApproverRole::SelfApprove, _) => {
                        verdict.text(|| "Changes need your approval before they run.".to_owned())
                    }
                    (_, Some(why)) => why,
                    (ApproverRole::Manager, None) => "This change needs a manager.".to_owned(),
                    (ApproverRole::Admin, None) => "This change needs an admin.".to_owned(),
                };
                return ApprovalRequirement::NeedsApproval {
                    approver: tier,
                    reason,
                };
            }
            why_not_lower = Some(verdict.text(|| {
                format!(
                    "No policy allows {} to approve the tool `{}`.",
                    with_article(approver.role),
                    call.tool
                )
            }));
        }
        ApprovalRequirement::Forbidden {
            reason: format!(
                "No one in this workspace may approve this call. {}",
                why_not_lower.unwrap_or_default()
            )
            .trim_end()
            .to_owned(),
        }
    }

    /// `Ok(())` if `approver` may approve and run `call` proposed by `requester` now; else
    /// `Err(reason)`. Call it with facts gathered fresh at approval time: it re-checks that the
    /// requester may still propose the call, then that the approver may approve it.
    pub fn on_approval(
        &self,
        requester: &Principal,
        approver: &Principal,
        call: &CallFacts,
    ) -> Result<(), String> {
        let req = Subject::from(requester);
        let proposal = self.evaluate(Action::Propose, &req, &req, call);
        if !proposal.allowed {
            return Err(format!(
                "This request is no longer allowed: {}",
                proposal.text(|| format!(
                    "no policy allows {} to use the tool `{}`.",
                    with_article(requester.role),
                    call.tool
                ))
            ));
        }
        self.approve_verdict(&req, approver, call)
    }

    /// Whether `approver` may approve this call proposed by `requester` (used to list a user's
    /// approval queue). Only the approver's side is checked; [`Self::on_approval`] also
    /// re-checks the requester when the approval is given.
    pub fn can_approve(
        &self,
        requester: &Principal,
        approver: &Principal,
        call: &CallFacts,
    ) -> bool {
        self.approve_verdict(&Subject::from(requester), approver, call)
            .is_ok()
    }

    fn approve_verdict(
        &self,
        requester: &Subject,
        approver: &Principal,
        call: &CallFacts,
    ) -> Result<(), String> {
        let verdict = self.evaluate(Action::Approve, &Subject::from(approver), requester, call);
        if verdict.allowed {
            Ok(())
        } else {
            Err(verdict.text(|| {
                format!(
                    "No policy allows {} to approve the tool `{}`.",
                    with_article(approver.role),
                    call.tool
                )
            }))
        }
    }

    /// One Cedar request. Anything unexpected (entities that do not fit the schema, an
    /// evaluation error in any policy) denies: a skipped `forbid` must never let a call through.
    fn evaluate(
        &self,
        action: Action,
        principal: &Subject,
        requester: &Subject,
        call: &CallFacts,
    ) -> Verdict {
        match self.try_evaluate(action, principal, requester, call) {
            Ok(v) => v,
            Err(message) => Verdict {
                allowed: false,
                reasons: vec![format!("The policy check failed: {message}")],
            },
        }
    }

    fn try_evaluate(
        &self,
        action: Action,
        principal: &Subject,
        requester: &Subject,
        call: &CallFacts,
    ) -> Result<Verdict, String> {
        let n = &self.names;
        let uid = |ty: &EntityTypeName, id: &str| {
            EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
        };
        let tenant_uid = |t: Uuid| uid(&n.tenant, &t.to_string());
        let str_ = |s: &str| RestrictedExpression::new_string(s.to_owned());
        let bool_ = RestrictedExpression::new_bool;
        let user = |s: &Subject| {
            Entity::new(
                uid(&n.user, &s.id),
                HashMap::from([
                    ("role".to_owned(), str_(s.role.as_str())),
                    (
                        "tenant".to_owned(),
                        RestrictedExpression::new_entity_uid(tenant_uid(s.tenant_id)),
                    ),
                ]),
                HashSet::new(),
            )
            .map_err(|e| e.to_string())
        };

        let principal_uid = uid(&n.user, &principal.id);
        let requester_uid = uid(&n.user, &requester.id);
        let call_uid = uid(&n.tool_call, "call");

        let mut entities = Vec::with_capacity(6);
        entities.push(user(principal)?);
        if requester.id != principal.id {
            entities.push(user(requester)?);
        }
        let mut tenants = vec![principal.tenant_id, requester.tenant_id, call.tenant_id];
        tenants.sort();
        tenants.dedup();
        entities.extend(
            tenants
                .into_iter()
                .map(|t| Entity::new_no_attrs(tenant_uid(t), HashSet::new())),
        );
        entities.push(
            Entity::new(
                call_uid.clone(),
                HashMap::from([
                    ("tool".to_owned(), str_(&call.tool)),
                    ("kind".to_owned(), str_(call.kind.as_str())),
                    (
                        "tenant".to_owned(),
                        RestrictedExpression::new_entity_uid(tenant_uid(call.tenant_id)),
                    ),
                    (
                        "requester".to_owned(),
                        RestrictedExpression::new_entity_uid(requester_uid),
                    ),
                    ("foreign_owned".to_owned(), bool_(call.foreign_owned)),
                    ("closes_deal".to_owned(), bool_(call.closes_deal)),
                    ("bulk".to_owned(), bool_(call.bulk)),
                    ("team_scope".to_owned(), bool_(call.team_scope)),
                    ("channel".to_owned(), str_(Channel::word(call.channel))),
                    ("sms_opt_out".to_owned(), bool_(call.sms_opt_out)),
                    ("do_not_call".to_owned(), bool_(call.do_not_call)),
                    ("anonymised".to_owned(), bool_(call.anonymised)),
                    ("no_valid_phone".to_owned(), bool_(call.no_valid_phone)),
                    ("quiet_hours".to_owned(), bool_(call.quiet_hours)),
                ]),
                HashSet::new(),
            )
            .map_err(|e| e.to_string())?,
        );
        let entities =
            Entities::from_entities(entities, Some(&self.schema)).map_err(|e| e.to_string())?;

        let action_uid = match action {
            Action::Propose => n.propose.clone(),
            Action::Approve => n.approve.clone(),
        };
        let request = Request::new(
            principal_uid,
            action_uid,
            call_uid,
            Context::empty(),
            Some(&self.schema),
        )
        .map_err(|e| e.to_string())?;

        let response = self
            .authorizer
            .is_authorized(&request, &self.policies, &entities);
        let diagnostics = response.diagnostics();
        if let Some(err) = diagnostics.errors().next() {
            return Err(err.to_string());
        }
        let mut reasons: Vec<&(usize, String)> = diagnostics
            .reason()
            .filter_map(|id| self.reasons.get(id))
            .collect();
        reasons.sort();
        let mut texts: Vec<String> = Vec::with_capacity(reasons.len());
        for (_, text) in reasons {
            if !texts.contains(text) {
                texts.push(text.clone());
            }
        }
        Ok(Verdict {
            allowed: response.decision() == Decision::Allow,
            reasons: texts,
        })
    }
}

/// A made-up approver of `role` in the requester's tenant, with an id that is not a UUID and so
/// never the requester.
fn synthetic(role: Role, requester: &Principal) -> Subject {
    Subject {
        id: format!("synthetic-{}", role.as_str()),
        tenant_id: requester.tenant_id,
        role,
    }
}

/// "a rep", "a manager", "an admin".
fn with_article(role: Role) -> String {
    match role {
        Role::Admin => "an admin".to_owned(),
        other => format!("a {other}"),
    }
}
