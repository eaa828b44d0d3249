-- A client has at most one open case: a returning client goes to the responsible advisor of
-- the case they have. Closure comes from case-plan's CaseClosed event (closed_at).
CREATE UNIQUE INDEX case_openings_one_open_per_applicant
    ON intake.case_openings (applicant_id) WHERE closed_at IS NULL;
