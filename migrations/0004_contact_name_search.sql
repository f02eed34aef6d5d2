-- Fuzzy (typo-tolerant) search on names needs a short haystack: similarity against the whole
-- search_text (names + email + phone) is both slow and weak. Exact fragments keep using
-- contacts_search_trgm.
CREATE INDEX contacts_name_trgm ON contacts USING gin ((lower(first_name || ' ' || last_name)) gin_trgm_ops);
