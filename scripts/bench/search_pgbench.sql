-- The contact search of GET /api/v1/contacts?q= as the server sends it (as heimdell_app, tenant
-- set per transaction, the 15 fragments of search.lua with their trigrams), for pgbench: what
-- Postgres alone can do, with no HTTP server or load generator beside it. Run with
-- -D tenant=<tenant id>.
\set r random(1, 15)
SELECT (ARRAY['%smi%','%john%','%ann%','%lee%','%mar%','%son%','%ber%','%kim%','%ols%','%dav%','%chr%','%eli%','%ras%','%han%','%nie%'])[:r] AS pat, (ARRAY['{smi}','{joh,ohn}','{ann}','{lee}','{mar}','{son}','{ber}','{kim}','{ols}','{dav}','{chr}','{eli}','{ras}','{han}','{nie}'])[:r] AS grams \gset
BEGIN;
SELECT set_config('heimdell.tenant_id', :tenant, true);
SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.title, c.company_id, co.name AS company_name, c.owner_id, u.name AS owner_name, c.timezone, c.email_opt_out, c.sms_opt_out, c.do_not_call, c.marketing_consent, c.lawful_basis, c.anonymised, c.version, c.created_at, c.updated_at FROM contacts_containing(:grams::text[], :pat, '00000000-0000-0000-0000-000000000000'::uuid, 26) c LEFT JOIN companies co ON co.tenant_id = c.tenant_id AND co.id = c.company_id LEFT JOIN users u ON u.tenant_id = c.tenant_id AND u.id = c.owner_id ORDER BY c.id;
COMMIT;
