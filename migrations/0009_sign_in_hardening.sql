-- Sign-in hardening, from an outside probe:
--  * sessions outlived the credentials they came from (a rotated password left old cookies working);
--  * the lockout answered `locked_out` for known emails and 401 for unknown ones, telling an
--    attacker which emails have accounts;
--  * members could not be deactivated at all.

-- A deactivated member's tokens and sessions stop working at once (workspace administration sets it).
ALTER TABLE users ADD COLUMN active boolean NOT NULL DEFAULT true;

-- Failed sign-ins are counted per email, whether or not any workspace has that email, so a locked
-- account and an unknown email answer alike. The email is kept only as a hash. No grant to the app
-- role: it reaches this table only through the functions below.
CREATE TABLE sign_in_throttle (
    email_key    bytea PRIMARY KEY,
    failures     int NOT NULL DEFAULT 0,
    locked_until timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_throttle_updated ON sign_in_throttle (updated_at);

CREATE FUNCTION sign_in_key(p_email text) RETURNS bytea
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT sha256(convert_to(lower(btrim(p_email)), 'UTF8')) $$;

-- Counts an attempt before its password is checked, so parallel guesses cannot outrun the count.
-- Returns when the lock ends if the email is locked (then no password may be checked), else NULL.
-- `p_max` attempts without a success within `p_lock` lock the email for `p_lock`.
CREATE FUNCTION sign_in_attempt(p_email text, p_max int, p_lock interval)
    RETURNS timestamptz
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
DECLARE
    k bytea := sign_in_key(p_email);
    r sign_in_throttle;
BEGIN
    INSERT INTO sign_in_throttle (email_key) VALUES (k) ON CONFLICT (email_key) DO NOTHING;
    SELECT * INTO r FROM sign_in_throttle WHERE email_key = k FOR UPDATE;
    IF r.locked_until > now() THEN
        RETURN r.locked_until;
    END IF;
    IF r.updated_at < now() - p_lock THEN
        r.failures := 0;  -- old failures are forgotten
    END IF;
    IF r.failures >= p_max THEN
        UPDATE sign_in_throttle SET failures = 0, locked_until = now() + p_lock, updated_at = now()
         WHERE email_key = k;
        RETURN now() + p_lock;
    END IF;
    UPDATE sign_in_throttle SET failures = r.failures + 1, locked_until = NULL, updated_at = now()
     WHERE email_key = k;
    -- Rows of emails nobody tried for a day are dropped now and then.
    IF random() < 0.01 THEN
        DELETE FROM sign_in_throttle WHERE updated_at < now() - interval '1 day';
    END IF;
    RETURN NULL;
END
$$;

-- A successful sign-in clears the count.
CREATE FUNCTION sign_in_succeeded(p_email text) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ DELETE FROM sign_in_throttle WHERE email_key = sign_in_key(p_email) $$;

REVOKE ALL ON FUNCTION sign_in_attempt(text, int, interval), sign_in_succeeded(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sign_in_attempt(text, int, interval), sign_in_succeeded(text) TO heimdell_app;

-- The per-user counters are replaced by the per-email throttle.
ALTER TABLE users DROP COLUMN failed_logins, DROP COLUMN locked_until;

-- Sessions end when the credentials they came from change: a new password (which also lifts a
-- lockout) or deactivation. A trigger, so every path that changes them (seed-demo's rotation,
-- an admin, the member) does it without having to remember.
CREATE FUNCTION end_sessions_on_credential_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
BEGIN
    IF NEW.password_hash IS DISTINCT FROM OLD.password_hash OR (OLD.active AND NOT NEW.active) THEN
        DELETE FROM sessions WHERE tenant_id = NEW.tenant_id AND user_id = NEW.id;
    END IF;
    IF NEW.password_hash IS DISTINCT FROM OLD.password_hash THEN
        DELETE FROM sign_in_throttle WHERE email_key = sign_in_key(NEW.email);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER users_end_sessions AFTER UPDATE OF password_hash, active ON users
    FOR EACH ROW EXECUTE FUNCTION end_sessions_on_credential_change();

-- Deactivated members' tokens and sessions do not authenticate.
CREATE OR REPLACE FUNCTION auth_token(p_hash bytea)
    RETURNS TABLE (tenant_id uuid, user_id uuid, role text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT t.tenant_id, t.user_id, u.role FROM api_tokens t
          JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id
          WHERE t.token_hash = p_hash AND t.revoked_at IS NULL AND u.active $$;

CREATE OR REPLACE FUNCTION auth_session(p_hash bytea)
    RETURNS TABLE (tenant_id uuid, user_id uuid, role text, csrf_hash bytea)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT s.tenant_id, s.user_id, u.role, s.csrf_hash FROM sessions s
          JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
          WHERE s.token_hash = p_hash AND s.expires_at > now() AND u.active $$;

-- Only active members can sign in.
CREATE OR REPLACE FUNCTION auth_users_by_email(p_email text)
    RETURNS TABLE (tenant_id uuid, user_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT u.tenant_id, u.id FROM users u WHERE lower(u.email) = lower(p_email) AND u.active $$;
