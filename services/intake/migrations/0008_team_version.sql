-- Teams change (name, service area) under optimistic concurrency like every other record.
ALTER TABLE intake.teams ADD COLUMN version integer NOT NULL DEFAULT 1;
