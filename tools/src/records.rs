//! Read models: how contacts, companies, deals, tasks and activities look to callers. Shared by
//! the read tools and the REST list/get endpoints, so both show the same thing.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::ToolError;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ContactRecord {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub title: Option<String>,
    pub company_id: Option<Uuid>,
    pub company_name: Option<String>,
    pub owner_id: Option<Uuid>,
    pub owner_name: Option<String>,
    pub timezone: Option<String>,
    pub email_opt_out: bool,
    pub sms_opt_out: bool,
    pub do_not_call: bool,
    pub marketing_consent: bool,
    pub lawful_basis: Option<String>,
    pub anonymised: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! deals_of_order {
    () => {
        " ORDER BY s.is_won OR s.is_lost, d.expected_close NULLS LAST LIMIT $2"
    };
}

macro_rules! timeline_order {
    () => {
        " ORDER BY a.occurred_at DESC LIMIT $2"
    };
}

/// The columns of a [`ContactRecord`], read from `$source` (a table or a set-returning
/// function yielding `contacts` rows) aliased `c`.
macro_rules! contact_select_from {
    ($source:literal) => {
        concat!(
            "SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.title, c.company_id,
    co.name AS company_name, c.owner_id, u.name AS owner_name, c.timezone, c.email_opt_out, c.sms_opt_out,
    c.do_not_call, c.marketing_consent, c.lawful_basis, c.anonymised, c.version, c.created_at, c.updated_at
    FROM ",
            $source,
            " c LEFT JOIN companies co ON co.tenant_id = c.tenant_id AND co.id = c.company_id
    LEFT JOIN users u ON u.tenant_id = c.tenant_id AND u.id = c.owner_id"
        )
    };
}

macro_rules! contact_select {
    () => {
        contact_select_from!("contacts")
    };
}

impl ContactRecord {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_string()
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CompanyRecord {
    pub id: Uuid,
    pub name: String,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub phone: Option<String>,
    pub owner_id: Option<Uuid>,
    pub owner_name: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! company_select {
    () => {
        "SELECT co.id, co.name, co.domain, co.industry, co.phone, co.owner_id,
    u.name AS owner_name, co.version, co.created_at, co.updated_at
    FROM companies co LEFT JOIN users u ON u.tenant_id = co.tenant_id AND u.id = co.owner_id"
    };
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DealRecord {
    pub id: Uuid,
    pub name: String,
    pub company_id: Option<Uuid>,
    pub company_name: Option<String>,
    pub contact_id: Option<Uuid>,
    pub contact_name: Option<String>,
    pub pipeline_id: Uuid,
    pub stage_id: Uuid,
    pub stage_name: String,
    pub stage_probability: i32,
    pub stage_is_won: bool,
    pub stage_is_lost: bool,
    pub value_minor: i64,
    pub currency: String,
    pub owner_id: Option<Uuid>,
    pub owner_name: Option<String>,
    pub expected_close: Option<NaiveDate>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! deal_select {
    () => {
        "SELECT d.id, d.name, d.company_id, co.name AS company_name, d.contact_id,
    nullif(trim(ct.first_name || ' ' || ct.last_name), '') AS contact_name, d.pipeline_id, d.stage_id,
    s.name AS stage_name, s.probability AS stage_probability, s.is_won AS stage_is_won,
    s.is_lost AS stage_is_lost, d.value_minor, d.currency, d.owner_id, u.name AS owner_name,
    d.expected_close, d.last_activity_at, d.closed_at, d.version, d.created_at, d.updated_at
    FROM deals d JOIN stages s ON s.tenant_id = d.tenant_id AND s.id = d.stage_id
    LEFT JOIN companies co ON co.tenant_id = d.tenant_id AND co.id = d.company_id
    LEFT JOIN contacts ct ON ct.tenant_id = d.tenant_id AND ct.id = d.contact_id
    LEFT JOIN users u ON u.tenant_id = d.tenant_id AND u.id = d.owner_id"
    };
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TaskRecord {
    pub id: Uuid,
    pub title: String,
    pub notes: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub status: String,
    pub completed_at: Option<DateTime<Utc>>,
    pub owner_id: Option<Uuid>,
    pub owner_name: Option<String>,
    pub contact_id: Option<Uuid>,
    pub contact_name: Option<String>,
    pub company_id: Option<Uuid>,
    pub deal_id: Option<Uuid>,
    pub deal_name: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
}

macro_rules! task_select {
    () => {
        "SELECT t.id, t.title, t.notes, t.due_at, t.status, t.completed_at, t.owner_id,
    u.name AS owner_name, t.contact_id, nullif(trim(ct.first_name || ' ' || ct.last_name), '') AS contact_name,
    t.company_id, t.deal_id, d.name AS deal_name, t.version, t.created_at
    FROM tasks t LEFT JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.owner_id
    LEFT JOIN contacts ct ON ct.tenant_id = t.tenant_id AND ct.id = t.contact_id
    LEFT JOIN deals d ON d.tenant_id = t.tenant_id AND d.id = t.deal_id"
    };
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ActivityRecord {
    pub id: Uuid,
    pub kind: String,
    pub subject: Option<String>,
    /// Text written by people or received from outside; callers fence it before a model sees it.
    pub body: Option<String>,
    pub contact_id: Option<Uuid>,
    pub company_id: Option<Uuid>,
    pub deal_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub actor_name: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

macro_rules! activity_select {
    () => {
        "SELECT a.id, a.kind, a.subject, a.body, a.contact_id, a.company_id, a.deal_id,
    a.actor_id, u.name AS actor_name, a.occurred_at
    FROM activities a LEFT JOIN users u ON u.tenant_id = a.tenant_id AND u.id = a.actor_id"
    };
}

/// One page of a list, with the cursor for the next page (None on the last page).
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Pagination and filter for a list endpoint. Limit is clamped to 1..=100.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub q: Option<String>,
    pub limit: Option<u32>,
    /// Return items after this id (ids are time-ordered UUIDv7, so this is creation order).
    pub after: Option<Uuid>,
}

impl ListQuery {
    fn limit(&self) -> i64 {
        i64::from(self.limit.unwrap_or(25).clamp(1, 100))
    }

    /// The search fragment as it is matched: trimmed and lower-cased, like `search_text`.
    fn fragment(&self) -> Option<String> {
        self.q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_lowercase)
    }

    fn pattern(&self) -> Option<String> {
        self.fragment().map(|f| contains_pattern(&f))
    }
}

/// A LIKE pattern matching any text that contains `fragment` literally.
fn contains_pattern(fragment: &str) -> String {
    format!("%{}%", like_escape(fragment))
}

/// The distinct three-character substrings of `s`, counted in characters as Postgres's
/// `search_grams` counts them; empty when `s` is shorter than three characters.
pub fn trigrams(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut grams: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
    grams.sort();
    grams.dedup();
    grams
}

/// Escapes LIKE wildcards so user text matches literally.
pub fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn page<T>(mut rows: Vec<T>, limit: i64, id: impl Fn(&T) -> Uuid) -> Page<T> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|r| id(r).to_string())
    } else {
        None
    };
    Page {
        items: rows,
        next_cursor,
    }
}

pub async fn get_contact(conn: &mut PgConnection, id: Uuid) -> Result<ContactRecord, ToolError> {
    sqlx::query_as::<_, ContactRecord>(concat!(contact_select!(), " WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(ToolError::NotFound {
            entity: "contact",
            id: id.to_string(),
        })
}

pub async fn list_contacts(
    conn: &mut PgConnection,
    q: &ListQuery,
) -> Result<Page<ContactRecord>, ToolError> {
    let limit = q.limit();
    // Two static statements rather than `($1 IS NULL OR ...)`: a generic plan for that form
    // cannot use the trigram index and scans every contact.
    let after = q.after.unwrap_or(Uuid::nil());
    let fragment = q.fragment();
    let grams = fragment.as_deref().map(trigrams).unwrap_or_default();
    let rows = match fragment {
        // Three characters or more: the trigram postings give the page in id order directly
        // (migration 0008 explains the plan).
        Some(fragment) if !grams.is_empty() => {
            sqlx::query_as::<_, ContactRecord>(concat!(
                contact_select_from!("contacts_containing($1, $2, $3, $4)"),
                " ORDER BY c.id"
            ))
            .bind(&grams)
            .bind(contains_pattern(&fragment))
            .bind(after)
            .bind(limit + 1)
            .fetch_all(conn)
            .await?
        }
        // One or two characters match so many contacts that walking them in id order fills a
        // page after a few rows.
        Some(fragment) => {
            let pattern = contains_pattern(&fragment);
            sqlx::query_as::<_, ContactRecord>(concat!(
                contact_select!(),
                " WHERE c.search_text LIKE $1 AND c.id > $2 ORDER BY c.id LIMIT $3"
            ))
            .bind(pattern)
            .bind(after)
            .bind(limit + 1)
            .fetch_all(conn)
            .await?
        }
        None => {
            sqlx::query_as::<_, ContactRecord>(concat!(
                contact_select!(),
                " WHERE c.id > $1 ORDER BY c.id LIMIT $2"
            ))
            .bind(after)
            .bind(limit + 1)
            .fetch_all(conn)
            .await?
        }
    };
    Ok(page(rows, limit, |r| r.id))
}

pub async fn contacts_of_company(
    conn: &mut PgConnection,
    company_id: Uuid,
    limit: i64,
) -> Result<Vec<ContactRecord>, ToolError> {
    Ok(sqlx::query_as::<_, ContactRecord>(concat!(
        contact_select!(),
        " WHERE c.company_id = $1 ORDER BY c.last_name, c.first_name LIMIT $2"
    ))
    .bind(company_id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

pub async fn get_company(conn: &mut PgConnection, id: Uuid) -> Result<CompanyRecord, ToolError> {
    sqlx::query_as::<_, CompanyRecord>(concat!(company_select!(), " WHERE co.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(ToolError::NotFound {
            entity: "company",
            id: id.to_string(),
        })
}

pub async fn list_companies(
    conn: &mut PgConnection,
    q: &ListQuery,
) -> Result<Page<CompanyRecord>, ToolError> {
    let limit = q.limit();
    let rows = sqlx::query_as::<_, CompanyRecord>(concat!(company_select!(), " WHERE ($1::text IS NULL OR lower(co.name) LIKE $1 OR lower(coalesce(co.domain, '')) LIKE $1)
         AND ($2::uuid IS NULL OR co.id > $2) ORDER BY co.id LIMIT $3"
    ))
    .bind(q.pattern())
    .bind(q.after)
    .bind(limit + 1)
    .fetch_all(conn)
    .await?;
    Ok(page(rows, limit, |r| r.id))
}

pub async fn get_deal(conn: &mut PgConnection, id: Uuid) -> Result<DealRecord, ToolError> {
    sqlx::query_as::<_, DealRecord>(concat!(deal_select!(), " WHERE d.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(ToolError::NotFound {
            entity: "deal",
            id: id.to_string(),
        })
}

pub async fn list_deals(
    conn: &mut PgConnection,
    q: &ListQuery,
) -> Result<Page<DealRecord>, ToolError> {
    let limit = q.limit();
    let rows = sqlx::query_as::<_, DealRecord>(concat!(
        deal_select!(),
        " WHERE ($1::text IS NULL OR lower(d.name) LIKE $1)
         AND ($2::uuid IS NULL OR d.id > $2) ORDER BY d.id LIMIT $3"
    ))
    .bind(q.pattern())
    .bind(q.after)
    .bind(limit + 1)
    .fetch_all(conn)
    .await?;
    Ok(page(rows, limit, |r| r.id))
}

/// Which deals to list alongside a contact or company.
pub enum DealsOf {
    Contact(Uuid),
    Company(Uuid),
}

pub async fn deals_of(
    conn: &mut PgConnection,
    of: DealsOf,
    limit: i64,
) -> Result<Vec<DealRecord>, ToolError> {
    let (sql, id) = match of {
        DealsOf::Contact(id) => (
            concat!(
                deal_select!(),
                " WHERE d.contact_id = $1",
                deals_of_order!()
            ),
            id,
        ),
        DealsOf::Company(id) => (
            concat!(
                deal_select!(),
                " WHERE d.company_id = $1",
                deals_of_order!()
            ),
            id,
        ),
    };
    Ok(sqlx::query_as::<_, DealRecord>(sql)
        .bind(id)
        .bind(limit)
        .fetch_all(conn)
        .await?)
}

pub async fn get_task(conn: &mut PgConnection, id: Uuid) -> Result<TaskRecord, ToolError> {
    sqlx::query_as::<_, TaskRecord>(concat!(task_select!(), " WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(ToolError::NotFound {
            entity: "task",
            id: id.to_string(),
        })
}

pub async fn list_tasks_page(
    conn: &mut PgConnection,
    q: &ListQuery,
) -> Result<Page<TaskRecord>, ToolError> {
    let limit = q.limit();
    let rows = sqlx::query_as::<_, TaskRecord>(concat!(
        task_select!(),
        " WHERE ($1::text IS NULL OR lower(t.title) LIKE $1)
         AND ($2::uuid IS NULL OR t.id > $2) ORDER BY t.id LIMIT $3"
    ))
    .bind(q.pattern())
    .bind(q.after)
    .bind(limit + 1)
    .fetch_all(conn)
    .await?;
    Ok(page(rows, limit, |r| r.id))
}

/// Filters for task lists used by tools and the focus list.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// Only tasks assigned to this user; None for the whole team.
    pub owner_id: Option<Uuid>,
    pub open_only: bool,
    pub due_before: Option<DateTime<Utc>>,
    pub due_from: Option<DateTime<Utc>>,
    pub contact_id: Option<Uuid>,
    pub company_id: Option<Uuid>,
    pub deal_id: Option<Uuid>,
    pub limit: i64,
}

pub async fn find_tasks(
    conn: &mut PgConnection,
    f: &TaskFilter,
) -> Result<Vec<TaskRecord>, ToolError> {
    Ok(sqlx::query_as::<_, TaskRecord>(concat!(
        task_select!(),
        " WHERE ($1::uuid IS NULL OR t.owner_id = $1)
           AND (NOT $2 OR t.status = 'open')
           AND ($3::timestamptz IS NULL OR t.due_at < $3)
           AND ($4::timestamptz IS NULL OR t.due_at >= $4)
           AND ($5::uuid IS NULL OR t.contact_id = $5)
           AND ($6::uuid IS NULL OR t.company_id = $6)
           AND ($7::uuid IS NULL OR t.deal_id = $7)
         ORDER BY t.due_at NULLS LAST, t.id LIMIT $8"
    ))
    // Unnamed statement: planned for these values every time. A cached generic plan for the
    // optional filters joins every contact by hash (30 ms at 100k contacts) instead of looking
    // up the few tasks' contacts by key.
    .persistent(false)
    .bind(f.owner_id)
    .bind(f.open_only)
    .bind(f.due_before)
    .bind(f.due_from)
    .bind(f.contact_id)
    .bind(f.company_id)
    .bind(f.deal_id)
    .bind(f.limit.clamp(1, 200))
    .fetch_all(conn)
    .await?)
}

/// Which timeline to read.
pub enum TimelineOf {
    Contact(Uuid),
    Company(Uuid),
    Deal(Uuid),
}

pub async fn timeline(
    conn: &mut PgConnection,
    of: TimelineOf,
    limit: i64,
) -> Result<Vec<ActivityRecord>, ToolError> {
    let (sql, id) = match of {
        TimelineOf::Contact(id) => (
            concat!(
                activity_select!(),
                " WHERE a.contact_id = $1",
                timeline_order!()
            ),
            id,
        ),
        TimelineOf::Company(id) => (
            concat!(
                activity_select!(),
                " WHERE a.company_id = $1",
                timeline_order!()
            ),
            id,
        ),
        TimelineOf::Deal(id) => (
            concat!(
                activity_select!(),
                " WHERE a.deal_id = $1",
                timeline_order!()
            ),
            id,
        ),
    };
    Ok(sqlx::query_as::<_, ActivityRecord>(sql)
        .bind(id)
        .bind(limit)
        .fetch_all(conn)
        .await?)
}

/// A change of one field, for the stage history on a deal.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FieldChange {
    pub field: String,
    pub old_value: Option<serde_json::Value>,
    pub new_value: Option<serde_json::Value>,
    pub changed_by: Uuid,
    pub reason_code: Option<String>,
    pub note: Option<String>,
    pub changed_at: DateTime<Utc>,
}

pub async fn field_history(
    conn: &mut PgConnection,
    entity_type: &str,
    id: Uuid,
    limit: i64,
) -> Result<Vec<FieldChange>, ToolError> {
    Ok(sqlx::query_as::<_, FieldChange>(
        "SELECT field, old_value, new_value, changed_by, reason_code, note, changed_at FROM field_history
         WHERE entity_type = $1 AND entity_id = $2 ORDER BY changed_at DESC LIMIT $3",
    )
    .bind(entity_type)
    .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}
