//! `record_consent`: a contact granted or withdrew consent for a channel. Kept as history; the
//! latest event wins and sets the contact's flag (sms_opt_out, do_not_call, …).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::common::{Check, Ref, checked, foreign, name_of, owner_of};
use crate::domain::{LawfulBasis, Name, Text};
use crate::error::ToolError;
use crate::outreach::consent::{self, ConsentChange, ConsentChannel, ConsentStatus};
use crate::records;
use crate::registry::{Ctx, Facts, Inspection, Tool, ToolKind};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordConsentArgs {
    pub contact_id: Uuid,
    /// sms (withdrawn = opted out of texts), call (withdrawn = do not call), email, or
    /// marketing (granted = marketing consent).
    pub channel: ConsentChannel,
    /// granted or withdrawn.
    pub status: ConsentStatus,
    /// Where the consent was given or withdrawn, e.g. "phone call", "web form", "in person".
    #[schemars(length(min = 1, max = 200))]
    pub source: String,
    /// The GDPR lawful basis this rests on.
    #[serde(default)]
    pub lawful_basis: Option<LawfulBasis>,
    #[serde(default)]
    #[schemars(length(max = 2000))]
    pub note: Option<String>,
}

pub struct NewConsent {
    contact_id: Uuid,
    channel: ConsentChannel,
    status: ConsentStatus,
    source: Name,
    lawful_basis: Option<LawfulBasis>,
    note: Option<Text>,
}

pub struct RecordConsent;

impl Tool for RecordConsent {
    type Args = RecordConsentArgs;
    type Input = NewConsent;
    const NAME: &'static str = "record_consent";
    const KIND: ToolKind = ToolKind::Write;
    const DESCRIPTION: &'static str = "Record that a contact granted or withdrew consent to be texted, called, emailed or marketed to, with its source and lawful basis. Kept as history; the latest record wins.";

    fn parse(_ctx: &Ctx, a: RecordConsentArgs) -> Result<NewConsent, ToolError> {
        let mut c = Check::default();
        let source = c.name("source", &a.source, 200);
        let note = c.opt_text("note", a.note.as_deref(), 2000);
        c.finish()?;
        Ok(NewConsent {
            contact_id: a.contact_id,
            channel: a.channel,
            status: a.status,
            source: checked(source),
            lawful_basis: a.lawful_basis,
            note,
        })
    }

    async fn inspect(
        conn: &mut PgConnection,
        ctx: &Ctx,
        n: &NewConsent,
    ) -> Result<Inspection, ToolError> {
        let owner = owner_of(conn, Ref::Contact, n.contact_id).await?;
        let name = name_of(conn, Ref::Contact, n.contact_id).await?;
        let what = match (n.channel, n.status) {
            (ConsentChannel::Sms, ConsentStatus::Withdrawn) => "opted out of text messages",
            (ConsentChannel::Sms, ConsentStatus::Granted) => "agreed to text messages",
            (ConsentChannel::Call, ConsentStatus::Withdrawn) => "asked not to be called",
            (ConsentChannel::Call, ConsentStatus::Granted) => "agreed to be called",
            (ConsentChannel::Email, ConsentStatus::Withdrawn) => "opted out of email",
            (ConsentChannel::Email, ConsentStatus::Granted) => "agreed to email",
            (ConsentChannel::Marketing, ConsentStatus::Withdrawn) => "withdrew marketing consent",
            (ConsentChannel::Marketing, ConsentStatus::Granted) => "gave marketing consent",
        };
        Ok(Inspection {
            facts: Facts {
                // Anyone may record a withdrawal (honouring it protects the contact); granting
                // consent on someone else's contact follows the ordinary ownership rule.
                foreign_owned: n.status == ConsentStatus::Granted && foreign(owner, ctx),
                ..Facts::default()
            },
            preview: format!("Record that {name} {what} (source: {})", n.source),
        })
    }

    async fn run(conn: &mut PgConnection, ctx: &Ctx, n: NewConsent) -> Result<Value, ToolError> {
        owner_of(conn, Ref::Contact, n.contact_id).await?;
        let recorded = consent::record(
            conn,
            &ConsentChange {
                contact_id: n.contact_id,
                channel: n.channel,
                status: n.status,
                source: n.source.as_str(),
                lawful_basis: n.lawful_basis,
                note: n.note.as_ref().map(Text::as_str),
                recorded_by: Some(ctx.actor.user_id),
                action_id: ctx.action_id,
                message_id: None,
                at: ctx.now,
            },
        )
        .await?;
        let contact = records::get_contact(conn, n.contact_id).await?;
        let history = consent::history(conn, n.contact_id, 20).await?;
        Ok(json!({
            "consent_id": recorded.event_id,
            "channel": n.channel.as_str(),
            "status": n.status.as_str(),
            "changed": recorded.flag_changed,
            "contact": contact,
            "history": history,
        }))
    }
}
