-- The audit log, hash-chained: shortly after a record commits, the service's chainer links it
-- to the record before it (chain_position n, chain_hash = SHA-256 over link n-1 and the
-- record's content). The link is the one thing ever written to a record after its insert,
-- once; its content stays as inserted.
ALTER TABLE {schema}.audit_log
    ADD COLUMN chain_position bigint UNIQUE,
    ADD COLUMN chain_hash bytea,
    ADD CONSTRAINT audit_log_linked_whole CHECK ((chain_position IS NULL) = (chain_hash IS NULL));
-- The chainer's work: records not linked yet, in insert order.
CREATE INDEX audit_log_unchained ON {schema}.audit_log (id) WHERE chain_position IS NULL;

CREATE OR REPLACE FUNCTION {schema}.audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Linking: only the chain columns, only once, and the content unchanged.
    IF TG_OP = 'UPDATE' AND OLD.chain_position IS NULL AND NEW.chain_position IS NOT NULL
       AND (NEW.id, NEW.occurred_at, NEW.subject, NEW.roles, NEW.action, NEW.resource_type,
            NEW.resource_id, NEW.trace_id)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.occurred_at, OLD.subject, OLD.roles, OLD.action, OLD.resource_type,
            OLD.resource_id, OLD.trace_id) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
