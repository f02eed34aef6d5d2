//! Scenario table: role × tool × facts → decision, for proposals and approvals.

use heimdell_policies::{
    ApprovalRequirement, ApproverRole, CallFacts, Channel, PolicyEngine, Principal, Role, ToolKind,
};
use uuid::Uuid;

const TENANT: Uuid = Uuid::from_u128(0xA);
const OTHER_TENANT: Uuid = Uuid::from_u128(0xB);

fn user(n: u128, role: Role, tenant: Uuid) -> Principal {
    Principal {
        user_id: Uuid::from_u128(0x1000 + n),
        tenant_id: tenant,
        role,
    }
}

fn call(tool: &str, kind: ToolKind) -> CallFacts {
    CallFacts::new(tool, kind, TENANT)
}

fn engine() -> PolicyEngine {
    PolicyEngine::embedded().expect("embedded policies load")
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Skip,
    Needs(ApproverRole),
    Forbidden,
}

struct ProposalCase {
    name: &'static str,
    role: Role,
    tool: &'static str,
    kind: ToolKind,
    tweak: fn(&mut CallFacts),
    want: Want,
    /// A piece of the reason the user must see.
    reason: &'static str,
}

fn none(_: &mut CallFacts) {}

#[test]
fn proposal_table() {
    use ApproverRole as A;
    use Role::*;
    use ToolKind::*;
    let reads = [
        "search",
        "get_contact",
        "get_company",
        "get_deal",
        "list_tasks",
        "daily_focus",
        "draft_sms",
        "list_sms_templates",
    ];
    let writes = [
        "create_contact",
        "update_contact",
        "create_company",
        "create_deal",
        "create_task",
        "complete_task",
        "log_activity",
        "move_deal_stage",
        "set_call_disposition",
        "record_consent",
        "create_sms_template",
    ];
    let mut cases = Vec::new();
    // Every listed tool, every role: reads run now, ordinary writes wait for the requester.
    for role in Role::ALL {
        for tool in reads {
            cases.push(ProposalCase {
                name: "listed read",
                role,
                tool,
                kind: Read,
                tweak: none,
                want: Want::Skip,
                reason: "",
            });
        }
        for tool in writes {
            cases.push(ProposalCase {
                name: "listed write",
                role,
                tool,
                kind: Write,
                tweak: none,
                want: Want::Needs(A::SelfApprove),
                reason: "Changes need your approval before they run.",
            });
        }
    }
    cases.extend([
        ProposalCase {
            name: "cross-tenant read",
            role: Admin,
            tool: "search",
            kind: Read,
            tweak: |c| c.tenant_id = OTHER_TENANT,
            want: Want::Forbidden,
            reason: "your own workspace",
        },
        ProposalCase {
            name: "cross-tenant write",
            role: Manager,
            tool: "update_contact",
            kind: Write,
            tweak: |c| c.tenant_id = OTHER_TENANT,
            want: Want::Forbidden,
            reason: "your own workspace",
        },
        ProposalCase {
            name: "unknown tool",
            role: Admin,
            tool: "drop_database",
            kind: Destructive,
            tweak: none,
            want: Want::Forbidden,
            reason: "No policy allows an admin to use the tool `drop_database`.",
        },
        ProposalCase {
            name: "unknown read tool",
            role: Rep,
            tool: "export_everything",
            kind: Read,
            tweak: none,
            want: Want::Forbidden,
            reason: "`export_everything`",
        },
        ProposalCase {
            name: "write tool presented as a read",
            role: Admin,
            tool: "update_contact",
            kind: Read,
            tweak: none,
            want: Want::Forbidden,
            reason: "`update_contact`",
        },
        ProposalCase {
            name: "rep changes a record someone else owns",
            role: Rep,
            tool: "update_contact",
            kind: Write,
            tweak: |c| c.foreign_owned = true,
            want: Want::Forbidden,
            reason: "Reps can only change records they own or that are unowned.",
        },
        ProposalCase {
            name: "manager changes a record someone else owns",
            role: Manager,
            tool: "update_contact",
            kind: Write,
            tweak: |c| c.foreign_owned = true,
            want: Want::Needs(A::SelfApprove),
            reason: "Changes need your approval",
        },
        ProposalCase {
            name: "admin changes a record someone else owns",
            role: Admin,
            tool: "create_task",
            kind: Write,
            tweak: |c| c.foreign_owned = true,
            want: Want::Needs(A::SelfApprove),
            reason: "",
        },
        ProposalCase {
            name: "rep reads the team's focus list",
            role: Rep,
            tool: "daily_focus",
            kind: Read,
            tweak: |c| c.team_scope = true,
            want: Want::Forbidden,
            reason: "team-wide views are for managers and admins",
        },
        ProposalCase {
            name: "manager reads the team's focus list",
            role: Manager,
            tool: "daily_focus",
            kind: Read,
            tweak: |c| c.team_scope = true,
            want: Want::Skip,
            reason: "",
        },
        ProposalCase {
            name: "admin reads the team's focus list",
            role: Admin,
            tool: "daily_focus",
            kind: Read,
            tweak: |c| c.team_scope = true,
            want: Want::Skip,
            reason: "",
        },
        ProposalCase {
            name: "rep closes a deal",
            role: Rep,
            tool: "move_deal_stage",
            kind: Write,
            tweak: |c| c.closes_deal = true,
            want: Want::Needs(A::Manager),
            reason: "Moving a deal to a won or lost stage needs a manager.",
        },
        ProposalCase {
            name: "manager closes a deal",
            role: Manager,
            tool: "move_deal_stage",
            kind: Write,
            tweak: |c| c.closes_deal = true,
            want: Want::Needs(A::Manager),
            reason: "Moving a deal to a won or lost stage needs a manager.",
        },
        ProposalCase {
            name: "admin closes a deal",
            role: Admin,
            tool: "move_deal_stage",
            kind: Write,
            tweak: |c| c.closes_deal = true,
            want: Want::Needs(A::Manager),
            reason: "",
        },
        ProposalCase {
            name: "rep bulk overwrite",
            role: Rep,
            tool: "update_contact",
            kind: Write,
            tweak: |c| c.bulk = true,
            want: Want::Needs(A::Admin),
            reason: "needs an admin",
        },
        ProposalCase {
            name: "manager bulk overwrite",
            role: Manager,
            tool: "update_contact",
            kind: Write,
            tweak: |c| c.bulk = true,
            want: Want::Needs(A::Admin),
            reason: "needs an admin",
        },
        ProposalCase {
            name: "destructive listed tool",
            role: Rep,
            tool: "complete_task",
            kind: Destructive,
            tweak: none,
            want: Want::Needs(A::Admin),
            reason: "needs an admin",
        },
        ProposalCase {
            name: "bulk deal closing needs the higher tier",
            role: Manager,
            tool: "move_deal_stage",
            kind: Write,
            tweak: |c| {
                c.closes_deal = true;
                c.bulk = true;
            },
            want: Want::Needs(A::Admin),
            reason: "needs an admin",
        },
        ProposalCase {
            name: "contact kind, ordinary",
            role: Rep,
            tool: "log_activity",
            kind: Contact,
            tweak: none,
            want: Want::Needs(A::SelfApprove),
            reason: "",
        },
    ]);

    let engine = engine();
    let mut failures = Vec::new();
    for case in &cases {
        let requester = user(1, case.role, TENANT);
        let mut facts = call(case.tool, case.kind);
        (case.tweak)(&mut facts);
        let got = engine.on_proposal(&requester, &facts);
        let (variant, reason) = match &got {
            ApprovalRequirement::Skip => (Want::Skip, ""),
            ApprovalRequirement::NeedsApproval { approver, reason } => {
                (Want::Needs(*approver), reason.as_str())
            }
            ApprovalRequirement::Forbidden { reason } => (Want::Forbidden, reason.as_str()),
        };
        if variant != case.want || !reason.contains(case.reason) {
            failures.push(format!(
                "{} ({} / {} / {:?}): want {:?} with reason containing {:?}, got {:?}",
                case.name, case.role, case.tool, case.kind, case.want, case.reason, got
            ));
        }
        if matches!(variant, Want::Needs(_) | Want::Forbidden) && reason.trim().is_empty() {
            failures.push(format!("{}: empty reason", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Who approves, relative to the requester.
#[derive(Debug, Clone, Copy)]
enum Approver {
    /// The requester themselves.
    Themselves,
    /// Another user of this role in the same tenant.
    Colleague(Role),
    /// A user of this role in another tenant.
    Outsider(Role),
}

struct ApprovalCase {
    name: &'static str,
    requester: Role,
    approver: Approver,
    tool: &'static str,
    kind: ToolKind,
    /// Facts at proposal time (applied to both).
    tweak: fn(&mut CallFacts),
    /// Facts that changed between proposal and approval.
    changed: fn(&mut CallFacts),
    /// `None`: allowed; `Some(piece)`: denied with a reason containing `piece`.
    denied: Option<&'static str>,
}

#[test]
fn approval_table() {
    use Approver::*;
    use Role::*;
    use ToolKind::*;
    let cases = [
        ApprovalCase {
            name: "rep approves own ordinary write",
            requester: Rep,
            approver: Themselves,
            tool: "update_contact",
            kind: Write,
            tweak: none,
            changed: none,
            denied: None,
        },
        ApprovalCase {
            name: "rep approves own contact call",
            requester: Rep,
            approver: Themselves,
            tool: "log_activity",
            kind: Contact,
            tweak: none,
            changed: none,
            denied: None,
        },
        ApprovalCase {
            name: "rep approves another rep's call",
            requester: Rep,
            approver: Colleague(Rep),
            tool: "update_contact",
            kind: Write,
            tweak: none,
            changed: none,
            denied: Some("Reps can only approve their own requests."),
        },
        ApprovalCase {
            name: "manager approves a rep's ordinary write",
            requester: Rep,
            approver: Colleague(Manager),
            tool: "create_task",
            kind: Write,
            tweak: none,
            changed: none,
            denied: None,
        },
        ApprovalCase {
            name: "admin approves a rep's ordinary write",
            requester: Rep,
            approver: Colleague(Admin),
            tool: "create_task",
            kind: Write,
            tweak: none,
            changed: none,
            denied: None,
        },
        ApprovalCase {
            name: "rep approves own deal closing",
            requester: Rep,
            approver: Themselves,
            tool: "move_deal_stage",
            kind: Write,
            tweak: |c| c.closes_deal = true,
            changed: none,
            denied: Some("needs a manager"),
        },
        ApprovalCase {
            name: "manager approves a rep's deal closing",
            requester: Rep,
            approver: Colleague(Manager),
            tool: "move_deal_stage",
            kind: Write,
            tweak: |c| c.closes_deal = true,
            changed: none,
            denied: None,
        },
        ApprovalCase {
            name: "manager approves own deal closing",
            requester: Manager,
            approver: Themselves,
            tool: "move_deal_stage",
            kind: Write,
            tweak: |c| c.closes_deal = true,
            changed: none,
            denied: None,
        },
        ApprovalCase {
            name: "manager approves a destructive call",
            requester: Rep,
            approver: Colleague(Manager),
            tool: "complete_task",
            kind: Destructive,
            tweak: none,
            changed: none,
            denied: Some("needs an admin"),
        },
        ApprovalCase {
            name: "manager approves own bulk call",
            requester: Manager,
            approver: Themselves,
            tool: "update_contact",
            kind: Write,
            tweak: |c| c.bulk = true,
            changed: none,
            denied: Some("needs an admin"),
        },
        ApprovalCase {
            name: "admin approves a destructive call",
            requester: Rep,
            approver: Colleague(Admin),
            tool: "complete_task",
            kind: Destructive,
            tweak: none,
            changed: none,
            denied: None,
        },
        ApprovalCase {
            name: "admin approves a bulk call",
            requester: Manager,
            approver: Colleague(Admin),
            tool: "update_contact",
            kind: Write,
            tweak: |c| c.bulk = true,
            changed: none,
            denied: None,
        },
        ApprovalCase {
            name: "admin of another tenant",
            requester: Rep,
            approver: Outsider(Admin),
            tool: "update_contact",
            kind: Write,
            tweak: none,
            changed: none,
            denied: Some("your own workspace"),
        },
        ApprovalCase {
            name: "manager of another tenant closes a deal",
            requester: Rep,
            approver: Outsider(Manager),
            tool: "move_deal_stage",
            kind: Write,
            tweak: |c| c.closes_deal = true,
            changed: none,
            denied: Some("your own workspace"),
        },
        ApprovalCase {
            name: "record changed owner since the proposal (rep requester, self approval)",
            requester: Rep,
            approver: Themselves,
            tool: "update_contact",
            kind: Write,
            tweak: none,
            changed: |c| c.foreign_owned = true,
            denied: Some("Reps can only change records they own or that are unowned."),
        },
        ApprovalCase {
            name: "record changed owner since the proposal (rep requester, manager approval)",
            requester: Rep,
            approver: Colleague(Manager),
            tool: "update_contact",
            kind: Write,
            tweak: none,
            changed: |c| c.foreign_owned = true,
            denied: Some("no longer allowed"),
        },
        ApprovalCase {
            name: "manager requester, record changed owner: still fine",
            requester: Manager,
            approver: Themselves,
            tool: "update_contact",
            kind: Write,
            tweak: none,
            changed: |c| c.foreign_owned = true,
            denied: None,
        },
        ApprovalCase {
            name: "the change now closes the deal (rep approving own)",
            requester: Rep,
            approver: Themselves,
            tool: "move_deal_stage",
            kind: Write,
            tweak: none,
            changed: |c| c.closes_deal = true,
            denied: Some("needs a manager"),
        },
        ApprovalCase {
            name: "reads are not approvable",
            requester: Rep,
            approver: Colleague(Admin),
            tool: "search",
            kind: Read,
            tweak: none,
            changed: none,
            denied: Some("No policy allows an admin to approve the tool `search`."),
        },
        ApprovalCase {
            // The approver is in the requester's tenant, not the call's: `tenant-boundary`
            // refuses. `requester_outside_the_calls_tenant_cannot_be_approved` covers the
            // approver who is in the call's tenant.
            name: "cross-tenant call, approver in the requester's tenant",
            requester: Rep,
            approver: Colleague(Admin),
            tool: "update_contact",
            kind: Write,
            tweak: |c| c.tenant_id = OTHER_TENANT,
            changed: none,
            denied: Some("your own workspace"),
        },
    ];

    let engine = engine();
    let mut failures = Vec::new();
    for case in &cases {
        let requester = user(1, case.requester, TENANT);
        let approver = match case.approver {
            Approver::Themselves => requester,
            Approver::Colleague(role) => user(2, role, TENANT),
            Approver::Outsider(role) => user(3, role, OTHER_TENANT),
        };
        let mut facts = call(case.tool, case.kind);
        (case.tweak)(&mut facts);
        (case.changed)(&mut facts);
        let got = engine.on_approval(&requester, &approver, &facts);
        let ok = match (&got, case.denied) {
            (Ok(()), None) => true,
            (Err(reason), Some(piece)) => reason.contains(piece),
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{}: want {:?}, got {:?}",
                case.name,
                case.denied
                    .map_or("allowed".to_owned(), |p| format!("denied: {p}")),
                got
            ));
        }
        // When the requester may still propose, can_approve agrees with on_approval.
        if engine.on_proposal(&requester, &facts).is_allowed()
            && engine.can_approve(&requester, &approver, &facts) != got.is_ok()
        {
            failures.push(format!(
                "{}: can_approve disagrees with on_approval",
                case.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A call in TENANT proposed by someone in OTHER_TENANT, shown to an admin of TENANT. The
/// approver and the call share a tenant, so `tenant-boundary` is satisfied and the admin's role
/// is enough for `manager-approve`: only `requester-tenant-boundary` can refuse.
#[test]
fn requester_outside_the_calls_tenant_cannot_be_approved() {
    const REASON: &str = "This request came from outside the workspace it touches.";
    let outsider = user(1, Role::Rep, OTHER_TENANT);
    let insider = user(5, Role::Rep, TENANT);
    let admin = user(2, Role::Admin, TENANT);
    let facts = call("update_contact", ToolKind::Write);
    let engine = engine();

    assert!(
        !engine.can_approve(&outsider, &admin, &facts),
        "an admin of the call's tenant must not approve a request from another tenant"
    );
    assert!(engine.on_approval(&outsider, &admin, &facts).is_err());
    // Control: the same admin and call, the requester moved into the call's tenant.
    assert!(engine.can_approve(&insider, &admin, &facts));

    // With `requester-tenant-boundary` gone nothing else refuses: it is the deciding rule.
    let without = engine_without(&["requester-tenant-boundary"]);
    assert!(
        without.can_approve(&outsider, &admin, &facts),
        "some policy besides requester-tenant-boundary refuses this approval"
    );

    // `on_approval` re-checks the proposal first, and `tenant-boundary` refuses that, so the
    // approval's own reason only shows once `tenant-boundary` is set aside: it must be
    // `requester-tenant-boundary`'s @reason and nothing else.
    let approve_side = engine_without(&["tenant-boundary"]);
    assert!(!approve_side.can_approve(&outsider, &admin, &facts));
    assert_eq!(
        approve_side.on_approval(&outsider, &admin, &facts),
        Err(REASON.to_owned())
    );
}

/// The real policy files with the policies of the given `@id`s removed, loaded from a
/// temporary folder.
fn engine_without(ids: &[&str]) -> PolicyEngine {
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let dir = std::env::temp_dir().join(format!("heimdell-policies-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut removed = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        let Some(ext @ ("cedar" | "cedarschema")) = path.extension().and_then(|e| e.to_str())
        else {
            continue;
        };
        let mut text = std::fs::read_to_string(&path).unwrap();
        if ext == "cedar" {
            for id in ids {
                let marker = format!("@id(\"{id}\")");
                if let Some(start) = text.find(&marker) {
                    // A policy runs from its annotations to the `;` that ends it.
                    let end = start + text[start..].find(";\n").expect("policy ends") + 2;
                    text.replace_range(start..end, "");
                    removed += 1;
                }
            }
        }
        std::fs::write(dir.join(path.file_name().unwrap()), text).unwrap();
    }
    let engine = PolicyEngine::load_dir(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        removed,
        ids.len(),
        "every policy id in {ids:?} was found once"
    );
    engine.expect("the policies load without the removed ones")
}

/// The tier `on_proposal` names is exactly the lowest tier that can approve.
#[test]
fn named_tier_can_approve_and_the_tier_below_cannot() {
    let engine = engine();
    let variants: [fn(&mut CallFacts); 5] = [
        none,
        |c| c.closes_deal = true,
        |c| c.bulk = true,
        |c| c.kind = ToolKind::Destructive,
        |c| c.kind = ToolKind::Contact,
    ];
    for role in Role::ALL {
        let requester = user(1, role, TENANT);
        for tweak in variants {
            let mut facts = call("move_deal_stage", ToolKind::Write);
            tweak(&mut facts);
            let ApprovalRequirement::NeedsApproval { approver, .. } =
                engine.on_proposal(&requester, &facts)
            else {
                panic!("{role} {facts:?} should need approval");
            };
            let rep = user(2, Role::Rep, TENANT);
            let manager = user(3, Role::Manager, TENANT);
            let admin = user(4, Role::Admin, TENANT);
            let can = |p: &Principal| engine.on_approval(&requester, p, &facts).is_ok();
            match approver {
                ApproverRole::SelfApprove => {
                    assert!(can(&requester), "{role} self {facts:?}");
                    assert!(!can(&rep), "another rep never approves");
                    assert!(can(&manager) && can(&admin));
                }
                ApproverRole::Manager => {
                    assert!(role == Role::Rep || can(&requester));
                    assert!(role != Role::Rep || !can(&requester));
                    assert!(!can(&rep) && can(&manager) && can(&admin));
                }
                ApproverRole::Admin => {
                    assert_eq!(can(&requester), role == Role::Admin);
                    assert!(!can(&rep) && !can(&manager) && can(&admin));
                }
            }
        }
    }
}

#[test]
fn approver_role_words() {
    assert_eq!(ApproverRole::SelfApprove.as_str(), "self");
    assert_eq!(
        serde_json::to_string(&ApproverRole::SelfApprove).unwrap(),
        "\"self\""
    );
    assert_eq!(
        serde_json::to_value(ApprovalRequirement::NeedsApproval {
            approver: ApproverRole::Manager,
            reason: "r".into()
        })
        .unwrap(),
        serde_json::json!({"decision": "needs_approval", "approver": "manager", "reason": "r"})
    );
    for role in Role::ALL {
        assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
    }
    assert!("owner".parse::<Role>().is_err());
    assert_eq!(
        "destructive".parse::<ToolKind>().unwrap(),
        ToolKind::Destructive
    );
    assert_eq!(
        "self".parse::<ApproverRole>().unwrap(),
        ApproverRole::SelfApprove
    );
}

trait Allowed {
    fn is_allowed(&self) -> bool;
}
impl Allowed for ApprovalRequirement {
    fn is_allowed(&self) -> bool {
        !matches!(self, ApprovalRequirement::Forbidden { .. })
    }
}

fn sms(c: &mut CallFacts) {
    c.channel = Some(Channel::Sms);
}

fn phone_call(c: &mut CallFacts) {
    c.channel = Some(Channel::Call);
}

/// Texting and calling: allowed to everyone (after approval) unless the contact's consent
/// facts forbid it, and then with the policy's own words, at proposal and at approval.
#[test]
fn consent_rules_for_texts_and_calls() {
    use ToolKind::Contact;
    let engine = engine();
    type Tweak = fn(&mut CallFacts);
    let cases: [(&str, &str, Tweak, Option<&str>); 13] = [
        ("send_sms", "ordinary text", |c| sms(c), None),
        ("start_call", "ordinary call", |c| phone_call(c), None),
        (
            "send_sms",
            "opted out of SMS",
            |c| {
                sms(c);
                c.sms_opt_out = true
            },
            Some("opted out of text messages"),
        ),
        (
            "start_call",
            "opted out of SMS may still be called",
            |c| {
                phone_call(c);
                c.sms_opt_out = true
            },
            None,
        ),
        (
            "start_call",
            "do not call",
            |c| {
                phone_call(c);
                c.do_not_call = true
            },
            Some("asked not to be called"),
        ),
        (
            "send_sms",
            "do not call may still be texted",
            |c| {
                sms(c);
                c.do_not_call = true
            },
            None,
        ),
        (
            "send_sms",
            "anonymised, text",
            |c| {
                sms(c);
                c.anonymised = true
            },
            Some("anonymised"),
        ),
        (
            "start_call",
            "anonymised, call",
            |c| {
                phone_call(c);
                c.anonymised = true
            },
            Some("anonymised"),
        ),
        (
            "send_sms",
            "no valid number, text",
            |c| {
                sms(c);
                c.no_valid_phone = true
            },
            Some("E.164"),
        ),
        (
            "start_call",
            "no valid number, call",
            |c| {
                phone_call(c);
                c.no_valid_phone = true
            },
            Some("E.164"),
        ),
        (
            "start_call",
            "quiet hours, call",
            |c| {
                phone_call(c);
                c.quiet_hours = true
            },
            Some("quiet hours"),
        ),
        (
            "send_sms",
            "quiet hours, text waits (not forbidden)",
            |c| {
                sms(c);
                c.quiet_hours = true
            },
            None,
        ),
        (
            "send_sms",
            "rep texts someone else's contact",
            |c| {
                sms(c);
                c.foreign_owned = true
            },
            Some("own"),
        ),
    ];
    let mut failures = Vec::new();
    for role in Role::ALL {
        let requester = user(1, role, TENANT);
        for (tool, name, tweak, denied) in cases {
            let mut facts = call(tool, Contact);
            tweak(&mut facts);
            // Ownership is a rep rule only.
            let denied = if name.starts_with("rep ") && role != Role::Rep {
                None
            } else {
                denied
            };
            let got = engine.on_proposal(&requester, &facts);
            match (denied, &got) {
                (
                    None,
                    ApprovalRequirement::NeedsApproval {
                        approver: ApproverRole::SelfApprove,
                        ..
                    },
                ) => {}
                (Some(piece), ApprovalRequirement::Forbidden { reason })
                    if reason.contains(piece) => {}
                _ => failures.push(format!(
                    "{role} {name}: want denied={denied:?}, got {got:?}"
                )),
            }
            // The same facts at approval time decide the same way.
            let approved = engine.on_approval(&requester, &requester, &facts);
            match (denied, &approved) {
                (None, Ok(())) => {}
                (Some(piece), Err(reason)) if reason.contains(piece) => {}
                _ => failures.push(format!(
                    "{role} {name} at approval: want denied={denied:?}, got {approved:?}"
                )),
            }
        }
    }
    // A STOP between proposal and approval: allowed when proposed, refused when approved.
    let rep = user(1, Role::Rep, TENANT);
    let mut facts = call("send_sms", Contact);
    sms(&mut facts);
    assert!(engine.on_proposal(&rep, &facts).is_allowed());
    facts.sms_opt_out = true;
    let manager = user(2, Role::Manager, TENANT);
    let err = engine.on_approval(&rep, &manager, &facts).unwrap_err();
    assert!(
        err.contains("no longer allowed") && err.contains("opted out"),
        "{err}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// connect_twilio: an admin may ask for it (and approve it); nobody else may do either.
#[test]
fn connect_twilio_is_admin_only() {
    let engine = engine();
    let facts = call("connect_twilio", ToolKind::Write);
    let admin = user(1, Role::Admin, TENANT);
    let other_admin = user(2, Role::Admin, TENANT);
    match engine.on_proposal(&admin, &facts) {
        ApprovalRequirement::NeedsApproval { approver, .. } => {
            assert_eq!(approver, ApproverRole::Admin)
        }
        other => panic!("admin should be able to propose: {other:?}"),
    }
    assert!(engine.on_approval(&admin, &admin, &facts).is_ok());
    assert!(engine.on_approval(&admin, &other_admin, &facts).is_ok());
    for role in [Role::Rep, Role::Manager] {
        let p = user(3, role, TENANT);
        match engine.on_proposal(&p, &facts) {
            ApprovalRequirement::Forbidden { reason } => {
                assert!(
                    reason.contains("Only an admin may connect Twilio"),
                    "{reason}"
                )
            }
            other => panic!("{role} must not propose connect_twilio: {other:?}"),
        }
        assert!(
            engine.on_approval(&admin, &p, &facts).is_err(),
            "{role} approves"
        );
    }
    // Presented as another kind, it is still not allowed.
    let mut sneaky = call("connect_twilio", ToolKind::Read);
    sneaky.kind = ToolKind::Read;
    assert!(!engine.on_proposal(&admin, &sneaky).is_allowed());
}
