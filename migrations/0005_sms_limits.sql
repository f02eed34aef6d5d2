-- Sending limits that cost the same however many texts a tenant sent today.

-- Texts handed to Twilio per tenant and local day, for the daily cap: a counter the outbox
-- worker takes a slot of (the row lock keeps it exact across workers) and gives back when a
-- text is not sent after all.
CREATE TABLE sms_daily_counts (
    tenant_id  uuid NOT NULL REFERENCES tenants(id),
    day        date NOT NULL,
    sent       int NOT NULL DEFAULT 0 CHECK (sent >= 0),
    PRIMARY KEY (tenant_id, day)
);
ALTER TABLE sms_daily_counts ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sms_daily_counts USING (tenant_id = app_tenant())
    WITH CHECK (tenant_id = app_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON sms_daily_counts TO heimdell_app;

-- The day whose counter a send took a slot of (given back if the send fails).
ALTER TABLE outbox_jobs ADD COLUMN counted_day date;

-- Texts waiting to go from a number (the approval-time rate estimate), and a tenant's waiting
-- jobs (the approval-time daily cap estimate).
CREATE INDEX messages_waiting_from ON messages (tenant_id, from_number, send_after)
    WHERE direction = 'outbound' AND status = 'pending';
CREATE INDEX outbox_waiting ON outbox_jobs (tenant_id, not_before) WHERE status = 'pending';
