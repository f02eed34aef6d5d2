//! The idempotent demo data behind `heimdell seed-demo`: two tenants ("Acme Demo" in the US and
//! "Nordlys Demo" in Norway), each with an admin, a manager and two reps, and a realistic book of
//! companies, contacts, deals, tasks and activity history.
//!
//! Running it again adds nothing that is already there: every record has a natural key (company
//! domain, contact email, deal name, task title, an activity's kind, text and targets) and is
//! inserted only when no row with that key exists. The exception is what has to be printed and is
//! stored only hashed: every run gives each demo user a fresh password and a fresh API token named
//! `demo`, revoking the one before.
//!
//! It runs as the app role, so every statement is inside a tenant-scoped transaction; a
//! transaction-level advisory lock keeps two concurrent runs from racing on the same keys.
//! The data itself is generated deterministically in [`plan`]; this module writes it with bulk
//! `INSERT ... SELECT ... FROM UNNEST(...)` statements.

mod names;
mod plan;

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use heimdell_tools::db::set_tenant;
use heimdell_tools::domain::Country;
use heimdell_tools::identity::hash_password;
use heimdell_tools::tenancy;

use plan::{ContactPlan, ExtraContacts, Plan, STAGES, TEAM, TENANTS, TenantSpec};

/// What to seed beyond the demo set.
#[derive(Debug, Clone, Default)]
pub struct SeedOptions {
    /// Make sure the first tenant (Acme Demo) has this many bench contacts (emails ending in
    /// `@bench.acme.example`) on top of the demo contacts. Tops up; never removes.
    pub extra_contacts: usize,
}

/// What the seed did, with the credentials it issued (printed once; stored only hashed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedReport {
    pub tenants: Vec<SeededTenant>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeededTenant {
    pub id: Uuid,
    pub name: String,
    pub users: Vec<SeededUser>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeededUser {
    pub email: String,
    /// `admin`, `manager` or `rep`.
    pub role: String,
    pub password: String,
    /// An API token (`hmd_...`) named `demo`.
    pub token: String,
}

/// The name every demo API token carries; a run revokes the previous one.
pub const DEMO_TOKEN_NAME: &str = "demo";

/// Serialises seeding across processes (transaction-level advisory lock key).
const SEED_LOCK: i64 = 0x4845_494D_5345_4544; // "HEIMSEED"

/// Rows per bulk insert of bench contacts.
const BATCH: usize = 5_000;

/// Seeds (or tops up) the demo tenants and returns the credentials issued on this run.
pub async fn seed_demo(app_pool: &PgPool, opts: &SeedOptions) -> anyhow::Result<SeedReport> {
    let now = Utc::now();
    let mut tenants = Vec::new();
    let mut acme_companies = None;
    for (i, spec) in TENANTS.iter().enumerate() {
        let plan = plan::plan(spec);
        let (seeded, company_ids) = seed_tenant(app_pool, spec, &plan, now)
            .await
            .with_context(|| format!("seeding {}", spec.name))?;
        if i == 0 {
            acme_companies = Some((seeded.id, plan, company_ids));
        }
        tenants.push(seeded);
    }
    if opts.extra_contacts > 0 {
        let (tenant_id, plan, company_ids) =
            acme_companies.ok_or_else(|| anyhow!("no first tenant"))?;
        seed_extra_contacts(
            app_pool,
            &TENANTS[0],
            tenant_id,
            &plan,
            &company_ids,
            opts.extra_contacts,
            now,
        )
        .await
        .context("seeding bench contacts")?;
    }
    Ok(SeedReport { tenants })
}

/// Begins a transaction holding the seed lock, with the tenant found by name (or `None`).
async fn begin_locked(
    pool: &PgPool,
    name: &str,
) -> anyhow::Result<(sqlx::Transaction<'static, sqlx::Postgres>, Option<Uuid>)> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SEED_LOCK)
        .execute(&mut *tx)
        .await?;
    let id: Option<Uuid> = sqlx::query_scalar("SELECT tenant_by_name($1)")
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
    Ok((tx, id))
}

struct Ids {
    users: Vec<Uuid>,
    companies: Vec<Uuid>,
    contacts: Vec<Uuid>,
    deals: Vec<Uuid>,
}

impl Ids {
    fn user(&self, i: Option<usize>) -> Option<Uuid> {
        i.map(|i| self.users[i])
    }
    fn company(&self, i: Option<usize>) -> Option<Uuid> {
        i.map(|i| self.companies[i])
    }
    fn contact(&self, i: Option<usize>) -> Option<Uuid> {
        i.map(|i| self.contacts[i])
    }
    fn deal(&self, i: Option<usize>) -> Option<Uuid> {
        i.map(|i| self.deals[i])
    }
}

fn minutes_ago(now: DateTime<Utc>, m: i64) -> DateTime<Utc> {
    now - Duration::minutes(m)
}

fn days_ago(now: DateTime<Utc>, d: i64) -> DateTime<Utc> {
    now - Duration::days(d)
}

/// A fresh password: 16 URL-safe characters from the OS's CSPRNG (96 bits).
fn new_password() -> String {
    use rand::RngCore;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b & 63)] as char)
        .collect()
}

async fn seed_tenant(
    pool: &PgPool,
    spec: &TenantSpec,
    plan: &Plan,
    now: DateTime<Utc>,
) -> anyhow::Result<(SeededTenant, Vec<Uuid>)> {
    let tz: Tz = spec
        .timezone
        .parse()
        .map_err(|_| anyhow!("bad time zone {}", spec.timezone))?;
    let today = now.with_timezone(&tz).date_naive();

    // Hash the new passwords before taking the lock: argon2 is deliberately slow.
    let passwords: Vec<String> = spec.users.iter().map(|_| new_password()).collect();
    let hashes = futures_join(passwords.iter().map(|p| {
        let p = p.clone();
        tokio::task::spawn_blocking(move || hash_password(&p))
    }))
    .await?;

    let (mut tx, existing) = begin_locked(pool, spec.name).await?;
    let tenant_id = match existing {
        Some(id) => {
            set_tenant(&mut tx, id).await?;
            id
        }
        None => {
            let id = Uuid::now_v7();
            set_tenant(&mut tx, id).await?;
            let country =
                Country::parse(spec.country).map_err(|e| anyhow!("{}: {e}", spec.name))?;
            tenancy::create_tenant(
                &mut tx,
                &tenancy::NewTenant {
                    id,
                    name: spec.name,
                    country,
                    timezone: tz,
                },
            )
            .await
            .context("creating the tenant")?;
            id
        }
    };
    let conn: &mut PgConnection = &mut tx;

    // Users: created if missing; every run resets the password and issues a new demo token.
    let mut user_ids = Vec::new();
    let mut users = Vec::new();
    for ((u, password), hash) in spec.users.iter().zip(passwords).zip(hashes) {
        let (id, role): (Uuid, String) = sqlx::query_as(
            "INSERT INTO users (tenant_id, email, name, role, password_hash, timezone, phone)
             VALUES (app_tenant(), $1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant_id, lower(email)) DO UPDATE
                 SET password_hash = EXCLUDED.password_hash
             RETURNING id, role",
        )
        .bind(u.email)
        .bind(u.name)
        .bind(u.role)
        .bind(&hash)
        .bind(spec.timezone)
        .bind(u.phone)
        .fetch_one(&mut *conn)
        .await
        .with_context(|| format!("upserting {}", u.email))?;
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = now()
             WHERE tenant_id = app_tenant() AND user_id = $1 AND name = $2 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(DEMO_TOKEN_NAME)
        .execute(&mut *conn)
        .await?;
        let token = tenancy::issue_token(conn, id, DEMO_TOKEN_NAME).await?;
        user_ids.push(id);
        users.push(SeededUser {
            email: u.email.to_string(),
            role,
            password,
            token,
        });
    }
    let admin = user_ids[0];

    let stage_ids = stage_ids(conn).await?;
    let mut ids = Ids {
        users: user_ids,
        companies: Vec::new(),
        contacts: Vec::new(),
        deals: Vec::new(),
    };
    ids.companies = insert_companies(conn, plan, &ids, admin, now).await?;
    ids.contacts = insert_contacts(conn, plan, &ids, admin, now).await?;
    ids.deals = insert_deals(conn, spec, plan, &ids, &stage_ids, admin, now, today).await?;
    insert_tasks(conn, plan, &ids, admin, now, tz, today).await?;
    insert_activities(conn, plan, &ids, now).await?;

    tx.commit().await?;
    let companies = ids.companies;
    Ok((
        SeededTenant {
            id: tenant_id,
            name: spec.name.to_string(),
            users,
        },
        companies,
    ))
}

/// Awaits blocking tasks in order.
async fn futures_join<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> anyhow::Result<Vec<T>> {
    let handles: Vec<_> = handles.collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.context("password hashing task failed")?);
    }
    Ok(out)
}

/// The stage ids of the default pipeline (made by `tenancy::create_tenant`), in [`STAGES`]
/// order.
async fn stage_ids(conn: &mut PgConnection) -> anyhow::Result<Vec<Uuid>> {
    let rows: Vec<(String, Uuid)> = sqlx::query_as(
        "SELECT lower(s.name), s.id FROM stages s JOIN pipelines p ON p.id = s.pipeline_id
         WHERE p.name = $1",
    )
    .bind(tenancy::DEFAULT_PIPELINE)
    .fetch_all(&mut *conn)
    .await?;
    let by_name: HashMap<String, Uuid> = rows.into_iter().collect();
    STAGES
        .iter()
        .map(|(name, ..)| {
            by_name.get(&name.to_lowercase()).copied().ok_or_else(|| {
                anyhow!(
                    "the {} pipeline has no stage {name}",
                    tenancy::DEFAULT_PIPELINE
                )
            })
        })
        .collect()
}

/// Maps natural keys (already lower-case) to ids, in the order of `keys`.
fn ids_for(keys: &[String], rows: Vec<(String, Uuid)>, what: &str) -> anyhow::Result<Vec<Uuid>> {
    let mut map: HashMap<String, Uuid> = HashMap::with_capacity(rows.len());
    for (k, id) in rows {
        map.entry(k).or_insert(id);
    }
    keys.iter()
        .map(|k| {
            map.get(k)
                .copied()
                .ok_or_else(|| anyhow!("{what} {k} missing after insert"))
        })
        .collect()
}

async fn insert_companies(
    conn: &mut PgConnection,
    plan: &Plan,
    ids: &Ids,
    admin: Uuid,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Uuid>> {
    let c = &plan.companies;
    let names: Vec<&str> = c.iter().map(|c| c.name.as_str()).collect();
    let domains: Vec<String> = c.iter().map(|c| c.domain.clone()).collect();
    let industries: Vec<&str> = c.iter().map(|c| c.industry).collect();
    let phones: Vec<&str> = c.iter().map(|c| c.phone.as_str()).collect();
    let owners: Vec<Option<Uuid>> = c.iter().map(|c| ids.user(c.owner)).collect();
    let created: Vec<DateTime<Utc>> = c.iter().map(|c| days_ago(now, c.age_days)).collect();
    sqlx::query(
        "INSERT INTO companies (tenant_id, name, domain, industry, phone, owner_id, created_by, created_at, updated_at)
         SELECT app_tenant(), x.name, x.domain, x.industry, x.phone, x.owner_id, $7, x.created_at, x.created_at
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::timestamptz[])
              AS x(name, domain, industry, phone, owner_id, created_at)
         WHERE NOT EXISTS (SELECT 1 FROM companies c WHERE lower(c.domain) = x.domain)",
    )
    .bind(&names)
    .bind(&domains)
    .bind(&industries)
    .bind(&phones)
    .bind(&owners)
    .bind(&created)
    .bind(admin)
    .execute(&mut *conn)
    .await
    .context("inserting companies")?;
    let rows = sqlx::query_as("SELECT lower(domain), id FROM companies WHERE lower(domain) = ANY($1) ORDER BY created_at, id")
        .bind(&domains)
        .fetch_all(&mut *conn)
        .await?;
    ids_for(&domains, rows, "company")
}

/// Column arrays for a bulk insert of contacts.
#[derive(Default)]
struct ContactColumns {
    company: Vec<Option<Uuid>>,
    first: Vec<String>,
    last: Vec<String>,
    email: Vec<Option<String>>,
    phone: Vec<Option<String>>,
    title: Vec<Option<String>>,
    owner: Vec<Option<Uuid>>,
    timezone: Vec<Option<&'static str>>,
    email_opt_out_at: Vec<Option<DateTime<Utc>>>,
    sms_opt_out_at: Vec<Option<DateTime<Utc>>>,
    do_not_call_at: Vec<Option<DateTime<Utc>>>,
    marketing_consent_at: Vec<Option<DateTime<Utc>>>,
    lawful_basis: Vec<Option<&'static str>>,
    anonymised_at: Vec<Option<DateTime<Utc>>>,
    created_at: Vec<DateTime<Utc>>,
}

impl ContactColumns {
    fn push(&mut self, c: &ContactPlan, company: Uuid, owner: Option<Uuid>, now: DateTime<Utc>) {
        let at = |m: Option<i64>| m.map(|m| minutes_ago(now, m));
        self.company.push(Some(company));
        self.first.push(c.first_name.clone());
        self.last.push(c.last_name.clone());
        self.email.push(c.email.clone());
        self.phone.push(c.phone.clone());
        self.title.push(c.title.clone());
        self.owner.push(owner);
        self.timezone.push(c.timezone);
        self.email_opt_out_at.push(at(c.email_opt_out_ago));
        self.sms_opt_out_at.push(at(c.sms_opt_out_ago));
        self.do_not_call_at.push(at(c.do_not_call_ago));
        self.marketing_consent_at.push(at(c.marketing_consent_ago));
        self.lawful_basis.push(c.lawful_basis);
        self.anonymised_at.push(at(c.anonymised_ago));
        self.created_at.push(days_ago(now, c.age_days));
    }

    fn len(&self) -> usize {
        self.first.len()
    }

    /// Inserts the rows whose email is not in the tenant yet (a row without an email, i.e. the
    /// anonymised one, goes in only if the tenant has no anonymised contact). Returns rows added.
    async fn insert(&self, conn: &mut PgConnection, created_by: Uuid) -> anyhow::Result<u64> {
        let done = sqlx::query(
            "INSERT INTO contacts (tenant_id, company_id, first_name, last_name, email, phone, title, owner_id,
                 timezone, email_opt_out, email_opt_out_at, sms_opt_out, sms_opt_out_at, do_not_call,
                 do_not_call_at, marketing_consent, marketing_consent_at, lawful_basis, anonymised,
                 anonymised_at, created_by, created_at, updated_at)
             SELECT app_tenant(), x.company_id, x.first_name, x.last_name, x.email, x.phone, x.title, x.owner_id,
                 x.timezone, x.email_opt_out_at IS NOT NULL, x.email_opt_out_at,
                 x.sms_opt_out_at IS NOT NULL, x.sms_opt_out_at, x.do_not_call_at IS NOT NULL,
                 x.do_not_call_at, x.marketing_consent_at IS NOT NULL, x.marketing_consent_at,
                 x.lawful_basis, x.anonymised_at IS NOT NULL, x.anonymised_at, $16,
                 x.created_at, greatest(x.created_at, x.email_opt_out_at, x.sms_opt_out_at,
                                        x.do_not_call_at, x.marketing_consent_at, x.anonymised_at)
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::uuid[],
                         $8::text[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[],
                         $12::timestamptz[], $13::text[], $14::timestamptz[], $15::timestamptz[])
                  AS x(company_id, first_name, last_name, email, phone, title, owner_id, timezone,
                       email_opt_out_at, sms_opt_out_at, do_not_call_at, marketing_consent_at,
                       lawful_basis, anonymised_at, created_at)
             WHERE CASE WHEN x.email IS NOT NULL
                        THEN NOT EXISTS (SELECT 1 FROM contacts c
                                         WHERE c.tenant_id = app_tenant() AND lower(c.email) = lower(x.email))
                        ELSE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.anonymised AND c.email IS NULL)
                   END",
        )
        .bind(&self.company)
        .bind(&self.first)
        .bind(&self.last)
        .bind(&self.email)
        .bind(&self.phone)
        .bind(&self.title)
        .bind(&self.owner)
        .bind(&self.timezone)
        .bind(&self.email_opt_out_at)
        .bind(&self.sms_opt_out_at)
        .bind(&self.do_not_call_at)
        .bind(&self.marketing_consent_at)
        .bind(&self.lawful_basis)
        .bind(&self.anonymised_at)
        .bind(&self.created_at)
        .bind(created_by)
        .execute(&mut *conn)
        .await
        .context("inserting contacts")?;
        Ok(done.rows_affected())
    }
}

async fn insert_contacts(
    conn: &mut PgConnection,
    plan: &Plan,
    ids: &Ids,
    admin: Uuid,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Uuid>> {
    let mut cols = ContactColumns::default();
    for c in &plan.contacts {
        cols.push(c, ids.companies[c.company], ids.user(c.owner), now);
    }
    cols.insert(conn, admin).await?;
    let emails: Vec<String> = plan
        .contacts
        .iter()
        .filter_map(|c| c.email.clone())
        .collect();
    let rows: Vec<(String, Uuid)> = sqlx::query_as(
        "SELECT lower(email), id FROM contacts WHERE tenant_id = app_tenant() AND lower(email) = ANY($1) ORDER BY created_at, id",
    )
    .bind(&emails)
    .fetch_all(&mut *conn)
    .await?;
    let by_email = ids_for(&emails, rows, "contact")?;
    let anon: Uuid = sqlx::query_scalar("SELECT id FROM contacts WHERE anonymised AND email IS NULL ORDER BY created_at, id LIMIT 1")
        .fetch_one(&mut *conn)
        .await
        .context("finding the anonymised contact")?;
    // Back in plan order: contacts with an email in turn, the anonymised one where it sits.
    let mut by_email = by_email.into_iter();
    plan.contacts
        .iter()
        .map(|c| {
            if c.email.is_some() {
                by_email
                    .next()
                    .ok_or_else(|| anyhow!("contact ids out of step"))
            } else {
                Ok(anon)
            }
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn insert_deals(
    conn: &mut PgConnection,
    spec: &TenantSpec,
    plan: &Plan,
    ids: &Ids,
    stage_ids: &[Uuid],
    admin: Uuid,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> anyhow::Result<Vec<Uuid>> {
    let d = &plan.deals;
    let names: Vec<&str> = d.iter().map(|d| d.name.as_str()).collect();
    let companies: Vec<Uuid> = d.iter().map(|d| ids.companies[d.company]).collect();
    let contacts: Vec<Option<Uuid>> = d.iter().map(|d| ids.contact(d.contact)).collect();
    let stages: Vec<Uuid> = d.iter().map(|d| stage_ids[d.stage]).collect();
    let values: Vec<i64> = d.iter().map(|d| d.value_minor).collect();
    let owners: Vec<Option<Uuid>> = d.iter().map(|d| ids.user(d.owner)).collect();
    let close: Vec<NaiveDate> = d.iter().map(|d| d.close.date(today)).collect();
    let last: Vec<DateTime<Utc>> = d
        .iter()
        .map(|d| minutes_ago(now, d.last_activity_ago))
        .collect();
    let closed: Vec<Option<DateTime<Utc>>> = d
        .iter()
        .map(|d| d.closed_ago.map(|m| minutes_ago(now, m)))
        .collect();
    let created: Vec<DateTime<Utc>> = d.iter().map(|d| days_ago(now, d.age_days)).collect();
    sqlx::query(
        "INSERT INTO deals (tenant_id, name, company_id, contact_id, pipeline_id, stage_id, value_minor, currency,
             owner_id, expected_close, last_activity_at, closed_at, created_by, created_at, updated_at)
         SELECT app_tenant(), x.name, x.company_id, x.contact_id, s.pipeline_id, x.stage_id, x.value_minor, $11,
             x.owner_id, x.expected_close, x.last_activity_at, x.closed_at, $12, x.created_at, x.last_activity_at
         FROM UNNEST($1::text[], $2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[], $6::uuid[], $7::date[],
                     $8::timestamptz[], $9::timestamptz[], $10::timestamptz[])
              AS x(name, company_id, contact_id, stage_id, value_minor, owner_id, expected_close,
                   last_activity_at, closed_at, created_at)
         JOIN stages s ON s.id = x.stage_id
         WHERE NOT EXISTS (SELECT 1 FROM deals d WHERE lower(d.name) = lower(x.name))",
    )
    .bind(&names)
    .bind(&companies)
    .bind(&contacts)
    .bind(&stages)
    .bind(&values)
    .bind(&owners)
    .bind(&close)
    .bind(&last)
    .bind(&closed)
    .bind(&created)
    .bind(spec.currency)
    .bind(admin)
    .execute(&mut *conn)
    .await
    .context("inserting deals")?;
    let keys: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    let rows = sqlx::query_as(
        "SELECT lower(name), id FROM deals WHERE lower(name) = ANY($1) ORDER BY created_at, id",
    )
    .bind(&keys)
    .fetch_all(&mut *conn)
    .await?;
    ids_for(&keys, rows, "deal")
}

async fn insert_tasks(
    conn: &mut PgConnection,
    plan: &Plan,
    ids: &Ids,
    admin: Uuid,
    now: DateTime<Utc>,
    tz: Tz,
    today: NaiveDate,
) -> anyhow::Result<()> {
    let t = &plan.tasks;
    let titles: Vec<&str> = t.iter().map(|t| t.title.as_str()).collect();
    let notes: Vec<Option<&str>> = t.iter().map(|t| t.notes.as_deref()).collect();
    let due: Vec<DateTime<Utc>> = t.iter().map(|t| t.due.due_at(tz, today)).collect();
    let completed: Vec<Option<DateTime<Utc>>> = t
        .iter()
        .map(|t| match t.due {
            plan::TaskDue::Done { done_ago, .. } => Some(minutes_ago(now, done_ago)),
            _ => None,
        })
        .collect();
    let owners: Vec<Option<Uuid>> = t.iter().map(|t| ids.user(t.owner)).collect();
    let contacts: Vec<Option<Uuid>> = t.iter().map(|t| ids.contact(t.contact)).collect();
    let companies: Vec<Option<Uuid>> = t.iter().map(|t| ids.company(t.company)).collect();
    let deals: Vec<Option<Uuid>> = t.iter().map(|t| ids.deal(t.deal)).collect();
    // Created a few days before they fall due (or now, for ones due far out).
    let created: Vec<DateTime<Utc>> = due
        .iter()
        .zip(&completed)
        .map(|(d, c)| {
            let before = *d - Duration::days(5);
            before.min(c.unwrap_or(now)).min(now)
        })
        .collect();
    sqlx::query(
        "INSERT INTO tasks (tenant_id, title, notes, due_at, status, completed_at, owner_id, contact_id, company_id,
             deal_id, created_by, created_at, updated_at)
         SELECT app_tenant(), x.title, x.notes, x.due_at, CASE WHEN x.completed_at IS NULL THEN 'open' ELSE 'done' END,
             x.completed_at, x.owner_id, x.contact_id, x.company_id, x.deal_id, $10, x.created_at,
             coalesce(x.completed_at, x.created_at)
         FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::uuid[], $6::uuid[],
                     $7::uuid[], $8::uuid[], $9::timestamptz[])
              AS x(title, notes, due_at, completed_at, owner_id, contact_id, company_id, deal_id, created_at)
         WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE lower(t.title) = lower(x.title))",
    )
    .bind(&titles)
    .bind(&notes)
    .bind(&due)
    .bind(&completed)
    .bind(&owners)
    .bind(&contacts)
    .bind(&companies)
    .bind(&deals)
    .bind(&created)
    .bind(admin)
    .execute(&mut *conn)
    .await
    .context("inserting tasks")?;
    Ok(())
}

async fn insert_activities(
    conn: &mut PgConnection,
    plan: &Plan,
    ids: &Ids,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let a = &plan.activities;
    let kinds: Vec<&str> = a.iter().map(|a| a.kind).collect();
    let subjects: Vec<Option<&str>> = a.iter().map(|a| a.subject.as_deref()).collect();
    let bodies: Vec<Option<&str>> = a.iter().map(|a| a.body.as_deref()).collect();
    let contacts: Vec<Option<Uuid>> = a.iter().map(|a| ids.contact(a.contact)).collect();
    let companies: Vec<Option<Uuid>> = a.iter().map(|a| ids.company(a.company)).collect();
    let deals: Vec<Option<Uuid>> = a.iter().map(|a| ids.deal(a.deal)).collect();
    let actors: Vec<Option<Uuid>> = a.iter().map(|a| ids.user(a.actor)).collect();
    let at: Vec<DateTime<Utc>> = a.iter().map(|a| minutes_ago(now, a.ago)).collect();
    sqlx::query(
        "INSERT INTO activities (tenant_id, kind, subject, body, contact_id, company_id, deal_id, actor_id,
             occurred_at, created_at)
         SELECT app_tenant(), x.kind, x.subject, x.body, x.contact_id, x.company_id, x.deal_id, x.actor_id,
             x.occurred_at, x.occurred_at
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::uuid[], $5::uuid[], $6::uuid[], $7::uuid[],
                     $8::timestamptz[])
              AS x(kind, subject, body, contact_id, company_id, deal_id, actor_id, occurred_at)
         WHERE NOT EXISTS (
             SELECT 1 FROM activities a
             WHERE a.kind = x.kind AND a.subject IS NOT DISTINCT FROM x.subject
               AND a.body IS NOT DISTINCT FROM x.body AND a.contact_id IS NOT DISTINCT FROM x.contact_id
               AND a.company_id IS NOT DISTINCT FROM x.company_id AND a.deal_id IS NOT DISTINCT FROM x.deal_id)",
    )
    .bind(&kinds)
    .bind(&subjects)
    .bind(&bodies)
    .bind(&contacts)
    .bind(&companies)
    .bind(&deals)
    .bind(&actors)
    .bind(&at)
    .execute(&mut *conn)
    .await
    .context("inserting activities")?;
    Ok(())
}

/// Tops the first tenant up to `n` bench contacts, in batches of [`BATCH`] rows.
async fn seed_extra_contacts(
    pool: &PgPool,
    spec: &TenantSpec,
    tenant_id: Uuid,
    plan: &Plan,
    company_ids: &[Uuid],
    n: usize,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let pattern = format!("%@{}", plan::bench_domain(spec));
    let mut tx = pool.begin().await?;
    set_tenant(&mut tx, tenant_id).await?;
    let have: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM contacts WHERE tenant_id = app_tenant() AND lower(email) LIKE $1",
    )
    .bind(&pattern)
    .fetch_one(&mut *tx)
    .await?;
    let user_ids: Vec<Uuid> = {
        let emails: Vec<&str> = spec.users.iter().map(|u| u.email).collect();
        let rows: Vec<(String, Uuid)> =
            sqlx::query_as("SELECT lower(email), id FROM users WHERE lower(email) = ANY($1)")
                .bind(&emails)
                .fetch_all(&mut *tx)
                .await?;
        let keys: Vec<String> = emails.iter().map(|e| e.to_lowercase()).collect();
        ids_for(&keys, rows, "user")?
    };
    tx.commit().await?;
    if have as usize >= n {
        return Ok(());
    }
    debug_assert!(TEAM.iter().all(|&u| u < user_ids.len()));

    // Contact i is the same for every n > i, so inserting all of 0..n and skipping the emails
    // already there tops up exactly what is missing.
    let mut extras = ExtraContacts::new(spec, &plan.companies).take(n).peekable();
    let mut added = 0u64;
    while extras.peek().is_some() {
        let mut cols = ContactColumns::default();
        for c in extras.by_ref().take(BATCH) {
            cols.push(
                &c,
                company_ids[c.company],
                c.owner.map(|u| user_ids[u]),
                now,
            );
        }
        let (mut tx, _) = begin_locked(pool, spec.name).await?;
        set_tenant(&mut tx, tenant_id).await?;
        let rows = cols.len();
        added += cols.insert(&mut tx, user_ids[0]).await?;
        tx.commit().await?;
        tracing::debug!(rows, added, "bench contacts batch");
    }
    tracing::info!(
        added,
        total = n,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "bench contacts seeded"
    );
    Ok(())
}
