-- First-time set-up of fallwerk's database roles and schemas: run by a role that may create
-- roles (a superuser, or a managed service's admin), connected to the database the services
-- use. Safe to run again, also by several at once: it creates only what is missing.
--
-- Per service (schema intake, caseplan, partner) two roles:
--   fallwerk_<schema>_owner    owns the schema; `<service> migrate` runs as it, with
--                              DB_RUNTIME_ROLE=fallwerk_<schema>_runtime so that it grants the
--                              runtime role its rights after every migration;
--   fallwerk_<schema>_runtime  `<service> serve` and `<service> retention run` run as it: DML
--                              on its own schema's tables, the audit log and the proof of
--                              deletion append-only, no DDL (grant_runtime in
--                              crates/platform/src/migrate.rs).
-- No role is granted USAGE on another service's schema, so none can read it. The roles log in
-- with the passwords set apart from this file (ALTER ROLE ... PASSWORD, from the Secrets the
-- services read their URLs from).
DO $$
DECLARE
    schema_name text;
    role_name text;
    owner_name text;
BEGIN
    -- Runs of this file at once wait for each other (roles are the cluster's, one lock key).
    PERFORM pg_advisory_xact_lock(hashtext('fallwerk.roles'));
    FOREACH schema_name IN ARRAY ARRAY['intake', 'caseplan', 'partner'] LOOP
        owner_name := 'fallwerk_' || schema_name || '_owner';
        FOREACH role_name IN ARRAY ARRAY[owner_name, 'fallwerk_' || schema_name || '_runtime'] LOOP
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
                BEGIN
                    EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', role_name);
                EXCEPTION WHEN duplicate_object OR unique_violation THEN
                    NULL; -- created meanwhile in another database of the cluster
                END;
            END IF;
        END LOOP;
        IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = schema_name) THEN
            EXECUTE format('CREATE SCHEMA %I AUTHORIZATION %I', schema_name, owner_name);
        ELSIF NOT EXISTS (SELECT FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner
                          WHERE n.nspname = schema_name AND r.rolname = owner_name) THEN
            -- Migrated before the roles existed: the objects belong to whoever migrated then.
            RAISE WARNING 'schema % exists and is not owned by %: hand it and its objects over (docs/operations.md, "Database roles")',
                schema_name, owner_name;
        END IF;
    END LOOP;
END;
$$;
