-- Usage that counts money: per tenant, member and month, the prompt tokens a provider served from
-- its prompt cache (OpenAI's `usage.prompt_tokens_details.cached_tokens`, billed at a lower rate)
-- and the estimated cost from the configured price table, in micro-cents (1e-8 US dollar), so
-- sums stay exact. Tokens of models with no configured price are counted apart (their cost is
-- unknown, not zero), with the models' names, so the usage read can say so.

ALTER TABLE usage_counters
    ADD COLUMN cached_prompt_tokens bigint NOT NULL DEFAULT 0 CHECK (cached_prompt_tokens >= 0),
    ADD COLUMN cost_micro_cents     bigint NOT NULL DEFAULT 0 CHECK (cost_micro_cents >= 0),
    ADD COLUMN unpriced_tokens      bigint NOT NULL DEFAULT 0 CHECK (unpriced_tokens >= 0),
    ADD COLUMN unpriced_models      text[] NOT NULL DEFAULT '{}';
