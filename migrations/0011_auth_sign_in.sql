-- Sign-in reads everything it needs in one query, whether or not the email has an account, so
-- the work done (and the time it takes) before the password check is the same either way.
CREATE FUNCTION auth_sign_in(p_email text)
    RETURNS TABLE (tenant_id uuid, user_id uuid, password_hash text, email text, name text, role text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT u.tenant_id, u.id, u.password_hash, u.email, u.name, u.role FROM users u
          WHERE lower(u.email) = lower(p_email) AND u.active $$;

REVOKE ALL ON FUNCTION auth_sign_in(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_sign_in(text) TO heimdell_app;
