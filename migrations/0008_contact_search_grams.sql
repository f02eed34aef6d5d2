-- Contact list search (`GET /api/v1/contacts?q=`) as a posting list per trigram.
--
-- `q` matches any substring of a contact's search_text (names, email, phone), and pages are in id
-- order with an id cursor. The trigram GIN index finds the matching rows but not in id order, so a
-- page had to either fetch and sort every match (thousands for a common fragment) or walk the
-- contacts in id order testing LIKE until a page was full (thousands of rows for a rare one). Here
-- every distinct three-character substring of search_text has one row per contact, keyed
-- (tenant, gram, contact): for a gram, contacts come out of the primary key already in id order,
-- so a page reads about `limit` postings and `limit` contacts whatever the fragment.
--
-- The table is maintained by triggers on contacts in the same transaction as the change, so it is
-- never stale; renaming or anonymising a contact removes the grams of its old text at once.

-- Every distinct three-character substring of t (characters, not bytes). Empty for t shorter
-- than three characters. search_text is lower-cased already.
CREATE FUNCTION search_grams(t text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT coalesce(array_agg(DISTINCT substr(t, i, 3)), '{}')
          FROM generate_series(1, length(t) - 2) AS i $$;

CREATE TABLE contact_search_grams (
    tenant_id  uuid NOT NULL,
    -- "C" collation: grams are compared for equality only, and byte comparison is the cheapest.
    gram       text COLLATE "C" NOT NULL,
    contact_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, gram, contact_id)
);
ALTER TABLE contact_search_grams ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON contact_search_grams USING (tenant_id = app_tenant())
    WITH CHECK (tenant_id = app_tenant());
-- No UPDATE: a posting is inserted or deleted, never changed.
GRANT SELECT, INSERT, DELETE ON contact_search_grams TO heimdell_app;

-- The triggers run as whoever changed the contact, so row-level security applies to the postings
-- exactly as it did to the contact.
CREATE FUNCTION contact_search_grams_inserted() RETURNS trigger
    LANGUAGE plpgsql SET search_path = public, pg_temp
    AS $$
    BEGIN
        INSERT INTO contact_search_grams (tenant_id, gram, contact_id)
        SELECT n.tenant_id, g.gram, n.id
        FROM inserted n CROSS JOIN LATERAL unnest(search_grams(n.search_text)) AS g(gram);
        RETURN NULL;
    END
    $$;

CREATE FUNCTION contact_search_grams_deleted() RETURNS trigger
    LANGUAGE plpgsql SET search_path = public, pg_temp
    AS $$
    BEGIN
        DELETE FROM contact_search_grams s
        USING (SELECT o.tenant_id, o.id, g.gram
               FROM deleted o CROSS JOIN LATERAL unnest(search_grams(o.search_text)) AS g(gram)) d
        WHERE s.tenant_id = d.tenant_id AND s.gram = d.gram AND s.contact_id = d.id;
        RETURN NULL;
    END
    $$;

-- Only the grams that changed: a one-letter typo fix touches a few postings, not fifty.
CREATE FUNCTION contact_search_grams_updated() RETURNS trigger
    LANGUAGE plpgsql SET search_path = public, pg_temp
    AS $$
    DECLARE
        old_grams text[] := search_grams(OLD.search_text);
        new_grams text[] := search_grams(NEW.search_text);
    BEGIN
        DELETE FROM contact_search_grams s
        WHERE s.tenant_id = OLD.tenant_id AND s.contact_id = OLD.id
          AND s.gram = ANY (ARRAY(SELECT unnest(old_grams) EXCEPT SELECT unnest(new_grams)));
        INSERT INTO contact_search_grams (tenant_id, gram, contact_id)
        SELECT NEW.tenant_id, g, NEW.id
        FROM (SELECT unnest(new_grams) EXCEPT SELECT unnest(old_grams)) AS added(g);
        RETURN NULL;
    END
    $$;

-- Statement-level with transition tables for inserts and deletes, so a bulk import or seed is one
-- INSERT of postings rather than one per contact.
CREATE TRIGGER contacts_search_grams_insert AFTER INSERT ON contacts
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION contact_search_grams_inserted();
CREATE TRIGGER contacts_search_grams_delete AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION contact_search_grams_deleted();
-- Row-level for updates, and only when the searchable text changed (most updates are consent,
-- owner or version changes).
CREATE TRIGGER contacts_search_grams_update AFTER UPDATE ON contacts
    FOR EACH ROW WHEN (OLD.search_text IS DISTINCT FROM NEW.search_text)
    EXECUTE FUNCTION contact_search_grams_updated();

INSERT INTO contact_search_grams (tenant_id, gram, contact_id)
SELECT c.tenant_id, g.gram, c.id
FROM contacts c CROSS JOIN LATERAL unnest(search_grams(c.search_text)) AS g(gram);

-- One page of contacts whose search_text contains the fragment `p_pattern` (a LIKE pattern,
-- '%' || escaped fragment || '%'), in id order after `p_after`. `p_grams` are the fragment's
-- distinct trigrams (at least one; shorter fragments use the plain LIKE query).
--
-- The page is driven by the fragment's rarest gram, counted up to 256 postings each, so
-- "markov" walks the few "kov" postings rather than the many "mar" ones; every candidate is
-- then checked against the whole pattern. The two LATERAL ... OFFSET 0 fences fix the plan's
-- shape (postings in key order, then each contact by primary key), and the function's
-- force_generic_plan keeps Postgres from re-planning it on every call: the planner's guess at a
-- LIKE pattern's selectivity is no better than this fixed plan, and planning cost as much as
-- running it. SECURITY INVOKER: row-level security applies to both tables as usual.
CREATE FUNCTION contacts_containing(p_grams text[], p_pattern text, p_after uuid, p_limit bigint)
    RETURNS SETOF contacts
    LANGUAGE sql STABLE ROWS 26 SET plan_cache_mode = force_generic_plan
    AS $$
        WITH driver AS (
            SELECT g.gram FROM unnest(p_grams) AS g(gram)
            ORDER BY CASE WHEN cardinality(p_grams) = 1 THEN 0 ELSE
                         (SELECT count(*) FROM (SELECT 1 FROM contact_search_grams s
                                                WHERE s.tenant_id = app_tenant() AND s.gram = g.gram
                                                LIMIT 256) AS n) END,
                     g.gram
            LIMIT 1
        )
        SELECT m.* FROM driver CROSS JOIN LATERAL (
            SELECT c.* FROM contact_search_grams s
            CROSS JOIN LATERAL (SELECT * FROM contacts c
                                WHERE c.tenant_id = s.tenant_id AND c.id = s.contact_id
                                  AND c.search_text LIKE p_pattern
                                OFFSET 0) AS c
            WHERE s.tenant_id = app_tenant() AND s.gram = driver.gram AND s.contact_id > p_after
            ORDER BY s.contact_id
            LIMIT p_limit
        ) AS m
    $$;
REVOKE ALL ON FUNCTION contacts_containing(text[], text, uuid, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contacts_containing(text[], text, uuid, bigint) TO heimdell_app;
