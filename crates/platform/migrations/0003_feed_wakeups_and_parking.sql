-- Wake-ups leave the write path ({schema} is replaced by the schema name).
--
-- The trigger of 0002 sent a NOTIFY from every transaction that wrote an event, and a NOTIFY
-- takes a database-wide lock while it commits: every write RPC of every service queued behind
-- every other. The writing process now wakes its own sequencer after commit (change::Change),
-- and the sequencer sends one NOTIFY per stamped batch for other replicas and feed streams.
DROP TRIGGER outbox_written ON {schema}.outbox;
DROP FUNCTION {schema}.outbox_written();

-- A parked event is identified by its feed position, which the upstream guarantees; its id is
-- kept as received, so an event with a malformed id is parked like any other instead of
-- colliding with the next one under a placeholder id.
ALTER TABLE {schema}.feed_parked DROP CONSTRAINT feed_parked_subscription_event_id_key;
ALTER TABLE {schema}.feed_parked ALTER COLUMN event_id TYPE text USING event_id::text;
ALTER TABLE {schema}.feed_parked ADD UNIQUE (subscription, position);
