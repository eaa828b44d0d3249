-- How a person came (walk-in, appointment, follow-up); earlier visits were walk-ins.
ALTER TABLE intake.visits ADD COLUMN kind text NOT NULL DEFAULT 'walk_in'
    CHECK (kind IN ('walk_in', 'appointment', 'follow_up'));
