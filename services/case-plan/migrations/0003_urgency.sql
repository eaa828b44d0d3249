-- Case lists are sorted by urgency: the earliest day something is due in the case (an open
-- case's planned step or review; a closed case's follow-up). Stored and indexed so a page is a
-- range scan; 9999-12-31 stands for "nothing due" so the sort key is never NULL.
ALTER TABLE caseplan.cases ADD COLUMN urgency_date date NOT NULL GENERATED ALWAYS AS (
    COALESCE(
        CASE WHEN state = 'open' THEN LEAST(next_due_date, next_review_date)
             WHEN followed_up_at IS NULL THEN follow_up_date END,
        DATE '9999-12-31')
) STORED;

-- What is due in an open case means nothing once it is closed (reopening works them out
-- again from the plan).
UPDATE caseplan.cases SET next_due_date = NULL, next_review_date = NULL WHERE state = 'closed';
CREATE INDEX cases_team_urgency ON caseplan.cases (team_id, urgency_date, id);
CREATE INDEX cases_responsible_urgency ON caseplan.cases (responsible_advisor_id, urgency_date, id);
