-- A visit can end without a consultation: the person left, was sent elsewhere, had no need,
-- got an appointment for another day; the system ends a past day's waiting visits as "left
-- unseen", so nobody waits forever and the same-day rate counts them.
ALTER TABLE intake.visits
    ADD COLUMN end_reason text CHECK (end_reason IN (
        'left', 'left_unseen', 'priority_provider', 'no_need', 'appointment_later',
        'not_locally_responsible')),
    ADD COLUMN ended_at timestamptz,
    ADD COLUMN ended_by text,
    ADD COLUMN end_note text,
    ADD CONSTRAINT visits_end_complete CHECK ((end_reason IS NULL) = (ended_at IS NULL));

-- Visits the access check closed end with its decision.
UPDATE intake.visits v
SET end_reason = a.decision, ended_at = a.checked_at, ended_by = a.checked_by
FROM intake.access_checks a
WHERE a.visit_id = v.id AND v.state = 'CLOSED' AND a.decision IN ('priority_provider', 'no_need');

-- The sweep of a past day's waiting visits.
CREATE INDEX visits_waiting_by_day ON intake.visits (arrival_day)
    WHERE state IN ('WAITING', 'READY_FOR_CONSULTATION');
