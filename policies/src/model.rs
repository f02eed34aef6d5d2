//! The facts the engine decides on and the decisions it returns.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::PolicyError;

/// A member's role inside their tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs the workspace; the only role that may approve destructive or bulk changes.
    Admin,
    /// Leads a team; may approve deal closings and see the whole team's data.
    Manager,
    /// Works their own records; approves only their own ordinary changes.
    Rep,
}

impl Role {
    /// Every role, lowest privilege first.
    pub const ALL: [Role; 3] = [Role::Rep, Role::Manager, Role::Admin];

    /// The word stored in the database and seen by the Cedar policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Rep => "rep",
        }
    }

    /// Parses `"admin" | "manager" | "rep"` (exactly, lower case).
    pub fn parse(s: &str) -> Result<Self, PolicyError> {
        match s {
            "admin" => Ok(Role::Admin),
            "manager" => Ok(Role::Manager),
            "rep" => Ok(Role::Rep),
            other => Err(PolicyError::UnknownRole(other.to_owned())),
        }
    }
}

impl FromStr for Role {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::parse(s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a tool does, as declared by the tool registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolKind {
    /// Only reads CRM data; runs without approval when allowed.
    Read,
    /// Creates or changes CRM records.
    Write,
    /// Reaches a person outside Heimdell (SMS, call, email).
    Contact,
    /// Deletes or irreversibly destroys data.
    Destructive,
}

impl ToolKind {
    /// The word seen by the Cedar policies.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolKind::Read => "read",
            ToolKind::Write => "write",
            ToolKind::Contact => "contact",
            ToolKind::Destructive => "destructive",
        }
    }

    /// Parses `"read" | "write" | "contact" | "destructive"`.
    pub fn parse(s: &str) -> Result<Self, PolicyError> {
        match s {
            "read" => Ok(ToolKind::Read),
            "write" => Ok(ToolKind::Write),
            "contact" => Ok(ToolKind::Contact),
            "destructive" => Ok(ToolKind::Destructive),
            other => Err(PolicyError::UnknownToolKind(other.to_owned())),
        }
    }
}

impl FromStr for ToolKind {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ToolKind::parse(s)
    }
}

impl fmt::Display for ToolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signed-in user as the policies see them (a requester or an approver).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Principal {
    /// Identifies the user, so "approving your own request" can be told apart from approving
    /// someone else's.
    pub user_id: Uuid,
    /// The user's workspace; policies forbid acting on any other tenant's data.
    pub tenant_id: Uuid,
    /// Decides which tools, scopes and approval tiers the user has.
    pub role: Role,
}

/// Facts about one tool call, gathered fresh from the database by the caller (at proposal and
/// again at approval, since ownership and stages can change in between).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CallFacts {
    /// Registered tool name; only tools named in the policies may be proposed.
    pub tool: String,
    /// What the tool does; reads run at once, everything else waits for approval.
    pub kind: ToolKind,
    /// Tenant whose data the call touches; must be the requester's and the approver's tenant.
    pub tenant_id: Uuid,
    /// The call changes an existing record owned by a user other than the requester (unowned
    /// records are not foreign); reps may not do that.
    pub foreign_owned: bool,
    /// The call moves a deal to a won or lost stage, which needs a manager.
    pub closes_deal: bool,
    /// The call removes or overwrites data in bulk, which needs an admin.
    pub bulk: bool,
    /// The call reads the whole team's data (e.g. `daily_focus` with `scope=team`); reps may not.
    pub team_scope: bool,
    /// How the call reaches a person outside Heimdell, if it does.
    pub channel: Option<Channel>,
    /// The contact opted out of text messages (an SMS is refused).
    pub sms_opt_out: bool,
    /// The contact asked not to be called (a call is refused).
    pub do_not_call: bool,
    /// The contact was anonymised (nothing may reach them).
    pub anonymised: bool,
    /// The contact has no valid E.164 phone number (no SMS or call).
    pub no_valid_phone: bool,
    /// It is quiet hours where the contact is (a call is refused; a text waits).
    pub quiet_hours: bool,
}

impl CallFacts {
    /// The facts of an everyday call: `tool` of `kind` on the requester's own records in
    /// `tenant_id`, reaching no one.
    pub fn new(tool: impl Into<String>, kind: ToolKind, tenant_id: Uuid) -> Self {
        CallFacts {
            tool: tool.into(),
            kind,
            tenant_id,
            foreign_owned: false,
            closes_deal: false,
            bulk: false,
            team_scope: false,
            channel: None,
            sms_opt_out: false,
            do_not_call: false,
            anonymised: false,
            no_valid_phone: false,
            quiet_hours: false,
        }
    }
}

/// How a call reaches a person outside Heimdell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Call,
}

impl Channel {
    /// The word seen by the Cedar policies (`"none"` when a call reaches no one).
    pub fn word(channel: Option<Channel>) -> &'static str {
        match channel {
            None => "none",
            Some(Channel::Sms) => "sms",
            Some(Channel::Call) => "call",
        }
    }
}

/// The lowest approver tier that may let a call run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ApproverRole {
    /// The requester themselves may approve it, whatever their role.
    #[serde(rename = "self")]
    SelfApprove,
    /// A manager or an admin of the tenant must approve it.
    #[serde(rename = "manager")]
    Manager,
    /// An admin of the tenant must approve it.
    #[serde(rename = "admin")]
    Admin,
}

impl ApproverRole {
    /// `"self" | "manager" | "admin"`, as stored on a proposed action.
    pub fn as_str(self) -> &'static str {
        match self {
            ApproverRole::SelfApprove => "self",
            ApproverRole::Manager => "manager",
            ApproverRole::Admin => "admin",
        }
    }

    /// Parses `"self" | "manager" | "admin"`.
    pub fn parse(s: &str) -> Result<Self, PolicyError> {
        match s {
            "self" => Ok(ApproverRole::SelfApprove),
            "manager" => Ok(ApproverRole::Manager),
            "admin" => Ok(ApproverRole::Admin),
            other => Err(PolicyError::UnknownApproverRole(other.to_owned())),
        }
    }
}

impl FromStr for ApproverRole {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApproverRole::parse(s)
    }
}

impl fmt::Display for ApproverRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The decision on a proposed call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum ApprovalRequirement {
    /// An allowed read: run it now.
    Skip,
    /// Store it as a pending action until someone of `approver`'s tier approves it.
    NeedsApproval {
        /// The lowest tier that may approve it.
        approver: ApproverRole,
        /// Why that tier, in words shown to the user.
        reason: String,
    },
    /// Not allowed at all; `reason` is shown to the user.
    Forbidden {
        /// Why, in the words of the policies' `@reason` annotations.
        reason: String,
    },
}
