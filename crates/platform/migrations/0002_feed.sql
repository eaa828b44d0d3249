-- The event feed of one service schema ({schema} is replaced by the schema name).

-- Feed position, stamped by the sequencer in commit order (see feed::sequencer). NULL until
-- stamped; unique so readers can page by it.
ALTER TABLE {schema}.outbox ADD COLUMN position bigint UNIQUE;
CREATE INDEX outbox_unstamped ON {schema}.outbox (seq) WHERE position IS NULL;

-- Wakes the sequencer when events commit (notifications are delivered at commit).
CREATE FUNCTION {schema}.outbox_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{schema}_outbox', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER outbox_written AFTER INSERT ON {schema}.outbox
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.outbox_written();

-- How far this service has applied each upstream feed. Advanced in the same transaction as
-- the effect of the event, so each event takes effect exactly once.
CREATE TABLE {schema}.feed_cursors (
    subscription text PRIMARY KEY,
    position     bigint NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Events a subscription could not apply, kept for an operator to inspect and replay.
CREATE TABLE {schema}.feed_parked (
    id           bigserial PRIMARY KEY,
    subscription text NOT NULL,
    position     bigint NOT NULL,
    event_id     uuid NOT NULL,
    event_type   text NOT NULL,
    event        bytea NOT NULL,
    error        text NOT NULL,
    parked_at    timestamptz NOT NULL DEFAULT now(),
    replayed_at  timestamptz,
    UNIQUE (subscription, event_id)
);
CREATE INDEX feed_parked_pending ON {schema}.feed_parked (subscription, id) WHERE replayed_at IS NULL;
