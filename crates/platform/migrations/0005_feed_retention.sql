-- Feed retention ({schema} is replaced by the schema name): subscribers acknowledge how far
-- they have applied, and the outbox is pruned below the slowest of them once old enough.
CREATE TABLE {schema}.feed_subscribers (
    -- The subscriber's token subject.
    subscriber      text PRIMARY KEY,
    position        bigint NOT NULL,
    acknowledged_at timestamptz NOT NULL
);
-- Positions at or below this were pruned (one row, 0 until the first prune).
CREATE TABLE {schema}.feed_pruned (
    only_row         boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    through_position bigint NOT NULL
);
INSERT INTO {schema}.feed_pruned (through_position) VALUES (0);
