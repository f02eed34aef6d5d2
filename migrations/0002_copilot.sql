-- The Copilot's memory: threads, their messages, and usage counted per tenant, user and month.

CREATE TABLE threads (
    tenant_id     uuid NOT NULL REFERENCES tenants(id),
    id            uuid NOT NULL DEFAULT uuidv7(),
    user_id       uuid NOT NULL,
    title         text NOT NULL,
    context_type  text CHECK (context_type IN ('contact', 'company', 'deal')),
    context_id    uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX threads_user ON threads (tenant_id, user_id, updated_at DESC);

CREATE TABLE chat_messages (
    tenant_id          uuid NOT NULL REFERENCES tenants(id),
    id                 uuid NOT NULL DEFAULT uuidv7(),
    thread_id          uuid NOT NULL,
    role               text NOT NULL CHECK (role IN ('user', 'assistant')),
    content            text NOT NULL,
    citations          jsonb NOT NULL DEFAULT '[]',
    action_ids         uuid[] NOT NULL DEFAULT '{}',
    warnings           jsonb NOT NULL DEFAULT '[]',
    -- Which model and prompt produced an assistant message, for audits and evals.
    model              text,
    prompt_version     text,
    prompt_tokens      int NOT NULL DEFAULT 0,
    completion_tokens  int NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, thread_id) REFERENCES threads (tenant_id, id)
);
CREATE INDEX chat_messages_thread ON chat_messages (tenant_id, thread_id, created_at);

CREATE TABLE usage_counters (
    tenant_id          uuid NOT NULL REFERENCES tenants(id),
    user_id            uuid NOT NULL,
    month              date NOT NULL,
    requests           int NOT NULL DEFAULT 0,
    prompt_tokens      bigint NOT NULL DEFAULT 0,
    completion_tokens  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, user_id, month),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['threads', 'chat_messages', 'usage_counters']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant())
                        WITH CHECK (tenant_id = app_tenant())', t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON threads, chat_messages, usage_counters TO heimdell_app;
