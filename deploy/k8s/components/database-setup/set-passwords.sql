-- Second step of the first-time set-up Job (job.yaml), after roles.sql: sets the password of each
-- of the six fallwerk roles from its Secret, mounted at /etc/fallwerk/db-roles/<Secret>/ with the
-- keys `username` and `password` (the same Secrets the services read their URLs from, whose `url`
-- must carry that password). Run again after changing a password in a Secret; the services read
-- their URL at start, so roll them afterwards (../../README.md, "Database roles").
\set ON_ERROR_STOP on
\pset tuples_only on
\pset format unaligned

BEGIN;

-- Keep the passwords out of the server log: statement logging off for this transaction alone.
-- Only a superuser may change these settings; a managed service's admin may not, and then the
-- statements below are logged as the server's settings say. pg_stat_statements, which records a
-- SELECT with its constants replaced, stores the calls below without the passwords either way.
DO $$
BEGIN
    PERFORM set_config('log_statement', 'none', true);
    PERFORM set_config('log_min_error_statement', 'panic', true);
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'statement logging stays as configured: the server log may record the passwords set below';
END;
$$;

-- Checks that a Secret belongs to the role it is mounted for (its `username`), refuses an empty
-- password, and sets it; PostgreSQL stores it hashed (password_encryption, scram-sha-256 by
-- default). A temporary function, gone at the end of the session.
CREATE FUNCTION pg_temp.fallwerk_set_password(role_name text, secret_username text, secret_password text)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF secret_username IS DISTINCT FROM role_name THEN
        RAISE EXCEPTION 'the Secret mounted for role % names the role %', role_name, secret_username;
    END IF;
    IF coalesce(secret_password, '') = '' THEN
        RAISE EXCEPTION 'the Secret of role % holds no password', role_name;
    END IF;
    EXECUTE format('ALTER ROLE %I PASSWORD %L', role_name, secret_password);
    RETURN format('password of %s set', role_name);
END;
$$;

\set username `cat /etc/fallwerk/db-roles/fallwerk-intake-db-owner/username`
\set password `cat /etc/fallwerk/db-roles/fallwerk-intake-db-owner/password`
SELECT pg_temp.fallwerk_set_password('fallwerk_intake_owner', :'username', :'password');
\set username `cat /etc/fallwerk/db-roles/fallwerk-intake-db/username`
\set password `cat /etc/fallwerk/db-roles/fallwerk-intake-db/password`
SELECT pg_temp.fallwerk_set_password('fallwerk_intake_runtime', :'username', :'password');

\set username `cat /etc/fallwerk/db-roles/fallwerk-case-plan-db-owner/username`
\set password `cat /etc/fallwerk/db-roles/fallwerk-case-plan-db-owner/password`
SELECT pg_temp.fallwerk_set_password('fallwerk_caseplan_owner', :'username', :'password');
\set username `cat /etc/fallwerk/db-roles/fallwerk-case-plan-db/username`
\set password `cat /etc/fallwerk/db-roles/fallwerk-case-plan-db/password`
SELECT pg_temp.fallwerk_set_password('fallwerk_caseplan_runtime', :'username', :'password');

\set username `cat /etc/fallwerk/db-roles/fallwerk-partner-db-owner/username`
\set password `cat /etc/fallwerk/db-roles/fallwerk-partner-db-owner/password`
SELECT pg_temp.fallwerk_set_password('fallwerk_partner_owner', :'username', :'password');
\set username `cat /etc/fallwerk/db-roles/fallwerk-partner-db/username`
\set password `cat /etc/fallwerk/db-roles/fallwerk-partner-db/password`
SELECT pg_temp.fallwerk_set_password('fallwerk_partner_runtime', :'username', :'password');

\unset username
\unset password
COMMIT;
