-- Retention: a legal hold keeps a case past its period; an erased case keeps what the figures
-- count (states, days, outcomes, ids) and loses every text and fact about the client.
-- Erased NOT NULL columns hold fixed placeholders ('' and 1900-01-01); `erased_at` says so,
-- and no read serves an erased case.
ALTER TABLE caseplan.cases
    ADD COLUMN legal_hold_reason text,
    ADD COLUMN legal_hold_by text,
    ADD COLUMN legal_hold_at timestamptz,
    ADD COLUMN erased_at timestamptz,
    ADD CONSTRAINT cases_legal_hold_complete CHECK (
        (legal_hold_reason IS NULL) = (legal_hold_at IS NULL)
        AND (legal_hold_reason IS NULL) = (legal_hold_by IS NULL)),
    ADD CONSTRAINT cases_erased_closed_unheld CHECK (
        erased_at IS NULL OR (state = 'closed' AND legal_hold_at IS NULL));

-- The retention run's search: closed cases not yet erased.
CREATE INDEX cases_retention ON caseplan.cases (follow_up_date)
    WHERE state = 'closed' AND erased_at IS NULL;
