-- Platform tables of one service schema ({schema} is replaced by the schema name).

-- Domain events written in the same transaction as the state change they describe.
CREATE TABLE {schema}.outbox (
    seq          bigserial PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE,
    event_type   text NOT NULL,
    aggregate_id uuid NOT NULL,
    payload      bytea NOT NULL,
    occurred_at  timestamptz NOT NULL,
    -- W3C traceparent of the request that caused the event, so consumers continue its trace.
    traceparent  text NOT NULL DEFAULT ''
);

-- Answers of idempotent creates (AIP-155), keyed by caller, method and request id.
CREATE TABLE {schema}.idempotency (
    subject      text NOT NULL,
    method       text NOT NULL,
    request_id   uuid NOT NULL,
    request_hash bytea NOT NULL,
    response     bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, method, request_id)
);
CREATE INDEX ON {schema}.idempotency (created_at);

-- Who read or wrote which personal data, when, in which trace. Append-only.
CREATE TABLE {schema}.audit_log (
    id            bigserial PRIMARY KEY,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    subject       text NOT NULL,
    roles         text[] NOT NULL,
    action        text NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    trace_id      text NOT NULL DEFAULT ''
);
CREATE INDEX ON {schema}.audit_log (resource_type, resource_id, occurred_at);
CREATE INDEX ON {schema}.audit_log (subject, occurred_at);

CREATE FUNCTION {schema}.audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON {schema}.audit_log
    FOR EACH ROW EXECUTE FUNCTION {schema}.audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON {schema}.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.audit_log_is_append_only();
