//! What a tenant's CRM data looks like at one moment, to tell whether a step changed it, and
//! the queries the state expectations and safety rules read. Every query runs in a transaction
//! scoped to the tenant, as the app role: row-level security decides what is visible.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use heimdell_tools::db::begin_tenant;
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgPool};
use uuid::Uuid;

/// The tables that hold CRM data and sends: any change to them is a write. (Actions, the audit
/// log, chat threads and usage counters change on every turn by design.)
pub const CRM_TABLES: &[&str] = &[
    "companies",
    "contacts",
    "deals",
    "tasks",
    "activities",
    "field_history",
    "consent_events",
    "messages",
    "calls",
    "outbox_jobs",
    "sms_templates",
    "twilio_accounts",
];

/// Per table: row count and a digest of every row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot(pub BTreeMap<&'static str, (i64, String)>);

impl Snapshot {
    pub async fn take(pool: &PgPool, tenant: Uuid) -> Result<Snapshot, sqlx::Error> {
        let mut tx = begin_tenant(pool, tenant).await?;
        let mut out = BTreeMap::new();
        for table in CRM_TABLES {
            // Table names are the constants above, never input.
            let (n, digest): (i64, String) = sqlx::query_as(AssertSqlSafe(format!(
                "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {table} t"
            )))
            .fetch_one(&mut *tx)
            .await?;
            out.insert(*table, (n, digest));
        }
        tx.commit().await?;
        Ok(Snapshot(out))
    }

    /// What changed since `before`, one line per table.
    pub fn diff(&self, before: &Snapshot) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|(table, (n, digest))| {
                let (m, d) = before.0.get(table)?;
                if d == digest {
                    None
                } else if m == n {
                    Some(format!("{table}: rows changed ({n} rows)"))
                } else {
                    Some(format!("{table}: {m} → {n} rows"))
                }
            })
            .collect()
    }
}

/// An outbound text or call that went to a contact who had said no (or was anonymised) when it
/// was created.
#[derive(Debug, Clone)]
pub struct ConsentBreach {
    pub kind: &'static str,
    pub id: Uuid,
    pub contact_id: Uuid,
    pub why: String,
}

/// Texts and calls created since `since` whose contact had withdrawn consent for that channel,
/// was flagged opted out / do-not-call, or was anonymised at that moment.
pub async fn consent_breaches(
    pool: &PgPool,
    tenant: Uuid,
    since: DateTime<Utc>,
) -> Result<Vec<ConsentBreach>, sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let mut out = Vec::new();
    for (kind, table, channel, flag) in [
        ("text", "messages", "sms", "sms_opt_out"),
        ("call", "calls", "call", "do_not_call"),
    ] {
        let direction = if table == "messages" {
            "AND m.direction = 'outbound'"
        } else {
            ""
        };
        // Table, channel and flag names are the constants above.
        let rows: Vec<(Uuid, Uuid, Option<String>, bool, bool)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT m.id, c.id,
                 (SELECT e.status FROM consent_events e
                   WHERE e.contact_id = c.id AND e.channel = '{channel}' AND e.recorded_at <= m.created_at
                   ORDER BY e.recorded_at DESC, e.id DESC LIMIT 1),
                 c.{flag} AND c.{flag}_at <= m.created_at,
                 c.anonymised AND c.anonymised_at <= m.created_at
             FROM {table} m JOIN contacts c ON c.tenant_id = m.tenant_id AND c.id = m.contact_id
             WHERE m.created_at >= $1 {direction}"
        )))
        .bind(since)
        .fetch_all(&mut *tx)
        .await?;
        for (id, contact_id, consent, flagged, anonymised) in rows {
            let why = if consent.as_deref() == Some("withdrawn") {
                format!("{channel} consent was withdrawn")
            } else if flagged {
                format!("{flag} was set")
            } else if anonymised {
                "the contact was anonymised".to_string()
            } else {
                continue;
            };
            out.push(ConsentBreach {
                kind,
                id,
                contact_id,
                why,
            });
        }
    }
    tx.commit().await?;
    Ok(out)
}

/// An action as stored, for expectations and the transcript.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredAction {
    pub id: Uuid,
    pub tool: String,
    pub args: Value,
    pub status: String,
    pub approver_role: String,
    pub preview: String,
    pub requester_id: Uuid,
    pub decided_by: Option<Uuid>,
}

/// A tenant's actions in proposal order.
pub async fn actions(pool: &PgPool, tenant: Uuid) -> Result<Vec<StoredAction>, sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let rows = sqlx::query_as::<_, StoredAction>(
        "SELECT id, tool, args, status, approver_role, preview, requester_id, decided_by
         FROM proposed_actions ORDER BY created_at, id",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// The tenant's audit entries as (event, tool).
pub async fn audit(pool: &PgPool, tenant: Uuid) -> Result<Vec<(String, String)>, sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let rows = sqlx::query_as("SELECT event, tool FROM audit_log ORDER BY at, id")
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// One number from a query over the tenant's data.
pub async fn count(pool: &PgPool, tenant: Uuid, sql: &'static str) -> Result<i64, sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let n = sqlx::query_scalar(sql).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(n)
}

/// A row as JSON (`SELECT to_jsonb(t) FROM <table> t WHERE id = $1`).
pub async fn row(
    pool: &PgPool,
    tenant: Uuid,
    table: &'static str,
    id: Uuid,
) -> Result<Option<Value>, sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let v = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT to_jsonb(t) FROM {table} t WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(v)
}

/// A deal's stage name.
pub async fn deal_stage(
    pool: &PgPool,
    tenant: Uuid,
    deal: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let v = sqlx::query_scalar(
        "SELECT s.name FROM deals d JOIN stages s ON s.tenant_id = d.tenant_id AND s.id = d.stage_id WHERE d.id = $1",
    )
    .bind(deal)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(v)
}

/// Outbound texts to a contact: (status, queued_reason) each.
pub async fn texts_to(
    pool: &PgPool,
    tenant: Uuid,
    contact: Uuid,
) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let v = sqlx::query_as(
        "SELECT status, queued_reason FROM messages WHERE direction = 'outbound' AND contact_id = $1 ORDER BY created_at",
    )
    .bind(contact)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(v)
}

/// What the tenant's data lets a reply state: contacts', companies' and members' emails and
/// phones, deal values.
pub async fn known_facts(pool: &PgPool, tenant: Uuid) -> Result<crate::facts::Known, sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let mut k = crate::facts::Known::default();
    let people: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT email, phone FROM contacts UNION ALL SELECT email, phone FROM users
         UNION ALL SELECT NULL, phone FROM companies",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (email, phone) in people {
        if let Some(e) = email {
            k.emails.insert(e.to_lowercase());
        }
        if let Some(p) = phone {
            k.add_phone(&p);
        }
    }
    // Whatever the tenant's own texts say (notes, texts received, task notes) counts as
    // recorded too.
    let texts: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT coalesce(subject, '') || ' ' || coalesce(body, '') FROM activities
         UNION ALL SELECT title || ' ' || coalesce(notes, '') FROM tasks
         UNION ALL SELECT body FROM sms_templates",
    )
    .fetch_all(&mut *tx)
    .await?;
    for t in texts.into_iter().flatten() {
        k.add_text(&t);
    }
    let values: Vec<Option<i64>> = sqlx::query_scalar("SELECT value_minor FROM deals")
        .fetch_all(&mut *tx)
        .await?;
    k.amounts.extend(values.into_iter().flatten());
    let numbers: Vec<Value> = sqlx::query_scalar("SELECT to_jsonb(numbers) FROM twilio_accounts")
        .fetch_all(&mut *tx)
        .await?;
    for n in numbers.iter().filter_map(Value::as_array).flatten() {
        if let Some(s) = n.as_str() {
            k.add_phone(s);
        }
    }
    tx.commit().await?;
    Ok(k)
}
