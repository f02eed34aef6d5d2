//! What the Copilot's model calls cost: a price table per model (US dollars per million tokens,
//! with a lower rate for prompt tokens served from the provider's prompt cache) and the monthly
//! cost limits per member and per tenant.
//!
//! Money is counted in integers, never floats: prices in picodollars per token (which is the
//! same number as microdollars per million tokens) and costs in micro-cents (1e-8 US dollar).
//! A call's cost is rounded to the nearest micro-cent once, when it is recorded.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use heimdell_tools::db::begin_tenant;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{ChatError, Copilot, store};
use crate::actions::Caller;
use crate::model::Usage;

/// The built-in planner's model name: it runs in-process and costs nothing.
pub const BUILTIN_MODEL: &str = "heimdell-planner";

/// Micro-cents in one US dollar.
pub const MICRO_CENTS_PER_USD: i64 = 100_000_000;

/// Picodollars in one micro-cent.
const PICO_PER_MICRO_CENT: u128 = 10_000;

/// Decimals a price may have (in dollars per million tokens): one picodollar per token.
pub const PRICE_DECIMALS: u32 = 6;

/// Decimals a cost limit may have (in dollars): one micro-cent.
pub const USD_DECIMALS: u32 = 8;

/// One model's prices, in picodollars per token (= microdollars per million tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Price {
    /// Prompt tokens read afresh.
    pub prompt: u64,
    /// Prompt tokens the provider served from its prompt cache.
    pub cached_prompt: u64,
    /// Completion (output) tokens.
    pub completion: u64,
}

impl Price {
    /// A price from decimal text in US dollars per million tokens, e.g. `("0.15", "0.075",
    /// "0.60")`.
    pub fn parse(prompt: &str, cached_prompt: &str, completion: &str) -> Result<Price, String> {
        let one = |what: &str, text: &str| {
            parse_decimal(text, PRICE_DECIMALS)
                .map_err(|e| format!("{what} price {text:?} {e}"))
                .and_then(|v| {
                    if v > 1_000_000 * 10u64.pow(PRICE_DECIMALS) {
                        Err(format!(
                            "{what} price {text} is more than $1,000,000 per million tokens: surely a mistake"
                        ))
                    } else {
                        Ok(v)
                    }
                })
        };
        Ok(Price {
            prompt: one("prompt", prompt)?,
            cached_prompt: one("cached_prompt", cached_prompt)?,
            completion: one("completion", completion)?,
        })
    }

    /// What `usage` costs at these prices, in micro-cents (rounded to the nearest).
    pub fn cost_micro_cents(&self, usage: Usage) -> i64 {
        let prompt = u128::from(usage.prompt_tokens);
        let cached = u128::from(usage.cached_prompt_tokens).min(prompt);
        let pico = (prompt - cached) * u128::from(self.prompt)
            + cached * u128::from(self.cached_prompt)
            + u128::from(usage.completion_tokens) * u128::from(self.completion);
        let micro_cents = (pico + PICO_PER_MICRO_CENT / 2) / PICO_PER_MICRO_CENT;
        i64::try_from(micro_cents).unwrap_or(i64::MAX)
    }
}

/// Prices per model name, exactly as the model is configured (`HEIMDELL_OPENAI_MODEL`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceTable(BTreeMap<String, Price>);

impl PriceTable {
    /// Adds a model's price; a model named twice is an error.
    pub fn insert(&mut self, model: &str, price: Price) -> Result<(), String> {
        let model = model.trim();
        if model.is_empty() {
            return Err("a model name is empty".into());
        }
        if self.0.insert(model.to_string(), price).is_some() {
            return Err(format!("model {model:?} is priced twice"));
        }
        Ok(())
    }

    /// The environment's form: `model=prompt/cached_prompt/completion` entries separated by
    /// `;`, in US dollars per million tokens, e.g. `gpt-4o-mini=0.15/0.075/0.60;gpt-4o=2.50/1.25/10`.
    pub fn parse(text: &str) -> Result<PriceTable, String> {
        let mut table = PriceTable::default();
        for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let shape = || {
                format!(
                    "{entry:?}: give model=prompt/cached_prompt/completion in US dollars per million tokens, e.g. gpt-4o-mini=0.15/0.075/0.60"
                )
            };
            let (model, prices) = entry.rsplit_once('=').ok_or_else(shape)?;
            let parts: Vec<&str> = prices.split('/').map(str::trim).collect();
            let [prompt, cached, completion] = parts[..] else {
                return Err(shape());
            };
            let price =
                Price::parse(prompt, cached, completion).map_err(|e| format!("{entry:?}: {e}"))?;
            table.insert(model, price)?;
        }
        Ok(table)
    }

    /// A model's price; the built-in planner's is zero. `None` when the model has none.
    pub fn get(&self, model: &str) -> Option<Price> {
        if model == BUILTIN_MODEL {
            return Some(Price::default());
        }
        self.0.get(model).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// The price table and the monthly cost limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CostConfig {
    pub prices: PriceTable,
    /// Cost per member per month, in micro-cents (`HEIMDELL_USAGE_COST_LIMIT_USD`); None for no
    /// limit.
    pub member_limit_micro_cents: Option<i64>,
    /// Cost per tenant per month, in micro-cents (`HEIMDELL_TENANT_COST_LIMIT_USD`); None for no
    /// limit.
    pub tenant_limit_micro_cents: Option<i64>,
}

/// What one model call used, ready to be added to the month's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spend<'a> {
    pub prompt_tokens: u64,
    /// Of `prompt_tokens`, those served from the provider's prompt cache.
    pub cached_prompt_tokens: u64,
    pub completion_tokens: u64,
    /// The estimated cost; 0 when the model has no price.
    pub cost_micro_cents: i64,
    /// The model, when it has no configured price and reported tokens (their cost is unknown).
    pub unpriced_model: Option<&'a str>,
}

impl Spend<'_> {
    /// Tokens whose cost is not known (the model has no price).
    pub fn unpriced_tokens(&self) -> u64 {
        if self.unpriced_model.is_some() {
            self.prompt_tokens + self.completion_tokens
        } else {
            0
        }
    }
}

impl CostConfig {
    /// What `usage` of `model` adds to the month.
    pub fn spend<'a>(&self, model: &'a str, usage: Usage) -> Spend<'a> {
        let cached = usage.cached_prompt_tokens.min(usage.prompt_tokens);
        let price = self.prices.get(model);
        let used = usage.prompt_tokens > 0 || usage.completion_tokens > 0;
        Spend {
            prompt_tokens: u64::from(usage.prompt_tokens),
            cached_prompt_tokens: u64::from(cached),
            completion_tokens: u64::from(usage.completion_tokens),
            cost_micro_cents: price.map_or(0, |p| p.cost_micro_cents(usage)),
            unpriced_model: (price.is_none() && used).then_some(model),
        }
    }
}

/// Whose monthly cost limit a turn ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostScope {
    /// The member's own (`HEIMDELL_USAGE_COST_LIMIT_USD`).
    Member,
    /// The whole tenant's (`HEIMDELL_TENANT_COST_LIMIT_USD`).
    Tenant,
}

impl Copilot {
    /// The price table and cost limits this Copilot counts with.
    pub fn cost_config(&self) -> &CostConfig {
        &self.config.cost
    }

    /// Requests per member per month, if limited.
    pub fn monthly_request_limit(&self) -> Option<i64> {
        self.config.monthly_request_limit
    }

    /// Refuses a turn when this month's estimated cost has reached the member's or the
    /// tenant's limit (checked before the model is called; the turn that crosses a limit
    /// finishes, the next one is refused).
    pub(super) async fn check_cost_limits(
        &self,
        conn: &mut PgConnection,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), ChatError> {
        let cost = &self.config.cost;
        if cost.member_limit_micro_cents.is_none() && cost.tenant_limit_micro_cents.is_none() {
            return Ok(());
        }
        let (mine, tenant) = store::month_costs(conn, user_id, now).await?;
        for (scope, limit, spent) in [
            (CostScope::Member, cost.member_limit_micro_cents, mine),
            (CostScope::Tenant, cost.tenant_limit_micro_cents, tenant),
        ] {
            if let Some(limit) = limit
                && spent >= limit
            {
                return Err(ChatError::CostLimit {
                    scope,
                    limit_micro_cents: limit,
                    spent_micro_cents: spent,
                });
            }
        }
        Ok(())
    }

    /// Adds one model call's tokens and cost to the month's counters at once (so a turn that
    /// fails later still counts what it spent).
    pub(super) async fn record_usage(
        &self,
        caller: Caller,
        now: DateTime<Utc>,
        usage: Usage,
    ) -> Result<(), ChatError> {
        let spend = self.config.cost.spend(self.model.name(), usage);
        if spend.prompt_tokens == 0 && spend.completion_tokens == 0 {
            // The built-in planner: nothing to add.
            return Ok(());
        }
        let mut tx = begin_tenant(self.pipeline.pool(), caller.tenant_id).await?;
        store::add_usage(&mut tx, caller.user_id, now, &spend).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A non-negative decimal (`12`, `0.075`, `1.50`) as an integer scaled by `10^decimals`.
/// No signs, exponents or more decimals than `decimals`: money is never rounded silently.
pub fn parse_decimal(text: &str, decimals: u32) -> Result<u64, String> {
    let text = text.trim();
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && frac.is_empty() || !digits(whole) || !digits(frac) {
        return Err("is not a non-negative decimal number such as 0.15".into());
    }
    if frac.len() > decimals as usize {
        return Err(format!("has more than {decimals} decimals"));
    }
    let scale = 10u64.pow(decimals);
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| "is too large".to_string())?
    };
    let frac: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<width$}", width = decimals as usize)
            .parse()
            .map_err(|_| "is not a number".to_string())?
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(|| "is too large".to_string())
}

/// A cost limit in US dollars (`5`, `12.50`) as micro-cents; it must be more than zero.
pub fn parse_usd_limit(text: &str) -> Result<i64, String> {
    let v = parse_decimal(text, USD_DECIMALS)?;
    let v = i64::try_from(v).map_err(|_| "is too large".to_string())?;
    if v == 0 {
        return Err("must be more than 0 (leave it unset for no limit)".into());
    }
    Ok(v)
}

/// Micro-cents as US dollars, exactly, with at least two decimals: `5.00`, `0.00012345`.
pub fn usd(micro_cents: i64) -> String {
    let sign = if micro_cents < 0 { "-" } else { "" };
    let v = micro_cents.unsigned_abs();
    let per = MICRO_CENTS_PER_USD.unsigned_abs();
    let frac = format!("{:08}", v % per);
    let frac = frac.trim_end_matches('0');
    format!("{sign}{}.{frac:0<2}", v / per)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(prompt: u32, cached: u32, completion: u32) -> Usage {
        Usage {
            prompt_tokens: prompt,
            cached_prompt_tokens: cached,
            completion_tokens: completion,
        }
    }

    #[test]
    fn decimals_parse_exactly_or_not_at_all() {
        assert_eq!(parse_decimal("0.15", 6), Ok(150_000));
        assert_eq!(parse_decimal("0.075", 6), Ok(75_000));
        assert_eq!(parse_decimal("10", 6), Ok(10_000_000));
        assert_eq!(parse_decimal(".5", 2), Ok(50));
        assert_eq!(parse_decimal("2.", 2), Ok(200));
        for bad in [
            "",
            ".",
            "-1",
            "+1",
            "1e3",
            "0.1234567",
            "abc",
            "1.2.3",
            "NaN",
            " 1 2",
        ] {
            assert!(parse_decimal(bad, 6).is_err(), "{bad:?}");
        }
        assert!(parse_decimal("99999999999999999999", 6).is_err());
        assert_eq!(parse_usd_limit("5"), Ok(500_000_000));
        assert_eq!(parse_usd_limit("0.01"), Ok(1_000_000));
        assert!(parse_usd_limit("0").is_err());
        assert!(parse_usd_limit("0.000000001").is_err());
    }

    #[test]
    fn cost_uses_the_cached_rate_for_cached_prompt_tokens() {
        let p = Price::parse("0.15", "0.075", "0.60").unwrap();
        // 1M fresh prompt tokens at $0.15 = 15 cents = 15,000,000 micro-cents.
        assert_eq!(p.cost_micro_cents(usage(1_000_000, 0, 0)), 15_000_000);
        assert_eq!(
            p.cost_micro_cents(usage(1_000_000, 1_000_000, 0)),
            7_500_000
        );
        assert_eq!(p.cost_micro_cents(usage(0, 0, 1_000_000)), 60_000_000);
        // 1000 prompt tokens (400 cached) and 200 completion tokens:
        // (600 * 0.15 + 400 * 0.075 + 200 * 0.60) / 1e6 = $0.00024 = 24,000 micro-cents.
        assert_eq!(p.cost_micro_cents(usage(1000, 400, 200)), 24_000);
        // A server claiming more cached than prompt tokens cannot make tokens cheaper than free.
        assert_eq!(p.cost_micro_cents(usage(10, 50, 0)), 75);
        // Rounded to the nearest micro-cent: one token at $0.075/M is 7.5 micro-cents.
        assert_eq!(p.cost_micro_cents(usage(1, 1, 0)), 8);
    }

    #[test]
    fn the_table_parses_and_names_what_is_wrong() {
        let t = PriceTable::parse(" gpt-4o-mini=0.15/0.075/0.60; llama3.1:8b = 0/0/0 ;").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            t.get("gpt-4o-mini"),
            Some(Price {
                prompt: 150_000,
                cached_prompt: 75_000,
                completion: 600_000
            })
        );
        assert_eq!(t.get("llama3.1:8b"), Some(Price::default()));
        assert_eq!(t.get("gpt-4o"), None);
        assert_eq!(t.get(BUILTIN_MODEL), Some(Price::default()));
        for (bad, says) in [
            ("gpt-4o-mini=0.15/0.60", "gpt-4o-mini=0.15/0.60"),
            ("gpt-4o-mini", "prompt/cached_prompt/completion"),
            ("gpt-4o-mini=0.15/x/0.60", "cached_prompt"),
            ("=1/1/1", "empty"),
            ("a=1/1/1;a=2/2/2", "twice"),
            ("a=-1/1/1", "prompt"),
        ] {
            let e = PriceTable::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn a_model_without_a_price_costs_zero_and_is_flagged() {
        let cfg = CostConfig {
            prices: PriceTable::parse("gpt-4o-mini=0.15/0.075/0.60").unwrap(),
            ..CostConfig::default()
        };
        let s = cfg.spend("gpt-4o-mini", usage(1000, 400, 200));
        assert_eq!((s.cost_micro_cents, s.unpriced_model), (24_000, None));
        let s = cfg.spend("mystery", usage(1000, 0, 200));
        assert_eq!((s.cost_micro_cents, s.unpriced_model), (0, Some("mystery")));
        assert_eq!(s.unpriced_tokens(), 1200);
        // The planner, and any call that used nothing, is free and not flagged.
        let s = cfg.spend(BUILTIN_MODEL, usage(0, 0, 0));
        assert_eq!((s.cost_micro_cents, s.unpriced_model), (0, None));
        let s = cfg.spend("mystery", usage(0, 0, 0));
        assert_eq!(s.unpriced_model, None);
    }

    #[test]
    fn dollars_print_exactly() {
        assert_eq!(usd(0), "0.00");
        assert_eq!(usd(500_000_000), "5.00");
        assert_eq!(usd(24_000), "0.00024");
        assert_eq!(usd(12_345), "0.00012345");
        assert_eq!(usd(1_250_000_000), "12.50");
    }
}
