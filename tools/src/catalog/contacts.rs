//! `create_contact` and `update_contact`. Emails are validated, phones normalised to E.164 with
//! the tenant's country, and every changed field lands in the field history.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::common::{Check, Ref, check_refs, checked, foreign, owner_of, record_change};
use crate::domain::{Email, LawfulBasis, Name, Phone, ReasonCode, TimeZone};
use crate::error::ToolError;
use crate::outreach::consent::{self, ConsentChange, ConsentChannel};
use crate::records;
use crate::registry::{Ctx, Facts, Inspection, Tool, ToolKind};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContactArgs {
    /// Given name.
    #[schemars(length(min = 1, max = 100))]
    pub first_name: String,
    /// Family name.
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub last_name: Option<String>,
    /// Email address (checked by Heimdell's own stricter parser, which also trims it).
    #[serde(default)]
    pub email: Option<String>,
    /// Phone number as written; stored in E.164 using the tenant's country when no country code is given.
    #[serde(default)]
    pub phone: Option<String>,
    /// Job title.
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub title: Option<String>,
    /// The company they work for.
    #[serde(default)]
    pub company_id: Option<Uuid>,
    /// The user who owns the contact (default: the requester).
    #[serde(default)]
    pub owner_id: Option<Uuid>,
    /// IANA time zone, e.g. America/Chicago.
    #[serde(default)]
    pub timezone: Option<String>,
    /// GDPR lawful basis for holding their data.
    #[serde(default)]
    pub lawful_basis: Option<LawfulBasis>,
    /// Whether they agreed to marketing.
    #[serde(default)]
    pub marketing_consent: Option<bool>,
}

pub struct NewContact {
    first_name: Name,
    last_name: Option<Name>,
    email: Option<Email>,
    phone: Option<Phone>,
    title: Option<Name>,
    company_id: Option<Uuid>,
    owner_id: Uuid,
    timezone: Option<TimeZone>,
    lawful_basis: Option<LawfulBasis>,
    marketing_consent: bool,
}

impl NewContact {
    fn name(&self) -> String {
        match &self.last_name {
            Some(l) => format!("{} {}", self.first_name, l),
            None => self.first_name.to_string(),
        }
    }
}

pub struct CreateContact;

impl Tool for CreateContact {
    type Args = CreateContactArgs;
    type Input = NewContact;
    const NAME: &'static str = "create_contact";
    const KIND: ToolKind = ToolKind::Write;
    const DESCRIPTION: &'static str =
        "Create a contact (a person). Refused if another contact already has the same email.";

    fn parse(ctx: &Ctx, a: CreateContactArgs) -> Result<NewContact, ToolError> {
        let mut c = Check::default();
        let first_name = c.name("first_name", &a.first_name, 100);
        let last_name = c.opt_name("last_name", a.last_name.as_deref(), 100);
        let email = c.opt("email", a.email.as_deref(), Email::parse);
        let phone = c.opt("phone", a.phone.as_deref(), |s| {
            Phone::parse(s, ctx.country)
        });
        let title = c.opt_name("title", a.title.as_deref(), 200);
        let timezone = c.opt("timezone", a.timezone.as_deref(), TimeZone::parse);
        c.finish()?;
        Ok(NewContact {
            first_name: checked(first_name),
            last_name,
            email,
            phone,
            title,
            company_id: a.company_id,
            owner_id: a.owner_id.unwrap_or(ctx.actor.user_id),
            timezone,
            lawful_basis: a.lawful_basis,
            marketing_consent: a.marketing_consent.unwrap_or(false),
        })
    }

    async fn inspect(
        conn: &mut PgConnection,
        ctx: &Ctx,
        n: &NewContact,
    ) -> Result<Inspection, ToolError> {
        check_refs(
            conn,
            &[
                ("company_id", Ref::Company, n.company_id),
                ("owner_id", Ref::User, Some(n.owner_id)),
            ],
        )
        .await?;
        let mut preview = format!("Create contact {}", n.name());
        if let Some(e) = &n.email {
            preview.push_str(&format!(" <{e}>"));
        }
        if let Some(cid) = n.company_id {
            preview.push_str(&format!(
                " at {}",
                super::common::name_of(conn, Ref::Company, cid).await?
            ));
        }
        Ok(Inspection {
            facts: Facts {
                foreign_owned: foreign(Some(n.owner_id), ctx),
                ..Facts::default()
            },
            preview,
        })
    }

    async fn run(conn: &mut PgConnection, ctx: &Ctx, n: NewContact) -> Result<Value, ToolError> {
        check_refs(
            conn,
            &[
                ("company_id", Ref::Company, n.company_id),
                ("owner_id", Ref::User, Some(n.owner_id)),
            ],
        )
        .await?;
        if let Some(email) = &n.email {
            let existing: Option<(Uuid,)> =
                sqlx::query_as("SELECT id FROM contacts WHERE lower(email) = lower($1) LIMIT 1")
                    .bind(email.as_str())
                    .fetch_optional(&mut *conn)
                    .await?;
            if let Some((id,)) = existing {
                return Err(ToolError::field(
                    "email",
                    format!("contact {id} already has this email"),
                ));
            }
        }
        let (id,): (Uuid,) = sqlx::query_as(
            "INSERT INTO contacts (tenant_id, first_name, last_name, email, phone, title, company_id, owner_id,
                 timezone, lawful_basis, marketing_consent, marketing_consent_at, created_by, created_at, updated_at)
             VALUES (app_tenant(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, CASE WHEN $10 THEN $12 END, $11, $12, $12)
             RETURNING id",
        )
        .bind(n.first_name.as_str())
        .bind(n.last_name.as_ref().map(Name::as_str).unwrap_or(""))
        .bind(n.email.as_ref().map(Email::as_str))
        .bind(n.phone.as_ref().map(Phone::as_str))
        .bind(n.title.as_ref().map(Name::as_str))
        .bind(n.company_id)
        .bind(n.owner_id)
        .bind(n.timezone.map(|t| t.name()))
        .bind(n.lawful_basis.map(|b| b.as_str()))
        .bind(n.marketing_consent)
        .bind(ctx.actor.user_id)
        .bind(ctx.now)
        .fetch_one(&mut *conn)
        .await?;
        let contact = records::get_contact(conn, id).await?;
        Ok(json!({ "contact": contact }))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateContactArgs {
    /// The contact to change.
    pub contact_id: Uuid,
    /// The version you read; the update is refused if the contact changed since.
    #[serde(default)]
    pub expected_version: Option<i32>,
    #[serde(default)]
    #[schemars(length(min = 1, max = 100))]
    pub first_name: Option<String>,
    /// Family name; an empty string clears it.
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub last_name: Option<String>,
    /// Email address; an empty string clears it.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone number; an empty string clears it.
    #[serde(default)]
    pub phone: Option<String>,
    /// Job title; an empty string clears it.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub company_id: Option<Uuid>,
    #[serde(default)]
    pub owner_id: Option<Uuid>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub lawful_basis: Option<LawfulBasis>,
    #[serde(default)]
    pub marketing_consent: Option<bool>,
    /// True when the contact asked not to be emailed.
    #[serde(default)]
    pub email_opt_out: Option<bool>,
    /// True when the contact asked not to be texted.
    #[serde(default)]
    pub sms_opt_out: Option<bool>,
    /// True when the contact asked not to be called.
    #[serde(default)]
    pub do_not_call: Option<bool>,
    /// Why the change is made, e.g. `customer_request`.
    #[serde(default)]
    pub reason_code: Option<String>,
}

/// One column to set: name, new value (JSON null clears), and how to bind it.
enum NewValue {
    Text(Option<String>),
    Id(Uuid),
    Flag(bool),
}

pub struct ContactUpdate {
    contact_id: Uuid,
    expected_version: Option<i32>,
    changes: Vec<(&'static str, NewValue)>,
    reason: Option<ReasonCode>,
}

impl ContactUpdate {
    /// The new id of a reference column, if the update sets it.
    fn new_id(&self, field: &str) -> Option<Uuid> {
        self.changes.iter().find_map(|(f, v)| match v {
            NewValue::Id(id) if *f == field => Some(*id),
            _ => None,
        })
    }

    /// Checks that the company and owner the update points to exist in this workspace: at
    /// proposal, so an id that was made up (or belongs to another workspace, which looks the
    /// same) is refused then, and again when it runs.
    async fn check_refs(&self, conn: &mut PgConnection) -> Result<(), ToolError> {
        check_refs(
            conn,
            &[
                ("company_id", Ref::Company, self.new_id("company_id")),
                ("owner_id", Ref::User, self.new_id("owner_id")),
            ],
        )
        .await
    }
}

fn clearable<T>(
    c: &mut Check,
    field: &str,
    v: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<Option<T>> {
    match v {
        None => None,
        Some(s) if s.trim().is_empty() => Some(None),
        Some(s) => c.req(field, s, parse).map(Some),
    }
}

pub struct UpdateContact;

impl Tool for UpdateContact {
    type Args = UpdateContactArgs;
    type Input = ContactUpdate;
    const NAME: &'static str = "update_contact";
    const KIND: ToolKind = ToolKind::Write;
    const DESCRIPTION: &'static str = "Change fields of a contact, including consent flags. Only the fields given change; each change is kept in the field history.";

    fn parse(ctx: &Ctx, a: UpdateContactArgs) -> Result<ContactUpdate, ToolError> {
        let mut c = Check::default();
        let mut changes: Vec<(&'static str, NewValue)> = Vec::new();
        if let Some(t) = c.opt_name("first_name", a.first_name.as_deref(), 100) {
            changes.push(("first_name", NewValue::Text(Some(t.into_string()))));
        }
        // The column is never null: an empty last name is stored as "".
        if let Some(v) = clearable(&mut c, "last_name", a.last_name.as_deref(), |s| {
            Name::parse(s, 100)
        }) {
            let v = v.map(Name::into_string).unwrap_or_default();
            changes.push(("last_name", NewValue::Text(Some(v))));
        }
        if let Some(v) = clearable(&mut c, "email", a.email.as_deref(), Email::parse) {
            changes.push(("email", NewValue::Text(v.map(|e| e.as_str().to_string()))));
        }
        if let Some(v) = clearable(&mut c, "phone", a.phone.as_deref(), |s| {
            Phone::parse(s, ctx.country)
        }) {
            changes.push(("phone", NewValue::Text(v.map(|p| p.as_str().to_string()))));
        }
        if let Some(v) = clearable(&mut c, "title", a.title.as_deref(), |s| Name::parse(s, 200)) {
            changes.push(("title", NewValue::Text(v.map(Name::into_string))));
        }
        if let Some(v) = clearable(&mut c, "timezone", a.timezone.as_deref(), TimeZone::parse) {
            changes.push(("timezone", NewValue::Text(v.map(|t| t.name().to_string()))));
        }
        if let Some(id) = a.company_id {
            changes.push(("company_id", NewValue::Id(id)));
        }
        if let Some(id) = a.owner_id {
            changes.push(("owner_id", NewValue::Id(id)));
        }
        if let Some(b) = a.lawful_basis {
            changes.push(("lawful_basis", NewValue::Text(Some(b.as_str().to_string()))));
        }
        for (name, flag) in [
            ("marketing_consent", a.marketing_consent),
            ("email_opt_out", a.email_opt_out),
            ("sms_opt_out", a.sms_opt_out),
            ("do_not_call", a.do_not_call),
        ] {
            if let Some(f) = flag {
                changes.push((name, NewValue::Flag(f)));
            }
        }
        let reason = c.opt("reason_code", a.reason_code.as_deref(), ReasonCode::parse);
        // A field given but refused is named; "nothing to change" would only mislead.
        if changes.is_empty() && c.is_clean() {
            c.push("", "give at least one field to change");
        }
        c.finish()?;
        Ok(ContactUpdate {
            contact_id: a.contact_id,
            expected_version: a.expected_version,
            changes,
            reason,
        })
    }

    async fn inspect(
        conn: &mut PgConnection,
        ctx: &Ctx,
        u: &ContactUpdate,
    ) -> Result<Inspection, ToolError> {
        let owner = owner_of(conn, Ref::Contact, u.contact_id).await?;
        u.check_refs(conn).await?;
        let name = super::common::name_of(conn, Ref::Contact, u.contact_id).await?;
        let fields: Vec<String> = u
            .changes
            .iter()
            .map(|(f, v)| match v {
                NewValue::Text(Some(s)) => format!("{f} → “{s}”"),
                NewValue::Text(None) => format!("clear {f}"),
                NewValue::Id(id) => format!("{f} → {id}"),
                NewValue::Flag(b) => format!("{f} → {b}"),
            })
            .collect();
        // Giving the contact to someone else counts as changing a record you do not keep.
        let reassigns = u.changes.iter().any(|(f, v)| {
            *f == "owner_id" && matches!(v, NewValue::Id(id) if *id != ctx.actor.user_id)
        });
        Ok(Inspection {
            facts: Facts {
                foreign_owned: foreign(owner, ctx) || reassigns,
                ..Facts::default()
            },
            preview: format!("Update contact {name}: {}", fields.join(", ")),
        })
    }

    async fn run(conn: &mut PgConnection, ctx: &Ctx, u: ContactUpdate) -> Result<Value, ToolError> {
        u.check_refs(conn).await?;
        // Lock the row so the version check and the update see the same state.
        let current: Option<(Value, i32)> = sqlx::query_as(
            "SELECT to_jsonb(c) - 'search_text', version FROM contacts c WHERE id = $1 FOR UPDATE",
        )
        .bind(u.contact_id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((before, version)) = current else {
            return Err(ToolError::NotFound {
                entity: "contact",
                id: u.contact_id.to_string(),
            });
        };
        if let Some(expected) = u.expected_version
            && expected != version
        {
            return Err(ToolError::Conflict(format!(
                "contact {} is at version {version}, not {expected}; read it again",
                u.contact_id
            )));
        }
        let mut changed = Vec::new();
        // Every other field goes into one UPDATE, so the row (and its search postings) is
        // rewritten once per edit, with the version bump.
        let mut update = sqlx::QueryBuilder::<sqlx::Postgres>::new("UPDATE contacts SET ");
        let mut consent_bumped_version = false;
        let mut other_fields = 0;
        for (field, value) in &u.changes {
            let new_json = match value {
                NewValue::Text(s) => json!(s),
                NewValue::Id(id) => json!(id),
                NewValue::Flag(b) => json!(b),
            };
            let old_json = before.get(*field).cloned().unwrap_or(Value::Null);
            if old_json == new_json {
                continue;
            }
            // Consent flags change through the consent history, like `record_consent`: the
            // flag is only ever the mirror of the latest event, so sends (which read the flag)
            // and the history (which audits read) can never disagree.
            if let (Some(channel), NewValue::Flag(b)) = (ConsentChannel::for_column(field), value) {
                let recorded = consent::record(
                    conn,
                    &ConsentChange {
                        contact_id: u.contact_id,
                        channel,
                        status: channel.status_for(*b),
                        source: "contact edit",
                        lawful_basis: None,
                        note: u.reason.as_ref().map(ReasonCode::as_str),
                        recorded_by: Some(ctx.actor.user_id),
                        action_id: ctx.action_id,
                        message_id: None,
                        at: ctx.now,
                    },
                )
                .await?;
                consent_bumped_version |= recorded.flag_changed;
                changed.push(*field);
                continue;
            }
            // Column names come from this module's fixed list, never from input.
            update.push(*field).push(" = ");
            match value {
                NewValue::Text(s) => update.push_bind(s.clone()),
                NewValue::Id(id) => update.push_bind(*id),
                NewValue::Flag(b) => update.push_bind(*b),
            };
            update.push(", ");
            other_fields += 1;
            record_change(
                conn,
                ctx,
                "contact",
                u.contact_id,
                field,
                old_json,
                new_json,
                u.reason.as_ref().map(ReasonCode::as_str),
                None,
            )
            .await?;
            changed.push(*field);
        }
        if other_fields > 0 {
            // One version step per edit: a consent change that moved a flag already took it.
            let bump = if consent_bumped_version {
                ""
            } else {
                "version = version + 1, "
            };
            update
                .push(bump)
                .push("updated_at = ")
                .push_bind(ctx.now)
                .push(" WHERE id = ")
                .push_bind(u.contact_id);
            update.build().execute(&mut *conn).await?;
        }
        let contact = records::get_contact(conn, u.contact_id).await?;
        Ok(json!({ "contact": contact, "changed": changed }))
    }
}
