-- Heimdell schema: every tenant-owned table carries tenant_id, and every primary and unique key
-- leads with it so the schema can later be distributed by tenant.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS vector;

-- The role the server connects as: no BYPASSRLS, never the owner of the tables.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'heimdell_app') THEN
        CREATE ROLE heimdell_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
END
$$;

-- The tenant of the current transaction, set by the app with set_config(..., true).
CREATE FUNCTION app_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('heimdell.tenant_id', true), '')::uuid $$;

CREATE TABLE tenants (
    id          uuid PRIMARY KEY DEFAULT uuidv7(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    country     text NOT NULL DEFAULT 'US' CHECK (country ~ '^[A-Z]{2}$'),
    timezone    text NOT NULL DEFAULT 'UTC',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    tenant_id       uuid NOT NULL REFERENCES tenants(id),
    id              uuid NOT NULL DEFAULT uuidv7(),
    email           text NOT NULL,
    name            text NOT NULL,
    role            text NOT NULL CHECK (role IN ('admin', 'manager', 'rep')),
    password_hash   text,
    timezone        text NOT NULL DEFAULT 'UTC',
    phone           text,
    failed_logins   int NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX users_email ON users (tenant_id, lower(email));
CREATE INDEX users_email_lookup ON users (lower(email));

CREATE TABLE api_tokens (
    tenant_id    uuid NOT NULL,
    id           uuid NOT NULL DEFAULT uuidv7(),
    user_id      uuid NOT NULL,
    name         text NOT NULL DEFAULT 'default',
    token_hash   bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX api_tokens_hash ON api_tokens (token_hash);

CREATE TABLE sessions (
    tenant_id    uuid NOT NULL,
    id           uuid NOT NULL DEFAULT uuidv7(),
    user_id      uuid NOT NULL,
    token_hash   bytea NOT NULL,
    csrf_hash    bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX sessions_hash ON sessions (token_hash);

CREATE TABLE companies (
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    id          uuid NOT NULL DEFAULT uuidv7(),
    name        text NOT NULL,
    domain      text,
    industry    text,
    phone       text,
    owner_id    uuid,
    version     int NOT NULL DEFAULT 1,
    created_by  uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX companies_name_trgm ON companies USING gin (lower(name) gin_trgm_ops);
CREATE INDEX companies_domain_trgm ON companies USING gin (lower(coalesce(domain, '')) gin_trgm_ops);

CREATE TABLE contacts (
    tenant_id            uuid NOT NULL REFERENCES tenants(id),
    id                   uuid NOT NULL DEFAULT uuidv7(),
    company_id           uuid,
    first_name           text NOT NULL DEFAULT '',
    last_name            text NOT NULL DEFAULT '',
    email                text,
    phone                text,
    title                text,
    owner_id             uuid,
    timezone             text,
    email_opt_out        boolean NOT NULL DEFAULT false,
    email_opt_out_at     timestamptz,
    sms_opt_out          boolean NOT NULL DEFAULT false,
    sms_opt_out_at       timestamptz,
    do_not_call          boolean NOT NULL DEFAULT false,
    do_not_call_at       timestamptz,
    marketing_consent    boolean NOT NULL DEFAULT false,
    marketing_consent_at timestamptz,
    lawful_basis         text CHECK (lawful_basis IN ('consent', 'contract', 'legal_obligation',
                                     'vital_interests', 'public_task', 'legitimate_interests')),
    anonymised           boolean NOT NULL DEFAULT false,
    anonymised_at        timestamptz,
    version              int NOT NULL DEFAULT 1,
    created_by           uuid,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    -- One lower-cased haystack for fuzzy search over names, email and phone.
    search_text          text GENERATED ALWAYS AS (
        lower(first_name || ' ' || last_name || ' ' || coalesce(email, '') || ' ' || coalesce(phone, ''))
    ) STORED,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX contacts_search_trgm ON contacts USING gin (search_text gin_trgm_ops);
CREATE INDEX contacts_company ON contacts (tenant_id, company_id);
CREATE INDEX contacts_email ON contacts (tenant_id, lower(email));
CREATE INDEX contacts_phone ON contacts (tenant_id, phone);

CREATE TABLE pipelines (
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    id          uuid NOT NULL DEFAULT uuidv7(),
    name        text NOT NULL,
    is_default  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX pipelines_name ON pipelines (tenant_id, lower(name));
CREATE UNIQUE INDEX pipelines_one_default ON pipelines (tenant_id) WHERE is_default;

CREATE TABLE stages (
    tenant_id    uuid NOT NULL,
    id           uuid NOT NULL DEFAULT uuidv7(),
    pipeline_id  uuid NOT NULL,
    name         text NOT NULL,
    position     int NOT NULL,
    probability  int NOT NULL CHECK (probability BETWEEN 0 AND 100),
    is_won       boolean NOT NULL DEFAULT false,
    is_lost      boolean NOT NULL DEFAULT false,
    CHECK (NOT (is_won AND is_lost)),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, pipeline_id, position),
    FOREIGN KEY (tenant_id, pipeline_id) REFERENCES pipelines (tenant_id, id)
);
CREATE UNIQUE INDEX stages_name ON stages (tenant_id, pipeline_id, lower(name));

CREATE TABLE deals (
    tenant_id         uuid NOT NULL REFERENCES tenants(id),
    id                uuid NOT NULL DEFAULT uuidv7(),
    name              text NOT NULL,
    company_id        uuid,
    contact_id        uuid,
    pipeline_id       uuid NOT NULL,
    stage_id          uuid NOT NULL,
    value_minor       bigint NOT NULL DEFAULT 0 CHECK (value_minor >= 0),
    currency          text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    owner_id          uuid,
    expected_close    date,
    version           int NOT NULL DEFAULT 1,
    last_activity_at  timestamptz,
    closed_at         timestamptz,
    created_by        uuid,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id),
    FOREIGN KEY (tenant_id, pipeline_id) REFERENCES pipelines (tenant_id, id),
    FOREIGN KEY (tenant_id, stage_id) REFERENCES stages (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX deals_name_trgm ON deals USING gin (lower(name) gin_trgm_ops);
CREATE INDEX deals_company ON deals (tenant_id, company_id);
CREATE INDEX deals_contact ON deals (tenant_id, contact_id);
CREATE INDEX deals_owner ON deals (tenant_id, owner_id);

CREATE TABLE tasks (
    tenant_id     uuid NOT NULL REFERENCES tenants(id),
    id            uuid NOT NULL DEFAULT uuidv7(),
    title         text NOT NULL,
    notes         text,
    due_at        timestamptz,
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    completed_at  timestamptz,
    owner_id      uuid,
    contact_id    uuid,
    company_id    uuid,
    deal_id       uuid,
    version       int NOT NULL DEFAULT 1,
    created_by    uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id),
    FOREIGN KEY (tenant_id, deal_id) REFERENCES deals (tenant_id, id)
);
CREATE INDEX tasks_open_due ON tasks (tenant_id, owner_id, due_at) WHERE status = 'open';
CREATE INDEX tasks_contact ON tasks (tenant_id, contact_id);
CREATE INDEX tasks_deal ON tasks (tenant_id, deal_id);
CREATE INDEX tasks_company ON tasks (tenant_id, company_id);

CREATE TABLE proposed_actions (
    tenant_id        uuid NOT NULL REFERENCES tenants(id),
    id               uuid NOT NULL DEFAULT uuidv7(),
    tool             text NOT NULL,
    args             jsonb NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'executed', 'rejected', 'expired', 'failed')),
    requester_id     uuid NOT NULL,
    approver_role    text NOT NULL CHECK (approver_role IN ('self', 'manager', 'admin')),
    preview          text NOT NULL,
    idempotency_key  text NOT NULL,
    source           text NOT NULL DEFAULT 'api',
    expires_at       timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    decided_at       timestamptz,
    decided_by       uuid,
    decision_reason  text,
    result           jsonb,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key),
    FOREIGN KEY (tenant_id, requester_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, decided_by) REFERENCES users (tenant_id, id)
);
CREATE INDEX proposed_actions_pending ON proposed_actions (tenant_id, created_at) WHERE status = 'pending';

CREATE TABLE activities (
    tenant_id    uuid NOT NULL REFERENCES tenants(id),
    id           uuid NOT NULL DEFAULT uuidv7(),
    kind         text NOT NULL CHECK (kind IN ('note', 'call', 'meeting', 'email', 'sms', 'system')),
    subject      text,
    body         text,
    contact_id   uuid,
    company_id   uuid,
    deal_id      uuid,
    actor_id     uuid,
    action_id    uuid,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id),
    FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id),
    FOREIGN KEY (tenant_id, deal_id) REFERENCES deals (tenant_id, id),
    FOREIGN KEY (tenant_id, actor_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX activities_contact ON activities (tenant_id, contact_id, occurred_at DESC);
CREATE INDEX activities_company ON activities (tenant_id, company_id, occurred_at DESC);
CREATE INDEX activities_deal ON activities (tenant_id, deal_id, occurred_at DESC);

-- Append-only for the app role (grants below): who changed which field, from what to what, why.
CREATE TABLE field_history (
    tenant_id    uuid NOT NULL REFERENCES tenants(id),
    id           uuid NOT NULL DEFAULT uuidv7(),
    entity_type  text NOT NULL CHECK (entity_type IN ('contact', 'company', 'deal', 'task')),
    entity_id    uuid NOT NULL,
    field        text NOT NULL,
    old_value    jsonb,
    new_value    jsonb,
    changed_by   uuid NOT NULL,
    reason_code  text,
    note         text,
    action_id    uuid,
    changed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX field_history_entity ON field_history (tenant_id, entity_type, entity_id, changed_at DESC);

-- Append-only for the app role: every proposal, decision and execution.
CREATE TABLE audit_log (
    tenant_id     uuid NOT NULL REFERENCES tenants(id),
    id            uuid NOT NULL DEFAULT uuidv7(),
    at            timestamptz NOT NULL DEFAULT now(),
    event         text NOT NULL CHECK (event IN ('executed_read', 'proposed', 'denied', 'approved',
                                       'executed', 'rejected', 'expired', 'failed')),
    actor_id      uuid,
    action_id     uuid,
    tool          text NOT NULL,
    args          jsonb,
    requester_id  uuid,
    approver_id   uuid,
    decision      text,
    reason        text,
    result        jsonb,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_action ON audit_log (tenant_id, action_id);
CREATE INDEX audit_log_at ON audit_log (tenant_id, at DESC);

-- Row-level security: the app role sees and writes only the tenant of its transaction.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'api_tokens', 'sessions', 'companies', 'contacts', 'pipelines',
                             'stages', 'deals', 'tasks', 'proposed_actions', 'activities',
                             'field_history', 'audit_log']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant())
                        WITH CHECK (tenant_id = app_tenant())', t);
    END LOOP;
END
$$;
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants USING (id = app_tenant()) WITH CHECK (id = app_tenant());

GRANT USAGE ON SCHEMA public TO heimdell_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO heimdell_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, field_history FROM heimdell_app;
REVOKE DELETE, TRUNCATE ON tenants FROM heimdell_app;
GRANT EXECUTE ON FUNCTION app_tenant() TO heimdell_app;

-- Sign-in happens before the tenant is known. These narrow SECURITY DEFINER functions are the only
-- cross-tenant reads the app role can make: they map a secret (or an email) to (tenant, user).
CREATE FUNCTION auth_users_by_email(p_email text)
    RETURNS TABLE (tenant_id uuid, user_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT u.tenant_id, u.id FROM users u WHERE lower(u.email) = lower(p_email) $$;

CREATE FUNCTION auth_token(p_hash bytea)
    RETURNS TABLE (tenant_id uuid, user_id uuid, role text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT t.tenant_id, t.user_id, u.role FROM api_tokens t
          JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id
          WHERE t.token_hash = p_hash AND t.revoked_at IS NULL $$;

CREATE FUNCTION auth_session(p_hash bytea)
    RETURNS TABLE (tenant_id uuid, user_id uuid, role text, csrf_hash bytea)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT s.tenant_id, s.user_id, u.role, s.csrf_hash FROM sessions s
          JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
          WHERE s.token_hash = p_hash AND s.expires_at > now() $$;

-- Seeding is idempotent across runs: find a tenant by name without knowing its id.
CREATE FUNCTION tenant_by_name(p_name text)
    RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT id FROM tenants WHERE name = p_name ORDER BY created_at LIMIT 1 $$;

REVOKE ALL ON FUNCTION auth_users_by_email(text), auth_token(bytea), auth_session(bytea),
    tenant_by_name(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_users_by_email(text), auth_token(bytea), auth_session(bytea),
    tenant_by_name(text) TO heimdell_app;
