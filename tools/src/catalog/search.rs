//! `search`: fuzzy lookup of contacts, companies and deals by name, email, phone or domain.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::common::Check;
use crate::error::ToolError;
use crate::records::like_escape;
use crate::registry::{Ctx, Facts, Inspection, Tool, ToolKind};

/// What kind of record a search may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EntityType {
    Contact,
    Company,
    Deal,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// A name, part of a name, an email, a phone number or a web domain.
    #[schemars(length(min = 1, max = 200))]
    pub query: String,
    /// Only these kinds of record (default: all three).
    #[serde(default)]
    pub types: Option<Vec<EntityType>>,
    /// How many results at most (default 10).
    #[serde(default)]
    #[schemars(range(min = 1, max = 50))]
    pub limit: Option<u32>,
}

pub struct SearchInput {
    /// Lower-cased query for trigram similarity.
    query: String,
    /// LIKE pattern: the query as a substring, or its digits for phone-like queries.
    pattern: String,
    /// Up to three LIKE patterns, one per word, that a contact must all contain (a query of
    /// fewer words repeats its first pattern: the trigram index handles AND, not "match all").
    words: [String; 3],
    types: Vec<EntityType>,
    limit: i64,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
struct Hit {
    #[sqlx(rename = "kind")]
    r#type: String,
    id: Uuid,
    title: String,
    subtitle: Option<String>,
    score: f64,
}

pub struct Search;

/// Contacts containing every word of the query (names, email, phone), best word match first;
/// if none does, a typo-tolerant match on names alone.
async fn contacts(conn: &mut PgConnection, input: &SearchInput) -> Result<Vec<Hit>, ToolError> {
    let exact = sqlx::query_as::<_, Hit>(
        "SELECT 'contact' AS kind, c.id, trim(c.first_name || ' ' || c.last_name) AS title,
            nullif(concat_ws(' · ', c.email, c.phone, co.name), '') AS subtitle,
            (1 + word_similarity($1, c.search_text))::float8 AS score
         FROM contact_ids_with_words($2, $3, $4, $1, $5::int) m
         JOIN contacts c ON c.id = m.id
         LEFT JOIN companies co ON co.tenant_id = c.tenant_id AND co.id = c.company_id
         ORDER BY score DESC, c.id",
    )
    .bind(&input.query)
    .bind(&input.words[0])
    .bind(&input.words[1])
    .bind(&input.words[2])
    .bind(input.limit)
    .fetch_all(&mut *conn)
    .await?;
    if !exact.is_empty() {
        return Ok(exact);
    }
    Ok(sqlx::query_as::<_, Hit>(
        "SELECT 'contact' AS kind, c.id, trim(c.first_name || ' ' || c.last_name) AS title,
            nullif(concat_ws(' · ', c.email, c.phone, co.name), '') AS subtitle,
            similarity(lower(c.first_name || ' ' || c.last_name), $1)::float8 AS score
         FROM contacts c LEFT JOIN companies co ON co.tenant_id = c.tenant_id AND co.id = c.company_id
         WHERE lower(c.first_name || ' ' || c.last_name) % $1
         ORDER BY score DESC, c.id LIMIT $2",
    )
    .bind(&input.query)
    .bind(input.limit)
    .fetch_all(&mut *conn)
    .await?)
}

impl Tool for Search {
    type Args = SearchArgs;
    type Input = SearchInput;
    const NAME: &'static str = "search";
    const KIND: ToolKind = ToolKind::Read;
    const DESCRIPTION: &'static str = "Find contacts, companies and deals by name (fuzzy, typos allowed), email, phone number or web domain. Returns ids to pass to get_contact, get_company or get_deal.";

    fn parse(_ctx: &Ctx, args: SearchArgs) -> Result<SearchInput, ToolError> {
        let mut check = Check::default();
        let text = check.text("query", &args.query, 200);
        check.finish()?;
        let query = text.map(|t| t.as_str().to_lowercase()).unwrap_or_default();
        let digits: String = query.chars().filter(char::is_ascii_digit).collect();
        let phone_like = digits.len() >= 4
            && query
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        let needle = if phone_like { digits } else { query.clone() };
        let pattern = format!("%{}%", like_escape(&needle));
        let mut words: Vec<String> = if phone_like {
            vec![pattern.clone()]
        } else {
            query
                .split_whitespace()
                .take(3)
                .map(|w| format!("%{}%", like_escape(w)))
                .collect()
        };
        while words.len() < 3 {
            words.push(words.first().cloned().unwrap_or_else(|| pattern.clone()));
        }
        let words = [words[0].clone(), words[1].clone(), words[2].clone()];
        Ok(SearchInput {
            words,
            pattern,
            query,
            types: args.types.unwrap_or_else(|| {
                vec![EntityType::Contact, EntityType::Company, EntityType::Deal]
            }),
            limit: i64::from(args.limit.unwrap_or(10)),
        })
    }

    async fn inspect(
        _conn: &mut PgConnection,
        _ctx: &Ctx,
        input: &SearchInput,
    ) -> Result<Inspection, ToolError> {
        Ok(Inspection {
            facts: Facts::default(),
            preview: format!("Search for “{}”", input.query),
        })
    }

    async fn run(
        conn: &mut PgConnection,
        _ctx: &Ctx,
        input: SearchInput,
    ) -> Result<Value, ToolError> {
        let mut hits: Vec<Hit> = Vec::new();
        for t in &input.types {
            let sql = match t {
                EntityType::Contact => {
                    hits.extend(contacts(conn, &input).await?);
                    continue;
                }
                EntityType::Company => {
                    "SELECT 'company' AS kind, co.id, co.name AS title, co.domain AS subtitle,
                        (greatest(word_similarity($1, lower(co.name)), word_similarity($1, lower(coalesce(co.domain, ''))))
                         + CASE WHEN lower(co.name) LIKE $2 OR lower(coalesce(co.domain, '')) LIKE $2 THEN 0.5 ELSE 0 END)::float8 AS score
                     FROM companies co
                     WHERE lower(co.name) LIKE $2 OR lower(coalesce(co.domain, '')) LIKE $2
                        OR $1 <% lower(co.name) OR $1 <% lower(coalesce(co.domain, ''))
                     ORDER BY score DESC, co.id LIMIT $3"
                }
                EntityType::Deal => {
                    "SELECT 'deal' AS kind, d.id, d.name AS title,
                        nullif(concat_ws(' · ', co.name, s.name), '') AS subtitle,
                        (word_similarity($1, lower(d.name)) + CASE WHEN lower(d.name) LIKE $2 THEN 0.5 ELSE 0 END)::float8 AS score
                     FROM deals d JOIN stages s ON s.tenant_id = d.tenant_id AND s.id = d.stage_id
                     LEFT JOIN companies co ON co.tenant_id = d.tenant_id AND co.id = d.company_id
                     WHERE lower(d.name) LIKE $2 OR $1 <% lower(d.name)
                     ORDER BY score DESC, d.id LIMIT $3"
                }
            };
            let rows = sqlx::query_as::<_, Hit>(sql)
                .bind(&input.query)
                .bind(&input.pattern)
                .bind(input.limit)
                .fetch_all(&mut *conn)
                .await?;
            hits.extend(rows);
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(input.limit as usize);
        // The query is not echoed: it is the caller's own words, and echoed back it would read
        // as if the CRM held it.
        Ok(json!({ "results": hits }))
    }
}
