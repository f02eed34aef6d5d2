//! The actions pipeline. `propose` checks a call against its schema and the policies; reads run
//! at once, writes become a stored proposed action (preview, approver role, idempotency key,
//! expiry). `approve` re-checks the policy with fresh data and the approver's role, then runs the
//! call once, in one transaction, under a row lock so racing approvers cannot run it twice.

pub mod audit;
mod view;

use std::sync::Arc;

use chrono::{Duration, Utc};
use heimdell_policies::{
    ApprovalRequirement, ApproverRole, CallFacts, Channel as PolicyChannel, PolicyEngine,
    ToolKind as PolicyKind,
};
use heimdell_tools::crypto::{self, SecretKey};
use heimdell_tools::db::begin_tenant;
use heimdell_tools::registry::ToolEntry;
use heimdell_tools::{Channel, Facts, Registry, ToolError, ToolKind};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::member::Member;
use audit::{Entry, Event};
pub use view::{ActionStatus, ActionView};

/// Who asks, as established by authentication: tenant and user ids only. Role, time zone and
/// the rest are read fresh from the database inside the pipeline's own transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
}

/// A request to run a tool.
#[derive(Debug, Clone)]
pub struct ProposeRequest {
    pub tool: String,
    pub args: Value,
    /// Run at once if the caller may approve it themselves.
    pub approve: bool,
    /// The client's key for safe retries: the same key returns the same action.
    pub idempotency_key: Option<String>,
    /// Where the request came from (`api`, `panel`, `chat`), kept on the action.
    pub source: &'static str,
}

#[derive(Debug)]
pub enum ProposeOutcome {
    /// A read, run at once.
    Read { result: Value },
    /// A write approved and run at once.
    Executed { id: Uuid, result: Value },
    /// A write waiting for approval (or an earlier action with the same idempotency key).
    Pending(Box<ActionView>),
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The call is wrong in a way the caller can fix, or names a missing record.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// The policies refuse it; the reason is theirs.
    #[error("denied: {reason}")]
    Denied { reason: String },
    /// No such action in this tenant.
    #[error("action {0} not found")]
    NotFound(Uuid),
    /// The action was already decided.
    #[error("action is {status}, not pending")]
    NotPending { status: ActionStatus },
    /// The action passed its expiry before anyone approved it.
    #[error("action expired before it was approved")]
    Expired,
    /// The caller's user no longer exists in the tenant.
    #[error("unknown user")]
    UnknownUser,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// The pipeline and what it needs; cheap to clone and share.
#[derive(Clone)]
pub struct Pipeline {
    pool: PgPool,
    registry: Arc<Registry>,
    policy: Arc<PolicyEngine>,
    /// How long a proposal stays approvable (default 7 days).
    ttl: Duration,
    /// Seals tools' secret arguments (e.g. connect_twilio's auth token) before anything is
    /// stored; None when the server has no HEIMDELL_SECRET_KEY.
    secret_key: Option<Arc<SecretKey>>,
}

fn call_facts(entry: &ToolEntry, tenant_id: Uuid, f: Facts) -> CallFacts {
    CallFacts {
        tool: entry.name().to_string(),
        kind: match entry.kind() {
            ToolKind::Read => PolicyKind::Read,
            ToolKind::Write => PolicyKind::Write,
            ToolKind::Contact => PolicyKind::Contact,
            ToolKind::Destructive => PolicyKind::Destructive,
        },
        tenant_id,
        foreign_owned: f.foreign_owned,
        closes_deal: f.closes_deal,
        bulk: f.bulk,
        team_scope: f.team_scope,
        channel: f.channel.map(|c| match c {
            Channel::Sms => PolicyChannel::Sms,
            Channel::Call => PolicyChannel::Call,
        }),
        sms_opt_out: f.sms_opt_out,
        do_not_call: f.do_not_call,
        anonymised: f.anonymised,
        no_valid_phone: f.no_valid_phone,
        quiet_hours: f.quiet_hours,
    }
}

impl Pipeline {
    pub fn new(
        pool: PgPool,
        registry: Arc<Registry>,
        policy: Arc<PolicyEngine>,
        ttl: Duration,
    ) -> Self {
        Pipeline {
            pool,
            registry,
            policy,
            ttl,
            secret_key: None,
        }
    }

    /// The key secret arguments are sealed with (`HEIMDELL_SECRET_KEY`).
    pub fn with_secret_key(mut self, key: Option<SecretKey>) -> Self {
        self.secret_key = key.map(Arc::new);
        self
    }

    /// Seals the tool's secret arguments (see `Tool::SECRET_FIELDS`): a plain value is
    /// encrypted for this tenant; [`crypto::REDACTED`] (what callers were shown) keeps the
    /// sealed value of `stored`; a sealed value not taken from `stored` is refused.
    fn seal_secrets(
        &self,
        entry: &ToolEntry,
        tenant_id: Uuid,
        mut args: Value,
        stored: Option<&Value>,
    ) -> Result<Value, ToolError> {
        for field in entry.secret_fields() {
            let Some(Value::String(given)) = args.get(*field).cloned() else {
                continue;
            };
            let kept = stored
                .and_then(|s| s.get(*field))
                .and_then(Value::as_str)
                .filter(|s| crypto::is_sealed(s));
            let sealed = if given == crypto::REDACTED || crypto::is_sealed(&given) {
                match kept {
                    Some(k) if given == crypto::REDACTED || given == k => k.to_string(),
                    _ => return Err(ToolError::field(*field, "give the secret itself")),
                }
            } else {
                let key = self.secret_key.as_ref().ok_or_else(|| {
                    ToolError::field(
                        *field,
                        "cannot be stored: the server has no HEIMDELL_SECRET_KEY to encrypt it with",
                    )
                })?;
                let purpose = format!("{}.{field}", entry.name());
                key.seal(&given, &crypto::secret_aad(tenant_id, &purpose))
                    .map_err(|e| ToolError::field(*field, e.to_string()))?
            };
            args[*field] = Value::String(sealed);
        }
        Ok(args)
    }

    /// What the policies say about a tool in the everyday case (the caller's own records, in
    /// their tenant): Forbidden means the tool is not offered to them at all.
    pub fn everyday_requirement(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
        role: heimdell_tools::domain::Role,
        entry: &ToolEntry,
    ) -> ApprovalRequirement {
        let facts = call_facts(entry, tenant_id, Facts::default());
        self.policy
            .on_proposal(&crate::member::principal(tenant_id, user_id, role), &facts)
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn policy(&self) -> &PolicyEngine {
        &self.policy
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn member(conn: &mut PgConnection, user_id: Uuid) -> Result<Member, ActionError> {
        Member::load(conn, user_id)
            .await?
            .ok_or(ActionError::UnknownUser)
    }

    /// Proposes a tool call; see the module docs for what happens to reads and writes.
    pub async fn propose(
        &self,
        caller: Caller,
        req: ProposeRequest,
    ) -> Result<ProposeOutcome, ActionError> {
        let entry = self.registry.get(&req.tool)?;
        entry.validate(&req.args)?;
        // Secrets are sealed before anything reads, stores or audits the arguments.
        let args = self.seal_secrets(entry, caller.tenant_id, req.args.clone(), None)?;
        let mut tx = begin_tenant(&self.pool, caller.tenant_id).await?;
        if let Some(key) = &req.idempotency_key
            && let Some(existing) = view::by_idempotency_key(&mut tx, key).await?
        {
            let without_secrets = |v: &Value| {
                let mut v = v.clone();
                if let Some(map) = v.as_object_mut() {
                    for f in entry.secret_fields() {
                        map.remove(*f);
                    }
                }
                v
            };
            if existing.tool != req.tool
                || without_secrets(&existing.args) != without_secrets(&req.args)
            {
                return Err(ToolError::field(
                    "idempotency_key",
                    "was already used for a different call",
                )
                .into());
            }
            let me = Self::member(&mut tx, caller.user_id).await?;
            return Ok(ProposeOutcome::Pending(Box::new(existing.with_viewer(&me))));
        }
        let me = Self::member(&mut tx, caller.user_id).await?;
        let now = Utc::now();
        let ctx = me.ctx(now, None);
        let inspection = entry.inspect(&mut tx, &ctx, &args).await?;
        let facts = call_facts(entry, caller.tenant_id, inspection.facts);
        let principal = me.principal();
        let mut record = Entry::new(Event::Denied, entry.name());
        record.actor_id = Some(me.user_id);
        record.requester_id = Some(me.user_id);
        record.args = Some(&args);

        match self.policy.on_proposal(&principal, &facts) {
            ApprovalRequirement::Forbidden { reason } => {
                record.decision = Some("forbidden");
                record.reason = Some(&reason);
                audit::write(&mut tx, record).await?;
                tx.commit().await?;
                Err(ActionError::Denied { reason })
            }
            ApprovalRequirement::Skip => {
                let result = entry.run(&mut tx, &ctx, &args).await?;
                record.event = Event::ExecutedRead;
                record.decision = Some("allowed");
                audit::write(&mut tx, record).await?;
                tx.commit().await?;
                Ok(ProposeOutcome::Read { result })
            }
            ApprovalRequirement::NeedsApproval { approver, reason } => {
                let key = req
                    .idempotency_key
                    .clone()
                    .unwrap_or_else(|| Uuid::new_v4().to_string());
                let id = view::insert(
                    &mut tx,
                    view::NewAction {
                        tool: entry.name(),
                        args: &args,
                        requester_id: me.user_id,
                        approver_role: approver,
                        preview: &inspection.preview,
                        idempotency_key: &key,
                        source: req.source,
                        created_at: now,
                        expires_at: now + self.ttl,
                    },
                )
                .await?;
                let decision = format!("needs_approval:{}", approver.as_str());
                record.event = Event::Proposed;
                record.action_id = Some(id);
                record.decision = Some(&decision);
                record.reason = Some(&reason);
                audit::write(&mut tx, record.clone()).await?;

                if req.approve
                    && self
                        .policy
                        .on_approval(&principal, &principal, &facts)
                        .is_ok()
                {
                    let ctx = me.ctx(now, Some(id));
                    // A failed run rolls the whole proposal back: the caller asked for both or nothing.
                    let result = entry.run(&mut tx, &ctx, &args).await?;
                    view::mark_executed(
                        &mut tx,
                        id,
                        me.user_id,
                        &args,
                        &inspection.preview,
                        &result,
                    )
                    .await?;
                    record.event = Event::Approved;
                    record.approver_id = Some(me.user_id);
                    audit::write(&mut tx, record.clone()).await?;
                    record.event = Event::Executed;
                    record.result = Some(&result);
                    audit::write(&mut tx, record).await?;
                    tx.commit().await?;
                    return Ok(ProposeOutcome::Executed { id, result });
                }
                let created = view::get(&mut tx, id)
                    .await?
                    .ok_or(ActionError::NotFound(id))?;
                tx.commit().await?;
                Ok(ProposeOutcome::Pending(Box::new(created.with_viewer(&me))))
            }
        }
    }

    /// Approves a pending action (optionally with edited arguments) and runs it exactly once.
    pub async fn approve(
        &self,
        caller: Caller,
        id: Uuid,
        edited_args: Option<Value>,
    ) -> Result<ActionView, ActionError> {
        let mut tx = begin_tenant(&self.pool, caller.tenant_id).await?;
        let action = view::lock(&mut tx, id)
            .await?
            .ok_or(ActionError::NotFound(id))?;
        let now = Utc::now();
        if action.status != ActionStatus::Pending {
            return Err(ActionError::NotPending {
                status: action.status,
            });
        }
        if action.expires_at <= now {
            view::expire_one(&mut tx, &action).await?;
            tx.commit().await?;
            return Err(ActionError::Expired);
        }
        let entry = self.registry.get(&action.tool)?;
        let args = match edited_args {
            // Edited arguments are checked as given, then sealed: a secret left as the redacted
            // marker callers were shown keeps the stored sealed value (`seal_secrets`).
            Some(edited) => {
                entry.validate(&edited)?;
                self.seal_secrets(entry, caller.tenant_id, edited, Some(&action.args))?
            }
            // Checked when proposed; its secrets are sealed already.
            None => action.args.clone(),
        };
        let approver = Self::member(&mut tx, caller.user_id).await?;
        // The requester's role and the data are read again: the later decision wins.
        let requester = Self::member(&mut tx, action.requester_id).await?;
        let ctx = requester.ctx(now, Some(id));
        let inspection = entry.inspect(&mut tx, &ctx, &args).await?;
        let facts = call_facts(entry, caller.tenant_id, inspection.facts);

        let mut record = Entry::new(Event::Denied, entry.name());
        record.actor_id = Some(approver.user_id);
        record.action_id = Some(id);
        record.args = Some(&args);
        record.requester_id = Some(requester.user_id);
        record.approver_id = Some(approver.user_id);

        if let Err(reason) =
            self.policy
                .on_approval(&requester.principal(), &approver.principal(), &facts)
        {
            record.decision = Some("forbidden");
            record.reason = Some(&reason);
            audit::write(&mut tx, record).await?;
            tx.commit().await?;
            return Err(ActionError::Denied { reason });
        }

        // Run inside a savepoint, so a failed run leaves the action pending and audited.
        let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
        match entry.run(&mut savepoint, &ctx, &args).await {
            Ok(result) => {
                savepoint.commit().await?;
                view::mark_executed(
                    &mut tx,
                    id,
                    approver.user_id,
                    &args,
                    &inspection.preview,
                    &result,
                )
                .await?;
                record.event = Event::Approved;
                record.decision = Some("allowed");
                audit::write(&mut tx, record.clone()).await?;
                record.event = Event::Executed;
                record.result = Some(&result);
                audit::write(&mut tx, record).await?;
                let done = view::get(&mut tx, id)
                    .await?
                    .ok_or(ActionError::NotFound(id))?;
                tx.commit().await?;
                Ok(done)
            }
            Err(err) => {
                savepoint.rollback().await?;
                if matches!(err, ToolError::Database(_)) {
                    return Err(err.into());
                }
                let reason = err.to_string();
                record.event = Event::Failed;
                record.decision = Some("allowed");
                record.reason = Some(&reason);
                audit::write(&mut tx, record).await?;
                tx.commit().await?;
                Err(err.into())
            }
        }
    }

    /// Rejects a pending action. The requester may withdraw their own; otherwise only someone
    /// who could approve it may reject it.
    pub async fn reject(
        &self,
        caller: Caller,
        id: Uuid,
        reason: Option<String>,
    ) -> Result<ActionView, ActionError> {
        let mut tx = begin_tenant(&self.pool, caller.tenant_id).await?;
        let action = view::lock(&mut tx, id)
            .await?
            .ok_or(ActionError::NotFound(id))?;
        if action.status != ActionStatus::Pending {
            return Err(ActionError::NotPending {
                status: action.status,
            });
        }
        let me = Self::member(&mut tx, caller.user_id).await?;
        if action.requester_id != me.user_id && !view::may_decide(&action, &me) {
            return Err(ActionError::Denied {
                reason: format!(
                    "Only the requester or a {} can reject this action.",
                    if action.approver_role == ApproverRole::Admin {
                        "admin"
                    } else {
                        "manager or admin"
                    }
                ),
            });
        }
        view::mark_rejected(&mut tx, id, me.user_id, reason.as_deref()).await?;
        let mut record = Entry::new(Event::Rejected, &action.tool);
        record.actor_id = Some(me.user_id);
        record.action_id = Some(id);
        record.args = Some(&action.args);
        record.requester_id = Some(action.requester_id);
        record.approver_id = Some(me.user_id);
        record.decision = Some("rejected");
        record.reason = reason.as_deref();
        audit::write(&mut tx, record).await?;
        let done = view::get(&mut tx, id)
            .await?
            .ok_or(ActionError::NotFound(id))?;
        tx.commit().await?;
        Ok(done)
    }

    /// Lists actions the caller may see (reps: their own; managers and admins: the tenant's),
    /// newest first, after expiring the overdue ones.
    pub async fn list(
        &self,
        caller: Caller,
        status: Option<ActionStatus>,
        limit: i64,
    ) -> Result<Vec<ActionView>, ActionError> {
        let mut tx = begin_tenant(&self.pool, caller.tenant_id).await?;
        view::expire_due(&mut tx).await?;
        let me = Self::member(&mut tx, caller.user_id).await?;
        let items = view::list(&mut tx, &me, status, limit).await?;
        tx.commit().await?;
        Ok(items)
    }

    /// One action, if the caller may see it.
    pub async fn get(&self, caller: Caller, id: Uuid) -> Result<ActionView, ActionError> {
        self.get_many(caller, &[id])
            .await?
            .pop()
            .ok_or(ActionError::NotFound(id))
    }

    /// The actions among `ids` the caller may see, as they stand now (due expiries applied),
    /// in one transaction: a chat thread shows every card's current status at once.
    pub async fn get_many(
        &self,
        caller: Caller,
        ids: &[Uuid],
    ) -> Result<Vec<ActionView>, ActionError> {
        let mut tx = begin_tenant(&self.pool, caller.tenant_id).await?;
        view::expire_due(&mut tx).await?;
        let me = Self::member(&mut tx, caller.user_id).await?;
        let actions = view::get_many(&mut tx, ids).await?;
        tx.commit().await?;
        Ok(actions
            .into_iter()
            .filter(|a| view::visible_to(a, &me))
            .map(|a| a.with_viewer(&me))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heimdell_policies::{Principal, Role};

    /// Every registered tool is named by at least one policy: with everyday facts, some role
    /// may propose it. A tool no policy names is denied by default, so this test is what
    /// fails when someone adds a tool and forgets its policy.
    #[test]
    fn every_registered_tool_is_covered_by_a_policy() {
        let registry = heimdell_tools::catalog::standard();
        let policy = PolicyEngine::embedded().expect("built-in policies load");
        let tenant = Uuid::now_v7();
        for entry in registry.iter() {
            let facts = call_facts(entry, tenant, Facts::default());
            let allowed_for: Vec<Role> = Role::ALL
                .into_iter()
                .filter(|role| {
                    let p = Principal {
                        user_id: Uuid::now_v7(),
                        tenant_id: tenant,
                        role: *role,
                    };
                    !matches!(
                        policy.on_proposal(&p, &facts),
                        ApprovalRequirement::Forbidden { .. }
                    )
                })
                .collect();
            assert!(
                !allowed_for.is_empty(),
                "no policy allows the tool `{}`",
                entry.name()
            );
            // Every role allowed to use it: reads run at once, everything else waits for
            // approval. Admin-only tools are allowed to admins alone.
            for role in &allowed_for {
                let p = Principal {
                    user_id: Uuid::now_v7(),
                    tenant_id: tenant,
                    role: *role,
                };
                let decision = policy.on_proposal(&p, &facts);
                match entry.kind() {
                    ToolKind::Read => {
                        assert_eq!(decision, ApprovalRequirement::Skip, "{}", entry.name())
                    }
                    _ => assert!(
                        matches!(decision, ApprovalRequirement::NeedsApproval { .. }),
                        "a write must wait for approval: {} as {role:?} → {decision:?}",
                        entry.name()
                    ),
                }
            }
            let admin_only = ["connect_twilio"];
            if admin_only.contains(&entry.name()) {
                assert_eq!(allowed_for, [Role::Admin], "{} is admin-only", entry.name());
            } else {
                assert_eq!(allowed_for.len(), 3, "{} is for every role", entry.name());
            }
        }
    }
}
