-- Texting and calling through Twilio: each tenant's connected account (auth token encrypted at
-- rest), SMS templates, consent history, messages and calls linked to timeline activities, the
-- durable outbox that delivers approved sends, and the keys that make webhook deliveries
-- idempotent.

-- One Twilio account per tenant. The auth token is stored only as an XChaCha20-Poly1305 sealed
-- string (`sealed:v1:…`) under HEIMDELL_SECRET_KEY, bound to the tenant; the database never sees
-- it in clear.
CREATE TABLE twilio_accounts (
    tenant_id              uuid PRIMARY KEY REFERENCES tenants(id),
    account_sid            text NOT NULL CHECK (account_sid ~ '^[A-Za-z0-9]{2,64}$'),
    auth_token_sealed      text NOT NULL CHECK (auth_token_sealed LIKE 'sealed:v1:%'),
    -- Our sending numbers, E.164.
    numbers                text[] NOT NULL CHECK (cardinality(numbers) BETWEEN 1 AND 50),
    -- Calls are recorded only when the tenant turns this on; the bridge then plays a notice first.
    recording_enabled      boolean NOT NULL DEFAULT false,
    consent_notice         text,
    -- Quiet hours in the contact's time zone (the tenant's when the contact has none).
    quiet_start            time NOT NULL DEFAULT '21:00',
    quiet_end              time NOT NULL DEFAULT '08:00',
    -- SMS sent per tenant per local day, and per sending number per minute.
    daily_cap              int NOT NULL DEFAULT 2000 CHECK (daily_cap >= 0),
    per_number_per_minute  int NOT NULL DEFAULT 60 CHECK (per_number_per_minute > 0),
    connected_by           uuid NOT NULL,
    connected_at           timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, connected_by) REFERENCES users (tenant_id, id)
);

CREATE TABLE sms_templates (
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    id          uuid NOT NULL DEFAULT uuidv7(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    body        text NOT NULL CHECK (length(body) BETWEEN 1 AND 1600),
    created_by  uuid NOT NULL,
    action_id   uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id)
);
CREATE UNIQUE INDEX sms_templates_name ON sms_templates (tenant_id, lower(name));

-- Consent history, append-only for the app role: the latest event per contact and channel wins
-- and is mirrored onto the contact's flags (sms_opt_out, do_not_call, email_opt_out,
-- marketing_consent).
CREATE TABLE consent_events (
    tenant_id     uuid NOT NULL REFERENCES tenants(id),
    id            uuid NOT NULL DEFAULT uuidv7(),
    contact_id    uuid NOT NULL,
    channel       text NOT NULL CHECK (channel IN ('sms', 'call', 'email', 'marketing')),
    status        text NOT NULL CHECK (status IN ('granted', 'withdrawn')),
    source        text NOT NULL CHECK (length(source) BETWEEN 1 AND 200),
    lawful_basis  text CHECK (lawful_basis IN ('consent', 'contract', 'legal_obligation',
                              'vital_interests', 'public_task', 'legitimate_interests')),
    note          text,
    recorded_by   uuid,
    action_id     uuid,
    message_id    uuid,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id),
    FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id)
);
CREATE INDEX consent_events_contact ON consent_events (tenant_id, contact_id, channel, recorded_at DESC, id DESC);

-- Every SMS in or out. An inbound message from a number no contact has keeps contact_id NULL:
-- that is the list of unmatched inbound messages shown to the tenant's admins.
CREATE TABLE messages (
    tenant_id       uuid NOT NULL REFERENCES tenants(id),
    id              uuid NOT NULL DEFAULT uuidv7(),
    direction       text NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    contact_id      uuid,
    activity_id     uuid,
    action_id       uuid,
    requested_by    uuid,
    from_number     text NOT NULL,
    to_number       text NOT NULL,
    body            text NOT NULL,
    -- An inbound STOP / START / HELP keyword.
    keyword         text CHECK (keyword IN ('opt_out', 'opt_in', 'help')),
    -- Ours (pending, blocked, uncertain) and Twilio's message statuses.
    status          text NOT NULL CHECK (status IN ('pending', 'blocked', 'uncertain', 'queued',
                        'sending', 'sent', 'delivered', 'undelivered', 'failed', 'receiving',
                        'received', 'accepted', 'scheduled', 'read', 'partially_delivered',
                        'canceled')),
    -- Why an outbound message waits: quiet_hours, rate_limit or daily_cap.
    queued_reason   text,
    send_after      timestamptz,
    provider_sid    text,
    error_code      int,
    error_message   text,
    -- Every status Twilio reported, in arrival order: [{"status","at","error_code"}].
    status_history  jsonb NOT NULL DEFAULT '[]',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id),
    FOREIGN KEY (tenant_id, activity_id) REFERENCES activities (tenant_id, id),
    FOREIGN KEY (tenant_id, requested_by) REFERENCES users (tenant_id, id)
);
CREATE UNIQUE INDEX messages_provider_sid ON messages (tenant_id, provider_sid) WHERE provider_sid IS NOT NULL;
CREATE INDEX messages_contact ON messages (tenant_id, contact_id, created_at DESC);
CREATE INDEX messages_unmatched ON messages (tenant_id, created_at DESC)
    WHERE direction = 'inbound' AND contact_id IS NULL;
CREATE INDEX messages_sent_from ON messages (tenant_id, from_number, sent_at)
    WHERE direction = 'outbound' AND sent_at IS NOT NULL;

-- Click-to-call as a bridge: Twilio rings the rep (rep_number) from one of our numbers, then the
-- voice webhook connects the contact.
CREATE TABLE calls (
    tenant_id         uuid NOT NULL REFERENCES tenants(id),
    id                uuid NOT NULL DEFAULT uuidv7(),
    contact_id        uuid NOT NULL,
    user_id           uuid NOT NULL,
    activity_id       uuid,
    action_id         uuid,
    from_number       text NOT NULL,
    rep_number        text NOT NULL,
    contact_number    text NOT NULL,
    status            text NOT NULL CHECK (status IN ('pending', 'blocked', 'uncertain', 'queued',
                          'initiated', 'ringing', 'in-progress', 'completed', 'busy', 'failed',
                          'no-answer', 'canceled')),
    provider_sid      text,
    duration_seconds  int,
    -- The highest SequenceNumber applied, so late callbacks never move a call backwards.
    last_sequence     int,
    recording         boolean NOT NULL DEFAULT false,
    disposition       text CHECK (disposition IN ('connected', 'left_voicemail', 'no_answer', 'busy',
                          'wrong_number', 'not_interested', 'callback_requested', 'meeting_booked',
                          'other')),
    disposition_note  text,
    disposition_by    uuid,
    disposition_at    timestamptz,
    error_message     text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, activity_id) REFERENCES activities (tenant_id, id)
);
CREATE UNIQUE INDEX calls_provider_sid ON calls (tenant_id, provider_sid) WHERE provider_sid IS NOT NULL;
CREATE INDEX calls_contact ON calls (tenant_id, contact_id, created_at DESC);

-- The durable outbox: an approved send is written here in the approval's transaction; workers
-- claim due jobs with FOR UPDATE SKIP LOCKED (through outbox_claim below) and deliver each with
-- the job's idempotency key.
--   pending  → due at not_before
--   claimed  → a worker holds it until locked_until (expired: claimable again; nothing was sent)
--   sending  → the request to Twilio is in flight (expired: the outcome is unknown, so the job is
--              dead-lettered for a person to check rather than risk sending twice)
--   done | dead (dead letter, shown to admins) | canceled (consent withdrawn before sending)
CREATE TABLE outbox_jobs (
    tenant_id        uuid NOT NULL REFERENCES tenants(id),
    id               uuid NOT NULL DEFAULT uuidv7(),
    kind             text NOT NULL CHECK (kind IN ('sms', 'call')),
    idempotency_key  text NOT NULL,
    action_id        uuid,
    message_id       uuid,
    call_id          uuid,
    status           text NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'claimed', 'sending', 'done', 'dead', 'canceled')),
    attempts         int NOT NULL DEFAULT 0,
    not_before       timestamptz NOT NULL DEFAULT now(),
    -- Why it waits or stopped: quiet_hours, rate_limit, daily_cap, opted_out, …
    reason           text,
    last_error       text,
    claim_token      uuid,
    locked_until     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    done_at          timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key),
    CHECK ((kind = 'sms' AND message_id IS NOT NULL) OR (kind = 'call' AND call_id IS NOT NULL))
);
CREATE INDEX outbox_due ON outbox_jobs (not_before) WHERE status IN ('pending', 'claimed', 'sending');
CREATE INDEX outbox_by_status ON outbox_jobs (tenant_id, status, updated_at DESC);

-- Webhook deliveries already handled (Twilio retries): a repeated key is a no-op.
CREATE TABLE webhook_deliveries (
    tenant_id    uuid NOT NULL REFERENCES tenants(id),
    kind         text NOT NULL,
    key          text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind, key)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['twilio_accounts', 'sms_templates', 'consent_events', 'messages',
                             'calls', 'outbox_jobs', 'webhook_deliveries']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant())
                        WITH CHECK (tenant_id = app_tenant())', t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON twilio_accounts, sms_templates, messages, calls,
    outbox_jobs, webhook_deliveries TO heimdell_app;
GRANT SELECT, INSERT ON consent_events TO heimdell_app;

-- Claiming due jobs across tenants: the worker runs outside any tenant, so this narrow
-- SECURITY DEFINER function is its only cross-tenant access. It returns ids only; each job is
-- then processed inside its own tenant's transaction. `interrupted` marks a job whose send was
-- in flight when its worker stopped (its lease ran out while `sending`).
CREATE FUNCTION outbox_claim(p_limit int, p_lease_seconds int)
    RETURNS TABLE (tenant_id uuid, job_id uuid, claim_token uuid, interrupted boolean)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
    WITH picked AS (
        SELECT j.tenant_id, j.id, j.status = 'sending' AS interrupted
        FROM outbox_jobs j
        WHERE (j.status = 'pending' AND j.not_before <= clock_timestamp())
           OR (j.status IN ('claimed', 'sending') AND j.locked_until < clock_timestamp())
        ORDER BY j.not_before
        LIMIT greatest(p_limit, 0)
        FOR UPDATE SKIP LOCKED
    )
    UPDATE outbox_jobs j
       SET status = CASE WHEN picked.interrupted THEN 'sending' ELSE 'claimed' END,
           claim_token = gen_random_uuid(),
           locked_until = clock_timestamp() + make_interval(secs => greatest(p_lease_seconds, 1)),
           updated_at = clock_timestamp()
      FROM picked
     WHERE j.tenant_id = picked.tenant_id AND j.id = picked.id
    RETURNING j.tenant_id, j.id, j.claim_token, picked.interrupted
    $$;

REVOKE ALL ON FUNCTION outbox_claim(int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outbox_claim(int, int) TO heimdell_app;
